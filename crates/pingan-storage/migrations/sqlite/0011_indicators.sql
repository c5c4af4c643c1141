-- Indicator aggregates (平安报表): counter cells maintained in the same
-- transaction as every report and action (pingan_domain::indicators), so a
-- report's cost depends on the period and the region, not on the history.
-- `day` is the Shanghai local day (days since 1970-01-01); `category` is the
-- 4-digit category code or '' for none. Keyed day first: every query names a
-- day range, and reads only that range whatever the history's length.
-- Day -1 holds gauges instead of events: `open` and `open_overdue` now.
-- Per township (9 digits) and category.
CREATE TABLE indicator_cells (
    day            INTEGER NOT NULL,
    township       TEXT NOT NULL,
    category       TEXT NOT NULL,
    received       INTEGER NOT NULL DEFAULT 0,
    registered     INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    merged         INTEGER NOT NULL DEFAULT 0,
    self_resolved  INTEGER NOT NULL DEFAULT 0,
    dispatched     INTEGER NOT NULL DEFAULT 0,
    closed         INTEGER NOT NULL DEFAULT 0,
    resolved_low   INTEGER NOT NULL DEFAULT 0,
    reworked       INTEGER NOT NULL DEFAULT 0,
    suspended      INTEGER NOT NULL DEFAULT 0,
    escalated      INTEGER NOT NULL DEFAULT 0,
    reopened       INTEGER NOT NULL DEFAULT 0,
    rated          INTEGER NOT NULL DEFAULT 0,
    rating_sum     INTEGER NOT NULL DEFAULT 0,
    satisfied      INTEGER NOT NULL DEFAULT 0,
    due            INTEGER NOT NULL DEFAULT 0,
    due_suspended  INTEGER NOT NULL DEFAULT 0,
    due_closed     INTEGER NOT NULL DEFAULT 0,
    due_on_time    INTEGER NOT NULL DEFAULT 0,
    due_overdue    INTEGER NOT NULL DEFAULT 0,
    due_reworked   INTEGER NOT NULL DEFAULT 0,
    open           INTEGER NOT NULL DEFAULT 0,
    open_overdue   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, township, category)
) WITHOUT ROWID;
-- Per township, all categories: rankings and totals read this.
CREATE TABLE indicator_township_days (
    day            INTEGER NOT NULL,
    township       TEXT NOT NULL,
    received       INTEGER NOT NULL DEFAULT 0,
    registered     INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    merged         INTEGER NOT NULL DEFAULT 0,
    self_resolved  INTEGER NOT NULL DEFAULT 0,
    dispatched     INTEGER NOT NULL DEFAULT 0,
    closed         INTEGER NOT NULL DEFAULT 0,
    resolved_low   INTEGER NOT NULL DEFAULT 0,
    reworked       INTEGER NOT NULL DEFAULT 0,
    suspended      INTEGER NOT NULL DEFAULT 0,
    escalated      INTEGER NOT NULL DEFAULT 0,
    reopened       INTEGER NOT NULL DEFAULT 0,
    rated          INTEGER NOT NULL DEFAULT 0,
    rating_sum     INTEGER NOT NULL DEFAULT 0,
    satisfied      INTEGER NOT NULL DEFAULT 0,
    due            INTEGER NOT NULL DEFAULT 0,
    due_suspended  INTEGER NOT NULL DEFAULT 0,
    due_closed     INTEGER NOT NULL DEFAULT 0,
    due_on_time    INTEGER NOT NULL DEFAULT 0,
    due_overdue    INTEGER NOT NULL DEFAULT 0,
    due_reworked   INTEGER NOT NULL DEFAULT 0,
    open           INTEGER NOT NULL DEFAULT 0,
    open_overdue   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, township)
) WITHOUT ROWID;
-- Per county (6 digits) and category: category breakdowns above a county.
CREATE TABLE indicator_county_cells (
    day            INTEGER NOT NULL,
    county         TEXT NOT NULL,
    category       TEXT NOT NULL,
    received       INTEGER NOT NULL DEFAULT 0,
    registered     INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    merged         INTEGER NOT NULL DEFAULT 0,
    self_resolved  INTEGER NOT NULL DEFAULT 0,
    dispatched     INTEGER NOT NULL DEFAULT 0,
    closed         INTEGER NOT NULL DEFAULT 0,
    resolved_low   INTEGER NOT NULL DEFAULT 0,
    reworked       INTEGER NOT NULL DEFAULT 0,
    suspended      INTEGER NOT NULL DEFAULT 0,
    escalated      INTEGER NOT NULL DEFAULT 0,
    reopened       INTEGER NOT NULL DEFAULT 0,
    rated          INTEGER NOT NULL DEFAULT 0,
    rating_sum     INTEGER NOT NULL DEFAULT 0,
    satisfied      INTEGER NOT NULL DEFAULT 0,
    due            INTEGER NOT NULL DEFAULT 0,
    due_suspended  INTEGER NOT NULL DEFAULT 0,
    due_closed     INTEGER NOT NULL DEFAULT 0,
    due_on_time    INTEGER NOT NULL DEFAULT 0,
    due_overdue    INTEGER NOT NULL DEFAULT 0,
    due_reworked   INTEGER NOT NULL DEFAULT 0,
    open           INTEGER NOT NULL DEFAULT 0,
    open_overdue   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, county, category)
) WITHOUT ROWID;

-- One region's days: a township's or county's period reads only its own rows.
CREATE INDEX indicator_cells_township ON indicator_cells(township, day);
CREATE INDEX indicator_township_days_township ON indicator_township_days(township, day);
CREATE INDEX indicator_county_cells_county ON indicator_county_cells(county, day);

-- Versioned settings documents (warning rules, the composite index), kept
-- like the category catalogue: each save is a new version.
CREATE TABLE settings (
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    saved_by    INTEGER,
    saved_at    INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

-- Immediate alerts (即时预警) are notifications of kind 'alert'; listed newest first.
CREATE INDEX notifications_kind ON notifications(kind, id);
