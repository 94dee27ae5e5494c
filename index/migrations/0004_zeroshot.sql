-- Version 4: zero-shot captions from CLIP. The concept vocabulary's text
-- embeddings, computed once per CLIP model, and per image the sentence and
-- words the zero-shot caption put into its caption row (so that a later
-- run, or another model, can replace them instead of adding more).
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
