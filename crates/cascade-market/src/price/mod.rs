//! Prices: the exogenous market (`p_exo`) and the reference price that forced flow moves
//! (`p_ref`).
//!
//! Steps 1 and 2 of every block. `p_exo` is what the market would do without the simulated
//! protocol: one process per asset (`process.rs`), their shocks correlated through a Cholesky
//! factor (`cholesky.rs`). `p_ref = p_exo * impact` adds the price impact of liquidation sales
//! (`impact.rs`); it is the price arbitrageurs trade against and oracles observe. With no impact
//! configured, `p_ref == p_exo` bit for bit. An asset with a reference market (`reference.rs`)
//! forms `p_ref` there instead: `p_ref = p_exo * exp(x(C))` of the book's consumed volume, and
//! every flow routed to it ([`PriceModel::execute_flow`], [`PriceModel::add_forced_flow`])
//! executes along the book and moves `p_ref` at once.
//!
//! Random numbers: every block draws exactly one standard normal per asset from the `price`
//! stream, whatever the processes, and jump counts and sizes only from the `price_jumps` stream,
//! so changing one asset's jump settings never changes another asset's path, and the same run
//! index sees the same shocks at every sweep point (common random numbers).

pub mod cholesky;
pub mod hawkes;
pub mod impact;
pub mod process;
pub mod reference;

pub use cholesky::{cholesky, validate_correlation};
pub use impact::{Impact, ImpactConfig};
pub use process::{Process, ProcessConfig, ReplayData, interp_log};
pub use reference::{DepthWithdrawal, MakerStress, ReferenceConfig, ReferenceMarket};

use cascade_core::SimRng;
use rand_distr::{Distribution, StandardNormal};

/// One asset as the price model needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSpec {
    pub name: String,
    /// Initial price (ignored by scripted and replay processes, which start at their path).
    pub initial_price: f64,
    pub process: ProcessConfig,
    pub impact: ImpactConfig,
    /// The asset's reference market, where its price forms (`None`: the reduced-form impact).
    pub reference: Option<ReferenceConfig>,
}

/// Why a price model cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    #[error("asset {asset}: {msg}")]
    Asset { asset: String, msg: String },
    #[error("correlation: {0}")]
    Correlation(String),
}

#[derive(Debug, Clone)]
struct AssetState {
    process: Process,
    impact: Impact,
    reference: Option<ReferenceMarket>,
    p_exo: f64,
    p_ref: f64,
    log_ret_ref: f64,
}

/// Every asset's prices, advanced together.
#[derive(Debug, Clone)]
pub struct PriceModel {
    assets: Vec<AssetState>,
    chol: Option<Vec<Vec<f64>>>,
    z: Vec<f64>,
    e: Vec<f64>,
}

impl PriceModel {
    /// Build the model. `replay[i]` must hold data for every replay asset.
    pub fn new(
        assets: Vec<AssetSpec>,
        correlation: Option<Vec<Vec<f64>>>,
        replay: Vec<Option<ReplayData>>,
    ) -> Result<PriceModel, PriceError> {
        let chol = match correlation {
            Some(m) => {
                if m.len() != assets.len() {
                    return Err(PriceError::Correlation(format!(
                        "must be {n} x {n} (got {} rows)",
                        m.len(),
                        n = assets.len()
                    )));
                }
                Some(cholesky(&m).map_err(PriceError::Correlation)?)
            }
            None => None,
        };
        let mut states = Vec::with_capacity(assets.len());
        for (i, a) in assets.into_iter().enumerate() {
            let data = replay.get(i).and_then(|d| d.as_ref());
            let process = Process::new(&a.process, a.initial_price, data).map_err(|msg| {
                PriceError::Asset {
                    asset: a.name.clone(),
                    msg,
                }
            })?;
            let p = process.price();
            states.push(AssetState {
                process,
                impact: Impact::new(a.impact),
                reference: a.reference.map(ReferenceMarket::new),
                p_exo: p,
                p_ref: p,
                log_ret_ref: 0.0,
            });
        }
        let n = states.len();
        Ok(PriceModel {
            assets: states,
            chol,
            z: vec![0.0; n],
            e: vec![0.0; n],
        })
    }

    pub fn n_assets(&self) -> usize {
        self.assets.len()
    }

