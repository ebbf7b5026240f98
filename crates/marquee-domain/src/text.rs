//! Text hygiene for names and titles that other people read.
//!
//! A name is shown to others as if the service vouched for it, so it must
//! read the way it is stored: no control characters, no bidirectional
//! overrides that reorder what follows, no zero-width characters that make
//! two different strings look the same ("Marquee\u{200B} Support"), and no
//! towers of combining marks that spill over neighbouring lines. Viewers may
//! not pick a name that reads like the service's own staff.
//!
//! Combining marks are classified by `unicode-normalization` (already in the
//! tree for URL handling) rather than by a hand-kept table.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::DomainError;

/// Most combining marks allowed on one base character. Three covers every
/// living script's normal use (Vietnamese stacks two, some Indic clusters
/// three); "Zalgo" text stacks dozens.
pub const MAX_COMBINING_RUN: usize = 3;

/// Words a viewer's name may not contain, because they read as the service
/// speaking.
const STAFF_WORDS: &[&str] = &[
    "admin",
    "administrator",
    "marquee",
    "moderator",
    "official",
    "staff",
    "support",
    "helpdesk",
    "team",
    "sysop",
];

/// Why a character is refused, or `None` when it is fine in a one-line name.
fn refused(c: char) -> Option<&'static str> {
    match c {
        // Bidirectional embeddings, overrides, isolates and marks.
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => Some("must not contain text-direction controls"),
        // Invisible characters: zero-width space/joiners, word joiner, the
        // invisible operators, BOM, Mongolian vowel separator, soft hyphen,
        // Hangul fillers, and the tag block.
        '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{180E}'
        | '\u{00AD}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{FFA0}'
        | '\u{E0000}'..='\u{E007F}' => Some("must not contain invisible characters"),
        c if c.is_control() => Some("must not contain control characters"),
        _ => None,
    }
}

/// Checks a one-line text that others will read: trimmed, 1 to `max`
/// characters, no control, direction or invisible characters, at most
/// [`MAX_COMBINING_RUN`] combining marks on one character. The error names
/// `field`.
pub fn line(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    let mut run = 0usize;
    for c in t.chars() {
        if let Some(why) = refused(c) {
            return Err(DomainError::invalid(field, why));
        }
        if is_combining_mark(c) {
            run += 1;
            if run > MAX_COMBINING_RUN {
                return Err(DomainError::invalid(
                    field,
                    format!("must not stack more than {MAX_COMBINING_RUN} accents on one letter"),
                ));
            }
        } else {
            run = 0;
        }
    }
    Ok(t.to_string())
}

/// Folds a name for the staff-word comparison: lower case, look-alike digits
/// and symbols read as the letters they imitate, accents dropped.
fn fold(c: char) -> Option<char> {
    let c = match c {
        '0' => 'o',
        '1' | '!' | '|' => 'l',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        c => c,
    };
    if is_combining_mark(c) {
        return None;
    }
    c.to_lowercase().next()
}

/// Whether `name` reads as the service's own staff ("Support", "Marquee
/// Team", "ADM1N", "Sup-port"): a staff word as a word of the name, or the
/// service's name anywhere in it. "Badminton" and "Teamster" stay allowed.
pub fn looks_like_staff(name: &str) -> bool {
    // Compatibility-decomposed (full-width letters, precomposed accents),
    // look-alikes folded, accents dropped, everything else a word break.
    let folded: String = name
        .nfkd()
        .filter_map(fold)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words: Vec<&str> = folded.split_whitespace().collect();
    let squeezed: String = words.concat();
    let variants = [squeezed.clone(), squeezed.replace('l', "i")];
    let word_hit = words.iter().any(|w| {
        let alt = w.replace('l', "i");
        STAFF_WORDS.iter().any(|s| *w == *s || alt == *s)
    });
    let squeezed_hit = variants
        .iter()
        .any(|v| STAFF_WORDS.iter().any(|s| v == s) || v.contains("marquee"));
    word_hit || squeezed_hit
}

/// A display name: [`line`] plus, for non-staff, no name that reads as staff.
pub fn display_name(
    field: &'static str,
    raw: &str,
    max: usize,
    staff: bool,
) -> Result<String, DomainError> {
    let n = line(field, raw, max)?;
    if !staff && looks_like_staff(&n) {
        return Err(DomainError::invalid(
            field,
            "must not read like the service's staff (Support, Admin, Marquee, ...)",
        ));
    }
    Ok(n)
}

