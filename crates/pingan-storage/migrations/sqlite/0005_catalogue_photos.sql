-- The category catalogue as versioned documents: an admin's edit adds a
-- version, so what any matter was dispatched under stays on record.
CREATE TABLE catalogue_versions (
    version     INTEGER PRIMARY KEY,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  INTEGER REFERENCES accounts(id)
);

-- Supervision (督办) flag, the time limit the matter was dispatched under,
-- when it was last closed (the reopen window counts from it) and, for a
-- duplicate, the matter it was merged into.
ALTER TABLE matters ADD COLUMN supervised INTEGER NOT NULL DEFAULT 0;
ALTER TABLE matters ADD COLUMN time_limit TEXT;
ALTER TABLE matters ADD COLUMN closed_at INTEGER;
ALTER TABLE matters ADD COLUMN merged_into INTEGER REFERENCES matters(id);
CREATE INDEX matters_position ON matters(lng, lat) WHERE lng IS NOT NULL;

-- Photos are files named by their SHA-256; these rows say who uploaded one
-- (only the uploader may attach it) and which matter shows it.
CREATE TABLE photo_uploads (
    sha256      TEXT NOT NULL,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    kind        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (sha256, account_id)
);
CREATE TABLE matter_photos (
    matter_id   INTEGER NOT NULL REFERENCES matters(id),
    sha256      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- report (the scene) or result (after handling)
    stage       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (matter_id, sha256)
);
