//! Evaluation metrics of protocol `sentiment-v1`.

use crate::Label;

/// Metrics over a labelled set. `confusion[gold][predicted]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Number of examples.
    pub n: usize,
    /// Rows: gold label, columns: predicted label (negative, neutral, positive).
    pub confusion: [[u64; 3]; 3],
    /// Per-class recall.
    pub recall: [f64; 3],
    /// Per-class precision.
    pub precision: [f64; 3],
    /// Per-class F1.
    pub f1: [f64; 3],
    /// Macro-averaged recall: the headline metric.
    pub macro_recall: f64,
    /// Macro-averaged F1.
    pub macro_f1: f64,
    /// Accuracy.
    pub accuracy: f64,
}

impl Metrics {
    /// Compute metrics from gold and predicted labels (pairs beyond the
    /// shorter slice are ignored).
    pub fn compute(gold: &[Label], pred: &[Label]) -> Metrics {
        let mut confusion = [[0u64; 3]; 3];
        for (g, p) in gold.iter().zip(pred) {
            confusion[g.id()][p.id()] += 1;
        }
        let n: u64 = confusion.iter().flatten().sum();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let mut recall = [0.0; 3];
        let mut precision = [0.0; 3];
        let mut f1 = [0.0; 3];
        for c in 0..3 {
            let tp = confusion[c][c];
            let gold_c: u64 = confusion[c].iter().sum();
            let pred_c: u64 = (0..3).map(|g| confusion[g][c]).sum();
            recall[c] = ratio(tp, gold_c);
            precision[c] = ratio(tp, pred_c);
            let s = recall[c] + precision[c];
            f1[c] = if s > 0.0 {
                2.0 * recall[c] * precision[c] / s
            } else {
                0.0
            };
        }
        let correct: u64 = (0..3).map(|c| confusion[c][c]).sum();
        Metrics {
            n: n as usize,
            confusion,
            recall,
            precision,
            f1,
            macro_recall: recall.iter().sum::<f64>() / 3.0,
            macro_f1: f1.iter().sum::<f64>() / 3.0,
            accuracy: ratio(correct, n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::*;

    #[test]
    fn hand_computed_example() {
        let gold = [Negative, Negative, Neutral, Positive, Positive, Positive];
        let pred = [Negative, Neutral, Neutral, Positive, Positive, Negative];
        let m = Metrics::compute(&gold, &pred);
        assert_eq!(m.confusion, [[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
        assert!((m.recall[0] - 0.5).abs() < 1e-12);
        assert!((m.recall[1] - 1.0).abs() < 1e-12);
        assert!((m.recall[2] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.macro_recall - (0.5 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // precision: neg 1/2, neu 1/2, pos 1 -> f1: 0.5, 2/3, 0.8
        assert!((m.macro_f1 - (0.5 + 2.0 / 3.0 + 0.8) / 3.0).abs() < 1e-12);
    }
}
