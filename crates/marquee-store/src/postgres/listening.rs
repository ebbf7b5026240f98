//! PostgreSQL: see `crate::sqlite::listening` for the SQLite twin.
