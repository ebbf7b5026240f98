-- Full-text index of support chat messages: the conversations that mention an
-- idea, next to it for staff. External content, kept in step by triggers.
CREATE VIRTUAL TABLE support_messages_fts USING fts5(
    body,
    content = 'support_messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER support_messages_fts_ai AFTER INSERT ON support_messages BEGIN
    INSERT INTO support_messages_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER support_messages_fts_ad AFTER DELETE ON support_messages BEGIN
    INSERT INTO support_messages_fts(support_messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER support_messages_fts_au AFTER UPDATE OF body ON support_messages BEGIN
    INSERT INTO support_messages_fts(support_messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO support_messages_fts(rowid, body) VALUES (new.id, new.body);
END;
INSERT INTO support_messages_fts(support_messages_fts) VALUES ('rebuild');
