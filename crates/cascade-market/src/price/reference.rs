//! The reference market: the off-chain market (a CEX) where an asset's price forms.
//!
//! Why it exists: liquidation cascades happen because forced sales move prices through finite
//! liquidity. With a reference market the price every oracle observes, `p_ref`, is the price
//! of a book of finite, time-varying depth that every flow routed to it moves at once, instead
//! of a formula of cumulative forced flow (`impact.rs`).
//!
//! The model is the locally linear latent order book of Donier, Bonart, Mastromatteo and
//! Bouchaud (2015): around the price the latent liquidity density is `rho(x) = L * |x|` in log
//! price `x`, so consuming `Q` base units moves the log price by `sqrt(2 Q / L)` (the
//! square-root law of metaorder impact). The state is the signed volume consumed, `C` (base
//! units; positive when buyers consumed the asks), and
//!
//! `p_ref = p_exo * exp(x(C))`, `x(C) = sign(C) * sqrt(2 |C| / L_eff)`.
//!
//! `p_exo`, the fundamental value (news), moves the whole book. The book refills with
//! resilience: every block `C *= 2^(-dt / resilience_half_life_s)` (consumed liquidity is
//! replaced; Obizhaeva and Wang 2013 use the same exponential resilience). A flow `q` executes
//! along the book, at the average price `p_exo * (G(C + q) - G(C)) / q` with
//! `G(C) = integral_0^C exp(x(c)) dc` in closed form, plus the taker fee, and leaves the
//! state at `C + q`, so it moves `p_ref` immediately.
//!
//! Calibration: a metaorder of `Q` executed faster than the book refills moves the log price
//! by `sqrt(2 Q / L)`; setting this equal to `Y * sigma_d * sqrt(Q / V)` (Toth et al. 2011;
//! `sigma_d` the daily volatility, `V` the daily volume) gives `L = 2 V / (Y sigma_d)^2`.
//! `depth_scale` multiplies it (thin markets below 1).
//!
//! Market makers withdraw: `L_eff = L * depth_scale * m`, where the depth multiplier `m` falls
//! at once to `max(floor, min(1, threshold / rv))` when the realised volatility `rv` (an EWMA
//! of squared log returns of `p_ref`, annualised) passes `vol_threshold_per_year`, and
//! recovers towards that target with the resilience half-life. With `inventory_weight` or
//! `loss_limit`, the target is also at most `1 - inventory_weight * U` and `1 - D`, `U` and `D`
//! the simulated market makers' mean inventory use and loss use ([`MakerStress`]).

use crate::SECONDS_PER_YEAR;
use cascade_core::Check;
use serde::{Deserialize, Serialize};

fn default_y() -> f64 {
    0.7
}
fn default_resilience() -> f64 {
    600.0
}
fn default_taker_fee() -> f64 {
    0.0005
}
fn one_f() -> f64 {
    1.0
}
fn default_vol_half_life() -> f64 {
    600.0
}

/// `withdraw = { ... }` of a reference venue: market makers pull depth as volatility rises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepthWithdrawal {
    /// Annualised realised volatility above which depth falls (e.g. 1.0 = 100%/year).
    pub vol_threshold_per_year: f64,
    /// The lowest depth multiplier, in (0, 1].
    pub floor: f64,
    /// Half-life of the realised-volatility EWMA, seconds (default 600).
    #[serde(default = "default_vol_half_life")]
    pub vol_half_life_s: f64,
    /// Weight of the market makers' inventory use in the depth target, in [0, 1]: the
    /// target is at most `1 - inventory_weight * U`, `U` the makers' mean `|inventory| /
    /// inventory_limit` (capped at 1). Default 0: inventory does not withdraw depth.
    #[serde(default)]
    pub inventory_weight: f64,
    /// Trading loss (whole quote units, per market maker) at which a maker has withdrawn all
    /// its depth: the target is at most `1 - D`, `D` the makers' mean `loss / loss_limit`
    /// (capped at 1). Absent: losses do not withdraw depth.
    #[serde(default)]
    pub loss_limit: Option<f64>,
}

