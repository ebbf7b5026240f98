//! PostgreSQL: see `crate::sqlite::playback` for the SQLite twin.
