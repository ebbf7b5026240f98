-- Help for customers who cannot log in: a conversation may belong to a
-- visitor (an e-mail given in the pre-chat or offline form) instead of an
-- account. It links to the account of that e-mail once the visitor follows
-- the verification link mailed to it.
ALTER TABLE support_conversations ALTER COLUMN account_id DROP NOT NULL;
-- Where it started: the signed-in chat, the visitor chat, or the offline form.
ALTER TABLE support_conversations ADD COLUMN channel TEXT NOT NULL DEFAULT 'chat'
    CHECK (channel IN ('chat', 'visitor', 'offline'));
-- The visitor's details, as typed (escaped when rendered).
ALTER TABLE support_conversations ADD COLUMN visitor_email TEXT;
ALTER TABLE support_conversations ADD COLUMN visitor_name TEXT;
-- The visitor's browser holds a random token; only its sha256 is kept.
ALTER TABLE support_conversations ADD COLUMN visitor_token_hash TEXT UNIQUE;
-- The single-use verification link mailed to the visitor (sha256) and its expiry.
ALTER TABLE support_conversations ADD COLUMN visitor_verify_hash TEXT UNIQUE;
ALTER TABLE support_conversations ADD COLUMN visitor_verify_expires BIGINT;
ALTER TABLE support_conversations ADD COLUMN visitor_verified_at BIGINT;
ALTER TABLE support_conversations ADD CONSTRAINT support_conversations_owner
    CHECK (account_id IS NOT NULL OR visitor_email IS NOT NULL);
CREATE INDEX support_conversations_visitor ON support_conversations(visitor_email) WHERE visitor_email IS NOT NULL;
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
