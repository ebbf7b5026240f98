-- Notification preferences and the e-mail outbox of notifications.
-- All times are integer milliseconds since the Unix epoch, UTC.

-- Where an account changed a kind's defaults (marquee_domain::notify): one
-- row per account and kind, only while it differs from them.
CREATE TABLE notification_prefs (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- marquee_domain::notify::NotifyKind::as_str
    kind       TEXT NOT NULL,
    in_app     INTEGER NOT NULL,
    email      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind)
);

-- Notifications waiting to be e-mailed, written in the same transaction as
-- the bell's rows, for accounts that want them by e-mail. The mail worker
-- claims due rows for a lease (next_attempt_at), sends one digest per
-- account and deletes the rows it sent; a crash before the delete sends
-- again after the lease, never loses one.
CREATE TABLE notification_mail (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- the notification row's kind (idea.status_changed, decision, perk, ...)
    kind            TEXT NOT NULL,
    message         TEXT NOT NULL,
    -- site-relative
    link            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notification_mail_due ON notification_mail(next_attempt_at, id);
CREATE INDEX notification_mail_account ON notification_mail(account_id);

-- Unsubscribe links in notification mails: the sha256 of a 256-bit random
-- token, for one account and preference kind. Using it switches that
-- kind's e-mail off (again, if it already is).
CREATE TABLE notification_unsubscribe (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX notification_unsubscribe_account ON notification_unsubscribe(account_id);
