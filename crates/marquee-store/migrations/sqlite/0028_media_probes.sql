-- What ffprobe read from each media file a title plays (#23): a scanned
-- file or an admin-set one, by its absolute path. A file whose size or
-- modification time changed is probed again. `probe` is ffprobe's JSON;
-- `error` says why a file could not be read (truncated, corrupt, not media).
CREATE TABLE media_probes (
    path        TEXT PRIMARY KEY,
    size_bytes  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    probe       TEXT,
    error       TEXT,
    duration_ms INTEGER,
    probed_at   INTEGER NOT NULL
);
