//! Detection metrics over scored examples: ROC AUC, TPR at a fixed FPR, F1 at a
//! threshold. Scores are `(score, is_positive)` pairs; ties are handled exactly.

/// ROC AUC (probability a random positive outscores a random negative; ties count
/// half). `None` without both classes.
pub(crate) fn roc_auc(scored: &[(f32, bool)]) -> Option<f64> {
    let pos = scored.iter().filter(|s| s.1).count();
    let neg = scored.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut sorted: Vec<(f32, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank * sorted[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

/// The threshold that keeps the false-positive rate at or below `fpr`, and the TPR
/// there: the smallest threshold `t` such that at most `floor(fpr × negatives)`
/// negatives score `>= t`.
pub(crate) fn tpr_at_fpr(scored: &[(f32, bool)], fpr: f64) -> Option<(f64, f32)> {
    let mut neg: Vec<f32> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let pos: Vec<f32> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
    if neg.is_empty() || pos.is_empty() {
        return None;
    }
    neg.sort_by(|a, b| b.total_cmp(a));
    let allowed = (fpr * neg.len() as f64).floor() as usize;
    // Threshold just above the (allowed+1)-th highest negative.
    let threshold = match neg.get(allowed) {
        Some(&s) => next_up(s),
        None => f32::NEG_INFINITY,
    };
    let tp = pos.iter().filter(|&&s| s >= threshold).count();
    Some((tp as f64 / pos.len() as f64, threshold))
}

fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    let bits = x.to_bits();
    let next = if x == 0.0 {
        1
    } else if x > 0.0 {
        bits + 1
    } else {
        bits - 1
    };
    f32::from_bits(next)
}

/// Precision, recall and F1 at `threshold` (score >= threshold is positive).
pub(crate) fn prf_at(scored: &[(f32, bool)], threshold: f32) -> (f64, f64, f64) {
    let tp = scored.iter().filter(|s| s.1 && s.0 >= threshold).count() as f64;
    let fp = scored.iter().filter(|s| !s.1 && s.0 >= threshold).count() as f64;
    let fn_ = scored.iter().filter(|s| s.1 && s.0 < threshold).count() as f64;
    let p = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let r = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let f1 = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
    (p, r, f1)
}

/// The `q` quantile (0..=1) of `values` (nearest rank).
pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let idx = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
    values[idx]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_random_and_inverted() {
        let perfect = [(0.9, true), (0.8, true), (0.2, false), (0.1, false)];
        assert_eq!(roc_auc(&perfect), Some(1.0));
        let inverted = [(0.1, true), (0.2, true), (0.8, false), (0.9, false)];
        assert_eq!(roc_auc(&inverted), Some(0.0));
        let tied = [(0.5, true), (0.5, false)];
        assert_eq!(roc_auc(&tied), Some(0.5));
        assert_eq!(roc_auc(&[(0.5, true)]), None);
    }

    #[test]
    fn tpr_at_fpr_respects_the_budget() {
        // 100 negatives at 0.0..0.99, positives at 0.5 and 0.995
        let mut s: Vec<(f32, bool)> = (0..100).map(|i| (i as f32 / 100.0, false)).collect();
        s.push((0.995, true));
        s.push((0.5, true));
        let (tpr, t) = tpr_at_fpr(&s, 0.01).unwrap();
        // one negative (0.99) may pass; the threshold sits just above 0.98
        assert!(t > 0.98 && t <= 0.99, "{t}");
        assert_eq!(tpr, 0.5);
        let (tpr0, _) = tpr_at_fpr(&s, 0.0).unwrap();
        assert_eq!(tpr0, 0.5);
    }

    #[test]
    fn f1_and_quantiles() {
        let s = [(0.9, true), (0.1, true), (0.7, false), (0.2, false)];
        let (p, r, f1) = prf_at(&s, 0.5);
        assert_eq!((p, r), (0.5, 0.5));
        assert!((f1 - 0.5).abs() < 1e-9);
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 0.99), 5.0);
    }
}
