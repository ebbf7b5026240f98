//! MovieLens files: the first byte picks the layout and the file; the rest is
//! the file's bytes (UTF-8 or Latin-1, as `marquee import movielens` reads them).
//! Invariant: never panics, and every row is either parsed or rejected with
//! a line number inside the file.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::movielens(data));
