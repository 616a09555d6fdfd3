//! Self-exciting jumps: a Hawkes intensity for the `hawkes_jump_diffusion` price process, so
//! that one crash jump makes the next more likely (crashes cluster) and a crash's frequency
//! and size are a probability over market states rather than one scripted path.
//!
//! The jump intensity (per year) is `lambda_t = lambda0 + sum_i alpha e^{-beta (t - t_i)}`
//! over past jumps `t_i` (Hawkes 1971; as a model of jump contagion in asset prices,
//! Ait-Sahalia, Cacho-Diaz and Laeven 2015). `alpha / beta` is the branching ratio, the
//! expected number of jumps each jump triggers; it must be below 1 for a stationary process,
//! whose mean intensity is then `lambda0 / (1 - alpha / beta)`. The excitation starts at its
//! stationary mean (`lambda_0 = lambda0 / (1 - alpha / beta)` at t = 0), so the expected
//! intensity is that mean at every time.
//!
//! Simulation is exact whatever the block length (Ogata's thinning): between jumps the
//! intensity only decays, so its current value bounds it until the next candidate; a
//! candidate `Exp(lambda_bar)` later is accepted with probability `lambda / lambda_bar`. The
//! block's integrated intensity `Lambda = int lambda_t dt` (for the drift's compensator) is
//! exact too. Draws come from the caller's `price_jumps` stream: one exponential per
//! candidate plus one uniform per candidate inside the block; the caller then draws one normal
//! per accepted jump. Only assets of this kind draw them.

use cascade_core::{Check, SimRng};
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

/// The rules of `lambda0`, `alpha`, `beta` (per year): non-negative, `beta > 0`, and
/// stationarity, `alpha / beta < 1`.
pub fn validate_hawkes(c: &mut Check, lambda0: f64, alpha: f64, beta: f64) {
    c.non_negative("lambda0", lambda0);
    c.non_negative("alpha", alpha);
    c.positive("beta", beta);
    if alpha.is_finite() && beta.is_finite() && beta > 0.0 && alpha / beta >= 1.0 {
        c.fail(
            "alpha",
            format!(
                "alpha / beta (the branching ratio: jumps each jump triggers) must be < 1 for a \
                 stationary intensity (got {alpha} / {beta} = {})",
                alpha / beta
            ),
        );
    }
    // Each candidate jump is a draw in the block's loop: bound the work a block can take, as
    // `jump_diffusion`'s `lambda` is bounded.
    let cap = super::process::MAX_JUMPS_PER_YEAR;
    if alpha > cap {
        c.fail(
            "alpha",
            format!("must be at most {cap:e} a year (the intensity one jump adds; got {alpha})"),
        );
    }
    if alpha.is_finite() && beta > 0.0 && alpha / beta < 1.0 {
        let mean = lambda0 / (1.0 - alpha / beta);
        if mean > cap {
            c.fail(
                "lambda0",
                format!(
                    "the mean intensity lambda0 / (1 - alpha / beta) must be at most {cap:e} \
                     jumps a year (got {mean})"
                ),
            );
        }
    }
}

/// The Hawkes intensity of one asset's jumps; rates per year.
#[derive(Debug, Clone, PartialEq)]
pub struct Hawkes {
    lambda0: f64,
    alpha: f64,
    beta: f64,
    /// `lambda_t - lambda0`, per year.
    excess: f64,
}

impl Hawkes {
    /// Baseline `lambda0`, jump `alpha` and decay `beta` (all per year; `alpha < beta`),
    /// started at the stationary mean intensity.
    pub fn new(lambda0: f64, alpha: f64, beta: f64) -> Hawkes {
        let n = alpha / beta;
        Hawkes {
            lambda0,
            alpha,
            beta,
            excess: lambda0 * n / (1.0 - n),
        }
    }

    /// The stationary mean intensity `lambda0 / (1 - alpha / beta)`, per year.
    pub fn mean_intensity(&self) -> f64 {
        self.lambda0 / (1.0 - self.alpha / self.beta)
    }

    /// The current intensity, per year.
    pub fn intensity(&self) -> f64 {
        self.lambda0 + self.excess
    }

    /// Decay the excitation over `w` years; returns the integral of the intensity over them.
    fn decay(&mut self, w: f64) -> f64 {
        let d = (-self.beta * w).exp();
        let integral = self.lambda0 * w + self.excess * (1.0 - d) / self.beta;
        self.excess *= d;
        integral
    }

