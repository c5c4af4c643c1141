-- Packed copies of all grid geometries, so the server loads its locate index
-- from a few large rows instead of millions of small ones.
CREATE TABLE grid_packs (
    seq         BIGINT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    data        BYTEA NOT NULL
);
-- Packs are read whole at every start: store them uncompressed (TOAST's pglz
-- would cost more to decompress than the bytes it saves).
ALTER TABLE grid_packs ALTER COLUMN data SET STORAGE EXTERNAL;
-- MAX(updated_at) is part of the grids' fingerprint: keep it an index lookup.
CREATE INDEX grids_updated_at ON grids(updated_at);
