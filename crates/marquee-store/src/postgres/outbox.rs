//! PostgreSQL: see `crate::sqlite::outbox` for the SQLite twin.