impl DepthWithdrawal {
    /// Whether the rule reads the market makers' state (inventory or losses).
    pub fn uses_makers(&self) -> bool {
        self.inventory_weight > 0.0 || self.loss_limit.is_some()
    }
}

/// The simulated market makers' aggregate state on one asset, each block (the World computes
/// it from their public balances): mean inventory use `U` and mean loss use `D`, in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MakerStress {
    /// Mean over makers of `min(1, |inventory - start| / inventory_limit)` (0 without a limit).
    pub inventory_use: f64,
    /// Mean over makers of `min(1, max(0, -trading P&L) / loss_limit)`.
    pub loss_use: f64,
}

/// `[[venues]] kind = "reference"`: the asset's off-chain reference market (one per asset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceConfig {
    /// The venue's name (unique among venues).
    pub name: String,
    /// The asset's name.
    pub asset: String,
    /// Daily traded volume `V`, whole base units.
    pub daily_volume: f64,
    /// Daily volatility `sigma_d` of the asset (a fraction, e.g. 0.04).
    pub daily_volatility: f64,
    /// The square-root law's prefactor `Y` (default 0.7; 0.5-1.5 across markets).
    #[serde(default = "default_y")]
    pub y_impact: f64,
    /// Half-life of consumed liquidity (and of depth recovery), seconds (default 600).
    #[serde(default = "default_resilience")]
    pub resilience_half_life_s: f64,
    /// Taker fee on every flow, a fraction of the quote leg (default 0.0005).
    #[serde(default = "default_taker_fee")]
    pub taker_fee: f64,
    /// Multiplies the calibrated depth (default 1; below 1 thins the market).
    #[serde(default = "one_f")]
    pub depth_scale: f64,
    /// Market makers' withdrawal rule (absent: depth never falls).
    #[serde(default)]
    pub withdraw: Option<DepthWithdrawal>,
}

impl ReferenceConfig {
    /// Record every broken rule under `c` (the asset name is resolved by the caller).
    pub fn validate(&self, c: &mut Check) {
        c.positive("daily_volume", self.daily_volume);
        c.positive("daily_volatility", self.daily_volatility);
        c.positive("y_impact", self.y_impact);
        c.positive("resilience_half_life_s", self.resilience_half_life_s);
        c.range_open_hi("taker_fee", self.taker_fee, 0.0, 1.0);
        c.positive("depth_scale", self.depth_scale);
        if let Some(w) = &self.withdraw {
            let mut wc = c.at("withdraw");
            wc.positive("vol_threshold_per_year", w.vol_threshold_per_year);
            if wc.finite("floor", w.floor) && !(w.floor > 0.0 && w.floor <= 1.0) {
                wc.fail(
                    "floor",
                    format!(
                        "must be in (0, 1] (got {}): the depth multiplier's lowest value",
                        w.floor
                    ),
                );
            }
            wc.positive("vol_half_life_s", w.vol_half_life_s);
            if wc.finite("inventory_weight", w.inventory_weight)
                && !(0.0..=1.0).contains(&w.inventory_weight)
            {
                wc.fail(
                    "inventory_weight",
                    format!(
                        "must be in [0, 1] (got {}): the share of depth withdrawn when every \
                         market maker is at its inventory limit",
                        w.inventory_weight
                    ),
                );
            }
            if let Some(l) = w.loss_limit {
                wc.positive("loss_limit", l);
            }
        }
        if self.daily_volume > 0.0 && self.daily_volatility > 0.0 && self.y_impact > 0.0 {
            c.ensure(self.depth().is_finite(), "daily_volume", || {
                "gives a non-finite depth 2 V / (Y sigma_d)^2".to_string()
            });
        }
    }

    /// The calibrated latent-liquidity slope `L = depth_scale * 2 V / (Y sigma_d)^2`, base
    /// units per unit of squared log price.
    pub fn depth(&self) -> f64 {
        let ys = self.y_impact * self.daily_volatility;
        self.depth_scale * 2.0 * self.daily_volume / (ys * ys)
    }
}

