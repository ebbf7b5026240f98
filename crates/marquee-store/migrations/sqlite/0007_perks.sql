-- Surprise & delight (perks), word of mouth (share links, referrals) and
-- "We heard you" decisions. All times are ms since the epoch, UTC.

-- Perk rules: the validated JSON spec (marquee_domain::perks::RuleSpec).
CREATE TABLE perk_rules (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_by INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The perks event log: every trigger occurrence, from Marquee's own data
-- (series finished, anniversaries, ideas launched, referrals) or posted by
-- staff (custom, support recovery). `key` makes every source idempotent.
CREATE TABLE perk_events (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('series_finished', 'anniversary', 'support_recovery',
                                               'idea_launched', 'referral_converted', 'custom')),
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    profile_id   INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    key          TEXT NOT NULL UNIQUE,
    occurred_at  INTEGER NOT NULL,
    name         TEXT,
    series_id    INTEGER,
    years        INTEGER,
    subject_id   INTEGER,
    -- Free-form JSON from the source (e.g. the CSAT score).
    data         TEXT NOT NULL DEFAULT '{}',
    recorded_at  INTEGER NOT NULL,
    processed_at INTEGER
);
CREATE INDEX perk_events_pending ON perk_events(id) WHERE processed_at IS NULL;
CREATE INDEX perk_events_time ON perk_events(occurred_at);

-- Where each source scan stopped.
CREATE TABLE perk_cursors (
    name   TEXT PRIMARY KEY NOT NULL,
    cursor INTEGER NOT NULL
);

-- Effects given. One per (rule, event): an event is never rewarded twice.
CREATE TABLE perk_awards (
    id           INTEGER PRIMARY KEY,
    rule_id      INTEGER NOT NULL REFERENCES perk_rules(id),
    event_id     INTEGER NOT NULL REFERENCES perk_events(id),
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    profile_id   INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('credit', 'badge', 'message', 'early_access')),
    amount_cents INTEGER NOT NULL DEFAULT 0,
    cost_cents   INTEGER NOT NULL DEFAULT 0,
    badge        TEXT,
    feature      TEXT,
    message      TEXT,
    headline     TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    revealed_at  INTEGER,
    UNIQUE (rule_id, event_id)
);
CREATE INDEX perk_awards_profile ON perk_awards(profile_id, created_at DESC);
CREATE INDEX perk_awards_rule ON perk_awards(rule_id, profile_id, occurred_at);
CREATE INDEX perk_awards_time ON perk_awards(created_at);

-- The audit trail: every effect given or refused by a budget, and every rule change.
CREATE TABLE perk_audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    action     TEXT NOT NULL,
    rule_id    INTEGER,
    event_id   INTEGER,
    award_id   INTEGER,
    account_id INTEGER,
    actor_id   INTEGER,
    cost_cents INTEGER NOT NULL DEFAULT 0,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX perk_audit_at ON perk_audit(at DESC);
CREATE TRIGGER perk_audit_no_update BEFORE UPDATE ON perk_audit BEGIN
    SELECT RAISE(ABORT, 'perk_audit is append-only');
END;
CREATE TRIGGER perk_audit_no_delete BEFORE DELETE ON perk_audit BEGIN
    SELECT RAISE(ABORT, 'perk_audit is append-only');
END;

-- Word of mouth: opt-in sharing and one referral code per account.
CREATE TABLE share_settings (
    account_id    INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    enabled       INTEGER NOT NULL DEFAULT 0,
    referral_code TEXT UNIQUE,
    updated_at    INTEGER NOT NULL
);

-- Every use of a referral code, converted or refused (self-referral, already referred).
CREATE TABLE referrals (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL,
    referrer_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    referred_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('converted', 'self_referral', 'already_referred', 'unknown_code')),
    created_at  INTEGER NOT NULL
);
-- An account is converted at most once.
CREATE UNIQUE INDEX referrals_once ON referrals(referred_id) WHERE status = 'converted';
CREATE INDEX referrals_referrer ON referrals(referrer_id, created_at);

-- "We heard you": a decision and its evidence.
CREATE TABLE decisions (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_by INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    notified   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX decisions_created ON decisions(created_at DESC);

CREATE TABLE decision_evidence (
    decision_id INTEGER NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('alert', 'post', 'idea', 'conversation')),
    ref_id      INTEGER NOT NULL,
    PRIMARY KEY (decision_id, kind, ref_id)
) WITHOUT ROWID;