    /// Advance over a block of `dt` years: returns the number of jumps in it and the integral
    /// of the intensity over it (years times jumps per year: an expected count).
    pub fn step(&mut self, dt: f64, rng: &mut SimRng) -> (u32, f64) {
        let (mut s, mut integral, mut n) = (0.0, 0.0, 0u32);
        loop {
            let bound = self.intensity();
            if bound.is_nan() || bound <= 0.0 {
                return (n, integral + self.decay(dt - s));
            }
            let e: f64 = Exp1.sample(rng);
            let w = e / bound;
            if s + w >= dt {
                return (n, integral + self.decay(dt - s));
            }
            integral += self.decay(w);
            s += w;
            let u: f64 = rng.random();
            if u * bound < self.intensity() {
                n += 1;
                self.excess += self.alpha;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The mean intensity is `lambda0 / (1 - alpha/beta)`: with `lambda0 = 20`, `alpha =
    /// 3000`, `beta = 6000` per year (branching ratio 1/2, excitation half-life 1 hour), 40
    /// jumps per year, counted over 1,000 simulated years at two block lengths (1 hour and 1
    /// day; the simulation is exact for any). A Hawkes count over a horizon much longer than
    /// `1/beta` has variance `mean T / (1 - n)^2`, so the standard error is
    /// `sqrt(40,000) / (1 - 1/2) = 400`; tolerance 4 se. The integrated intensity has the same mean. Clustering:
    /// the counts of one-year windows are over-dispersed, variance / mean about
    /// `1 / (1 - n)^2 = 4` (a Poisson process gives 1); checked above 2.5.
    #[test]
    fn mean_intensity_matches_the_closed_form_and_jumps_cluster() {
        let (lambda0, alpha, beta) = (20.0, 3000.0, 6000.0);
        let years = 1000.0;
        for (label, dt, seed) in [("hour", 1.0f64 / 8760.0, 1u64), ("day", 1.0 / 365.0, 2)] {
            let mut h = Hawkes::new(lambda0, alpha, beta);
            let mut rng = SimRng::seed_from_u64(seed);
            let steps_per_year = (1.0 / dt).round() as usize;
            let (mut total, mut integral) = (0.0, 0.0);
            let mut windows = Vec::new();
            for _ in 0..years as usize {
                let mut w = 0.0;
                for _ in 0..steps_per_year {
                    let (k, l) = h.step(dt, &mut rng);
                    w += k as f64;
                    integral += l;
                }
                total += w;
                windows.push(w);
            }
            let expected = h.mean_intensity() * years;
            let se = expected.sqrt() / (1.0 - alpha / beta);
            let z = (total - expected) / se;
            let zi = (integral - expected) / se;
            let m = total / years;
            let var = windows.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (years - 1.0);
            println!(
                "{label} blocks: {total} jumps, expected {expected} +- {se} (z {z:.2}); \
                 integrated intensity {integral:.0} (z {zi:.2}); dispersion {:.2}",
                var / m
            );
            assert!(z.abs() < 4.0, "{label}: {total} vs {expected} +- {se}");
            assert!(
                zi.abs() < 4.0,
                "{label}: integral {integral} vs {expected} +- {se}"
            );
            assert!(var / m > 2.5, "{label}: dispersion {}", var / m);
        }
    }

    /// An explosive intensity (`alpha >= beta`) is rejected naming `alpha` and the rule.
    #[test]
    fn branching_ratio_must_be_below_one() {
        let mut issues = Vec::new();
        let mut c = Check::new(&mut issues);
        validate_hawkes(&mut c.at("assets[0].process"), 10.0, 6000.0, 6000.0);
        validate_hawkes(&mut c.at("assets[1].process"), 10.0, 3000.0, 6000.0);
        assert_eq!(issues.len(), 1, "{issues:?}");
        let s = format!("{:?}", issues[0]);
        assert!(
            s.contains("assets[0].process.alpha") && s.contains("< 1"),
            "{s}"
        );
    }

    /// Without excitation it is a Poisson process: 1,000 per year over 100 years counted
    /// within 4 se (`sqrt(100,000)`), and the integral is exactly `lambda0 T`.
    #[test]
    fn without_excitation_it_is_poisson() {
        let mut h = Hawkes::new(1000.0, 0.0, 1.0);
        let mut rng = SimRng::seed_from_u64(5);
        let (mut n, mut integral) = (0.0, 0.0);
        for _ in 0..100 * 365 {
            let (k, l) = h.step(1.0 / 365.0, &mut rng);
            n += k as f64;
            integral += l;
        }
        let expected: f64 = 100_000.0;
        assert!((n - expected).abs() < 4.0 * expected.sqrt(), "{n}");
        assert!((integral - expected).abs() < 1e-6, "{integral}");
    }
}
