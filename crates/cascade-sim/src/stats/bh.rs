//! Benjamini-Hochberg adjusted p-values (q-values): false-discovery-rate control when a sweep
//! compares many points with its baseline.
//!
//! With `m` p-values sorted `p_(1) <= ... <= p_(m)`, the step-up procedure of Benjamini and
//! Hochberg (1995) rejects `H_(1) .. H_(k)` for the largest `k` with `p_(k) <= k q / m`; the
//! adjusted value `q_(i) = min_{j >= i} min(1, m p_(j) / j)` is the smallest level `q` at which
//! `H_(i)` is rejected, so "reject when `q_i <= q`" is the procedure at level `q`.

/// The BH q-value of each p-value (same order). A NaN p-value (no test) is not counted in `m`
/// and gets a NaN q-value.
pub fn qvalues(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let m = idx.len() as f64;
    let mut q = vec![f64::NAN; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        let v = (m * p[i] / (rank + 1) as f64).min(1.0);
        running = running.min(v);
        q[i] = running;
    }
    q
}

/// Which hypotheses BH rejects at false discovery rate `level`.
pub fn reject(p: &[f64], level: f64) -> Vec<bool> {
    qvalues(p).iter().map(|q| *q <= level).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Benjamini and Hochberg (1995), J. R. Statist. Soc. B 57(1), 289-300, section 4.2: the
    /// 15 p-values of a multiple-endpoint study; at q = 0.05 the procedure rejects the four
    /// smallest (0.0095 <= 4/15 x 0.05 = 0.0133; 0.0201 > 5/15 x 0.05 = 0.0167, and no larger
    /// rank clears its bound), where Bonferroni (0.05/15 = 0.0033) rejects three.
    const BH1995: [f64; 15] = [
        0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
        0.5719, 0.6528, 0.7590, 1.0000,
    ];

    #[test]
    fn the_worked_example_of_benjamini_and_hochberg_1995() {
        let r = reject(&BH1995, 0.05);
        assert_eq!(r.iter().filter(|x| **x).count(), 4, "{r:?}");
        assert!(r[..4].iter().all(|x| *x) && !r[4..].iter().any(|x| *x));
        let bonferroni = BH1995.iter().filter(|p| **p <= 0.05 / 15.0).count();
        assert_eq!(bonferroni, 3);
        // By hand: q_(4) = min_j>=4 15 p_(j) / j = 15 x 0.0095 / 4 = 0.035625;
        // q_(5) = min(15 x 0.0201/5, 15 x 0.0278/6, 15 x 0.0298/7, 15 x 0.0344/8, ...) =
        // 15 x 0.0201 / 5 = 0.0603.
        let q = qvalues(&BH1995);
        assert!((q[3] - 0.035625).abs() < 1e-12, "{}", q[3]);
        assert!((q[4] - 0.0603).abs() < 1e-12, "{}", q[4]);
        assert!((q[0] - 0.0015).abs() < 1e-12);
        assert_eq!(q[14], 1.0);
        // Order does not matter, NaN is no test.
        let mut shuffled: Vec<f64> = BH1995.iter().rev().copied().collect();
        shuffled.push(f64::NAN);
        let qs = qvalues(&shuffled);
        assert!(qs[15].is_nan());
        for (i, v) in qs[..15].iter().enumerate() {
            assert_eq!(*v, q[14 - i]);
        }
    }

    #[test]
    fn q_values_are_monotone_in_p_and_at_least_p() {
        let p = [0.5, 0.01, 0.04, 0.03, 0.2];
        let q = qvalues(&p);
        for i in 0..p.len() {
            assert!(q[i] >= p[i]);
            for j in 0..p.len() {
                if p[i] <= p[j] {
                    assert!(q[i] <= q[j]);
                }
            }
        }
    }
}
