//! PostgreSQL: see `crate::sqlite::catalog` for the SQLite twin.
