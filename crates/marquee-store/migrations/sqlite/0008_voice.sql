-- Full-text index of social posts, for searching the listening feed and for the
-- "voice of the customer" next to an idea. External content: the text lives once,
-- in posts; the triggers keep the index in step.
CREATE VIRTUAL TABLE posts_fts USING fts5(
    text,
    content = 'posts',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER posts_fts_ai AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER posts_fts_ad AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts(posts_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER posts_fts_au AFTER UPDATE OF text ON posts BEGIN
    INSERT INTO posts_fts(posts_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO posts_fts(rowid, text) VALUES (new.id, new.text);
END;
-- Posts ingested before this migration.
INSERT INTO posts_fts(posts_fts) VALUES ('rebuild');
