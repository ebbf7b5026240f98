-- Sentiment tiers and staff corrections (#20).

-- Who gave each post its label: the fast model at ingest ('fast'), the
-- accurate encoder tier when it rescored the post ('encoder'), or a staff
-- correction ('staff', which no model overwrites).
ALTER TABLE posts ADD COLUMN labelled_by TEXT NOT NULL DEFAULT 'fast'
    CHECK (labelled_by IN ('fast', 'encoder', 'staff'));

-- Each correction, as an event: the post's text (read through post_id) and
-- the staff label become extra training data for `marquee train sentiment`.
CREATE TABLE sentiment_corrections (
    id           INTEGER PRIMARY KEY,
    post_id      INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    previous     TEXT NOT NULL CHECK (previous IN ('negative', 'neutral', 'positive')),
    sentiment    TEXT NOT NULL CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    corrected_by INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX sentiment_corrections_post ON sentiment_corrections(post_id, id);
CREATE INDEX sentiment_corrections_by ON sentiment_corrections(corrected_by);
