-- Patrols (巡查): a grid worker's round of their grid, sent when it ends:
-- start, end and notes. No positions are kept: Pingan does not track people.
CREATE TABLE patrols (
    id              BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    grid_code       TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT NOT NULL,
    notes           TEXT NOT NULL,        -- JSON array of {at, text}
    created_at      BIGINT NOT NULL
);
CREATE INDEX patrols_grid ON patrols(grid_code, id);
