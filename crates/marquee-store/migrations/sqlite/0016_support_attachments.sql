-- Support attachments (#22 item 5): images and PDFs sent with a chat
-- message. The bytes live under the data directory (`attachments/`), in a
-- file named by `storage_key` (random, never the uploader's file name); this
-- row is their metadata. `file_name` is the sanitised original name, shown
-- and used in Content-Disposition only. A conversation's attachments go with
-- it (and with their message); the uploader link is cleared when that
-- account is deleted (an agent's upload stays in the customer's conversation).
CREATE TABLE support_attachments (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
    message_id      INTEGER NOT NULL REFERENCES support_messages(id) ON DELETE CASCADE,
    uploader_id     INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    storage_key     TEXT NOT NULL UNIQUE,
    file_name       TEXT NOT NULL,
    mime            TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    width           INTEGER,
    height          INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX support_attachments_conv ON support_attachments(conversation_id, id);
CREATE INDEX support_attachments_message ON support_attachments(message_id);
