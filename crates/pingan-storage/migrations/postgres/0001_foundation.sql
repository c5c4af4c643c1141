-- Regions, grids, units, accounts, sessions and the audit trail.
-- Codes use the C collation so that prefix ranges (code >= p AND code < p || ':') use the index.
CREATE TABLE regions (
    code        TEXT COLLATE "C" PRIMARY KEY,
    level       TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent_code TEXT COLLATE "C" REFERENCES regions(code),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX regions_parent ON regions(parent_code, code);

CREATE TABLE region_shapes (
    code     TEXT COLLATE "C" PRIMARY KEY REFERENCES regions(code),
    geometry BYTEA NOT NULL
);

CREATE TABLE grids (
    code         TEXT COLLATE "C" PRIMARY KEY,
    village_code TEXT COLLATE "C" NOT NULL REFERENCES regions(code),
    name         TEXT NOT NULL,
    geometry     BYTEA NOT NULL,
    min_lng      DOUBLE PRECISION NOT NULL,
    min_lat      DOUBLE PRECISION NOT NULL,
    max_lng      DOUBLE PRECISION NOT NULL,
    max_lat      DOUBLE PRECISION NOT NULL,
    valid_from   BIGINT NOT NULL,
    valid_to     BIGINT,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX grids_village ON grids(village_code);

CREATE TABLE units (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    region_code TEXT COLLATE "C" NOT NULL REFERENCES regions(code),
    created_at  BIGINT NOT NULL
);
CREATE INDEX units_region ON units(region_code);

CREATE TABLE accounts (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    scope_prefix  TEXT COLLATE "C" NOT NULL,
    unit_id       BIGINT REFERENCES units(id),
    display_name  TEXT NOT NULL,
    phone_cipher  BYTEA,
    phone_hash    BYTEA,
    phone_masked  TEXT,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);
CREATE INDEX accounts_scope ON accounts(scope_prefix);
CREATE INDEX accounts_phone ON accounts(phone_hash);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    account_id BIGINT,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_subject ON audit_log(subject);
