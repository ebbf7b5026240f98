-- Screen-to-screen continuity: devices, play sessions, the append-only play-event
-- log and per-profile playback state. All times are ms since the epoch, UTC.

-- A media file for a title, relative to the configured media directory.
ALTER TABLE titles ADD COLUMN media_path TEXT;

-- A profile's players: each has a name and a kind.
CREATE TABLE devices (
    id                  INTEGER PRIMARY KEY,
    profile_id          INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('tv', 'phone', 'tablet', 'web')),
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    -- The last time a person touched this device (a start by hand, a pause,
    -- a seek): drives "are you still watching?".
    last_interaction_at INTEGER NOT NULL,
    UNIQUE (profile_id, name)
);

-- One stream: a device playing a title, from start to stop (or timeout).
CREATE TABLE play_sessions (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    profile_id    INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    device_id     INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    title_id      INTEGER NOT NULL REFERENCES titles(id),
    duration_ms   INTEGER NOT NULL,
    -- Started by autoplay; it stays unattended until an interaction.
    autoplay      INTEGER NOT NULL DEFAULT 0,
    attended      INTEGER NOT NULL DEFAULT 1,
    -- Autoplayed episodes in a row on this device, this one included.
    autoplay_run  INTEGER NOT NULL DEFAULT 0,
    -- This session already counted a play (play_count is bumped once per session).
    counted       INTEGER NOT NULL DEFAULT 0,
    position_ms   INTEGER NOT NULL DEFAULT 0,
    paused        INTEGER NOT NULL DEFAULT 0,
    last_sent_at  INTEGER,
    started_at    INTEGER NOT NULL,
    last_event_at INTEGER NOT NULL,
    ended_at      INTEGER,
    end_reason    TEXT CHECK (end_reason IN ('stopped', 'timeout', 'replaced'))
);
CREATE INDEX play_sessions_live ON play_sessions(account_id, last_event_at) WHERE ended_at IS NULL;
CREATE INDEX play_sessions_device ON play_sessions(device_id, started_at DESC);

-- The append-only play-event log: analytics, recommendations and later rules read it.
CREATE TABLE play_events (
    id              INTEGER PRIMARY KEY,
    profile_id      INTEGER NOT NULL,
    title_id        INTEGER NOT NULL,
    play_session_id INTEGER,
    device_id       INTEGER,
    kind            TEXT NOT NULL CHECK (kind IN ('start', 'progress', 'stop', 'timeout', 'mark_played', 'mark_unplayed')),
    position_ms     INTEGER,
    paused          INTEGER,
    sent_at         INTEGER,
    received_at     INTEGER NOT NULL,
    -- Whether the event moved the saved state (an older, reordered one does not).
    applied         INTEGER NOT NULL DEFAULT 1
);
-- One secondary index only: every index is written on each ingest commit.
CREATE INDEX play_events_profile ON play_events(profile_id, id);
CREATE TRIGGER play_events_no_update BEFORE UPDATE ON play_events BEGIN
    SELECT RAISE(ABORT, 'play_events is append-only');
END;
CREATE TRIGGER play_events_no_delete BEFORE DELETE ON play_events BEGIN
    SELECT RAISE(ABORT, 'play_events is append-only');
END;

-- Per profile and title: where to resume, whether played, how often, when.
CREATE TABLE playback_state (
    profile_id     INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    title_id       INTEGER NOT NULL REFERENCES titles(id),
    -- Series of an episode, for Next Up.
    series_id      INTEGER,
    resume_ms      INTEGER NOT NULL DEFAULT 0,
    played         INTEGER NOT NULL DEFAULT 0,
    play_count     INTEGER NOT NULL DEFAULT 0,
    last_played_at INTEGER,
    -- sent_at of the event that set the position: an older one never rewinds it.
    position_sent_at INTEGER NOT NULL DEFAULT 0,
    last_device_id INTEGER,
    hidden         INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (profile_id, title_id)
) WITHOUT ROWID;
CREATE INDEX playback_state_recent ON playback_state(profile_id, last_played_at DESC);
CREATE INDEX playback_state_series ON playback_state(profile_id, series_id) WHERE series_id IS NOT NULL;
