-- Monthly rollup of indicator_township_days, kept in the same transaction
-- as the day cells: a month, quarter or year ranks the province's townships
-- from 1,387 rows a month instead of 31 times as many. `day` is the first
-- day of the month (days since 1970-01-01); the gauges (day -1) stay out.
CREATE TABLE indicator_township_months (
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
CREATE INDEX indicator_township_months_township ON indicator_township_months(township, day);

-- Existing databases: the months of the day cells already there.
INSERT INTO indicator_township_months (day, township, received, registered, rejected, merged, self_resolved, dispatched, closed, resolved_low, reworked, suspended, escalated, reopened, rated, rating_sum, satisfied, due, due_suspended, due_closed, due_on_time, due_overdue, due_reworked, open, open_overdue)
SELECT month, township, SUM(received), SUM(registered), SUM(rejected), SUM(merged), SUM(self_resolved), SUM(dispatched), SUM(closed), SUM(resolved_low), SUM(reworked), SUM(suspended), SUM(escalated), SUM(reopened), SUM(rated), SUM(rating_sum), SUM(satisfied), SUM(due), SUM(due_suspended), SUM(due_closed), SUM(due_on_time), SUM(due_overdue), SUM(due_reworked), SUM(open), SUM(open_overdue)
FROM (SELECT CAST(julianday(date(day * 86400, 'unixepoch', 'start of month')) - 2440587.5 AS INTEGER) AS month, * FROM indicator_township_days WHERE day >= 0) AS d
GROUP BY month, township;

-- Rankings list one level's regions (1,387 townships among 27 k regions).
CREATE INDEX regions_level ON regions(level, code);
