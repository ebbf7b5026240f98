//! PostgreSQL: see `crate::sqlite::support` for the SQLite twin.
