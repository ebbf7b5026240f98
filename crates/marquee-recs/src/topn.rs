//! Top-N selection with the stable tie-break (score descending, dense id ascending).

use std::cmp::Ordering;

/// Orders `(item, score)` pairs best first: higher score, then lower item id.
/// NaN scores rank as negative infinity.
#[inline]
pub fn rank_cmp(a: (u32, f32), b: (u32, f32)) -> Ordering {
    let sa = if a.1.is_nan() { f32::NEG_INFINITY } else { a.1 };
    let sb = if b.1.is_nan() { f32::NEG_INFINITY } else { b.1 };
    sb.total_cmp(&sa).then(a.0.cmp(&b.0))
}

/// Selects the best `n` items of `scores` for which `keep(item)` is true,
/// ordered by (score descending, item ascending).
pub fn top_n(scores: &[f32], n: usize, mut keep: impl FnMut(u32) -> bool) -> Vec<(u32, f32)> {
    let mut buf: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    if n == 0 {
        return buf;
    }
    for (i, &s) in scores.iter().enumerate() {
        let s = if s.is_nan() { f32::NEG_INFINITY } else { s };
        // Items arrive in ascending id order, so a tie with the current worst loses.
        if buf.len() == n && buf.last().is_some_and(|w| s <= w.1) {
            continue;
        }
        let item = i as u32;
        if !keep(item) {
            continue;
        }
        let pos = buf.partition_point(|e| e.1 >= s);
        buf.insert(pos, (item, s));
        if buf.len() > n {
            buf.pop();
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_by_item_id_and_filter_applies() {
        let scores = [1.0, 3.0, 3.0, f32::NAN, 2.0, 3.0];
        let top = top_n(&scores, 3, |i| i != 5);
        assert_eq!(top.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 4]);
        let all = top_n(&scores, 10, |_| true);
        assert_eq!(all.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 5, 4, 0, 3]);
        let mut sorted: Vec<(u32, f32)> = scores.iter().enumerate().map(|(i, &s)| (i as u32, s)).collect();
        sorted.sort_by(|a, b| rank_cmp(*a, *b));
        assert_eq!(sorted.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 5, 4, 0, 3]);
    }
}
