//! Parsing labelled data from strings (the caller does the file I/O).

use crate::{Error, Label, Result};

/// Parse TweetEval files: one text per line, one label per line.
pub fn parse_tweeteval(text: &str, labels: &str) -> Result<(Vec<String>, Vec<Label>)> {
    let texts: Vec<String> = text.lines().map(str::to_string).collect();
    let labels = parse_labels(labels)?;
    if texts.len() != labels.len() {
        return Err(Error::Data(format!(
            "{} texts but {} labels",
            texts.len(),
            labels.len()
        )));
    }
    Ok((texts, labels))
}

/// Parse one label per line (ids `0/1/2` or names); blank lines are skipped.
pub fn parse_labels(labels: &str) -> Result<Vec<Label>> {
    labels
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim()
                .parse::<Label>()
                .map_err(|e| Error::Data(format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Parse a CSV with a header that has `text` and `label` columns (RFC 4180
/// quoting; other columns are ignored). Labels may be names or ids.
pub fn parse_csv(csv: &str) -> Result<(Vec<String>, Vec<Label>)> {
    let rows = csv_records(csv)?;
    let mut it = rows.into_iter();
    let header = it.next().ok_or_else(|| Error::Data("empty CSV".into()))?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| {
                h.trim()
                    .trim_start_matches('\u{feff}')
                    .eq_ignore_ascii_case(name)
            })
            .ok_or_else(|| Error::Data(format!("CSV has no `{name}` column")))
    };
    let (ti, li) = (col("text")?, col("label")?);
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for (r, row) in it.enumerate() {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        let (Some(t), Some(l)) = (row.get(ti), row.get(li)) else {
            return Err(Error::Data(format!("CSV row {}: too few columns", r + 2)));
        };
        let label = l
            .trim()
            .parse::<Label>()
            .map_err(|e| Error::Data(format!("CSV row {}: {e}", r + 2)))?;
        texts.push(t.clone());
        labels.push(label);
    }
    Ok((texts, labels))
}

fn csv_records(csv: &str) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = csv.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
        } else {
            match c {
                '"' if field.is_empty() => in_quotes = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(c),
            }
        }
    }
    if in_quotes {
        return Err(Error::Data("CSV ends inside a quoted field".into()));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_names_and_ids() {
        let csv = "id,text,label\n1,\"hello, \"\"world\"\"\",positive\n2,\"multi\nline\",0\n3,plain,Neutral\n";
        let (t, l) = parse_csv(csv).unwrap();
        assert_eq!(t, vec!["hello, \"world\"", "multi\nline", "plain"]);
        assert_eq!(l, vec![Label::Positive, Label::Negative, Label::Neutral]);
    }

    #[test]
    fn csv_errors() {
        assert!(parse_csv("text\nx\n").is_err());
        assert!(parse_csv("text,label\nx,happy\n").is_err());
    }

    #[test]
    fn tweeteval_lengths_must_match() {
        assert!(parse_tweeteval("a\nb\n", "0\n").is_err());
        let (t, l) = parse_tweeteval("a\nb\n", "0\n2\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(l[1], Label::Positive);
    }
}
