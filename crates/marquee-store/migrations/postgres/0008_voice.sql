-- Full-text index of social posts, for searching the listening feed and for the
-- "voice of the customer" next to an idea (SQLite: posts_fts). Word-prefix
-- matching without stemming, as SQLite's unicode61 tokenizer.
ALTER TABLE posts ADD COLUMN text_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;
CREATE INDEX posts_text_tsv ON posts USING GIN (text_tsv);
