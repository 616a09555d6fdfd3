//! Correlating assets: the Cholesky factor of a correlation matrix.
//!
//! Assets' price shocks are correlated by drawing independent standard normals `z` and using
//! `e = L z`, where `L L^T` is the correlation matrix. This file computes `L` and says
//! precisely which rule a matrix breaks when it cannot be used.

use cascade_core::Check;

/// The lower-triangular `L` with `L L^T = m`, or the rule `m` breaks.
#[allow(clippy::needless_range_loop)] // matrix code reads best with explicit indices
pub fn cholesky(m: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, String> {
    let n = m.len();
    for (i, row) in m.iter().enumerate() {
        if row.len() != n {
            return Err(format!(
                "must be square: row {i} has {} entries, the matrix has {n} rows",
                row.len()
            ));
        }
    }
    for i in 0..n {
        for j in 0..n {
            if !m[i][j].is_finite() {
                return Err(format!(
                    "entry ({i}, {j}) must be a finite number (got {})",
                    m[i][j]
                ));
            }
            if !(-1.0..=1.0).contains(&m[i][j]) {
                return Err(format!(
                    "entry ({i}, {j}) must be in [-1, 1] (got {})",
                    m[i][j]
                ));
            }
        }
        if (m[i][i] - 1.0).abs() > 1e-12 {
            return Err(format!(
                "diagonal entry ({i}, {i}) must be 1 (got {})",
                m[i][i]
            ));
        }
        for j in 0..i {
            if (m[i][j] - m[j][i]).abs() > 1e-12 {
                return Err(format!(
                    "must be symmetric: entries ({i}, {j}) = {} and ({j}, {i}) = {} differ",
                    m[i][j], m[j][i]
                ));
            }
        }
    }
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - s;
                if d <= 1e-12 {
                    return Err(format!(
                        "must be positive definite (it is not: pivot {i} is {d:.3e}; an asset is a linear combination of others, or the correlations contradict each other)"
                    ));
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - s) / l[j][j];
            }
        }
    }
    Ok(l)
}

/// Check a correlation matrix for `n_assets` assets.
pub fn validate_correlation(m: &[Vec<f64>], n_assets: usize, c: &mut Check) {
    if m.len() != n_assets {
        c.fail(
            "",
            format!(
                "must be {n_assets} x {n_assets} (one row per asset; got {} rows)",
                m.len()
            ),
        );
        return;
    }
    if let Err(e) = cholesky(m) {
        c.fail("", e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_factorization() {
        // m = L L^T with L = [[1,0,0],[0.5, sqrt(0.75), 0],[0.2, x, y]].
        let m = vec![
            vec![1.0, 0.5, 0.2],
            vec![0.5, 1.0, 0.3],
            vec![0.2, 0.3, 1.0],
        ];
        let l = cholesky(&m).unwrap();
        assert!((l[1][1] - 0.75f64.sqrt()).abs() < 1e-15);
        let x = (0.3 - 0.5 * 0.2) / 0.75f64.sqrt();
        assert!((l[2][1] - x).abs() < 1e-15);
        assert!((l[2][2] - (1.0 - 0.04 - x * x).sqrt()).abs() < 1e-15);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i][k] * l[j][k]).sum();
                assert!((v - m[i][j]).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn each_broken_rule_is_named() {
        assert!(cholesky(&[vec![1.0, 0.5]]).unwrap_err().contains("square"));
        assert!(
            cholesky(&[vec![1.0, 0.5], vec![0.4, 1.0]])
                .unwrap_err()
                .contains("symmetric")
        );
        assert!(
            cholesky(&[vec![2.0, 0.5], vec![0.5, 1.0]])
                .unwrap_err()
                .contains("[-1, 1]")
        );
        assert!(
            cholesky(&[vec![0.9, 0.5], vec![0.5, 1.0]])
                .unwrap_err()
                .contains("diagonal")
        );
        assert!(
            cholesky(&[vec![1.0, 1.0], vec![1.0, 1.0]])
                .unwrap_err()
                .contains("positive definite")
        );
        let m = vec![
            vec![1.0, 0.9, -0.9],
            vec![0.9, 1.0, 0.9],
            vec![-0.9, 0.9, 1.0],
        ];
        assert!(cholesky(&m).unwrap_err().contains("positive definite"));
        let mut issues = Vec::new();
        validate_correlation(
            &[vec![1.0]],
            2,
            &mut Check::new(&mut issues).at("correlation"),
        );
        assert_eq!(issues[0].key, "correlation");
        assert!(issues[0].rule.contains("2 x 2"));
    }
}
