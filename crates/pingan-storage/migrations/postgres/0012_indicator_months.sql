-- Monthly rollup of indicator_township_days, kept in the same transaction
-- as the day cells: a month, quarter or year ranks the province's townships
-- from 1,387 rows a month instead of 31 times as many. `day` is the first
-- day of the month (days since 1970-01-01); the gauges (day -1) stay out.
CREATE TABLE indicator_township_months (
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
CREATE INDEX indicator_township_months_township ON indicator_township_months(township, day);

-- Existing databases: the months of the day cells already there.
INSERT INTO indicator_township_months (day, township, received, registered, rejected, merged, self_resolved, dispatched, closed, resolved_low, reworked, suspended, escalated, reopened, rated, rating_sum, satisfied, due, due_suspended, due_closed, due_on_time, due_overdue, due_reworked, open, open_overdue)
SELECT month, township, SUM(received), SUM(registered), SUM(rejected), SUM(merged), SUM(self_resolved), SUM(dispatched), SUM(closed), SUM(resolved_low), SUM(reworked), SUM(suspended), SUM(escalated), SUM(reopened), SUM(rated), SUM(rating_sum), SUM(satisfied), SUM(due), SUM(due_suspended), SUM(due_closed), SUM(due_on_time), SUM(due_overdue), SUM(due_reworked), SUM(open), SUM(open_overdue)
FROM (SELECT (date_trunc('month', DATE '1970-01-01' + day::integer)::date - DATE '1970-01-01')::bigint AS month, * FROM indicator_township_days WHERE day >= 0) AS d
GROUP BY month, township;

-- Rankings list one level's regions (1,387 townships among 27 k regions).
CREATE INDEX regions_level ON regions(level, code);
