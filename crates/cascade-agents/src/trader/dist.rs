//! The distributions a trader population draws its personal parameters from: leverage as a
//! mixture of uniform components (so that liquidation prices can cluster), and the uniform
//! ranges of the personal deleveraging threshold and stop distance.
//!
//! Each sampler maps uniforms it is given to a value, so which stream they come from is the
//! caller's choice: the single-component leverage uses the trader's legacy draw exactly as
//! before, and every new quantity comes from the trader's `trader_habits` stream.

use cascade_core::Check;
use serde::{Deserialize, Serialize};

/// One component of `leverage = [{weight, min, max}, ...]`: with probability proportional to
/// `weight`, the leverage is uniform in `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeverageComponent {
    pub weight: f64,
    pub min: f64,
    pub max: f64,
}

/// A uniform range `{min, max}` (`min = max`: a point mass).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    /// The value at quantile `u` in `[0, 1)`.
    pub fn at(&self, u: f64) -> f64 {
        self.min + u * (self.max - self.min)
    }

    /// `lo <= min <= max <= hi`, named `key.min` and `key.max`.
    pub fn validate(&self, c: &mut Check, key: &str, lo: f64, hi: f64) {
        let (min, max) = (self.min, self.max);
        if !(min >= lo && min <= hi) {
            c.fail(
                &format!("{key}.min"),
                format!("must be in [{lo}, {hi}] (got {min})"),
            );
        }
        if !(max >= min && max <= hi) {
            c.fail(
                &format!("{key}.max"),
                format!("must be in [{key}.min, {hi}] (got {max}, min {min})"),
            );
        }
    }
}

/// A leverage distribution: a mixture of uniform components (one component is the legacy
/// `[leverage_min, leverage_max]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Leverage {
    components: Vec<LeverageComponent>,
    /// Cumulative normalized weights.
    cdf: Vec<f64>,
}

impl Leverage {
    pub fn new(components: Vec<LeverageComponent>) -> Leverage {
        let total: f64 = components.iter().map(|c| c.weight).sum();
        let mut acc = 0.0;
        let cdf = components
            .iter()
            .map(|c| {
                acc += c.weight / total;
                acc
            })
            .collect();
        Leverage { components, cdf }
    }

    /// Whether there is more than one component (only then is a component drawn).
    pub fn is_mixture(&self) -> bool {
        self.components.len() > 1
    }

    /// The component at quantile `u_comp` (the first whose cumulative weight exceeds it).
    pub fn component(&self, u_comp: f64) -> usize {
        self.cdf
            .iter()
            .position(|&c| u_comp < c)
            .unwrap_or(self.components.len() - 1)
    }

    /// The leverage of component `k` at quantile `u`: `min + u (max - min)`.
    pub fn sample(&self, k: usize, u: f64) -> f64 {
        let c = self.components[k];
        c.min + u * (c.max - c.min)
    }
}

/// `leverage`: at least one component; each `weight > 0`, `1 <= min <= max`.
pub(crate) fn check_mixture(c: &mut Check, comps: &[LeverageComponent]) {
    if comps.is_empty() {
        c.fail(
            "leverage",
            "must list at least one component {weight, min, max}",
        );
    }
    for (i, m) in comps.iter().enumerate() {
        if !(m.weight > 0.0 && m.weight.is_finite()) {
            c.fail(
                &format!("leverage[{i}].weight"),
                format!("must be > 0 (got {})", m.weight),
            );
        }
        if !(m.min >= 1.0 && m.min.is_finite()) {
            c.fail(
                &format!("leverage[{i}].min"),
                format!("must be >= 1 (got {})", m.min),
            );
        }
        if !(m.max >= m.min && m.max.is_finite()) {
            c.fail(
                &format!("leverage[{i}].max"),
                format!("must be >= leverage[{i}].min ({} < {})", m.max, m.min),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Component frequencies of a 0.7 / 0.2 / 0.1 mixture over 20,000 draws match the
    /// weights within 4 binomial standard errors, and each draw lies in its component.
    #[test]
    fn mixture_sampling_matches_weights_within_standard_errors() {
        let comps = vec![
            LeverageComponent {
                weight: 7.0,
                min: 2.0,
                max: 4.0,
            },
            LeverageComponent {
                weight: 2.0,
                min: 8.0,
                max: 10.0,
            },
            LeverageComponent {
                weight: 1.0,
                min: 6.0,
                max: 6.0,
            },
        ];
        let lev = Leverage::new(comps.clone());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 20_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            let k = lev.component(rng.random());
            let l = lev.sample(k, rng.random());
            assert!(
                l >= comps[k].min && l <= comps[k].max,
                "{l} outside component {k}"
            );
            counts[k] += 1;
        }
        for (k, w) in [0.7, 0.2, 0.1].iter().enumerate() {
            let f = counts[k] as f64 / n as f64;
            let se = (w * (1.0 - w) / n as f64).sqrt();
            println!(
                "component {k}: {f:.4} vs {w} (se {se:.4}, z {:.2})",
                (f - w) / se
            );
            assert!(
                (f - w).abs() < 4.0 * se,
                "component {k}: {f} vs {w} (se {se})"
            );
        }
    }

    #[test]
    fn one_component_is_the_uniform_range() {
        let lev = Leverage::new(vec![LeverageComponent {
            weight: 1.0,
            min: 2.0,
            max: 5.0,
        }]);
        assert!(!lev.is_mixture());
        assert_eq!(lev.component(0.999), 0);
        assert_eq!(lev.sample(0, 0.25), 2.0 + 0.25 * 3.0);
    }

    #[test]
    fn bad_components_are_named() {
        let mut issues = Vec::new();
        let mut c = Check::new(&mut issues);
        check_mixture(
            &mut c,
            &[LeverageComponent {
                weight: 0.0,
                min: 0.5,
                max: 0.4,
            }],
        );
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            ["leverage[0].weight", "leverage[0].min", "leverage[0].max"]
        );
    }
}
