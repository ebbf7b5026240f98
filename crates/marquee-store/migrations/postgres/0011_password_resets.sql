-- Password-reset tokens: single use, short-lived. Only the sha256 of the
-- token is kept, so a copy of the database yields no usable link.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE DEFERRABLE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_account ON password_resets(account_id, created_at);