/// The state of one asset's reference market.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceMarket {
    cfg: ReferenceConfig,
    /// `L` (with `depth_scale`).
    depth: f64,
    /// Signed consumed volume `C`, base units.
    consumed: f64,
    /// Depth multiplier `m` in `[floor, 1]`.
    mult: f64,
    /// EWMA of squared log returns per second.
    var_rate: f64,
    /// `ln p_ref` of the previous step (for realised volatility); NaN before the first.
    last_log_ref: f64,
    /// The market makers' state, set each block before [`Self::advance`].
    makers: MakerStress,
}

impl ReferenceMarket {
    pub fn new(cfg: ReferenceConfig) -> ReferenceMarket {
        ReferenceMarket {
            depth: cfg.depth(),
            cfg,
            consumed: 0.0,
            mult: 1.0,
            var_rate: 0.0,
            last_log_ref: f64::NAN,
            makers: MakerStress::default(),
        }
    }

    /// Record the market makers' aggregate state, read by the next [`Self::advance`] when the
    /// withdrawal rule has `inventory_weight` or `loss_limit`.
    pub fn set_makers(&mut self, s: MakerStress) {
        self.makers = s;
    }

    pub fn config(&self) -> &ReferenceConfig {
        &self.cfg
    }

    /// Effective depth `L_eff = L * m`.
    pub fn depth_eff(&self) -> f64 {
        self.depth * self.mult
    }

    /// The market makers' depth multiplier `m`.
    pub fn depth_multiplier(&self) -> f64 {
        self.mult
    }

    /// Signed consumed volume `C`.
    pub fn consumed(&self) -> f64 {
        self.consumed
    }

    /// The log displacement `x(C)` of the price from the fundamental value.
    pub fn displacement(&self) -> f64 {
        x_of(self.consumed, self.depth_eff())
    }

    /// Start of a block of `dt_s` seconds: the book refills and the depth multiplier follows
    /// realised volatility, given the fundamental value's log return `log_ret_exo` this block.
    pub fn advance(&mut self, dt_s: f64, log_ret_exo: f64) {
        let decay = 0.5f64.powf(dt_s / self.cfg.resilience_half_life_s);
        // The realised return of p_ref over the block, had the book stayed as it was: the
        // news move plus the change of the displacement from the refill.
        let x0 = self.displacement();
        self.consumed *= decay;
        if let Some(w) = &self.cfg.withdraw {
            let r = log_ret_exo + self.displacement() - x0;
            let a = 0.5f64.powf(dt_s / w.vol_half_life_s);
            if dt_s > 0.0 && r.is_finite() {
                self.var_rate = a * self.var_rate + (1.0 - a) * r * r / dt_s;
            }
            let rv = (self.var_rate * SECONDS_PER_YEAR).sqrt();
            let mut target = if rv > w.vol_threshold_per_year {
                (w.vol_threshold_per_year / rv).max(w.floor)
            } else {
                1.0
            };
            if w.uses_makers() {
                // Makers at their inventory limits or loss limits quote less.
                let inv = 1.0 - w.inventory_weight * self.makers.inventory_use.clamp(0.0, 1.0);
                let loss = match w.loss_limit {
                    Some(_) => 1.0 - self.makers.loss_use.clamp(0.0, 1.0),
                    None => 1.0,
                };
                target = target.min(inv).min(loss).max(w.floor);
            }
            if target < self.mult {
                // Quotes are pulled at once.
                self.mult = target;
            } else {
                // And come back with the book's resilience.
                self.mult = target + (self.mult - target) * decay;
            }
        }
    }

    /// The factor `exp(x(C))` by which `p_ref` departs from `p_exo`.
    pub fn factor(&self) -> f64 {
        self.displacement().exp()
    }

