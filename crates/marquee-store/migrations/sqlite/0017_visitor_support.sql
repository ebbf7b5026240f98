-- Help for customers who cannot log in: a conversation may belong to a
-- visitor (an e-mail given in the pre-chat or offline form) instead of an
-- account. It links to the account of that e-mail once the visitor follows
-- the verification link mailed to it.
--
-- `account_id` loses its NOT NULL. SQLite cannot drop the constraint with
-- ALTER TABLE, and rebuilding the table would cascade-delete every message
-- (the migration runs in a transaction, where foreign keys cannot be turned
-- off). Removing a NOT NULL changes nothing stored, so this uses the
-- procedure SQLite documents for such changes: edit the table's definition
-- in the schema table. `writable_schema = RESET` reloads this connection's
-- schema; the ALTER TABLEs after it bump the schema version, so every other
-- connection reloads too; the probe row at the end fails the migration if
-- the edit did not take.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql,
       'account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE',
       'account_id       INTEGER REFERENCES accounts(id) ON DELETE CASCADE')
 WHERE type = 'table' AND name = 'support_conversations';
PRAGMA writable_schema = RESET;

-- Where it started: the signed-in chat, the visitor chat, or the offline form.
ALTER TABLE support_conversations ADD COLUMN channel TEXT NOT NULL DEFAULT 'chat'
    CHECK (channel IN ('chat', 'visitor', 'offline'));
-- The visitor's details, as typed (escaped when rendered).
ALTER TABLE support_conversations ADD COLUMN visitor_email TEXT;
ALTER TABLE support_conversations ADD COLUMN visitor_name TEXT;
-- The visitor's browser holds a random token; only its sha256 is kept.
ALTER TABLE support_conversations ADD COLUMN visitor_token_hash TEXT;
CREATE UNIQUE INDEX support_conversations_visitor_token ON support_conversations(visitor_token_hash)
    WHERE visitor_token_hash IS NOT NULL;
-- The single-use verification link mailed to the visitor (sha256) and its expiry.
ALTER TABLE support_conversations ADD COLUMN visitor_verify_hash TEXT;
CREATE UNIQUE INDEX support_conversations_visitor_verify ON support_conversations(visitor_verify_hash)
    WHERE visitor_verify_hash IS NOT NULL;
ALTER TABLE support_conversations ADD COLUMN visitor_verify_expires INTEGER;
ALTER TABLE support_conversations ADD COLUMN visitor_verified_at INTEGER;
CREATE INDEX support_conversations_visitor ON support_conversations(visitor_email) WHERE visitor_email IS NOT NULL;
-- Every conversation has someone to answer: an account or a visitor's address.
CREATE TRIGGER support_conversations_owner_insert BEFORE INSERT ON support_conversations
WHEN NEW.account_id IS NULL AND NEW.visitor_email IS NULL BEGIN
    SELECT RAISE(ABORT, 'a conversation needs an account or a visitor e-mail');
END;
CREATE TRIGGER support_conversations_owner_update BEFORE UPDATE OF account_id, visitor_email ON support_conversations
WHEN NEW.account_id IS NULL AND NEW.visitor_email IS NULL BEGIN
    SELECT RAISE(ABORT, 'a conversation needs an account or a visitor e-mail');
END;

-- The probe: a conversation without an account must now be accepted.
INSERT INTO support_conversations(id, account_id, created_at, updated_at, last_message_at, visitor_email)
VALUES (-1, NULL, 0, 0, 0, 'probe@invalid');
DELETE FROM support_conversations WHERE id = -1;

-- Canned responses a new installation starts with (agents edit or delete
-- them on the support settings page). `created_by` NULL: seeded.
INSERT INTO support_canned(shortcode, body, created_by, created_at) VALUES
    ('greeting', 'Hi, thanks for getting in touch. I''m looking into this now and will get back to you in a moment.', NULL, 0),
    ('refund', 'I''m sorry about this. I''ve asked for a refund of your last payment; it reaches your card or account within 5 to 10 working days, and you''ll get an e-mail when it is sent.', NULL, 0),
    ('password', 'You can set a new password from the "Forgot your password?" link on the log-in page. The e-mail with the link arrives within a few minutes and the link works for 30 minutes; check your spam folder if you don''t see it.', NULL, 0),
    ('cancel', 'You can cancel, pause or change your plan at any time under Account → Plan. If you cancel, you keep watching until the end of the period you have paid for.', NULL, 0),
    ('playback', 'Sorry the video isn''t playing well. Could you try these steps: 1) close and reopen the app or page, 2) check that other sites load quickly, 3) restart the device. If it still happens, tell me the title and the device and I''ll look at what our servers saw.', NULL, 0),
    ('devices', 'Your plan decides how many screens can watch at once. Under Account → Devices and streams you can see what is playing now, stop playback on another screen, or sign a device out.', NULL, 0),
    ('verify', 'To keep your account safe I need to confirm it''s you: please follow the link in the e-mail we just sent to the address you gave. Once you do, this conversation is linked to your account.', NULL, 0),
    ('thanks', 'Thanks for your patience, and for telling us. Is there anything else I can help with?', NULL, 0),
    ('closing', 'I''ll close this conversation now. If anything else comes up, just write here again and we''ll pick it up.', NULL, 0);
