//! One module per CLI command family.

pub mod eval_recs;
pub mod sentiment;