    /// Average execution price, relative to `p_exo`, of a flow `q` (base units, buy > 0)
    /// walking the book from its current state, before the fee.
    fn avg_factor(&self, q: f64) -> f64 {
        let l = self.depth_eff();
        let c = self.consumed;
        if !q.is_finite() || q.abs() <= 1e-12 * (c.abs() + l) {
            return x_of(c, l).exp();
        }
        (g_of(c + q, l) - g_of(c, l)) / q
    }

    /// The average price a flow of `q` base units (buy > 0) pays or receives per unit, fee
    /// included, with the fundamental value `p_exo`, without changing the book.
    pub fn quote(&self, p_exo: f64, q: f64) -> f64 {
        let fee = self.cfg.taker_fee;
        let side = if q >= 0.0 { 1.0 + fee } else { 1.0 - fee };
        p_exo * self.avg_factor(q) * side
    }

    /// Execute a flow of `q` base units: returns its average price (as [`Self::quote`]) and
    /// leaves the book at `C + q`.
    pub fn execute(&mut self, p_exo: f64, q: f64) -> f64 {
        let p = self.quote(p_exo, q);
        if q.is_finite() {
            self.consumed += q;
        }
        p
    }
}

/// `x(C) = sign(C) sqrt(2 |C| / L)`.
fn x_of(c: f64, l: f64) -> f64 {
    c.signum() * (2.0 * c.abs() / l).sqrt()
}

