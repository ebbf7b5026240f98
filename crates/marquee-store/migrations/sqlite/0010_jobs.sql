-- Background jobs that exactly one server instance runs at a time (e.g. the
-- scheduled retraining), and the models they produce, for every instance.
CREATE TABLE jobs (
    name TEXT PRIMARY KEY,
    run_at INTEGER NOT NULL,
    locked_by TEXT,
    locked_until INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_ok_at INTEGER
);

CREATE TABLE shared_models (
    spec TEXT PRIMARY KEY,
    trained_at INTEGER NOT NULL,
    bytes BLOB NOT NULL
);
