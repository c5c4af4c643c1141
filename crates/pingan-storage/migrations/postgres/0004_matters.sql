-- Matters (事件): the current state, a projection of the event log written in
-- the same transaction as each entry.
CREATE TABLE matters (
    id                BIGSERIAL PRIMARY KEY,
    tracking_code     TEXT NOT NULL UNIQUE,
    idempotency_key   TEXT UNIQUE,
    state             TEXT NOT NULL,
    version           BIGINT NOT NULL,
    category_code     TEXT,
    severity          TEXT NOT NULL,
    description       TEXT NOT NULL,
    grid_code         TEXT COLLATE "C" NOT NULL REFERENCES grids(code),
    lng               DOUBLE PRECISION,
    lat               DOUBLE PRECISION,
    source            TEXT NOT NULL,
    reporter_id       BIGINT REFERENCES accounts(id),
    contact_cipher    BYTEA,
    contact_masked    TEXT,
    holder            TEXT COLLATE "C" NOT NULL,
    assigned_unit_id  BIGINT REFERENCES units(id),
    deadline          BIGINT,
    rework_count      BIGINT NOT NULL DEFAULT 0,
    rating            BIGINT,
    overdue           BOOLEAN NOT NULL DEFAULT FALSE,
    -- When the scheduler must next look at the matter (remind, overdue,
    -- escalate); NULL when nothing is pending. Sweeps read only what is due.
    next_due          BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX matters_grid ON matters(grid_code, id);
CREATE INDEX matters_state ON matters(state, id);
CREATE INDEX matters_next_due ON matters(next_due) WHERE next_due IS NOT NULL;
