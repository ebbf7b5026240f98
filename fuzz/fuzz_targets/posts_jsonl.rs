//! Posts from outside: the input as a JSON Lines file (`marquee ingest
//! posts`) and as the ingest API's request body; what passes is classified
//! (sentiment, topics, brands, handle normalisation) as `listening::ingest`
//! does before it writes. Invariant: never panics; a refusal names a field.
#![no_main]

#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::posts(data));
