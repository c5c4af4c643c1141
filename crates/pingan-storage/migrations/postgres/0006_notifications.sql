-- Notifications (通知) and webhooks. The event log is the outbox: the
-- notifier reads it from its cursor and writes what each entry means here,
-- moving the cursor in the same transaction, so nothing is told twice and
-- nothing is lost across restarts.
CREATE TABLE notifications (
    id        BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    -- account:<id>, unit:<id> or centre:<region prefix>: units and centres
    -- rather than people, so the feed stays right when staff change.
    audience  TEXT COLLATE "C" NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    log_seq   BIGINT NOT NULL REFERENCES event_log(seq),
    title_zh  TEXT NOT NULL,
    title_en  TEXT NOT NULL
);
CREATE INDEX notifications_audience ON notifications(audience, id);
-- One entry tells one audience one thing once, whatever happens to the cursor.
CREATE UNIQUE INDEX notifications_once ON notifications(log_seq, audience, kind);

-- What an account has read. A notification to a unit or centre is shared, so
-- "read" is per account. "Mark all read" only raises a watermark (one row
-- however long the feed), and single marks above it are kept as rows, which
-- "mark all" then clears: both stay small.
CREATE TABLE notification_watermarks (
    account_id  BIGINT PRIMARY KEY REFERENCES accounts(id),
    read_up_to  BIGINT NOT NULL
);
CREATE TABLE notification_reads (
    account_id       BIGINT NOT NULL REFERENCES accounts(id),
    notification_id  BIGINT NOT NULL REFERENCES notifications(id),
    PRIMARY KEY (account_id, notification_id)
);

-- The last event_log seq turned into notifications. It starts at the log's
-- head, so installing this does not notify about the whole past.
CREATE TABLE notifier_cursor (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  BIGINT NOT NULL
);
INSERT INTO notifier_cursor (id, last_seq) SELECT 1, seq FROM event_log_head WHERE id = 1;

-- Webhook subscriptions for integrations, each bound to its creator's scope:
-- only matters whose grid code starts with scope_prefix are delivered.
CREATE TABLE webhooks (
    id            BIGSERIAL PRIMARY KEY,
    url           TEXT NOT NULL,
    -- The HMAC-SHA256 key of the signature header.
    secret        TEXT NOT NULL,
    -- A comma list of notification kinds, or * for all.
    events        TEXT NOT NULL,
    scope_prefix  TEXT COLLATE "C" NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_by    BIGINT REFERENCES accounts(id),
    created_at    BIGINT NOT NULL
);
CREATE INDEX webhooks_scope ON webhooks(scope_prefix);

CREATE TABLE webhook_deliveries (
    id                  BIGSERIAL PRIMARY KEY,
    webhook_id          BIGINT NOT NULL REFERENCES webhooks(id),
    log_seq             BIGINT NOT NULL REFERENCES event_log(seq),
    event               TEXT NOT NULL,
    payload             TEXT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    -- NULL once delivered or given up: only pending deliveries are indexed.
    next_attempt_at     BIGINT,
    last_status         BIGINT,
    last_error          TEXT,
    delivered_at        BIGINT,
    failed_permanently  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries(webhook_id, log_seq, event);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