/// `G(C) = integral_0^C exp(x(c)) dc`, with `s = sqrt(2 |c| / L)`: `L ((S - 1) e^S + 1)` for
/// `C >= 0` and `-L (1 - (S + 1) e^-S)` for `C < 0`; a series for small `S` (no cancellation).
fn g_of(c: f64, l: f64) -> f64 {
    let s = (2.0 * c.abs() / l).sqrt();
    if c >= 0.0 {
        let v = if s < 1e-3 {
            s * s / 2.0 + s * s * s / 3.0 + s.powi(4) / 8.0
        } else {
            (s - 1.0) * s.exp() + 1.0
        };
        l * v
    } else {
        let v = if s < 1e-3 {
            s * s / 2.0 - s * s * s / 3.0 + s.powi(4) / 8.0
        } else {
            1.0 - (s + 1.0) * (-s).exp()
        };
        -l * v
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cfg() -> ReferenceConfig {
        ReferenceConfig {
            name: "cex".into(),
            asset: "ETH".into(),
            daily_volume: 1_000_000.0,
            daily_volatility: 0.04,
            y_impact: 0.7,
            resilience_half_life_s: 600.0,
            taker_fee: 0.0,
            depth_scale: 1.0,
            withdraw: None,
        }
    }

    #[test]
    fn one_shot_impact_is_the_square_root_law() {
        // Consuming Q at once moves the log price by sqrt(2 Q / L) = Y sigma sqrt(Q / V).
        for q in [10.0, 1_000.0, 100_000.0] {
            let mut m = ReferenceMarket::new(cfg());
            m.execute(100.0, q);
            let want = 0.7 * 0.04 * (q / 1_000_000.0f64).sqrt();
            assert!((m.displacement() - want).abs() < 1e-12 * want.max(1.0));
            let mut s = ReferenceMarket::new(cfg());
            s.execute(100.0, -q);
            assert!((s.displacement() + want).abs() < 1e-12 * want.max(1.0));
        }
    }

    #[test]
    fn average_price_lies_between_start_and_end_and_matches_a_riemann_sum() {
        let mut m = ReferenceMarket::new(cfg());
        m.execute(100.0, -20_000.0);
        let before = 100.0 * m.factor();
        let q = -50_000.0;
        let avg = m.quote(100.0, q);
        // A fine sum of small child orders at the running price.
        let mut r = m.clone();
        let n = 20_000;
        let mut paid = 0.0;
        for _ in 0..n {
            let p = 100.0 * r.factor();
            let dq = q / n as f64;
            paid += p * dq;
            r.consumed += dq;
        }
        let riemann = paid / q;
        assert!((avg / riemann - 1.0).abs() < 1e-4, "{avg} vs {riemann}");
        let after = 100.0 * r.factor();
        assert!(after < avg && avg < before, "{after} < {avg} < {before}");
        // Quoting moves nothing; executing moves to the end price.
        assert_eq!(m.consumed(), -20_000.0);
        let got = m.execute(100.0, q);
        assert_eq!(got, avg);
        assert!((100.0 * m.factor() / after - 1.0).abs() < 1e-12);
    }

    #[test]
    fn small_flows_and_crossing_zero_are_continuous() {
        let m = ReferenceMarket::new(cfg());
        let l = m.depth_eff();
        // G is smooth through 0 and through the series switch.
        for c in [1e-6 * l, 4.9e-7 * l, 5.1e-7 * l] {
            assert!((g_of(c, l) - g_of(c * (1.0 + 1e-9), l)).abs() < 1e-6 * c);
        }
        assert!((m.quote(100.0, 1e-9) - 100.0).abs() < 1e-9);
        let mut b = ReferenceMarket::new(cfg());
        b.execute(100.0, 5_000.0);
        let p = b.quote(100.0, -10_000.0);
        // From +5000 to -5000: symmetric around 0, the average is close to p_exo.
        assert!((p / 100.0 - 1.0).abs() < 1e-3, "{p}");
    }

    #[test]
    fn resilience_halves_consumed_volume() {
        let mut m = ReferenceMarket::new(cfg());
        m.execute(100.0, -8_000.0);
        m.advance(600.0, 0.0);
        assert!((m.consumed() + 4_000.0).abs() < 1e-9);
    }

    #[test]
    fn makers_at_their_limits_lower_the_depth_target() {
        let mut c = cfg();
        c.withdraw = Some(DepthWithdrawal {
            vol_threshold_per_year: 100.0,
            floor: 0.1,
            vol_half_life_s: 600.0,
            inventory_weight: 0.5,
            loss_limit: Some(1.0),
        });
        let mut m = ReferenceMarket::new(c);
        m.advance(12.0, 0.0);
        assert_eq!(m.depth_multiplier(), 1.0);
        m.set_makers(MakerStress {
            inventory_use: 1.0,
            loss_use: 0.2,
        });
        m.advance(12.0, 0.0);
        assert!((m.depth_multiplier() - 0.5).abs() < 1e-12);
        m.set_makers(MakerStress {
            inventory_use: 0.0,
            loss_use: 2.0,
        });
        m.advance(12.0, 0.0);
        assert!((m.depth_multiplier() - 0.1).abs() < 1e-12);
        // Back to calm: the multiplier recovers with the resilience half-life.
        m.set_makers(MakerStress::default());
        m.advance(600.0, 0.0);
        assert!((m.depth_multiplier() - 0.55).abs() < 1e-12);
    }

    #[test]
    fn fee_is_paid_on_both_sides() {
        let mut c = cfg();
        c.taker_fee = 0.001;
        let m = ReferenceMarket::new(c);
        assert!((m.quote(100.0, 1e-12) - 100.1).abs() < 1e-9);
        assert!((m.quote(100.0, -1e-12) - 99.9).abs() < 1e-9);
    }

    #[test]
    fn validation_names_the_keys() {
        let mut c = cfg();
        c.daily_volume = 0.0;
        c.taker_fee = 1.0;
        c.withdraw = Some(DepthWithdrawal {
            vol_threshold_per_year: 1.0,
            floor: 0.0,
            vol_half_life_s: 600.0,
            inventory_weight: 1.5,
            loss_limit: Some(0.0),
        });
        let mut issues = Vec::new();
        c.validate(&mut Check::new(&mut issues).at("venues[2]"));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "venues[2].daily_volume",
                "venues[2].taker_fee",
                "venues[2].withdraw.floor",
                "venues[2].withdraw.inventory_weight",
                "venues[2].withdraw.loss_limit"
            ]
        );
    }
}
