-- Foundation schema: catalog, accounts, profiles, sessions, history, feedback.
-- All times are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE titles (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('movie', 'series', 'episode')),
    name           TEXT NOT NULL,
    year           INTEGER,
    duration_s     INTEGER CHECK (duration_s IS NULL OR duration_s > 0),
    -- Episodes belong to a season of a series.
    series_id      INTEGER REFERENCES titles(id),
    season_id      INTEGER REFERENCES seasons(id),
    episode_number INTEGER,
    -- Where the row came from: ('movielens', movieId), ('ml-100k', id), ('marquee', NULL).
    source         TEXT NOT NULL DEFAULT 'marquee',
    external_id    INTEGER,
    created_at     INTEGER NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX titles_series ON titles(series_id, season_id, episode_number);

CREATE TABLE seasons (
    id        INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES titles(id),
    number    INTEGER NOT NULL,
    name      TEXT,
    UNIQUE (series_id, number)
);

CREATE TABLE genres (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE title_genres (
    title_id INTEGER NOT NULL REFERENCES titles(id),
    genre_id INTEGER NOT NULL REFERENCES genres(id),
    PRIMARY KEY (title_id, genre_id)
) WITHOUT ROWID;
CREATE INDEX title_genres_genre ON title_genres(genre_id, title_id);

CREATE TABLE title_tags (
    title_id    INTEGER NOT NULL REFERENCES titles(id),
    tag         TEXT NOT NULL,
    -- The MovieLens user who applied it, when imported.
    source_user INTEGER,
    tagged_at   INTEGER NOT NULL,
    UNIQUE (title_id, tag, source_user, tagged_at)
);
CREATE INDEX title_tags_title ON title_tags(title_id);

CREATE TABLE title_links (
    title_id INTEGER PRIMARY KEY REFERENCES titles(id),
    imdb_id  TEXT,
    tmdb_id  INTEGER
);

-- Denormalised popularity, refreshed after imports and as plays arrive.
CREATE TABLE title_stats (
    title_id     INTEGER PRIMARY KEY REFERENCES titles(id),
    plays        INTEGER NOT NULL DEFAULT 0,
    rating_count INTEGER NOT NULL DEFAULT 0,
    rating_sum   REAL NOT NULL DEFAULT 0
);
CREATE INDEX title_stats_pop ON title_stats(plays DESC);

CREATE VIRTUAL TABLE titles_fts USING fts5(
    name,
    content = 'titles',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER titles_fts_ai AFTER INSERT ON titles BEGIN
    INSERT INTO titles_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER titles_fts_ad AFTER DELETE ON titles BEGIN
    INSERT INTO titles_fts(titles_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER titles_fts_au AFTER UPDATE OF name ON titles BEGIN
    INSERT INTO titles_fts(titles_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO titles_fts(rowid, name) VALUES (new.id, new.name);
END;

CREATE TABLE accounts (
    id                   INTEGER PRIMARY KEY,
    email                TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('viewer', 'agent', 'admin')),
    plan                 TEXT NOT NULL DEFAULT 'standard' CHECK (plan IN ('basic', 'standard', 'premium')),
    must_change_password INTEGER NOT NULL DEFAULT 0,
    -- The MovieLens user this demo account was made from.
    source               TEXT,
    external_id          INTEGER,
    created_at           INTEGER NOT NULL,
    UNIQUE (source, external_id)
);

CREATE TABLE profiles (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    is_kids    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE sessions (
    -- sha256 of the cookie token: a stolen database does not yield live sessions.
    token_hash   TEXT PRIMARY KEY NOT NULL,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    profile_id   INTEGER REFERENCES profiles(id) ON DELETE SET NULL,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE watch_history (
    id         INTEGER PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    title_id   INTEGER NOT NULL REFERENCES titles(id),
    watched_at INTEGER NOT NULL,
    rating     REAL,
    source     TEXT NOT NULL DEFAULT 'marquee',
    UNIQUE (profile_id, title_id, source)
);
CREATE INDEX watch_history_profile ON watch_history(profile_id, watched_at DESC);

CREATE TABLE feedback (
    profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    title_id   INTEGER NOT NULL REFERENCES titles(id),
    value      INTEGER NOT NULL CHECK (value IN (-1, 1, 2)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (profile_id, title_id)
) WITHOUT ROWID;
