//! Integration tests of the `marquee` binary, one test binary: the CLI, crash
//! and fault recovery, listening through the binary, and `migrate-data`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod common;
mod crash;
mod faults;
mod listening;
mod migrate_data;
mod sentiment;
mod story;
