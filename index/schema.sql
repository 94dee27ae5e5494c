-- capsearch catalog, schema version 5: what a new library is created with.
-- index/migrations/ holds the steps from each older version; a test checks
-- that migrating a version-1 catalog yields exactly this schema.
-- See index/FORMAT.md for the meaning of every table and column.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE images (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    path         TEXT NOT NULL UNIQUE,
    folder       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    format       TEXT NOT NULL,
    taken_at     INTEGER,
    camera_make  TEXT,
    camera_model TEXT,
    gps_lat      REAL,
    gps_lon      REAL,
    status       INTEGER NOT NULL DEFAULT 0,
    indexed_at   INTEGER NOT NULL,
    phash        INTEGER
);
CREATE INDEX images_content_hash ON images(content_hash);
-- with the date taken: a folder's listing, newest first, reads only this
CREATE INDEX images_folder_taken ON images(folder, taken_at);
CREATE INDEX images_taken_at ON images(taken_at);
CREATE INDEX images_format ON images(format);
-- the camera filter's text (lower(make || ' ' || model)): listing a camera's
-- pictures scans this index instead of every row
CREATE INDEX images_camera
    ON images(lower(coalesce(camera_make, '') || ' ' || coalesce(camera_model, '')));

CREATE TABLE captions (
    image_id   INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    caption    TEXT NOT NULL DEFAULT '',
    tags       TEXT NOT NULL DEFAULT '',
    ocr        TEXT NOT NULL DEFAULT '',
    path_words TEXT NOT NULL DEFAULT '',
    exif_text  TEXT NOT NULL DEFAULT '',
    related    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX captions_with_text ON captions(image_id) WHERE ocr <> '';

CREATE VIRTUAL TABLE captions_fts USING fts5(
    caption, tags, ocr, path_words, exif_text, related,
    content = 'captions', content_rowid = 'image_id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER captions_after_insert AFTER INSERT ON captions BEGIN
    INSERT INTO captions_fts(rowid, caption, tags, ocr, path_words, exif_text, related)
    VALUES (new.image_id, new.caption, new.tags, new.ocr, new.path_words, new.exif_text,
            new.related);
END;
CREATE TRIGGER captions_after_delete AFTER DELETE ON captions BEGIN
    INSERT INTO captions_fts(captions_fts, rowid, caption, tags, ocr, path_words, exif_text,
                             related)
    VALUES ('delete', old.image_id, old.caption, old.tags, old.ocr, old.path_words,
            old.exif_text, old.related);
END;
CREATE TRIGGER captions_after_update AFTER UPDATE ON captions BEGIN
    INSERT INTO captions_fts(captions_fts, rowid, caption, tags, ocr, path_words, exif_text,
                             related)
    VALUES ('delete', old.image_id, old.caption, old.tags, old.ocr, old.path_words,
            old.exif_text, old.related);
    INSERT INTO captions_fts(rowid, caption, tags, ocr, path_words, exif_text, related)
    VALUES (new.image_id, new.caption, new.tags, new.ocr, new.path_words, new.exif_text,
            new.related);
END;

CREATE TABLE tags (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    kind     TEXT NOT NULL,
    score    REAL NOT NULL,
    PRIMARY KEY (image_id, kind, tag)
) WITHOUT ROWID;
CREATE INDEX tags_tag ON tags(tag);
CREATE INDEX tags_kind ON tags(kind, image_id);

CREATE TABLE embeddings (
    id       INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    model    TEXT NOT NULL,
    dim      INTEGER NOT NULL,
    data     BLOB NOT NULL,
    UNIQUE (model, image_id)
);
CREATE INDEX embeddings_image ON embeddings(image_id);

CREATE TABLE errors (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reason   TEXT NOT NULL,
    at       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE concept_embeddings (
    model   TEXT NOT NULL,
    concept TEXT NOT NULL,
    prompts TEXT NOT NULL,
    dim     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (model, concept)
);

CREATE TABLE zeroshot (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    model    TEXT NOT NULL,
    sentence TEXT NOT NULL,
    words    TEXT NOT NULL
);

-- Champion lists (see index/FORMAT.md, "text_champions").
CREATE TABLE text_champions (
    term    TEXT NOT NULL,
    columns INTEGER NOT NULL,
    df      INTEGER NOT NULL,
    ids     BLOB NOT NULL,
    PRIMARY KEY (term, columns)
) WITHOUT ROWID;

CREATE TABLE segment_champions (
    segment TEXT NOT NULL,
    term    TEXT NOT NULL,
    columns INTEGER NOT NULL,
    df      INTEGER NOT NULL,
    ids     BLOB NOT NULL,
    PRIMARY KEY (segment, term, columns)
) WITHOUT ROWID;

CREATE TABLE text_pending (
    image_id INTEGER PRIMARY KEY
);

CREATE TRIGGER captions_pending_insert AFTER INSERT ON captions BEGIN
    INSERT OR IGNORE INTO text_pending(image_id) VALUES (new.image_id);
END;
CREATE TRIGGER captions_pending_update AFTER UPDATE ON captions BEGIN
    INSERT OR IGNORE INTO text_pending(image_id) VALUES (new.image_id);
END;
CREATE TRIGGER captions_pending_delete AFTER DELETE ON captions BEGIN
    INSERT OR IGNORE INTO text_pending(image_id) VALUES (old.image_id);
END;
