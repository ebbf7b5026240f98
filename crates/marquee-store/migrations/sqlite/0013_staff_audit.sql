-- What staff did to accounts (#22 item 6): role and plan changes, password
-- resets sent, disabling and enabling. Who, to whom, what, when; the links
-- are cleared when either account is deleted, the trail stays.
CREATE TABLE staff_audit (
    id         INTEGER PRIMARY KEY,
    actor_id   INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    action     TEXT NOT NULL,
    detail     TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX staff_audit_account ON staff_audit(account_id, at);

-- A pending change of an account's address (#22 item 1): the link mailed to
-- the new address carries a token whose sha256 is kept here; the address
-- changes only when it is used (once, before it expires).
CREATE TABLE email_changes (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    new_email  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_changes_account ON email_changes(account_id, created_at);
