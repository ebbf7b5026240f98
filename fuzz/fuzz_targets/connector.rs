//! Connector messages: the first byte picks a Bluesky Jetstream WebSocket
//! message or a Mastodon timeline page; the posts they carry go through
//! classification as the connectors' ingest does. Invariant: never panics.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::connector(data));
