//! The store's integration tests: one binary, a module per feature, each
//! check run against SQLite and (when `MARQUEE_TEST_POSTGRES` is set)
//! PostgreSQL through `both_backends!`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod catalog;
mod decisions;
mod home;
mod ideas;
mod jobs;
mod library;
mod listening;
mod outbox;
mod overview;
mod perks;
mod playback;
mod proposals;
mod support;
