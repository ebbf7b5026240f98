-- Social listening: ingested posts, ingest tokens, connector cursors,
-- backlash alerts, the webhook outbox and viewers' linked handles.
-- All times are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE ingest_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    -- sha256 (hex) of the token; the token itself is shown once and never stored.
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE posts (
    id          INTEGER PRIMARY KEY,
    -- Where the post came from ('mastodon', 'bluesky', 'api', 'simulated', ...)
    -- and its id there: the deduplication key.
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    -- Normalised author handle ('@user@host', 'alice.bsky.social', 'did:plc:...').
    author      TEXT NOT NULL,
    text        TEXT NOT NULL,
    url         TEXT,
    lang        TEXT,
    -- Post time (by the source's clock) and arrival time.
    created_at  INTEGER NOT NULL,
    ingested_at INTEGER NOT NULL,
    sentiment   TEXT NOT NULL CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    -- p(positive) - p(negative), in [-1, 1].
    score       REAL NOT NULL,
    -- The tokens that drove the prediction: JSON [[token, weight], ...].
    top_tokens  TEXT NOT NULL DEFAULT '[]',
    -- '|'-delimited on both ends ('|price|brand|'), '' when none.
    topics      TEXT NOT NULL DEFAULT '',
    brands      TEXT NOT NULL DEFAULT '',
    -- The Marquee account whose viewer linked this author's handle.
    account_id  INTEGER REFERENCES accounts(id),
    UNIQUE (source, external_id)
);
CREATE INDEX posts_created ON posts(created_at);
CREATE INDEX posts_author ON posts(author);
CREATE INDEX posts_account ON posts(account_id) WHERE account_id IS NOT NULL;

-- Where each connector stopped (Mastodon status id, Jetstream time_us).
CREATE TABLE connector_cursors (
    name       TEXT PRIMARY KEY NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    -- 'all' or a topic name.
    series          TEXT NOT NULL,
    -- 'volume' or 'negative_share'.
    kind            TEXT NOT NULL,
    -- '15m', '1h' or '1d'.
    window          TEXT NOT NULL,
    window_start    INTEGER NOT NULL,
    window_end      INTEGER NOT NULL,
    observed        REAL NOT NULL,
    expected        REAL NOT NULL,
    z               REAL NOT NULL,
    posts           INTEGER NOT NULL,
    -- JSON: the terms driving it and the top example post ids.
    terms           TEXT NOT NULL DEFAULT '[]',
    example_post_ids TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    raised_at       INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by INTEGER REFERENCES accounts(id),
    resolved_at     INTEGER,
    resolved_by     INTEGER REFERENCES accounts(id)
);
CREATE INDEX alerts_status ON alerts(status, raised_at);

-- Durable outbox: a webhook delivery survives restarts until delivered or dead.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER REFERENCES alerts(id),
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    dead_at         INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND dead_at IS NULL;

-- "My Mastodon handle is @x@host": posts by that handle carry the account id.
CREATE TABLE handle_links (
    handle     TEXT PRIMARY KEY NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX handle_links_account ON handle_links(account_id);
