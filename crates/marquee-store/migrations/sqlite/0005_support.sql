-- Support chat: conversations, messages (with the customer's playback state
-- when they wrote), the append-only conversation event log the metrics are
-- computed from, CSAT, shared transcripts, canned responses, SLA policies,
-- agent capacities, and the players' stream errors for the context panel.
-- All times are integer milliseconds since the Unix epoch, UTC.

-- Staff settings for auto-assignment. Agents without a row (or with a NULL
-- capacity) use the configured default capacity; agents are available by
-- default, admins only once they opt in.
CREATE TABLE support_agents (
    account_id       INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    capacity         INTEGER CHECK (capacity IS NULL OR (capacity >= 0 AND capacity <= 1000)),
    available        INTEGER NOT NULL DEFAULT 1,
    team             TEXT NOT NULL DEFAULT 'Support',
    last_assigned_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE support_conversations (
    id               INTEGER PRIMARY KEY,
    -- The customer: conversations belong to the account, not a browser.
    account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    priority         TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assignee_id      INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    snoozed_until    INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_message_at  INTEGER NOT NULL,
    first_reply_at   INTEGER,
    resolved_at      INTEGER,
    -- Read state: the last message id each side has seen.
    customer_read_id INTEGER NOT NULL DEFAULT 0,
    agent_read_id    INTEGER NOT NULL DEFAULT 0,
    -- Bumped at each resolution; CSAT is asked once per resolution.
    resolution_seq   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX support_conversations_account ON support_conversations(account_id, id DESC);
CREATE INDEX support_conversations_inbox ON support_conversations(status, last_message_at DESC);
CREATE INDEX support_conversations_assignee ON support_conversations(assignee_id, status);

CREATE TABLE support_messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
    author_id       INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('customer', 'agent', 'system')),
    -- As typed; escaped when rendered.
    body            TEXT NOT NULL,
    -- An internal note: staff only, never in a transcript.
    internal        INTEGER NOT NULL DEFAULT 0,
    -- The canned response it came from.
    canned_code     TEXT,
    created_at      INTEGER NOT NULL,
    -- What the customer was watching when they wrote (customer messages).
    watch_title_id    INTEGER,
    watch_title       TEXT,
    watch_device      TEXT,
    watch_device_kind TEXT,
    watch_position_ms INTEGER,
    watch_duration_ms INTEGER,
    watch_live        INTEGER
);
CREATE INDEX support_messages_conv ON support_messages(conversation_id, id);

-- The append-only event log.
CREATE TABLE support_events (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('created', 'customer_message', 'agent_message', 'note',
                    'assigned', 'status', 'csat', 'shared', 'share_revoked', 'share_viewed')),
    actor_id        INTEGER,
    -- assigned: from/to agent and whether by hand; status: the new status; csat: the score.
    from_agent      INTEGER,
    to_agent        INTEGER,
    manual          INTEGER NOT NULL DEFAULT 0,
    status          TEXT,
    score           INTEGER,
    at              INTEGER NOT NULL
);
CREATE INDEX support_events_conv ON support_events(conversation_id, id);
CREATE TRIGGER support_events_no_update BEFORE UPDATE ON support_events BEGIN
    SELECT RAISE(ABORT, 'support_events is append-only');
END;

-- One answer per resolution.
CREATE TABLE support_csat (
    conversation_id INTEGER NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
    resolution_seq  INTEGER NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment         TEXT NOT NULL DEFAULT '',
    answered_at     INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, resolution_seq)
) WITHOUT ROWID;

-- Public transcript links: only the token's sha256 is kept.
CREATE TABLE support_shares (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_by      INTEGER,
    views           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX support_shares_conv ON support_shares(conversation_id);

CREATE TABLE support_canned (
    id         INTEGER PRIMARY KEY,
    shortcode  TEXT NOT NULL UNIQUE,
    body       TEXT NOT NULL,
    created_by INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE support_sla (
    priority      TEXT PRIMARY KEY NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    first_reply_s INTEGER NOT NULL CHECK (first_reply_s > 0),
    resolution_s  INTEGER NOT NULL CHECK (resolution_s > 0)
);
INSERT INTO support_sla(priority, first_reply_s, resolution_s) VALUES
    ('low', 86400, 604800),
    ('normal', 3600, 86400),
    ('high', 900, 14400),
    ('urgent', 300, 3600);

-- Errors the players report: shown in the support context panel.
CREATE TABLE stream_errors (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    profile_id  INTEGER REFERENCES profiles(id) ON DELETE SET NULL,
    device_id   INTEGER REFERENCES devices(id) ON DELETE SET NULL,
    title_id    INTEGER REFERENCES titles(id),
    code        TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    position_ms INTEGER,
    at          INTEGER NOT NULL
);
CREATE INDEX stream_errors_account ON stream_errors(account_id, at DESC);
