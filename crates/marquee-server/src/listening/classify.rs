//! Understanding a post beyond sentiment: topics, brands, the author's
//! handle, and text cleaning for sources that send HTML.

use super::config::KeywordSet;
use std::collections::{HashMap, HashSet};

/// Splits text into lower-case words; `#PriceHike` yields `price`, `hike`.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            if c.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            if c != '\'' {
                cur.extend(c.to_lowercase());
            }
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A compiled keyword set: single words by hash, phrases by substring.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    names: Vec<String>,
    single: HashMap<String, Vec<usize>>,
    phrases: Vec<(String, usize)>,
}

impl Matcher {
    /// Compiles the sets.
    pub fn new(sets: &[KeywordSet]) -> Matcher {
        let mut m = Matcher::default();
        for (i, s) in sets.iter().enumerate() {
            m.names.push(s.name.clone());
            for k in &s.keywords {
                let w = words(k);
                match w.len() {
                    0 => {}
                    1 => m.single.entry(w[0].clone()).or_default().push(i),
                    _ => m.phrases.push((format!(" {} ", w.join(" ")), i)),
                }
            }
        }
        m
    }

    /// The names of every set the words mention, in configuration order.
    pub fn matches(&self, words: &[String]) -> Vec<String> {
        let mut hit = vec![false; self.names.len()];
        for w in words {
            if let Some(ids) = self.single.get(w) {
                for &i in ids {
                    hit[i] = true;
                }
            }
        }
        if !self.phrases.is_empty() {
            let joined = format!(" {} ", words.join(" "));
            for (p, i) in &self.phrases {
                if !hit[*i] && joined.contains(p.as_str()) {
                    hit[*i] = true;
                }
            }
        }
        self.names
            .iter()
            .zip(hit)
            .filter(|(_, h)| *h)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The set names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Normalises an author handle so that links match: lower case, Mastodon
/// handles as `@user@host`, Bluesky handles and DIDs as they are.
pub fn normalize_handle(h: &str) -> Option<String> {
    let h = h.trim().to_lowercase();
    if h.is_empty() || h.len() > 200 || h.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    if h.starts_with("did:") {
        return Some(h);
    }
    let bare = h.trim_start_matches('@');
    if bare.is_empty() {
        return None;
    }
    if bare.contains('@') {
        Some(format!("@{bare}"))
    } else {
        Some(bare.to_string())
    }
}

/// Mastodon content is HTML: strips tags, turns `<br>`/`</p>` into spaces and
/// decodes the common entities.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in html.chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                let t = tag.to_lowercase();
                if t.starts_with("br") || t.starts_with("/p") || t.starts_with("p") {
                    out.push(' ');
                }
                tag.clear();
            } else {
                tag.push(c);
            }
        } else if c == '<' {
            in_tag = true;
        } else {
            out.push(c);
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Common English words that never drive an alert.
pub fn is_stopword(w: &str) -> bool {
    const STOP: &[&str] = &[
        "the", "and", "for", "that", "this", "with", "you", "your", "are", "was", "but", "not",
        "have", "has", "just", "they", "their", "them", "from", "what", "all", "out", "about",
        "get", "got", "can", "will", "would", "there", "been", "when", "who", "how", "its", "it's",
        "i'm", "im", "dont", "don't", "one", "more", "now", "new", "our", "out", "him", "her",
        "his", "she", "had", "did", "too", "than", "then", "into", "over", "also", "any", "only",
        "very", "why", "were", "which", "some", "could", "should", "like", "amp", "http", "https",
        "www", "com", "via", "user", "url", "tomorrow", "today", "may",
    ];
    STOP.contains(&w)
}

/// Terms that set the foreground texts apart from the background (smoothed
/// log-odds of document frequency), at most `k`, each in at least `min_df`
/// foreground texts.
pub fn distinctive_terms(
    fg: &[String],
    bg: &[String],
    k: usize,
    min_df: usize,
) -> Vec<(String, f64)> {
    fn df(texts: &[String]) -> HashMap<String, usize> {
        let mut m: HashMap<String, usize> = HashMap::new();
        for t in texts {
            let set: HashSet<String> = words(t)
                .into_iter()
                .filter(|w| w.chars().count() >= 3 && !is_stopword(w))
                .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
                .collect();
            for w in set {
                *m.entry(w).or_default() += 1;
            }
        }
        m
    }
    let f = df(fg);
    let b = df(bg);
    let nf = fg.len() as f64 + 1.0;
    let nb = bg.len() as f64 + 1.0;
    let mut scored: Vec<(String, f64)> = f
        .into_iter()
        .filter(|(_, c)| *c >= min_df)
        .map(|(w, c)| {
            let cb = b.get(&w).copied().unwrap_or(0) as f64;
            let s = ((c as f64 + 0.5) / nf).ln() - ((cb + 0.5) / nb).ln();
            (w, (s * 100.0).round() / 100.0)
        })
        .filter(|(_, s)| *s > 0.0)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_hashtags_and_case() {
        assert_eq!(
            words("#PriceHike at @Marquee: $15.99/month!!"),
            vec!["price", "hike", "at", "marquee", "15", "99", "month"]
        );
        assert_eq!(words("don't"), vec!["dont"]);
    }

    #[test]
    fn matcher_words_and_phrases() {
        let m = Matcher::new(&[
            KeywordSet {
                name: "price".into(),
                keywords: vec!["price".into(), "per month".into()],
            },
            KeywordSet {
                name: "app".into(),
                keywords: vec!["crash".into()],
            },
        ]);
        assert_eq!(m.matches(&words("the #PriceHike is bad")), vec!["price"]);
        assert_eq!(
            m.matches(&words("$20 per month, and it crash")),
            vec!["price", "app"]
        );
        assert!(m.matches(&words("permonth")).is_empty());
    }

    #[test]
    fn handles_normalise() {
        assert_eq!(
            normalize_handle(" @Alice@Mastodon.Social ").as_deref(),
            Some("@alice@mastodon.social")
        );
        assert_eq!(
            normalize_handle("alice@mastodon.social").as_deref(),
            Some("@alice@mastodon.social")
        );
        assert_eq!(
            normalize_handle("@bob.bsky.social").as_deref(),
            Some("bob.bsky.social")
        );
        assert_eq!(
            normalize_handle("did:plc:abc").as_deref(),
            Some("did:plc:abc")
        );
        assert_eq!(normalize_handle("a b"), None);
        assert_eq!(normalize_handle("@"), None);
    }

    #[test]
    fn html_is_stripped() {
        assert_eq!(
            html_to_text("<p>Price &amp; <a href=\"x\">#hike</a></p><p>&lt;b&gt;</p>"),
            "Price & #hike <b>"
        );
    }

    #[test]
    fn distinctive_terms_rank_new_words() {
        let fg: Vec<String> = (0..10).map(|i| format!("price hike again {i}")).collect();
        let bg: Vec<String> = (0..50)
            .map(|_| "love this show again".to_string())
            .collect();
        let t = distinctive_terms(&fg, &bg, 3, 3);
        let names: Vec<&str> = t.iter().map(|(w, _)| w.as_str()).collect();
        assert!(names.contains(&"price") && names.contains(&"hike"), "{t:?}");
        assert!(!names.contains(&"again"), "{t:?}");
    }
}
