-- Packed copies of all grid geometries, so the server loads its locate index
-- from a few large rows instead of millions of small ones.
CREATE TABLE grid_packs (
    seq         BIGINT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    data        BYTEA NOT NULL
);
-- MAX(updated_at) is part of the grids' fingerprint: keep it an index lookup.
CREATE INDEX grids_updated_at ON grids(updated_at);
