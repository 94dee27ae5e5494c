-- Version 7: champion lists within the pictures with faces, those with text
-- read in them, those of one type, of one year and of a large folder
-- (index/FORMAT.md, "segment_champions"),
-- so that a search filtered to them is ranked from lists of their own. Lists made by
-- earlier versions stay in use until the next `capsearch index` makes them
-- again, with these (meta.text_segments missing marks them stale).
CREATE TABLE segment_champions (
    segment TEXT NOT NULL,
    term    TEXT NOT NULL,
    columns INTEGER NOT NULL,
    df      INTEGER NOT NULL,
    ids     BLOB NOT NULL,
    PRIMARY KEY (segment, term, columns)
) WITHOUT ROWID;
