-- People's mediation (人民调解). Committees are units of kind
-- mediation_committee; this table adds what they take on (general or a
-- professional field). A committee without a row here is a general one.
CREATE TABLE mediation_committees (
    unit_id    INTEGER PRIMARY KEY REFERENCES units(id),
    specialty  TEXT NOT NULL
);

-- Cases: the current state, a projection of the event log (subject
-- case:<id>) written in the same transaction as each entry. Sessions,
-- follow-ups, the agreement, the confirmation and the referral are JSON.
CREATE TABLE mediation_cases (
    id               INTEGER PRIMARY KEY,
    case_number      TEXT UNIQUE,
    idempotency_key  TEXT UNIQUE,
    state            TEXT NOT NULL,
    version          INTEGER NOT NULL,
    case_type        TEXT NOT NULL,
    matter_id        INTEGER UNIQUE REFERENCES matters(id),
    committee_id     INTEGER NOT NULL REFERENCES units(id),
    -- The holding committee's region prefix, as a matter's holder.
    holder           TEXT NOT NULL,
    -- Where the dispute is: the matter's grid, or the region it arose in.
    place_code       TEXT NOT NULL,
    title            TEXT NOT NULL,
    facts            TEXT NOT NULL,
    claims           TEXT NOT NULL,
    risk_level       TEXT NOT NULL,
    risk_reasons     TEXT NOT NULL,
    mediators        TEXT NOT NULL,
    deadline         INTEGER NOT NULL,
    sessions         TEXT NOT NULL,
    follow_ups       TEXT NOT NULL,
    agreement        TEXT,
    confirmation     TEXT,
    outcome          TEXT,
    referral         TEXT,
    opened_by        INTEGER REFERENCES accounts(id),
    opened_at        INTEGER NOT NULL,
    ended_at         INTEGER,
    updated_at       INTEGER NOT NULL,
    next_due         INTEGER,
    reminders_sent   TEXT NOT NULL
);
CREATE INDEX mediation_cases_holder ON mediation_cases(holder, id);
CREATE INDEX mediation_cases_place ON mediation_cases(place_code, id);
CREATE INDEX mediation_cases_committee ON mediation_cases(committee_id, id);
CREATE INDEX mediation_cases_next_due ON mediation_cases(next_due) WHERE next_due IS NOT NULL;

-- Parties (当事人): personal fields encrypted, with masked copies for views
-- and keyed hashes to find a person's other cases without storing the value.
CREATE TABLE case_parties (
    id               INTEGER PRIMARY KEY,
    case_id          INTEGER NOT NULL REFERENCES mediation_cases(id),
    seq              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    side             TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    name_cipher      BLOB NOT NULL,
    id_number_cipher BLOB,
    id_number_masked TEXT,
    id_number_hash   BLOB,
    phone_cipher     BLOB,
    phone_masked     TEXT,
    phone_hash       BLOB,
    address_cipher   BLOB,
    UNIQUE (case_id, seq)
);
CREATE INDEX case_parties_id_number ON case_parties(id_number_hash) WHERE id_number_hash IS NOT NULL;
CREATE INDEX case_parties_phone ON case_parties(phone_hash) WHERE phone_hash IS NOT NULL;
