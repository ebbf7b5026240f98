//! PostgreSQL: see `crate::sqlite::overview` for the SQLite twin.
