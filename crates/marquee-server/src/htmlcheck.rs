//! Finds active content in HTML: `<script>` (and other script-bearing)
//! elements, `on*` event-handler attributes and `javascript:`/`vbscript:`/
//! `data:text/html` URLs. The Markdown fuzzer checks the sanitiser's output
//! with it, and the XSS tests check every page that shows user text.
//!
//! It tokenises tags the way a browser does (quoted and unquoted attribute
//! values, entities and control characters in URLs), so a payload that
//! survived escaping is found however it is spelled.

/// One piece of active content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The tag's name, lower case.
    pub tag: String,
    /// What is active: `element`, an attribute name, or `url:<attribute>`.
    pub what: String,
    /// The attribute's value or the element's text (up to 200 characters).
    pub value: String,
}

/// A tag as a browser reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Lower-case name.
    pub name: String,
    /// `(lower-case name, raw value)` pairs.
    pub attrs: Vec<(String, String)>,
    /// Byte offset just after the tag's `>`.
    pub end: usize,
}

/// Elements whose mere presence runs or embeds code.
const ACTIVE_ELEMENTS: &[&str] = &[
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "meta-refresh",
];
/// Attributes that hold URLs a browser may navigate to or load.
const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
    "srcdoc",
];

/// Every start tag in `html`, in order (comments and end tags skipped).
pub fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        if html[i..].starts_with("<!--") {
            i = html[i + 4..].find("-->").map_or(b.len(), |e| i + 4 + e + 3);
            continue;
        }
        let Some(&c) = b.get(i + 1) else { break };
        if !c.is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let (tag, end) = read_tag(html, i + 1);
        // Raw-text elements: their content is not markup.
        let raw_end = if matches!(tag.name.as_str(), "script" | "style" | "textarea" | "title") {
            let close = format!("</{}", tag.name);
            find_ci(&html[end..], &close).map_or(b.len(), |p| end + p)
        } else {
            end
        };
        out.push(tag);
        i = raw_end.max(i + 1);
    }
    out
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.to_ascii_lowercase();
    h.find(&needle.to_ascii_lowercase())
}

/// Reads a tag whose name starts at `start`; returns it and the offset after `>`.
fn read_tag(html: &str, start: usize) -> (Tag, usize) {
    let b = html.as_bytes();
    let mut i = start;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    let name = html[start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'>' {
            i += 1;
            break;
        }
        let ns = i;
        // An attribute name may start with '='.
        i += 1;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let aname = html[ns..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = html[vs..]
                    .bytes()
                    .position(|x| x == q)
                    .map_or(b.len(), |p| vs + p);
                value = html[vs..ve].to_string();
                i = (ve + 1).min(b.len());
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = html[vs..i].to_string();
            }
        }
        attrs.push((aname, value));
    }
    (
        Tag {
            name,
            attrs,
            end: i,
        },
        i,
    )
}

/// Decodes the HTML character references a browser decodes in attribute values.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let end = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '#')
            .map_or(rest.len(), |e| e + 1);
        let body = &rest[1..end];
        let semi = rest[end..].starts_with(';');
        let decoded = if let Some(num) = body.strip_prefix('#') {
            let n = match num.strip_prefix(['x', 'X']) {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            n.and_then(char::from_u32)
        } else {
            match body.to_ascii_lowercase().as_str() {
                "colon" => Some(':'),
                "tab" => Some('\t'),
                "newline" => Some('\n'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "lpar" => Some('('),
                "rpar" => Some(')'),
                _ => None,
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + usize::from(semi)..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a URL attribute's value runs code when followed.
pub fn is_script_url(value: &str) -> bool {
    let v: String = decode_entities(value)
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    v.starts_with("javascript:")
        || v.starts_with("vbscript:")
        || v.starts_with("data:text/html")
        || v.starts_with("data:image/svg")
        || v.starts_with("data:application/")
}

/// Active content in `html` (all of it; see [`findings_with`] to keep only
/// what carries a marker).
pub fn findings(html: &str) -> Vec<Finding> {
    findings_with(html, |_| true)
}

/// Active content in `html` whose attribute value or element text satisfies
/// `from_input` (e.g. contains a payload's marker): a page's own scripts are
/// not findings.
pub fn findings_with(html: &str, from_input: impl Fn(&str) -> bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let short = |s: &str| s.chars().take(200).collect::<String>();
    for t in tags(html) {
        if ACTIVE_ELEMENTS.contains(&t.name.as_str()) {
            let text_end = html[t.end..]
                .to_ascii_lowercase()
                .find(&format!("</{}", t.name))
                .map_or(html.len(), |p| t.end + p);
            let text = &html[t.end..text_end];
            let whole = format!(
                "{} {}",
                t.attrs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                text
            );
            if from_input(&whole) {
                out.push(Finding {
                    tag: t.name.clone(),
                    what: "element".into(),
                    value: short(&whole),
                });
            }
        }
        for (k, v) in &t.attrs {
            let hit = if k.starts_with("on") && k.len() > 2 {
                Some(k.clone())
            } else if URL_ATTRS.contains(&k.as_str()) && is_script_url(v) {
                Some(format!("url:{k}"))
            } else if k == "style"
                && decode_entities(v)
                    .to_ascii_lowercase()
                    .contains("expression(")
            {
                Some("style".into())
            } else if from_input(k)
                && k.chars()
                    .any(|c| !c.is_ascii_alphanumeric() && !"-_:".contains(c))
            {
                // An attribute name made of payload text: an attribute breaker got through.
                Some(k.clone())
            } else {
                None
            };
            if let Some(what) = hit {
                if from_input(k) || from_input(v) {
                    out.push(Finding {
                        tag: t.name.clone(),
                        what,
                        value: short(v),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_payloads_are_found() {
        for p in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href='jav&#x09;ascript&colon;alert(1)'>x</a>",
            "<a href=\" &#106;avascript:alert(1)\">x</a>",
            "<iframe src=\"data:text/html,<script>alert(1)</script>\"></iframe>",
            "<div title=\"\" onmouseover=\"alert(1)\">",
            "<details open ontoggle=alert(1)>",
            "<body onload=alert(1)>",
        ] {
            assert!(!findings(p).is_empty(), "not found: {p}");
        }
    }

    #[test]
    fn escaped_payloads_are_not_found() {
        for p in [
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "<p>&lt;img src=x onerror=alert(1)&gt;</p>",
            "<a href=\"https://example.com/?q=javascript:alert(1)\" title=\"onerror=x\">x</a>",
            "<meta property=\"og:title\" content=\"&quot;&gt;&lt;script&gt;alert(1)\">",
            "<p>onload=alert(1) in text</p>",
            "<textarea><img src=x onerror=alert(1)></textarea>",
        ] {
            assert_eq!(findings(p), vec![], "{p}");
        }
    }

    #[test]
    fn marker_filter_spares_the_page_s_own_scripts() {
        let html = "<script src=\"/static/htmx.min.js\"></script><p>&lt;script&gt;XSS1</p>";
        assert!(findings_with(html, |s| s.contains("XSS")).is_empty());
        let bad = "<script src=\"/static/htmx.min.js\"></script><script>alert('XSS1')</script>";
        assert_eq!(findings_with(bad, |s| s.contains("XSS")).len(), 1);
    }
}
