-- Version 2: perceptual hashes for near-duplicate detection, and a table of
-- files that could not be indexed (kept so an unchanged broken file is not
-- retried on every run).
ALTER TABLE images ADD COLUMN phash INTEGER;

CREATE TABLE errors (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reason   TEXT NOT NULL,
    at       INTEGER NOT NULL
) WITHOUT ROWID;