    /// Steps 1-2 of a block ending at `t_s`, lasting `dt_s` seconds.
    pub fn step(&mut self, t_s: f64, dt_s: f64, normals: &mut SimRng, jumps: &mut SimRng) {
        for z in self.z.iter_mut() {
            *z = StandardNormal.sample(normals);
        }
        match &self.chol {
            Some(l) => {
                for (i, e) in self.e.iter_mut().enumerate() {
                    *e = l[i][..=i].iter().zip(&self.z).map(|(a, z)| a * z).sum();
                }
            }
            None => self.e.copy_from_slice(&self.z),
        }
        for (i, a) in self.assets.iter_mut().enumerate() {
            let before = a.p_exo;
            a.p_exo = a.process.step(t_s, dt_s, self.e[i], jumps);
            let p = match a.reference.as_mut() {
                Some(r) => {
                    r.advance(dt_s, (a.p_exo / before).ln());
                    a.p_exo * r.factor()
                }
                None => {
                    a.impact.advance(dt_s);
                    a.p_exo * a.impact.factor()
                }
            };
            a.log_ret_ref = (p / a.p_ref).ln();
            a.p_ref = p;
        }
    }

    pub fn p_exo(&self, i: usize) -> f64 {
        self.assets[i].p_exo
    }

    pub fn p_ref(&self, i: usize) -> f64 {
        self.assets[i].p_ref
    }

    pub fn impact_factor(&self, i: usize) -> f64 {
        self.assets[i].impact.factor()
    }

    /// The average price at which a flow of `signed_base` whole base units of asset `i`
    /// (negative: a sale) executes on the market where the price forms, now, without changing
    /// it: what a perp closed at market is settled at. Under the reduced-form impact a flow
    /// moves `p_ref` only from the next block on (`add_forced_flow`), so it executes at `p_ref`;
    /// on a reference market it walks the book (impact and taker fee included).
    pub fn quote_flow(&self, i: usize, signed_base: f64) -> f64 {
        let a = &self.assets[i];
        match &a.reference {
            Some(r) => r.quote(a.p_exo, signed_base),
            None => a.p_ref,
        }
    }

    /// Execute a flow of `signed_base` whole base units of asset `i` (negative: a sale) on the
    /// market where the price forms and return its average price (as [`Self::quote_flow`]).
    /// On a reference market it moves `p_ref` at once. Under the reduced-form impact it
    /// executes at `p_ref` and records nothing (only forced flow moves that price, through
    /// [`Self::add_forced_flow`]), so results there are unchanged.
    pub fn execute_flow(&mut self, i: usize, signed_base: f64) -> f64 {
        let Some(a) = self.assets.get_mut(i) else {
            return f64::NAN;
        };
        match a.reference.as_mut() {
            Some(r) => {
                let p = r.execute(a.p_exo, signed_base);
                a.p_ref = a.p_exo * r.factor();
                p
            }
            None => a.p_ref,
        }
    }

    /// Whether asset `i`'s price forms on a reference market.
    pub fn has_reference(&self, i: usize) -> bool {
        self.assets.get(i).is_some_and(|a| a.reference.is_some())
    }

    /// Asset `i`'s reference market, when it has one.
    pub fn reference(&self, i: usize) -> Option<&ReferenceMarket> {
        self.assets.get(i).and_then(|a| a.reference.as_ref())
    }

    /// Whether asset `i`'s reference market withdraws depth on its market makers' inventory
    /// or losses (its `withdraw` rule has `inventory_weight` or `loss_limit`).
    pub fn depth_reads_makers(&self, i: usize) -> bool {
        self.reference(i)
            .and_then(|r| r.config().withdraw.as_ref())
            .is_some_and(|w| w.uses_makers())
    }

    /// Record asset `i`'s market makers' aggregate state for its reference market's next
    /// step (nothing without a reference market).
    pub fn set_maker_stress(&mut self, i: usize, s: MakerStress) {
        if let Some(r) = self.assets.get_mut(i).and_then(|a| a.reference.as_mut()) {
            r.set_makers(s);
        }
    }

    /// Cumulative forced flow of asset `i` (whole base units, sold < 0).
    pub fn forced_flow(&self, i: usize) -> f64 {
        self.assets[i].impact.flow()
    }

    /// `ln(p_ref now / p_ref one block earlier)`; 0 before the first step.
    pub fn log_return_ref(&self, i: usize) -> f64 {
        self.assets[i].log_ret_ref
    }

