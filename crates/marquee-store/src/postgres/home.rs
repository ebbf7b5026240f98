//! PostgreSQL: see `crate::sqlite::home` for the SQLite twin.
