-- Profile PINs (#21): the argon2id hash of an optional 4-digit PIN, and the
-- wrong tries in a row with the lock they lead to (marquee_domain::pin),
-- kept here so that every server instance counts the same tries.
ALTER TABLE profiles ADD COLUMN pin_hash TEXT;
ALTER TABLE profiles ADD COLUMN pin_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN pin_locked_until INTEGER;
