//! Matching free text (social posts, chat messages) against a search or an idea.
//!
//! A [`TextMatch`] is a backend-neutral boolean query: an OR of AND-groups of word
//! prefixes. Each store renders it in its own full-text syntax (SQLite FTS5 here), so
//! the matching rules live in one place and are unit-tested without a database.

use serde::Serialize;
use utoipa::ToSchema;

/// Words too common to say what a text is about.
const STOPWORDS: &[&str] = &[
    "about", "after", "again", "all", "also", "and", "any", "are", "back", "because", "been",
    "before", "being", "but", "can", "could", "did", "does", "doing", "don", "down", "each",
    "even", "every", "for", "from", "get", "give", "got", "had", "has", "have", "her", "here",
    "him", "his", "how", "into", "its", "just", "let", "like", "make", "marquee", "more", "most",
    "much", "need", "new", "not", "now", "off", "once", "only", "other", "our", "out", "over",
    "own", "please", "same", "she", "should", "some", "such", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "through", "too", "under", "until",
    "use", "very", "want", "was", "way", "were", "what", "when", "where", "which", "while", "who",
    "why", "will", "with", "would", "you", "your",
];

/// Longest prefix kept of a word: "subtitles" and "subtitle" share "subtitl".
const PREFIX: usize = 7;
/// Most keywords taken from one text.
pub const MAX_KEYWORDS: usize = 8;

/// An OR of AND-groups of lower-case word prefixes (letters and digits only, so every
/// backend can quote them without escaping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TextMatch {
    /// A text matches when it contains every prefix of at least one group.
    pub groups: Vec<Vec<String>>,
}

impl TextMatch {
    /// Renders the query in SQLite FTS5 syntax: `("a"* AND "b"*) OR ("c"*)`.
    pub fn to_fts5(&self) -> String {
        self.groups
            .iter()
            .map(|g| {
                let terms: Vec<String> = g.iter().map(|t| format!("\"{t}\"*")).collect();
                format!("({})", terms.join(" AND "))
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    /// Both queries: every group of one joined with every group of the other.
    pub fn and(&self, other: &TextMatch) -> TextMatch {
        let mut groups = Vec::new();
        for a in &self.groups {
            for b in &other.groups {
                let mut g = a.clone();
                g.extend(b.iter().filter(|t| !a.contains(t)).cloned());
                groups.push(g);
            }
        }
        TextMatch { groups }
    }

    /// Whether `text` matches (the same rule the stores apply; used for highlighting and
    /// in tests).
    pub fn matches(&self, text: &str) -> bool {
        let words: Vec<String> = words(text).collect();
        self.groups.iter().any(|g| {
            g.iter()
                .all(|p| words.iter().any(|w| w.starts_with(p.as_str())))
        })
    }
}

/// Lower-case words of letters and digits.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn prefix(word: &str) -> String {
    word.chars().take(PREFIX).collect()
}

/// Distinct word prefixes, in order of first appearance, at most [`MAX_KEYWORDS`].
fn prefixes(words: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let p = prefix(&w);
        if !out.contains(&p) {
            out.push(p);
        }
        if out.len() == MAX_KEYWORDS {
            break;
        }
    }
    out
}

/// The distinctive words of a text, in order of first appearance: at least 3 characters,
/// not a stop word, not a bare number, prefixes deduplicated; at most [`MAX_KEYWORDS`].
pub fn keywords(text: &str) -> Vec<String> {
    prefixes(words(text).filter(|w| {
        w.chars().count() >= 3
            && !STOPWORDS.contains(&w.as_str())
            && !w.chars().all(|c| c.is_ascii_digit())
    }))
}

/// A search box: every word must appear (as a prefix). `None` when nothing searchable
/// is left.
pub fn all_words(query: &str) -> Option<TextMatch> {
    let terms = prefixes(words(query));
    (!terms.is_empty()).then(|| TextMatch {
        groups: vec![terms],
    })
}

/// What counts as talking about an idea: a post or message that names one of its tags, or
/// that shares at least two keywords of its title (one, when the title has only one).
/// `None` when the idea has nothing distinctive to match.
pub fn about_idea(title: &str, tags: &[String]) -> Option<TextMatch> {
    let kws = keywords(title);
    let mut groups: Vec<Vec<String>> = Vec::new();
    if kws.len() == 1 {
        groups.push(kws.clone());
    }
    for (i, a) in kws.iter().enumerate() {
        for b in &kws[i + 1..] {
            groups.push(vec![a.clone(), b.clone()]);
        }
    }
    for t in tags {
        let tag_words: Vec<String> = words(t)
            .filter(|w| w.chars().count() >= 3)
            .map(|w| prefix(&w))
            .collect();
        if !tag_words.is_empty() && !groups.contains(&tag_words) {
            groups.push(tag_words);
        }
    }
    (!groups.is_empty()).then_some(TextMatch { groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_skip_stopwords_short_words_and_numbers() {
        assert_eq!(
            keywords("Please bring back the DVD + streaming bundle for 2024!"),
            vec!["bring", "dvd", "streami", "bundle"]
        );
        assert_eq!(keywords("the and of"), Vec::<String>::new());
    }

    #[test]
    fn an_idea_matches_posts_sharing_two_keywords_or_a_tag() {
        let m = about_idea(
            "Offline downloads on the TV app",
            &["downloads".to_string()],
        )
        .unwrap();
        assert!(m.matches("why can't I get offline downloads on my tv??"));
        assert!(m.matches("Download limits are silly")); // the tag, by prefix
        assert!(!m.matches("the tv app crashed again")); // one keyword only ("tv" is too short)
        assert!(!m.matches("offline is fine"));
    }

    #[test]
    fn and_needs_both() {
        let idea = about_idea("Offline downloads", &[]).unwrap();
        let both = idea.and(&all_words("angry").unwrap());
        assert!(both.matches("angry about offline downloads"));
        assert!(!both.matches("offline downloads please"));
        assert!(!both.matches("angry"));
    }

    #[test]
    fn a_one_word_title_matches_that_word() {
        let m = about_idea("Subtitles", &[]).unwrap();
        assert!(m.matches("the subtitle timing is off"));
        assert!(!m.matches("audio is off"));
        assert_eq!(about_idea("the of and", &[]), None);
    }

    #[test]
    fn fts5_rendering_quotes_every_prefix() {
        let m = all_words("Price hike \"now\" OR NOT; drop").unwrap();
        assert_eq!(
            m.to_fts5(),
            "(\"price\"* AND \"hike\"* AND \"now\"* AND \"or\"* AND \"not\"* AND \"drop\"*)"
        );
        assert_eq!(all_words("  ;; \" "), None);
        // Only letters and digits reach the query: nothing to escape.
        assert!(m
            .groups
            .iter()
            .flatten()
            .all(|t| t.chars().all(char::is_alphanumeric)));
    }
}
