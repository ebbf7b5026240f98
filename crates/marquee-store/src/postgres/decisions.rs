//! PostgreSQL: see `crate::sqlite::decisions` for the SQLite twin.
