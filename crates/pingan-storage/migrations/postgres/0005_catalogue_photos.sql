-- The category catalogue as versioned documents: an admin's edit adds a
-- version, so what any matter was dispatched under stays on record.
CREATE TABLE catalogue_versions (
    version     BIGINT PRIMARY KEY,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  BIGINT REFERENCES accounts(id)
);

-- Supervision (督办) flag, the time limit the matter was dispatched under,
-- when it was last closed (the reopen window counts from it) and, for a
-- duplicate, the matter it was merged into.
ALTER TABLE matters ADD COLUMN supervised BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE matters ADD COLUMN time_limit TEXT;
ALTER TABLE matters ADD COLUMN closed_at BIGINT;
ALTER TABLE matters ADD COLUMN merged_into BIGINT REFERENCES matters(id);
CREATE INDEX matters_position ON matters(lng, lat) WHERE lng IS NOT NULL;

-- Photos are files named by their SHA-256; these rows say who uploaded one
-- (only the uploader may attach it) and which matter shows it.
CREATE TABLE photo_uploads (
    sha256      TEXT NOT NULL,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    kind        TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (sha256, account_id)
);
CREATE TABLE matter_photos (
    matter_id   BIGINT NOT NULL REFERENCES matters(id),
    sha256      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- report (the scene) or result (after handling)
    stage       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (matter_id, sha256)
);
