-- Version 3: a `related` column in captions: WordNet words for what the
-- picture shows ("canine, animal" for a dog), searched with a low weight.
-- An FTS5 table cannot gain a column: the index and its triggers are made
-- again and rebuilt from captions. Existing rows get '' and are filled in
-- by the next `capsearch index` (see FORMAT.md, meta `related_words`).
ALTER TABLE captions ADD COLUMN related TEXT NOT NULL DEFAULT '';

DROP TRIGGER captions_after_insert;
DROP TRIGGER captions_after_delete;
DROP TRIGGER captions_after_update;
DROP TABLE captions_fts;

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

INSERT INTO captions_fts(captions_fts) VALUES ('rebuild');
