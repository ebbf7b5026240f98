//! Tweet normalisation and tokenisation.
//!
//! * literal `\uXXXX` escapes (as in the TweetEval files) and common HTML
//!   entities are decoded, curly quotes become ASCII;
//! * URLs become `<url>`, @mentions become `<user>`, numbers become `<num>`;
//! * hashtags give a `#tag` token plus the words of the tag, split on
//!   camelCase, digits and underscores (`#HappyBirthdayRemus` gives
//!   `happy birthday remus`);
//! * words are lower-cased; ALL-CAPS words are flagged;
//! * elongations (`sooo`, `goooood`) are squeezed to two letters and flagged;
//!   the lexicon is also consulted with a single letter (`good`);
//! * ASCII emoticons and emoji become `<emo+>`, `<emo++>`, `<emo->`,
//!   `<emo-->` or `<emo0>` by polarity (unknown emoji are kept as themselves);
//! * after a negator (`not`, `never`, `don't`, ...) the following words up to
//!   punctuation, `but`, or a window limit are marked as negated.

use crate::lexicon;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    /// A word that came out of splitting a hashtag.
    TagWord,
    Hashtag,
    Url,
    User,
    Number,
    /// An emoticon or emoji with a known polarity.
    Emo,
    /// Punctuation kept as a token (`!`, `?`, `!!`, `...`, `.`, `,`).
    Punct,
    /// Any other symbol (e.g. an emoji not in the lexicon).
    Symbol,
}

/// One normalised token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// Normalised text (lower-cased, squeezed, or a placeholder like `<url>`).
    pub text: String,
    pub kind: Kind,
    /// Inside a negation scope.
    pub negated: bool,
    /// Was written in ALL CAPS.
    pub allcaps: bool,
    /// Had a letter repeated three or more times.
    pub elongated: bool,
    /// Preceded by an intensifier.
    pub intensified: bool,
    /// Lexicon polarity (before negation), `-2..=2`.
    pub polarity: i8,
    /// The polarity comes from the general-domain (VADER) lexicon, not the
    /// hand-written one.
    pub ext: bool,
    /// Position relative to a contrast word (`but`, `however`, ...): 0 the
    /// text has none, 1 before the first one, 2 after it.
    pub clause: u8,
}

impl Token {
    fn new(text: String, kind: Kind) -> Self {
        Token {
            text,
            kind,
            negated: false,
            allcaps: false,
            elongated: false,
            intensified: false,
            polarity: 0,
            ext: false,
            clause: 0,
        }
    }

    /// Whether this token is a word in the lexical sense.
    pub fn is_wordlike(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::TagWord)
    }
}

/// Decode literal `\uXXXX` escapes (including surrogate pairs), HTML entities
/// and typographic quotes.
pub(crate) fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut pending_high: Option<u32> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && bytes.get(i + 1) == Some(&b'u') {
            if let Some(cp) = hex4(bytes.get(i + 2..i + 6)) {
                i += 6;
                if (0xD800..0xDC00).contains(&cp) {
                    pending_high = Some(cp);
                    continue;
                }
                if (0xDC00..0xE000).contains(&cp) {
                    if let Some(hi) = pending_high.take() {
                        let full = 0x10000 + ((hi - 0xD800) << 10) + (cp - 0xDC00);
                        if let Some(c) = char::from_u32(full) {
                            push_char(&mut out, c);
                        }
                    }
                    continue;
                }
                pending_high = None;
                if let Some(c) = char::from_u32(cp) {
                    push_char(&mut out, c);
                }
                continue;
            }
        }
        pending_high = None;
        if b == b'&' {
            let rest = &text[i..];
            let mut matched = false;
            for (ent, rep) in [
                ("&amp;", '&'),
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&quot;", '"'),
                ("&#39;", '\''),
                ("&apos;", '\''),
            ] {
                if rest.starts_with(ent) {
                    out.push(rep);
                    i += ent.len();
                    matched = true;
                    break;
                }
            }
            if matched {
                continue;
            }
        }
        // Copy one UTF-8 character.
        let ch_len = utf8_len(b);
        let end = (i + ch_len).min(bytes.len());
        match text.get(i..end).and_then(|s| s.chars().next()) {
            Some(c) => push_char(&mut out, c),
            None => out.push(char::REPLACEMENT_CHARACTER),
        }
        i = end;
    }
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' => out.push('\''),
        '\u{201C}' | '\u{201D}' => out.push('"'),
        '\u{2026}' => out.push_str("..."),
        _ => out.push(c),
    }
}

fn utf8_len(b: u8) -> usize {
    if b < 0x80 {
        1
    } else if b >> 5 == 0b110 {
        2
    } else if b >> 4 == 0b1110 {
        3
    } else if b >> 3 == 0b11110 {
        4
    } else {
        1
    }
}

