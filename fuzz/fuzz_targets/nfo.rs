//! Kodi/Jellyfin `.nfo` files (`marquee_catalog::nfo::parse_nfo`) and the
//! relative-path check every listed, fed or nfo-named path goes through
//! (`marquee_catalog::layout::safe_relative`). Invariants: never panics; an
//! accepted nfo has a trimmed, non-empty title of at most 500 characters
//! and a synopsis of at most 10,000; a refusal names the file; a path
//! `safe_relative` accepts is relative, has no `..`, `.` or empty
//! component, no `\` or NUL, and is accepted again unchanged.
#![no_main]

use marquee_catalog::layout::safe_relative;
use marquee_catalog::nfo::parse_nfo;

fn check(data: &[u8]) {
    match parse_nfo("fuzz.nfo", data) {
        Ok(doc) => {
            let e = doc.entry();
            assert!(!e.name.is_empty(), "empty name");
            assert_eq!(e.name.trim(), e.name, "untrimmed name");
            assert!(e.name.chars().count() <= 500, "name too long");
            if let Some(s) = &e.synopsis {
                assert!(s.chars().count() <= 10_000, "synopsis too long");
            }
        }
        Err(r) => assert_eq!(r.file, "fuzz.nfo"),
    }

    let text = String::from_utf8_lossy(data);
    for candidate in std::iter::once(text.as_ref()).chain(text.lines()) {
        if let Ok(p) = safe_relative(candidate) {
            assert!(!p.is_empty(), "empty path from {candidate:?}");
            assert!(!p.starts_with('/'), "absolute {p:?}");
            assert!(!p.contains('\\') && !p.contains('\0'), "{p:?}");
            let b = p.as_bytes();
            assert!(
                !(b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'),
                "drive letter {p:?}"
            );
            assert!(
                p.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
                "bad component in {p:?}"
            );
            assert_eq!(
                safe_relative(&p).as_deref(),
                Ok(p.as_str()),
                "not idempotent"
            );
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));
