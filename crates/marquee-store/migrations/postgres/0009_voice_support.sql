-- Full-text index of support chat messages: the conversations that mention an
-- idea, next to it for staff (SQLite: support_messages_fts).
ALTER TABLE support_messages ADD COLUMN body_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED;
CREATE INDEX support_messages_body_tsv ON support_messages USING GIN (body_tsv);
