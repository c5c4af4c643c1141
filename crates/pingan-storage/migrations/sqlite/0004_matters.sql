-- Matters (事件): the current state, a projection of the event log written in
-- the same transaction as each entry.
CREATE TABLE matters (
    id                INTEGER PRIMARY KEY,
    tracking_code     TEXT NOT NULL UNIQUE,
    idempotency_key   TEXT UNIQUE,
    state             TEXT NOT NULL,
    version           INTEGER NOT NULL,
    category_code     TEXT,
    severity          TEXT NOT NULL,
    description       TEXT NOT NULL,
    grid_code         TEXT NOT NULL REFERENCES grids(code),
    lng               REAL,
    lat               REAL,
    source            TEXT NOT NULL,
    reporter_id       INTEGER REFERENCES accounts(id),
    contact_cipher    BLOB,
    contact_masked    TEXT,
    holder            TEXT NOT NULL,
    assigned_unit_id  INTEGER REFERENCES units(id),
    deadline          INTEGER,
    rework_count      INTEGER NOT NULL DEFAULT 0,
    rating            INTEGER,
    overdue           INTEGER NOT NULL DEFAULT 0,
    -- When the scheduler must next look at the matter (remind, overdue,
    -- escalate); NULL when nothing is pending. Sweeps read only what is due.
    next_due          INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX matters_grid ON matters(grid_code, id);
CREATE INDEX matters_state ON matters(state, id);
CREATE INDEX matters_next_due ON matters(next_due) WHERE next_due IS NOT NULL;
