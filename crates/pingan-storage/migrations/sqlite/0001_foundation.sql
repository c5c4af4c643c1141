-- Regions, grids, units, accounts, sessions and the audit trail.
CREATE TABLE regions (
    code        TEXT PRIMARY KEY,          -- 12-digit statistical code
    level       TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent_code TEXT REFERENCES regions(code),
    active      INTEGER NOT NULL DEFAULT 1,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX regions_parent ON regions(parent_code, code);

CREATE TABLE region_shapes (
    code     TEXT PRIMARY KEY REFERENCES regions(code),
    geometry BLOB NOT NULL
);

CREATE TABLE grids (
    code         TEXT PRIMARY KEY,         -- 15 digits: village code + 3
    village_code TEXT NOT NULL REFERENCES regions(code),
    name         TEXT NOT NULL,
    geometry     BLOB NOT NULL,            -- WGS-84, pingan-geo encoding
    min_lng      REAL NOT NULL,
    min_lat      REAL NOT NULL,
    max_lng      REAL NOT NULL,
    max_lat      REAL NOT NULL,
    valid_from   INTEGER NOT NULL,
    valid_to     INTEGER,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX grids_village ON grids(village_code);

CREATE TABLE units (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions(code),
    created_at  INTEGER NOT NULL
);
CREATE INDEX units_region ON units(region_code);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    scope_prefix  TEXT NOT NULL,           -- region prefix, grid code, or '' for everywhere
    unit_id       INTEGER REFERENCES units(id),
    display_name  TEXT NOT NULL,
    phone_cipher  BLOB,                    -- encrypted at rest
    phone_hash    BLOB,                    -- keyed hash for exact lookup
    phone_masked  TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX accounts_scope ON accounts(scope_prefix);
CREATE INDEX accounts_phone ON accounts(phone_hash);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account_id INTEGER,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_subject ON audit_log(subject);
