//! One module per CLI command family.

pub mod app;
pub mod catalog;
pub mod demo;
pub mod demo_media;
pub mod eval_recs;
pub mod import;
pub mod ingest;
pub mod migrate_data;
pub mod sentiment;
pub mod serve;
pub mod story;
pub mod train_recs;
pub mod user;
