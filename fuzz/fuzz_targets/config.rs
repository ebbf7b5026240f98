//! The config file: TOML text → `Config` (defaults, the file, validation),
//! and `marquee config`'s redacted rendering of whatever loads. Invariants:
//! never panics, and what loads renders and loads again to the same TOML.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::config(data));
