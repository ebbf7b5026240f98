//! Markdown from users (ideas, comments, decisions). Invariants: never
//! panics, and the sanitised HTML has no script-bearing element, no `on*`
//! attribute and no `javascript:`-like URL, whatever the input.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::markdown(data));
