//! Integration tests: every test starts the real server on port 0 with a
//! fresh temporary database, through [`helpers::TestApp`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod api;
mod attachments;
mod auth;
mod browser;
mod cache;
mod changes;
mod demo_media;
mod harden;
mod help;
mod helpers;
mod home;
mod hostile;
mod ideas;
mod instances;
mod library;
mod listening;
mod maturity;
mod media;
mod notify;
mod pages;
mod perks;
mod pins;
mod plans;
mod playback;
mod privacy;
mod roles;
mod sentiment_tiers;
mod snapshots;
mod support;
mod ui;
mod voice;
