//! Kodi/Jellyfin `.nfo` files (`marquee_catalog::nfo::parse_nfo`) and the
//! relative-path check every listed, fed or nfo-named path goes through
//! (`marquee_catalog::layout::safe_relative`). Invariants: never panics; an
//! accepted nfo has a trimmed, non-empty title of at most 500 characters
//! and a synopsis of at most 10,000; a refusal names the file; a path
//! `safe_relative` accepts is relative, has no `..`, `.` or empty
//! component, no `\` or NUL, and is accepted again unchanged.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::nfo(data));