    /// Record forced flow of asset `i` (whole base units, negative when sold). Under the
    /// reduced-form impact it moves `p_ref` from the next block on; on a reference market it
    /// executes along the book at once ([`Self::execute_flow`]).
    pub fn add_forced_flow(&mut self, i: usize, signed_base: f64) {
        if self.has_reference(i) {
            self.execute_flow(i, signed_base);
        } else if let Some(a) = self.assets.get_mut(i) {
            a.impact.add_flow(signed_base);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SECONDS_PER_YEAR;
    use cascade_core::rng::{run_seed, stream};

    fn spec(process: ProcessConfig) -> AssetSpec {
        AssetSpec {
            name: "A".into(),
            initial_price: 100.0,
            process,
            impact: ImpactConfig::None,
            reference: None,
        }
    }

    fn rngs(seed: u64) -> (SimRng, SimRng) {
        let s = run_seed(seed, 0);
        (stream(s, "price", 0), stream(s, "price_jumps", 0))
    }

    /// Log returns of asset 0 over `n` blocks of `dt_s`.
    fn returns(model: &mut PriceModel, n: usize, dt_s: f64, seed: u64) -> Vec<f64> {
        let (mut a, mut b) = rngs(seed);
        let mut out = Vec::with_capacity(n);
        let mut prev = model.p_exo(0).ln();
        for k in 1..=n {
            model.step(k as f64 * dt_s, dt_s, &mut a, &mut b);
            let l = model.p_exo(0).ln();
            out.push(l - prev);
            prev = l;
        }
        out
    }

    fn mean_var(x: &[f64]) -> (f64, f64) {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
        (m, v)
    }

    #[test]
    fn gbm_log_returns_have_the_configured_mean_and_variance() {
        let (mu, sigma, dt_s) = (0.3, 0.8, 12.0);
        let mut m = PriceModel::new(
            vec![spec(ProcessConfig::Gbm { mu, sigma })],
            None,
            vec![None],
        )
        .unwrap();
        let n = 200_000;
        let r = returns(&mut m, n, dt_s, 1);
        let dt = dt_s / SECONDS_PER_YEAR;
        let (mean, var) = mean_var(&r);
        let want_mean = (mu - 0.5 * sigma * sigma) * dt;
        let want_var = sigma * sigma * dt;
        let se_mean = (want_var / n as f64).sqrt();
        let se_var = want_var * (2.0 / (n as f64 - 1.0)).sqrt();
        assert!(
            (mean - want_mean).abs() < 4.0 * se_mean,
            "mean {mean} vs {want_mean} (se {se_mean})"
        );
        assert!(
            (var - want_var).abs() < 4.0 * se_var,
            "var {var} vs {want_var} (se {se_var})"
        );
    }

    #[test]
    fn jump_diffusion_moments() {
        let (mu, sigma, lambda, jm, js, dt_s) = (0.0, 0.5, 2_000.0, -0.01, 0.02, 60.0);
        let mut m = PriceModel::new(
            vec![spec(ProcessConfig::JumpDiffusion {
                mu,
                sigma,
                lambda,
                jump_mean: jm,
                jump_std: js,
            })],
            None,
            vec![None],
        )
        .unwrap();
        let n = 200_000;
        let r = returns(&mut m, n, dt_s, 2);
        let dt = dt_s / SECONDS_PER_YEAR;
        let kbar = (jm + 0.5 * js * js).exp() - 1.0;
        let want_mean = (mu - lambda * kbar - 0.5 * sigma * sigma) * dt + lambda * dt * jm;
        let want_var = sigma * sigma * dt + lambda * dt * (jm * jm + js * js);
        let (mean, var) = mean_var(&r);
        // SE of the mean from the variance; SE of the variance from the fourth moment of a
        // compound Poisson sum (excess kurtosis makes it wider than the normal formula): we use
        // the sample fourth central moment, SE = sqrt((m4 - var^2) / n).
        let m4 = r.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64;
        let se_mean = (want_var / n as f64).sqrt();
        let se_var = ((m4 - var * var) / n as f64).sqrt();
        assert!(
            (mean - want_mean).abs() < 4.0 * se_mean,
            "mean {mean} vs {want_mean}"
        );
        assert!(
            (var - want_var).abs() < 4.0 * se_var,
            "var {var} vs {want_var} (se {se_var})"
        );
    }

    /// `hawkes_jump_diffusion`: the mean log return per block is `(mu - sigma^2/2) dt + (jm -
    /// kbar) lambda_bar dt` with `lambda_bar = lambda0 / (1 - alpha/beta)` (the compensator
    /// uses the integrated intensity, whose mean is `lambda_bar dt`), so `E[S_t] = S_0 e^{mu
    /// t}`. Tolerance 4 se, the se of a clustered sum: `Var(N) = lambda_bar T / (1 - n)^2`.
    #[test]
    fn hawkes_jump_diffusion_mean_return() {
        let (mu, sigma, dt_s) = (0.0, 0.5, 600.0);
        let (lambda0, alpha, beta, jm, js) = (1_000.0, 6_000.0, 12_000.0, -0.05, 0.02);
        let mut m = PriceModel::new(
            vec![spec(ProcessConfig::HawkesJumpDiffusion {
                mu,
                sigma,
                lambda0,
                alpha,
                beta,
                jump_mean: jm,
                jump_std: js,
            })],
            None,
            vec![None],
        )
        .unwrap();
        let n = 200_000;
        let r = returns(&mut m, n, dt_s, 4);
        let dt = dt_s / SECONDS_PER_YEAR;
        let branching = alpha / beta;
        let lambda_bar = lambda0 / (1.0 - branching);
        let kbar = (jm + 0.5 * js * js).exp() - 1.0;
        let want = (mu - 0.5 * sigma * sigma) * dt + (jm - kbar) * lambda_bar * dt;
        let t = n as f64 * dt;
        let var_sum =
            sigma * sigma * t + lambda_bar * t * (jm * jm / (1.0 - branching).powi(2) + js * js);
        let se = var_sum.sqrt() / n as f64;
        let (mean, _) = mean_var(&r);
        println!("mean {mean:.3e} vs {want:.3e} (se {se:.1e})");
        assert!(
            (mean - want).abs() < 4.0 * se,
            "mean {mean} vs {want} (se {se})"
        );
    }

    #[test]
    fn garch_long_run_variance_and_clustering() {
        // omega annualized 0.2 with alpha + beta = 0.9: long-run annualized variance 2.0.
        let (omega, alpha, beta, dt_s) = (0.2, 0.1, 0.8, 60.0);
        let mut m = PriceModel::new(
            vec![spec(ProcessConfig::Garch11 {
                mu: 0.0,
                omega,
                alpha,
                beta,
            })],
            None,
            vec![None],
        )
        .unwrap();
        let n = 400_000;
        let r = returns(&mut m, n, dt_s, 3);
        let dt = dt_s / SECONDS_PER_YEAR;
        let long_run = omega * dt / (1.0 - alpha - beta);
        let (_, var) = mean_var(&r);
        // With persistence 0.9 the sample variance converges slowly (its standard error is a
        // few times the i.i.d. one); 5% on 400k blocks is several such errors but still
        // catches a wrong omega scaling (which would be off by orders of magnitude) or a wrong
        // persistence (alpha + beta = 0.95 would double it).
        assert!(
            (var / long_run - 1.0).abs() < 0.05,
            "var {var} vs {long_run}"
        );
        // Clustering: squared returns are positively autocorrelated at lag 1.
        let sq: Vec<f64> = r.iter().map(|x| x * x).collect();
        let (ms, vs) = mean_var(&sq);
        let c1 = sq
            .windows(2)
            .map(|w| (w[0] - ms) * (w[1] - ms))
            .sum::<f64>()
            / (n as f64 - 1.0)
            / vs;
        // GARCH(1,1) lag-1 autocorrelation of squares is about alpha + small terms (> 0.1 here);
        // an i.i.d. process gives 0 +- 4/sqrt(n) = 0.006.
        assert!(c1 > 0.05, "lag-1 autocorrelation of squares {c1}");
    }

    #[test]
    fn correlated_assets() {
        let rho = 0.7;
        let mut m = PriceModel::new(
            vec![
                spec(ProcessConfig::Gbm {
                    mu: 0.0,
                    sigma: 0.5,
                }),
                spec(ProcessConfig::Gbm {
                    mu: 0.0,
                    sigma: 0.9,
                }),
            ],
            Some(vec![vec![1.0, rho], vec![rho, 1.0]]),
            vec![None, None],
        )
        .unwrap();
        let (mut a, mut b) = rngs(4);
        let n = 100_000;
        let (mut x, mut y) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut px, mut py) = (m.p_exo(0).ln(), m.p_exo(1).ln());
        for k in 1..=n {
            m.step(k as f64 * 12.0, 12.0, &mut a, &mut b);
            x.push(m.p_exo(0).ln() - px);
            y.push(m.p_exo(1).ln() - py);
            px = m.p_exo(0).ln();
            py = m.p_exo(1).ln();
        }
        let (mx, vx) = mean_var(&x);
        let (my, vy) = mean_var(&y);
        let c = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - mx) * (b - my))
            .sum::<f64>()
            / (n as f64 - 1.0);
        let r = c / (vx * vy).sqrt();
        let se = (1.0 - rho * rho) / (n as f64).sqrt();
        assert!((r - rho).abs() < 4.0 * se, "corr {r} vs {rho} (se {se})");
    }

    #[test]
    fn scripted_hits_points_and_interpolates_geometrically() {
        let pts = vec![[0.0, 100.0], [120.0, 50.0], [240.0, 200.0]];
        let mut m = PriceModel::new(
            vec![spec(ProcessConfig::Scripted {
                points: pts,
                noise_sigma: 0.0,
            })],
            None,
            vec![None],
        )
        .unwrap();
        assert_eq!(m.p_exo(0), 100.0);
        let (mut a, mut b) = rngs(5);
        let mut at = Vec::new();
        for k in 1..=30 {
            m.step(k as f64 * 12.0, 12.0, &mut a, &mut b);
            at.push(m.p_exo(0));
        }
        assert!((at[9] - 50.0).abs() < 1e-9, "t=120: {}", at[9]);
        assert!((at[19] - 200.0).abs() < 1e-9);
        // Midpoint of [0,120]: geometric mean sqrt(100 * 50).
        assert!((at[4] - (100.0f64 * 50.0).sqrt()).abs() < 1e-9);
        assert!((at[29] - 200.0).abs() < 1e-9, "held after the last point");
    }

    #[test]
    fn scripted_noise_is_unbiased() {
        // E[S_t] = path(t): average over many independent runs at t = 1 day.
        let pts = vec![[0.0, 100.0], [86_400.0, 60.0]];
        let runs = 4_000;
        let mut sum = 0.0;
        let mut sumsq = 0.0;
        for s in 0..runs {
            let mut m = PriceModel::new(
                vec![spec(ProcessConfig::Scripted {
                    points: pts.clone(),
                    noise_sigma: 1.0,
                })],
                None,
                vec![None],
            )
            .unwrap();
            let (mut a, mut b) = rngs(1000 + s);
            for k in 1..=240 {
                m.step(k as f64 * 360.0, 360.0, &mut a, &mut b);
            }
            let x = m.p_exo(0) / 60.0;
            sum += x;
            sumsq += x * x;
        }
        let mean = sum / runs as f64;
        let sd = (sumsq / runs as f64 - mean * mean).sqrt();
        assert!(
            (mean - 1.0).abs() < 4.0 * sd / (runs as f64).sqrt(),
            "mean ratio {mean}"
        );
    }

    #[test]
    fn replay_interpolates_and_validates() {
        let d = ReplayData {
            t_s: vec![0.0, 60.0, 120.0],
            price: vec![100.0, 400.0, 100.0],
        };
        d.validate().unwrap();
        assert_eq!(d.at(-5.0), 100.0);
        assert!((d.at(30.0) - 200.0).abs() < 1e-9);
        assert_eq!(d.at(500.0), 100.0);
        let bad = ReplayData {
            t_s: vec![0.0, 60.0, 60.0],
            price: vec![1.0, 2.0, 3.0],
        };
        assert!(bad.validate().unwrap_err().contains("data row 3"));
        let bad = ReplayData {
            t_s: vec![0.0, 60.0],
            price: vec![1.0, -2.0],
        };
        assert!(bad.validate().unwrap_err().contains("data row 2: price"));
        assert!(ReplayData::default().validate().is_err());
        let mut m = PriceModel::new(
            vec![spec(ProcessConfig::Replay {
                path: "x.csv".into(),
                column: "p".into(),
                time_column: "t_s".into(),
            })],
            None,
            vec![Some(d)],
        )
        .unwrap();
        let (mut a, mut b) = rngs(6);
        m.step(30.0, 30.0, &mut a, &mut b);
        assert!((m.p_exo(0) - 200.0).abs() < 1e-9);
        assert!(
            PriceModel::new(
                vec![spec(ProcessConfig::Replay {
                    path: "x.csv".into(),
                    column: "p".into(),
                    time_column: "t_s".into(),
                })],
                None,
                vec![None],
            )
            .is_err()
        );
    }

    #[test]
    fn impact_moves_p_ref_from_the_next_block() {
        let mut s = spec(ProcessConfig::Gbm {
            mu: 0.0,
            sigma: 0.0,
        });
        s.impact = ImpactConfig::Linear {
            kappa: 0.5,
            depth: 100.0,
            half_life_s: None,
        };
        let mut m = PriceModel::new(vec![s], None, vec![None]).unwrap();
        let (mut a, mut b) = rngs(7);
        m.step(12.0, 12.0, &mut a, &mut b);
        assert_eq!(m.p_ref(0), 100.0);
        m.add_forced_flow(0, -10.0);
        assert_eq!(m.p_ref(0), 100.0);
        m.step(24.0, 12.0, &mut a, &mut b);
        assert!((m.p_ref(0) - 100.0 * (-0.05f64).exp()).abs() < 1e-12);
        assert_eq!(m.p_exo(0), 100.0);
        assert!((m.log_return_ref(0) + 0.05).abs() < 1e-12);
    }

    #[test]
    fn reference_market_moves_p_ref_within_the_block() {
        let mut s = spec(ProcessConfig::Gbm {
            mu: 0.0,
            sigma: 0.0,
        });
        s.reference = Some(ReferenceConfig {
            asset: "A".into(),
            ..reference::tests::cfg()
        });
        let mut m = PriceModel::new(vec![s], None, vec![None]).unwrap();
        let (mut a, mut b) = rngs(10);
        m.step(12.0, 12.0, &mut a, &mut b);
        assert_eq!(m.p_ref(0), 100.0);
        // Quoting moves nothing; the quote is what executing pays.
        let q = m.quote_flow(0, -10_000.0);
        assert!(q < 100.0);
        assert_eq!(m.p_ref(0), 100.0);
        // A forced sale moves p_ref at once, by Y sigma sqrt(Q / V) in log.
        m.add_forced_flow(0, -10_000.0);
        let want = -0.7 * 0.04 * 0.1f64;
        assert!(((m.p_ref(0) / 100.0).ln() - want).abs() < 1e-12);
        assert!(m.p_ref(0) < q, "the average lies above the end price");
        assert_eq!(m.execute_flow(0, 0.0), m.p_ref(0));
        // The book refills: after one half-life the consumed volume has halved.
        m.step(612.0, 600.0, &mut a, &mut b);
        assert!(((m.p_ref(0) / 100.0).ln() - want / 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.p_exo(0), 100.0);
    }

    #[test]
    fn no_impact_means_identical_prices() {
        let mut m = PriceModel::new(
            vec![spec(ProcessConfig::Gbm {
                mu: 0.1,
                sigma: 0.7,
            })],
            None,
            vec![None],
        )
        .unwrap();
        let (mut a, mut b) = rngs(8);
        for k in 1..100 {
            m.add_forced_flow(0, -5.0);
            m.step(k as f64 * 12.0, 12.0, &mut a, &mut b);
            assert_eq!(m.p_ref(0).to_bits(), m.p_exo(0).to_bits());
        }
    }

    #[test]
    fn common_random_numbers_across_jump_settings() {
        let build = |lambda: f64| {
            PriceModel::new(
                vec![
                    spec(ProcessConfig::Gbm {
                        mu: 0.0,
                        sigma: 0.6,
                    }),
                    spec(ProcessConfig::JumpDiffusion {
                        mu: 0.0,
                        sigma: 0.6,
                        lambda,
                        jump_mean: -0.02,
                        jump_std: 0.03,
                    }),
                ],
                None,
                vec![None, None],
            )
            .unwrap()
        };
        let path = |lambda: f64| {
            let mut m = build(lambda);
            let (mut a, mut b) = rngs(9);
            (1..500)
                .map(|k| {
                    m.step(k as f64 * 12.0, 12.0, &mut a, &mut b);
                    (m.p_exo(0).to_bits(), m.p_exo(1).to_bits())
                })
                .collect::<Vec<_>>()
        };
        let (x, y) = (path(10.0), path(5_000.0));
        assert!(
            x.iter().zip(&y).all(|(a, b)| a.0 == b.0),
            "asset 0 unchanged"
        );
        assert!(x.iter().zip(&y).any(|(a, b)| a.1 != b.1), "asset 1 differs");
        assert_eq!(path(10.0), x, "deterministic");
    }
}
