-- Idea box: ideas, votes, comments, the status workflow, in-app
-- notifications and a durable outbox of signed webhooks.
-- All times are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE ideas (
    id                INTEGER PRIMARY KEY,
    author_id         INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    -- Markdown as written; sanitised HTML is rendered on read.
    description       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN
                      ('open', 'under_review', 'planned', 'in_progress', 'launched', 'declined', 'duplicate')),
    duplicate_of      INTEGER REFERENCES ideas(id),
    release_note_url  TEXT,
    -- 0 while waiting in the moderation queue.
    approved          INTEGER NOT NULL DEFAULT 1,
    -- Hidden by staff as spam.
    hidden            INTEGER NOT NULL DEFAULT 0,
    -- Locked threads take no new comments.
    locked            INTEGER NOT NULL DEFAULT 0,
    -- Denormalised, always recomputed with COUNT(*) in the vote's transaction.
    vote_count        INTEGER NOT NULL DEFAULT 0,
    comment_count     INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    status_changed_at INTEGER NOT NULL,
    CHECK ((status = 'duplicate') = (duplicate_of IS NOT NULL))
);
CREATE INDEX ideas_author ON ideas(author_id, created_at);
CREATE INDEX ideas_status ON ideas(status, vote_count DESC);
CREATE INDEX ideas_created ON ideas(created_at DESC);

CREATE TABLE idea_tags (
    idea_id INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (idea_id, tag)
) WITHOUT ROWID;
CREATE INDEX idea_tags_tag ON idea_tags(tag, idea_id);

-- One vote per account per idea.
CREATE TABLE idea_votes (
    idea_id    INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (idea_id, account_id)
) WITHOUT ROWID;
CREATE INDEX idea_votes_account ON idea_votes(account_id, created_at DESC);

CREATE TABLE idea_comments (
    id         INTEGER PRIMARY KEY,
    idea_id    INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    -- Written by staff: shown as the official reply.
    official   INTEGER NOT NULL DEFAULT 0,
    hidden     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX idea_comments_idea ON idea_comments(idea_id, created_at);
CREATE INDEX idea_comments_author ON idea_comments(author_id, created_at);

-- Every status change with its explanation: the public history of an idea.
CREATE TABLE idea_status_changes (
    id               INTEGER PRIMARY KEY,
    idea_id          INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    actor_id         INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    from_status      TEXT NOT NULL,
    to_status        TEXT NOT NULL,
    explanation      TEXT NOT NULL,
    duplicate_of     INTEGER REFERENCES ideas(id),
    release_note_url TEXT,
    created_at       INTEGER NOT NULL
);
CREATE INDEX idea_status_changes_idea ON idea_status_changes(idea_id, created_at);

CREATE VIRTUAL TABLE ideas_fts USING fts5(
    title,
    description,
    content = 'ideas',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER ideas_fts_ai AFTER INSERT ON ideas BEGIN
    INSERT INTO ideas_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER ideas_fts_ad AFTER DELETE ON ideas BEGIN
    INSERT INTO ideas_fts(ideas_fts, rowid, title, description) VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER ideas_fts_au AFTER UPDATE OF title, description ON ideas BEGIN
    INSERT INTO ideas_fts(ideas_fts, rowid, title, description) VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO ideas_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
END;

-- The in-app notification centre.
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    link       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_account ON notifications(account_id, created_at DESC);
CREATE INDEX notifications_unread ON notifications(account_id) WHERE read_at IS NULL;

-- Outbound webhooks: endpoints and a durable delivery outbox (generic: any
-- feature enqueues events; a background task delivers them with retries).
CREATE TABLE webhook_endpoints (
    id         INTEGER PRIMARY KEY,
    url        TEXT NOT NULL,
    -- HMAC-SHA256 key for the signature header.
    secret     TEXT NOT NULL,
    -- Space-separated event names, or '*' for all.
    events     TEXT NOT NULL DEFAULT '*',
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- 'pending', 'delivered' or 'failed' (gave up after the last attempt).
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at DESC);
