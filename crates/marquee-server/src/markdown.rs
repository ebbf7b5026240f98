//! Markdown from users, rendered to sanitised HTML.
//!
//! pulldown-cmark renders CommonMark (with tables and strikethrough); ammonia
//! then keeps only a whitelist of tags and attributes: `<script>`, `<style>`,
//! event-handler attributes (`on*`) and `javascript:` URLs are removed, and
//! links get `rel="noopener noreferrer nofollow ugc"`. Only [`SafeHtml`],
//! which can only be made here, skips askama's escaping.

use std::collections::HashSet;
use std::fmt;

/// HTML that went through the sanitiser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeHtml(String);

impl SafeHtml {
    /// The HTML text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for SafeHtml {}

/// Renders Markdown to sanitised HTML.
pub fn render(md: &str) -> SafeHtml {
    use pulldown_cmark::{html, Options, Parser};
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(md.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(md, opts));
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    let clean = ammonia::Builder::default()
        .url_schemes(schemes)
        .link_rel(Some("noopener noreferrer nofollow ugc"))
        // A control character inside a URL ("jav\x18ascript:") makes it a
        // relative URL to the sanitiser; no real link has one, and old
        // browsers skipped some of them: drop such URLs.
        .attribute_filter(|_, attr, value| {
            if matches!(attr, "href" | "src") && value.chars().any(char::is_control) {
                None
            } else {
                Some(value.into())
            }
        })
        .clean(&raw)
        .to_string();
    SafeHtml(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_sanitised() {
        let h = render("**bold** and [link](https://example.com)");
        assert!(h.as_str().contains("<strong>bold</strong>"), "{h}");
        assert!(h.as_str().contains("href=\"https://example.com\""), "{h}");
        assert!(h.as_str().contains("nofollow"), "{h}");

        let h = render("hi <script>alert(1)</script> <img src=x onerror=alert(2)> <a href=\"javascript:alert(3)\" onclick=\"x()\">j</a> [m](javascript:alert(4))");
        let s = h.as_str();
        assert!(!s.contains("<script"), "{s}");
        assert!(!s.contains("alert(1)"), "{s}");
        assert!(!s.contains("onerror"), "{s}");
        assert!(!s.contains("onclick"), "{s}");
        assert!(!s.contains("javascript:"), "{s}");
    }

    #[test]
    fn urls_with_control_characters_are_dropped() {
        // Found by the markdown fuzzer: ammonia kept this href as a relative URL.
        let h = render("<a href=\"jav\u{18}ascript:alert(5)\">z</a> [t](https://e.com/a\u{7}b)");
        let s = h.as_str();
        assert!(!s.contains("ascript:"), "{s}");
        assert!(!s.contains("href"), "{s}");
        assert!(s.contains(">z</a>"), "{s}");
    }
}