/// One CSV cell: quoted when it holds a separator, quote or line break, and
/// with a leading `=`, `+`, `-`, `@`, tab or carriage return neutralised by an
/// apostrophe, so that a spreadsheet never runs a customer's text as a
/// formula.
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// A social post's text as people wrote it: connectors and scrapers often
/// hand over JSON escapes as literal text ("doesn\\u2019t") or HTML
/// entities ("Tom &amp; Jerry"). Decodes `\\uXXXX` (with surrogate pairs),
/// `\\n`, `\\t`, `\\"`, `\\\\`, the common named entities and numeric
/// ones; anything that does not decode to a character is kept as it was.
pub fn clean_post_text(raw: &str) -> String {
    if !raw.contains('\\') && !raw.contains('&') {
        return raw.to_string();
    }
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let hex4 = |at: usize| -> Option<u32> {
        let h = raw.get(at..at + 4)?;
        if h.bytes().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(h, 16).ok()
        } else {
            None
        }
    };
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'u' => {
                    if let Some(hi) = hex4(i + 2) {
                        if (0xD800..0xDC00).contains(&hi) && raw.get(i + 6..i + 8) == Some("\\u") {
                            if let Some(lo) = hex4(i + 8).filter(|lo| (0xDC00..0xE000).contains(lo))
                            {
                                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                if let Some(ch) = char::from_u32(c) {
                                    out.push(ch);
                                    i += 12;
                                    continue;
                                }
                            }
                        }
                        if let Some(ch) = char::from_u32(hi) {
                            out.push(ch);
                            i += 6;
                            continue;
                        }
                    }
                }
                b'n' => {
                    out.push('\n');
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push('\t');
                    i += 2;
                    continue;
                }
                b'"' | b'\\' | b'/' => {
                    out.push(b[i + 1] as char);
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        if b[i] == b'&' {
            if let Some(end) = raw[i..].find(';').filter(|e| *e <= 10) {
                let name = &raw[i + 1..i + end];
                let ch = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => name
                        .strip_prefix("#x")
                        .or_else(|| name.strip_prefix("#X"))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32),
                };
                if let Some(ch) = ch {
                    out.push(ch);
                    i += end + 1;
                    continue;
                }
            }
        }
        // Copy one whole character.
        let ch = raw[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_text_loses_its_escapes() {
        assert_eq!(clean_post_text("doesn\\u2019t work"), "doesn\u{2019}t work");
        assert_eq!(
            clean_post_text("Tom &amp; Jerry &#8217;s &#x1F600;"),
            "Tom & Jerry \u{2019}s \u{1F600}"
        );
        assert_eq!(
            clean_post_text("\\ud83d\\ude00 ok\\nnext"),
            "\u{1F600} ok\nnext"
        );
        // What does not decode stays as it was.
        for kept in [
            "C:\\path\\file",
            "\\uZZZZ",
            "a & b",
            "&unknown;",
            "\\ud83d alone",
            "x\\",
        ] {
            assert_eq!(
                clean_post_text(kept),
                kept.replace("\\ud83d", "\u{fffd}")
                    .replace("\u{fffd}", "\\ud83d")
            );
        }
        assert_eq!(clean_post_text("plain"), "plain");
    }

    fn field_of(e: DomainError) -> &'static str {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn plain_names_pass_trimmed() {
        assert_eq!(line("name", "  Ann Lee ", 40).unwrap(), "Ann Lee");
        assert_eq!(line("name", "Nguyễn Thị", 40).unwrap(), "Nguyễn Thị");
        // Decomposed Vietnamese: two marks on one letter.
        assert_eq!(
            line("name", "e\u{0302}\u{0301}", 40).unwrap(),
            "e\u{0302}\u{0301}"
        );
        assert_eq!(line("name", "Zoë 🎬", 40).unwrap(), "Zoë 🎬");
        // Joiners inside emoji sequences are refused too: a name is not the
        // place for them, and they hide text.
        assert!(line("name", "👩\u{200D}👩", 40).is_err());
    }

    #[test]
    fn hidden_and_reordering_characters_are_refused() {
        for bad in [
            "Marquee\u{200B} Support",
            "evil\u{202E}gpj.exe",
            "a\u{2066}b\u{2069}",
            "\u{FEFF}Ann",
            "An\u{00AD}n",
            "x\u{E0041}",
            "tab\there",
            "a\u{200F}b",
        ] {
            assert_eq!(
                field_of(line("name", bad, 40).unwrap_err()),
                "name",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn stacked_marks_are_refused_past_three() {
        let three = format!("a{}", "\u{0301}\u{0300}\u{0302}");
        assert!(line("title", &three, 40).is_ok());
        let four = format!("a{}", "\u{0301}\u{0300}\u{0302}\u{0303}");
        assert_eq!(field_of(line("title", &four, 40).unwrap_err()), "title");
        let zalgo: String = "h"
            .chars()
            .chain(std::iter::repeat_n('\u{0336}', 30))
            .collect();
        assert!(line("title", &zalgo, 400).is_err());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(line("name", &"é".repeat(40), 40).is_ok());
        assert!(line("name", &"é".repeat(41), 40).is_err());
        assert!(line("name", "   ", 40).is_err());
    }

    #[test]
    fn staff_look_alikes() {
        for staff in [
            "Support",
            "Marquee Support",
            "MARQUEE",
            "marqueefan",
            "Adm1n",
            "ADMIN",
            "Sup-port",
            "S u p p o r t",
            "Official",
            "The Team",
            "m4rquee",
            "Suppórt",
            "ＳＵＰＰＯＲＴ",
        ] {
            assert!(looks_like_staff(staff), "{staff}");
        }
        for fine in [
            "Ann",
            "Badminton fan",
            "Teamster",
            "Supporter of film",
            "Kids",
        ] {
            assert!(!looks_like_staff(fine), "{fine}");
        }
    }

    #[test]
    fn staff_may_use_staff_names() {
        assert!(display_name("name", "Support", 40, false).is_err());
        assert_eq!(
            display_name("name", "Support", 40, true).unwrap(),
            "Support"
        );
        assert!(display_name("name", "Marquee\u{200B} Support", 40, true).is_err());
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-5"), "'-5");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }
}
