-- Single-use, short-lived tokens mailed to an account's address: password
-- resets and e-mail confirmation. Only the sha256 of a token is kept, so a
-- copy of the database yields no usable link.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE DEFERRABLE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('password_reset', 'verify_email')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX account_tokens_account ON account_tokens(account_id, purpose, created_at);

-- Whether the account's address is confirmed. Accounts made before (and by
-- staff, the CLI and the demo import) count as confirmed; a sign-up on an
-- installation that sends mail starts unconfirmed until its link is used.
ALTER TABLE accounts ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 1;