fn hex4(bytes: Option<&[u8]>) -> Option<u32> {
    let bytes = bytes?;
    let mut v = 0u32;
    for &b in bytes {
        let d = (b as char).to_digit(16)?;
        v = v * 16 + d;
    }
    Some(v)
}

/// Whether `word` has a run of 3+ identical characters (an elongation).
pub(crate) fn has_long_run(word: &str) -> bool {
    let mut prev: Option<char> = None;
    let mut run = 0usize;
    for c in word.chars() {
        if Some(c) == prev {
            run += 1;
            if run == 3 {
                return true;
            }
        } else {
            prev = Some(c);
            run = 1;
        }
    }
    false
}

/// Squeeze runs of 3+ identical characters to `keep` characters.
/// Returns the squeezed string and whether anything was squeezed. Most
/// words have no such run: they are handed back as they came, without a
/// copy.
pub(crate) fn squeeze(word: String, keep: usize) -> (String, bool) {
    if !has_long_run(&word) {
        return (word, false);
    }
    let mut out = String::with_capacity(word.len());
    let mut prev: Option<char> = None;
    let mut run = 0usize;
    for c in word.chars() {
        if Some(c) == prev {
            run += 1;
        } else {
            prev = Some(c);
            run = 1;
        }
        if run <= keep {
            out.push(c);
        }
    }
    (out, true)
}

/// Squeeze runs of 3+ identical characters to one character, leaving
/// doubled letters alone (`duuuull` → `dull`).
pub(crate) fn squeeze_long_runs(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        for _ in 0..if run >= 3 { 1 } else { run } {
            out.push(c);
        }
        i = j;
    }
    out
}

/// Split a hashtag body into words on camelCase, digit and underscore boundaries.
pub(crate) fn split_hashtag(tag: &str) -> Vec<String> {
    let chars: Vec<char> = tag.chars().collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let boundary = if i == 0 || cur.is_empty() {
            false
        } else {
            let p = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            (p.is_lowercase() && c.is_uppercase())
                || (p.is_uppercase() && c.is_uppercase() && next_lower)
                || (p.is_alphabetic() && c.is_numeric())
                || (p.is_numeric() && c.is_alphabetic())
        };
        if boundary {
            parts.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

fn emo_token(pol: i8, surface: &str) -> Token {
    let text = match pol {
        2.. => "<emo++>",
        1 => "<emo+>",
        0 => "<emo0>",
        -1 => "<emo->",
        _ => "<emo-->",
    };
    let mut t = Token::new(text.to_string(), Kind::Emo);
    t.polarity = pol;
    let _ = surface;
    t
}

fn is_url(chunk: &str) -> bool {
    let l = chunk.trim_start_matches(['"', '\'', '(']);
    l.starts_with("http://") || l.starts_with("https://") || l.starts_with("www.")
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_emoji_modifier(c)
}

fn is_emoji_modifier(c: char) -> bool {
    matches!(
        c as u32,
        0xFE0E | 0xFE0F | 0x200D | 0x1F3FB..=0x1F3FF | 0x20E3
    )
}

/// Invisible formatting characters: zero-width spaces and joiners,
/// bidirectional marks and embeddings (common around right-to-left text),
/// the byte-order mark. They never form a token.
fn is_invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD | 0x061C | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF
    )
}

/// Tokenise a (decoded) text.
fn tokenize_into(text: &str, out: &mut Vec<Token>) {
    let mut chars: Vec<char> = Vec::with_capacity(64);
    for chunk in text.split_whitespace() {
        if is_url(chunk) {
            out.push(Token::new("<url>".to_string(), Kind::Url));
            continue;
        }
        let stripped = chunk.trim_start_matches(['"', '\'', '(', '.']);
        if stripped.len() > 1 && stripped.starts_with('@') {
            out.push(Token::new("<user>".to_string(), Kind::User));
            continue;
        }
        if let Some(p) = lexicon::emoticon_polarity(chunk) {
            out.push(emo_token(p, chunk));
            continue;
        }
        // An emoticon glued to the end of a word, e.g. "great:)".
        let mut body = chunk;
        let mut trailing: Option<Token> = None;
        for k in (2..=4).rev() {
            if chunk.len() > k && chunk.is_char_boundary(chunk.len() - k) {
                let (head, tail) = chunk.split_at(chunk.len() - k);
                if let Some(p) = lexicon::emoticon_polarity(tail) {
                    if head.chars().last().is_some_and(|c| c.is_alphabetic()) {
                        body = head;
                        trailing = Some(emo_token(p, tail));
                        break;
                    }
                }
            }
        }
        scan_chunk(body, &mut chars, out);
        if let Some(t) = trailing {
            out.push(t);
        }
    }
}

