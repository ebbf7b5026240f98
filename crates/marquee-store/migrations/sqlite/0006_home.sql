-- Personal home page: hidden titles, the impression/click log, A/B experiments
-- and training runs. All times are ms since the epoch, UTC.

-- "Hide this title": never recommended to the profile again (until unhidden).
CREATE TABLE home_hidden (
    profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    title_id   INTEGER NOT NULL REFERENCES titles(id),
    hidden_at  INTEGER NOT NULL,
    PRIMARY KEY (profile_id, title_id)
) WITHOUT ROWID;

-- One row per served page (home, recommendations, similar): what was shown,
-- in order, as "row_key:id,id,...;row_key:id,...". One row per page view keeps
-- the log cheap at thousands of page views a second.
CREATE TABLE rec_impressions (
    id            INTEGER PRIMARY KEY,
    profile_id    INTEGER NOT NULL,
    surface       TEXT NOT NULL CHECK (surface IN ('home', 'recommendations', 'similar')),
    experiment_id INTEGER,
    variant       TEXT,
    items         TEXT NOT NULL,
    at            INTEGER NOT NULL
);
CREATE INDEX rec_impressions_experiment ON rec_impressions(experiment_id, at) WHERE experiment_id IS NOT NULL;
CREATE INDEX rec_impressions_profile ON rec_impressions(profile_id, at);

-- Clicks on recommended titles (plays are in play_sessions / play_events).
CREATE TABLE rec_clicks (
    id            INTEGER PRIMARY KEY,
    profile_id    INTEGER NOT NULL,
    title_id      INTEGER NOT NULL,
    row_key       TEXT NOT NULL,
    experiment_id INTEGER,
    variant       TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX rec_clicks_experiment ON rec_clicks(experiment_id, at) WHERE experiment_id IS NOT NULL;

-- A/B experiments. `variants` is JSON: [{"name", "weight", "model"?, "rows"?}].
CREATE TABLE rec_experiments (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    target     TEXT NOT NULL CHECK (target IN ('top_picks_model', 'row_order')),
    variants   TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
    created_at INTEGER NOT NULL,
    stopped_at INTEGER
);

-- Every training run of the recommender, for the staff status page.
CREATE TABLE rec_training_runs (
    id           INTEGER PRIMARY KEY,
    spec         TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    users        INTEGER NOT NULL DEFAULT 0,
    items        INTEGER NOT NULL DEFAULT 0,
    interactions INTEGER NOT NULL DEFAULT 0,
    error        TEXT
);
