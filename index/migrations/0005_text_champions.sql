-- Version 5: champion lists for ranking text at scale. For every word in
-- many rows, the rows where it weighs most (by its own bm25 term), so a
-- search for a common word scores a few thousand rows instead of every
-- match; rows written since the lists were made are listed in
-- text_pending and scored too. Made by `capsearch index` (one
-- transaction); until then searches use FTS5's full ranking.
CREATE TABLE text_champions (
    term    TEXT NOT NULL,
    columns INTEGER NOT NULL,
    df      INTEGER NOT NULL,
    ids     BLOB NOT NULL,
    PRIMARY KEY (term, columns)
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
