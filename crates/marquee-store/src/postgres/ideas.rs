//! PostgreSQL: see `crate::sqlite::ideas` for the SQLite twin.