fn scan_chunk(chunk: &str, chars: &mut Vec<char>, out: &mut Vec<Token>) {
    chars.clear();
    chars.extend(chunk.chars());
    let chars = &chars[..];
    let n = chars.len();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '#' && i + 1 < n && is_word_char(chars[i + 1]) {
            let start = i + 1;
            let mut j = start;
            while j < n && (is_word_char(chars[j]) || chars[j] == '_') {
                j += 1;
            }
            let body: String = chars[start..j].iter().collect();
            let lower = body.to_lowercase();
            out.push(Token::new(format!("#{lower}"), Kind::Hashtag));
            for part in split_hashtag(&body) {
                push_word(&part, Kind::TagWord, out);
            }
            i = j;
        } else if is_word_char(c) {
            let start = i;
            let mut j = i;
            while j < n
                && (is_word_char(chars[j])
                    || (chars[j] == '\'' && j + 1 < n && chars[j + 1].is_alphabetic() && j > start))
            {
                j += 1;
            }
            let word: String = chars[start..j].iter().collect();
            push_word(&word, Kind::Word, out);
            i = j;
        } else if c == '!' || c == '?' {
            let mut j = i;
            while j < n && (chars[j] == '!' || chars[j] == '?') {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let text = if run.contains('?') && run.contains('!') {
                "?!"
            } else if j - i >= 2 {
                if c == '!' {
                    "!!"
                } else {
                    "??"
                }
            } else if c == '!' {
                "!"
            } else {
                "?"
            };
            out.push(Token::new(text.to_string(), Kind::Punct));
            i = j;
        } else if c == '.' {
            let mut j = i;
            while j < n && chars[j] == '.' {
                j += 1;
            }
            let text = if j - i >= 2 { "..." } else { "." };
            out.push(Token::new(text.to_string(), Kind::Punct));
            i = j;
        } else if matches!(c, ',' | ';' | ':') {
            out.push(Token::new(",".to_string(), Kind::Punct));
            i += 1;
        } else if c.is_ascii() || c.is_whitespace() || is_emoji_modifier(c) || is_invisible(c) {
            i += 1;
        } else if let Some(p) = lexicon::emoji_polarity(c) {
            out.push(emo_token(p, &c.to_string()));
            i += 1;
        } else if c.is_alphanumeric() {
            i += 1;
        } else {
            out.push(Token::new(c.to_string(), Kind::Symbol));
            i += 1;
        }
    }
}

fn push_word(raw: &str, kind: Kind, out: &mut Vec<Token>) {
    if raw.chars().all(|c| c.is_ascii_digit()) {
        out.push(Token::new("<num>".to_string(), Kind::Number));
        return;
    }
    let letters = raw.chars().filter(|c| c.is_alphabetic()).count();
    let allcaps = letters >= 2 && raw.chars().all(|c| !c.is_lowercase());
    let lower = raw.to_lowercase();
    // Elongated words are looked up as written with runs squeezed to two
    // letters (`goood` → `good`), to one (`loove` → `love`), and with only
    // the long runs squeezed to one (`duuuull` → `dull`).
    let variants: Vec<String> = if has_long_run(&lower) {
        vec![squeeze(lower.clone(), 1).0, squeeze_long_runs(&lower)]
    } else {
        Vec::new()
    };
    let (squeezed, elongated) = squeeze(lower, 2);
    let mut polarity = lexicon::word_polarity(&squeezed);
    for v in &variants {
        if polarity == 0 {
            polarity = lexicon::word_polarity(v);
        }
    }
    let mut ext = false;
    if polarity == 0 {
        polarity = lexicon::ext_polarity(&squeezed);
        for v in &variants {
            if polarity == 0 {
                polarity = lexicon::ext_polarity(v);
            }
        }
        ext = polarity != 0;
    }
    let mut t = Token::new(squeezed, kind);
    t.allcaps = allcaps;
    t.elongated = elongated;
    t.polarity = polarity;
    t.ext = ext;
    out.push(t);
}

/// Negation scope, intensifiers, clauses around a contrast word.
fn mark_scopes(tokens: &mut [Token], neg_window: usize) {
    let mut remaining = 0usize;
    let mut intens = false;
    let mut first_contrast: Option<usize> = None;
    for (i, t) in tokens.iter_mut().enumerate() {
        if first_contrast.is_some() {
            t.clause = 2;
        }
        match t.kind {
            Kind::Punct | Kind::Url | Kind::Emo => {
                remaining = 0;
                intens = false;
                continue;
            }
            Kind::Hashtag => continue,
            _ => {}
        }
        if !t.is_wordlike() {
            continue;
        }
        if lexicon::is_contrast(&t.text) {
            remaining = 0;
            intens = false;
            if first_contrast.is_none() {
                first_contrast = Some(i);
            }
            continue;
        }
        if lexicon::is_negator(&t.text) {
            remaining = neg_window;
            continue;
        }
        if remaining > 0 {
            t.negated = true;
            remaining -= 1;
        }
        if intens {
            t.intensified = true;
        }
        intens = lexicon::is_intensifier(&t.text);
    }
    if let Some(k) = first_contrast {
        for t in &mut tokens[..k] {
            t.clause = 1;
        }
    }
}

