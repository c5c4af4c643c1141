-- The append-only, hash-chained record of every state change (全流程留痕).
-- Each entry's hash covers its fields and the previous entry's hash; the head
-- row holds the last sequence number and hash, so a removed tail is noticed too.
CREATE TABLE event_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    subject    TEXT COLLATE "C" NOT NULL,
    actor_id   BIGINT,
    actor_role TEXT NOT NULL,
    unit_id    BIGINT,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    body       TEXT NOT NULL DEFAULT '',
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);
CREATE INDEX event_log_subject ON event_log(subject, seq);

CREATE TABLE event_log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO event_log_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION event_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event_log is append-only';
END
$$;
CREATE TRIGGER event_log_no_change BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION event_log_append_only();
CREATE TRIGGER event_log_no_truncate BEFORE TRUNCATE ON event_log
    FOR EACH STATEMENT EXECUTE FUNCTION event_log_append_only();
