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

/// Parse TweetEval `train_provenance.tsv` (a header, then `line`,
/// `tweeteval_train_index`, `status`, `semeval_file`, `semeval_tweet_id`):
/// the SemEval source file of each train line, in line order.
pub fn parse_provenance(tsv: &str) -> Result<Vec<String>> {
    let mut lines = tsv.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::Data("empty provenance file".into()))?;
    let col = header
        .split('\t')
        .position(|h| h.trim() == "semeval_file")
        .ok_or_else(|| Error::Data("provenance has no `semeval_file` column".into()))?;
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.split('\t')
                .nth(col)
                .map(|s| s.trim().to_string())
                .ok_or_else(|| Error::Data(format!("provenance line {}: too few columns", i + 2)))
        })
        .collect()
}

/// A validation split that resembles a distribution shift: whole SemEval
/// source files (so whole collection years) are held out of training.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftedSplit {
    /// Short name, e.g. `years-2013-15->2016`.
    pub name: &'static str,
    /// Indices (into the train set) to train on.
    pub train: Vec<usize>,
    /// Indices (into the train set) to evaluate on.
    pub held_out: Vec<usize>,
}

/// The SemEval collection year of a source file name such as
/// `twitter-2016test-A.tsv`.
pub fn source_year(file: &str) -> Option<u16> {
    let rest = file.strip_prefix("twitter-")?;
    rest.get(..4)?.parse().ok()
}

/// The shifted splits of protocol `sentiment-v1` over TweetEval train, given
/// each line's SemEval source file ([`parse_provenance`]):
///
/// * `years-2013-15->2016`: train on the 2013–2015 files, evaluate on every
///   2016 file (forward in time, like the 2017 test split);
/// * `years-2014-16->2013`: train on the 2014–2016 files, evaluate on every
///   2013 file (backward in time: a second, independent shift).
///
/// Lines whose year cannot be read are in neither part. Errors when a part
/// would be empty.
pub fn shifted_splits(sources: &[String]) -> Result<Vec<ShiftedSplit>> {
    let years: Vec<Option<u16>> = sources.iter().map(|s| source_year(s)).collect();
    let split = |name: &'static str, held: u16| -> Result<ShiftedSplit> {
        let mut train = Vec::new();
        let mut held_out = Vec::new();
        for (i, y) in years.iter().enumerate() {
            match y {
                Some(y) if *y == held => held_out.push(i),
                Some(_) => train.push(i),
                None => {}
            }
        }
        if train.is_empty() || held_out.is_empty() {
            return Err(Error::Data(format!(
                "shifted split {name}: {} train and {} held-out lines",
                train.len(),
                held_out.len()
            )));
        }
        Ok(ShiftedSplit {
            name,
            train,
            held_out,
        })
    };
    Ok(vec![
        split("years-2013-15->2016", 2016)?,
        split("years-2014-16->2013", 2013)?,
    ])
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

    #[test]
    fn provenance_and_shifted_splits() {
        let tsv = "line\ttweeteval_train_index\tstatus\tsemeval_file\tsemeval_tweet_id\n\
                   1\t0\texact\ttwitter-2013test-A.tsv\t1\n\
                   2\t1\texact\ttwitter-2016dev-A.tsv\t2\n\
                   3\t2\texact\ttwitter-2014sarcasm-A.tsv\t3\n\
                   4\t3\texact\tsomething-else.tsv\t4\n";
        let src = parse_provenance(tsv).unwrap();
        assert_eq!(src.len(), 4);
        assert_eq!(source_year(&src[2]), Some(2014));
        assert_eq!(source_year(&src[3]), None);
        let s = shifted_splits(&src).unwrap();
        assert_eq!(s[0].train, vec![0, 2]);
        assert_eq!(s[0].held_out, vec![1]);
        assert_eq!(s[1].train, vec![1, 2]);
        assert_eq!(s[1].held_out, vec![0]);
        assert!(parse_provenance("line\tfile\n1\tx\n").is_err());
        // No 2013 line: the backward split would be empty.
        assert!(shifted_splits(&src[1..]).is_err());
    }
}
