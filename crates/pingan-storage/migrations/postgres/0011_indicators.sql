-- Indicator aggregates (平安报表): counter cells maintained in the same
-- transaction as every report and action (pingan_domain::indicators), so a
-- report's cost depends on the period and the region, not on the history.
-- `day` is the Shanghai local day (days since 1970-01-01); `category` is the
-- 4-digit category code or '' for none. Keyed day first: every query names a
-- day range, and reads only that range whatever the history's length.
-- Day -1 holds gauges instead of events: `open` and `open_overdue` now.
-- Per township (9 digits) and category.
CREATE TABLE indicator_cells (
    day            BIGINT NOT NULL,
    township       TEXT NOT NULL,
    category       TEXT NOT NULL,
    received       BIGINT NOT NULL DEFAULT 0,
    registered     BIGINT NOT NULL DEFAULT 0,
    rejected       BIGINT NOT NULL DEFAULT 0,
    merged         BIGINT NOT NULL DEFAULT 0,
    self_resolved  BIGINT NOT NULL DEFAULT 0,
    dispatched     BIGINT NOT NULL DEFAULT 0,
    closed         BIGINT NOT NULL DEFAULT 0,
    resolved_low   BIGINT NOT NULL DEFAULT 0,
    reworked       BIGINT NOT NULL DEFAULT 0,
    suspended      BIGINT NOT NULL DEFAULT 0,
    escalated      BIGINT NOT NULL DEFAULT 0,
    reopened       BIGINT NOT NULL DEFAULT 0,
    rated          BIGINT NOT NULL DEFAULT 0,
    rating_sum     BIGINT NOT NULL DEFAULT 0,
    satisfied      BIGINT NOT NULL DEFAULT 0,
    due            BIGINT NOT NULL DEFAULT 0,
    due_suspended  BIGINT NOT NULL DEFAULT 0,
    due_closed     BIGINT NOT NULL DEFAULT 0,
    due_on_time    BIGINT NOT NULL DEFAULT 0,
    due_overdue    BIGINT NOT NULL DEFAULT 0,
    due_reworked   BIGINT NOT NULL DEFAULT 0,
    open           BIGINT NOT NULL DEFAULT 0,
    open_overdue   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, township, category)
);
-- Per township, all categories: rankings and totals read this.
CREATE TABLE indicator_township_days (
    day            BIGINT NOT NULL,
    township       TEXT NOT NULL,
    received       BIGINT NOT NULL DEFAULT 0,
    registered     BIGINT NOT NULL DEFAULT 0,
    rejected       BIGINT NOT NULL DEFAULT 0,
    merged         BIGINT NOT NULL DEFAULT 0,
    self_resolved  BIGINT NOT NULL DEFAULT 0,
    dispatched     BIGINT NOT NULL DEFAULT 0,
    closed         BIGINT NOT NULL DEFAULT 0,
    resolved_low   BIGINT NOT NULL DEFAULT 0,
    reworked       BIGINT NOT NULL DEFAULT 0,
    suspended      BIGINT NOT NULL DEFAULT 0,
    escalated      BIGINT NOT NULL DEFAULT 0,
    reopened       BIGINT NOT NULL DEFAULT 0,
    rated          BIGINT NOT NULL DEFAULT 0,
    rating_sum     BIGINT NOT NULL DEFAULT 0,
    satisfied      BIGINT NOT NULL DEFAULT 0,
    due            BIGINT NOT NULL DEFAULT 0,
    due_suspended  BIGINT NOT NULL DEFAULT 0,
    due_closed     BIGINT NOT NULL DEFAULT 0,
    due_on_time    BIGINT NOT NULL DEFAULT 0,
    due_overdue    BIGINT NOT NULL DEFAULT 0,
    due_reworked   BIGINT NOT NULL DEFAULT 0,
    open           BIGINT NOT NULL DEFAULT 0,
    open_overdue   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, township)
);
-- Per county (6 digits) and category: category breakdowns above a county.
CREATE TABLE indicator_county_cells (
    day            BIGINT NOT NULL,
    county         TEXT NOT NULL,
    category       TEXT NOT NULL,
    received       BIGINT NOT NULL DEFAULT 0,
    registered     BIGINT NOT NULL DEFAULT 0,
    rejected       BIGINT NOT NULL DEFAULT 0,
    merged         BIGINT NOT NULL DEFAULT 0,
    self_resolved  BIGINT NOT NULL DEFAULT 0,
    dispatched     BIGINT NOT NULL DEFAULT 0,
    closed         BIGINT NOT NULL DEFAULT 0,
    resolved_low   BIGINT NOT NULL DEFAULT 0,
    reworked       BIGINT NOT NULL DEFAULT 0,
    suspended      BIGINT NOT NULL DEFAULT 0,
    escalated      BIGINT NOT NULL DEFAULT 0,
    reopened       BIGINT NOT NULL DEFAULT 0,
    rated          BIGINT NOT NULL DEFAULT 0,
    rating_sum     BIGINT NOT NULL DEFAULT 0,
    satisfied      BIGINT NOT NULL DEFAULT 0,
    due            BIGINT NOT NULL DEFAULT 0,
    due_suspended  BIGINT NOT NULL DEFAULT 0,
    due_closed     BIGINT NOT NULL DEFAULT 0,
    due_on_time    BIGINT NOT NULL DEFAULT 0,
    due_overdue    BIGINT NOT NULL DEFAULT 0,
    due_reworked   BIGINT NOT NULL DEFAULT 0,
    open           BIGINT NOT NULL DEFAULT 0,
    open_overdue   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, county, category)
);

-- One region's days: a township's or county's period reads only its own rows.
CREATE INDEX indicator_cells_township ON indicator_cells(township, day);
CREATE INDEX indicator_township_days_township ON indicator_township_days(township, day);
CREATE INDEX indicator_county_cells_county ON indicator_county_cells(county, day);

-- Versioned settings documents (warning rules, the composite index), kept
-- like the category catalogue: each save is a new version.
CREATE TABLE settings (
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    body        TEXT NOT NULL,
    saved_by    BIGINT,
    saved_at    BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Immediate alerts (即时预警) are notifications of kind 'alert'; listed newest first.
CREATE INDEX notifications_kind ON notifications(kind, id);
