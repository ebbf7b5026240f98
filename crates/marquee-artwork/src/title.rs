//! Turning MovieLens-style catalog names into titles as people write them.

/// Articles MovieLens moves to the end of a title ("Godfather, The").
const ARTICLES: &[&str] = &[
    "The", "A", "An", "Les", "La", "Le", "L'", "Il", "Die", "Der", "Das", "El", "Los", "Las", "Lo",
    "Gli", "Un", "Une", "Det", "Den",
];

/// A MovieLens name as a display title.
///
/// Moves a trailing article back to the front ("Shawshank Redemption, The"
/// → "The Shawshank Redemption", "Auberge espagnole, L'" → "L'Auberge
/// espagnole"), drops an "(a.k.a. …)" part, and fixes the article inside an
/// alternative title in parentheses too ("City of Lost Children, The (Cité
/// des enfants perdus, La)" → "The City of Lost Children (La Cité des
/// enfants perdus)"). The caller normally splits the year off; a trailing
/// "(1994)" left in is dropped as well.
pub fn display_title(movielens_name: &str) -> String {
    let mut rest = movielens_name.trim();
    // Peel parenthesised groups off the end, last first.
    let mut groups: Vec<&str> = Vec::new();
    while let Some(inner) = rest.strip_suffix(')') {
        let Some(open) = matching_open(inner) else {
            break;
        };
        let group = inner[open + 1..].trim();
        let before = inner[..open].trim_end();
        if before.is_empty() {
            break; // The whole name is in parentheses: keep it.
        }
        groups.push(group);
        rest = before;
    }
    groups.reverse();

    let mut out = move_article(rest);
    for group in groups {
        let lower = group.to_ascii_lowercase();
        if lower.starts_with("a.k.a.") || lower.starts_with("aka ") || is_year(group) {
            continue;
        }
        if group.is_empty() {
            continue;
        }
        out.push_str(" (");
        out.push_str(&move_article(group));
        out.push(')');
    }
    out
}

/// Byte index of the '(' matching a ')' just past the end of `s`.
fn matching_open(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => return Some(i),
            '(' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn is_year(s: &str) -> bool {
    let digits = s.trim_end_matches(['-', '–']);
    digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit())
}

fn move_article(s: &str) -> String {
    let s = s.trim();
    if let Some(comma) = s.rfind(", ") {
        let (head, tail) = (s[..comma].trim_end(), s[comma + 2..].trim());
        if !head.is_empty() && ARTICLES.contains(&tail) {
            return if tail.ends_with('\'') {
                format!("{tail}{head}")
            } else {
                format!("{tail} {head}")
            };
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::display_title;

    #[test]
    fn articles_move_to_the_front() {
        let cases = [
            ("Shawshank Redemption, The", "The Shawshank Redemption"),
            ("Fistful of Dollars, A", "A Fistful of Dollars"),
            ("Officer and a Gentleman, An", "An Officer and a Gentleman"),
            ("Misérables, Les", "Les Misérables"),
            ("Dolce Vita, La", "La Dolce Vita"),
            ("Mépris, Le", "Le Mépris"),
            ("Postino, Il", "Il Postino"),
            ("Blechtrommel, Die", "Die Blechtrommel"),
            ("Untergang, Der", "Der Untergang"),
            ("Boot, Das", "Das Boot"),
            ("Auberge espagnole, L'", "L'Auberge espagnole"),
            ("Toy Story", "Toy Story"),
            (
                "Crouching Tiger, Hidden Dragon",
                "Crouching Tiger, Hidden Dragon",
            ),
            ("Hello, Dolly!", "Hello, Dolly!"),
            ("Seven (a.k.a. Se7en)", "Seven"),
            (
                "Shawshank Redemption, The (1994)",
                "The Shawshank Redemption",
            ),
            (
                "City of Lost Children, The (Cité des enfants perdus, La)",
                "The City of Lost Children (La Cité des enfants perdus)",
            ),
            (
                "Ghost in the Shell (Kôkaku kidôtai) (a.k.a. Ghost in the Shell)",
                "Ghost in the Shell (Kôkaku kidôtai)",
            ),
            ("(500) Days of Summer", "(500) Days of Summer"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(display_title(input), want, "input {input:?}");
        }
    }
}
