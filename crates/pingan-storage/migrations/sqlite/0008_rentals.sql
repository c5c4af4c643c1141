-- Rental housing, hotel style (出租房屋旅馆式管理): properties, their units,
-- safety checks, and tenancies (入住登记). Each table is a projection of the
-- event log, written in the same transaction as its entry. Personal fields
-- are sealed by the personal-data keys: *_cipher encrypted, *_hash a keyed
-- hash for exact match, *_masked for display; a purge sets all three to NULL.
CREATE TABLE rental_properties (
    id             INTEGER PRIMARY KEY,
    grid_code      TEXT NOT NULL REFERENCES grids(code),
    landlord_id    INTEGER NOT NULL REFERENCES accounts(id),
    name           TEXT NOT NULL,
    address        TEXT NOT NULL,
    lng            REAL NOT NULL,
    lat            REAL NOT NULL,
    contact_cipher BLOB,
    contact_hash   BLOB,
    contact_masked TEXT,
    created_by     INTEGER NOT NULL REFERENCES accounts(id),
    created_at     INTEGER NOT NULL
);
CREATE INDEX rental_properties_grid ON rental_properties(grid_code, id);
CREATE INDEX rental_properties_landlord ON rental_properties(landlord_id, id);

CREATE TABLE rental_units (
    id                      INTEGER PRIMARY KEY,
    property_id             INTEGER NOT NULL REFERENCES rental_properties(id),
    -- Copied from the property: every scope filter is a range on grid_code.
    grid_code               TEXT NOT NULL,
    landlord_id             INTEGER NOT NULL REFERENCES accounts(id),
    label                   TEXT NOT NULL,
    area_m2                 REAL NOT NULL,
    rent_yuan               INTEGER NOT NULL,
    street_facing           INTEGER NOT NULL,
    floor                   INTEGER NOT NULL,
    facilities              TEXT NOT NULL,      -- JSON array of names
    occupancy_limit         INTEGER NOT NULL,
    lng                     REAL NOT NULL,
    lat                     REAL NOT NULL,
    state                   TEXT NOT NULL,
    version                 INTEGER NOT NULL,
    -- The rectification matter of the last failed check, if any.
    rectification_matter_id INTEGER REFERENCES matters(id),
    last_inspected_at       INTEGER,
    -- When the unit is due for its next check (night rounds).
    next_inspection_due     INTEGER,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX rental_units_grid ON rental_units(grid_code, id);
CREATE INDEX rental_units_property ON rental_units(property_id, id);
CREATE INDEX rental_units_landlord ON rental_units(landlord_id, id);
CREATE INDEX rental_units_listing ON rental_units(state, rent_yuan);
CREATE INDEX rental_units_due ON rental_units(next_inspection_due) WHERE next_inspection_due IS NOT NULL;

CREATE TABLE rental_inspections (
    id           INTEGER PRIMARY KEY,
    unit_id      INTEGER NOT NULL REFERENCES rental_units(id),
    grid_code    TEXT NOT NULL,
    inspector_id INTEGER NOT NULL REFERENCES accounts(id),
    at           INTEGER NOT NULL,
    passed       INTEGER NOT NULL,
    night        INTEGER NOT NULL,
    note         TEXT NOT NULL,
    photos       TEXT NOT NULL,                 -- JSON array of sha256
    matter_id    INTEGER REFERENCES matters(id)
);
CREATE INDEX rental_inspections_unit ON rental_inspections(unit_id, id);
CREATE INDEX rental_inspections_grid ON rental_inspections(grid_code, at);

CREATE TABLE rental_inspection_items (
    inspection_id INTEGER NOT NULL REFERENCES rental_inspections(id),
    item          TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    note          TEXT,
    PRIMARY KEY (inspection_id, item)
);

CREATE TABLE tenancies (
    id            INTEGER PRIMARY KEY,
    unit_id       INTEGER NOT NULL REFERENCES rental_units(id),
    grid_code     TEXT NOT NULL,
    landlord_id   INTEGER NOT NULL REFERENCES accounts(id),
    doc_type      TEXT NOT NULL,
    name_cipher   BLOB,
    name_masked   TEXT,
    id_cipher     BLOB,
    id_hash       BLOB,
    id_masked     TEXT,
    phone_cipher  BLOB,
    phone_masked  TEXT,
    lease_start   INTEGER NOT NULL,
    lease_end     INTEGER NOT NULL,
    state         TEXT NOT NULL,                -- active | ended
    ended_at      INTEGER,
    end_reason    TEXT,                         -- lease_end | early
    registered_by INTEGER NOT NULL REFERENCES accounts(id),
    registered_at INTEGER NOT NULL,
    purged_at     INTEGER
);
CREATE INDEX tenancies_unit ON tenancies(unit_id, state);
CREATE INDEX tenancies_grid ON tenancies(grid_code, state);
CREATE INDEX tenancies_id_hash ON tenancies(id_hash) WHERE id_hash IS NOT NULL;
-- The scheduler's two schedules: check-out when the lease ends, and the
-- purge of personal fields a retention period after the end.
CREATE INDEX tenancies_check_out ON tenancies(lease_end) WHERE state = 'active';
CREATE INDEX tenancies_purge ON tenancies(ended_at) WHERE state = 'ended' AND purged_at IS NULL;
