//! PostgreSQL: see `crate::sqlite::perks` for the SQLite twin.