/// Full pipeline: decode, tokenise, mark negation scopes.
pub(crate) fn tokenize(text: &str, neg_window: usize, out: &mut Vec<Token>) {
    out.clear();
    if text
        .bytes()
        .any(|b| b == b'\\' || b == b'&' || b == b'`' || b >= 0x80)
    {
        tokenize_into(&decode(text), out);
    } else {
        tokenize_into(text, out);
    }
    mark_scopes(out, neg_window);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        let mut v = Vec::new();
        tokenize(s, 4, &mut v);
        v
    }

    fn texts(s: &str) -> Vec<String> {
        toks(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn decodes_escapes_and_entities() {
        assert_eq!(decode(r"it\u2019s a \u002c b &amp; c"), "it's a , b & c");
        assert_eq!(decode(r"x \ud83d\ude00 y"), "x \u{1F600} y");
    }

    #[test]
    fn urls_mentions_numbers() {
        assert_eq!(
            texts("@bob see https://t.co/x 42 times"),
            vec!["<user>", "see", "<url>", "<num>", "times"]
        );
    }

    #[test]
    fn hashtags_are_split() {
        assert_eq!(
            texts("#HappyBirthdayRemusLupin"),
            vec![
                "#happybirthdayremuslupin",
                "happy",
                "birthday",
                "remus",
                "lupin"
            ]
        );
        assert_eq!(
            split_hashtag("NBAFinals2016"),
            vec!["nba", "finals", "2016"]
        );
    }

    #[test]
    fn elongation_and_caps() {
        let t = toks("GOOOOD sooo");
        assert_eq!(t[0].text, "good");
        assert!(t[0].allcaps && t[0].elongated);
        assert_eq!(t[0].polarity, 1);
        assert_eq!(t[1].text, "soo");
    }

    #[test]
    fn emoticons_and_emoji() {
        assert_eq!(
            texts("great:) \u{1F62D} :("),
            vec!["great", "<emo+>", "<emo-->", "<emo->"]
        );
    }

    #[test]
    fn negation_scope_ends_at_punctuation() {
        let t = toks("this is not good at all. but fine");
        let neg: Vec<bool> = t.iter().map(|t| t.negated).collect();
        assert_eq!(
            neg,
            vec![false, false, false, true, true, true, false, false, false]
        );
        let t = toks("don't like it but love this");
        assert!(t[1].negated && t[2].negated && !t[4].negated);
    }

    #[test]
    fn invisible_characters_make_no_tokens() {
        assert!(toks("\u{200b}\u{feff} \u{202b}\u{202c}").is_empty());
        assert_eq!(
            texts("\u{202b}\u{05e9}\u{05dc}\u{05d5}\u{05dd}\u{202c} ok"),
            vec!["\u{05e9}\u{05dc}\u{05d5}\u{05dd}", "ok"]
        );
    }

    #[test]
    fn contrast_marks_clauses() {
        let t = toks("great cast, however the plot is dull");
        let cl: Vec<u8> = t.iter().map(|t| t.clause).collect();
        assert_eq!(cl, vec![1, 1, 1, 0, 2, 2, 2, 2]);
        assert!(toks("a dull plot").iter().all(|t| t.clause == 0));
    }

    #[test]
    fn general_lexicon_fills_gaps() {
        let t = toks("dreary and dreeeary, but good");
        assert_eq!((t[0].polarity, t[0].ext), (-1, true));
        assert!(t[2].elongated && t[2].ext && t[2].polarity == -1);
        assert_eq!(squeeze_long_runs("duuuull"), "dull");
        assert_eq!(squeeze("goooood".into(), 2), ("good".into(), true));
        assert_eq!(squeeze("loooove".into(), 1), ("love".into(), true));
        assert_eq!(squeeze("good".into(), 1), ("good".into(), false));
        assert_eq!(squeeze("ééé!".into(), 2), ("éé!".into(), true));
        assert!(has_long_run("sooo") && !has_long_run("soo") && !has_long_run(""));
        assert_eq!(toks("splendid")[0].polarity, 2);
        assert_eq!(toks("loooove")[0].polarity, 2);
        // The hand-written lexicon wins where both have the word.
        assert_eq!((t[5].polarity, t[5].ext), (1, false));
    }
}
