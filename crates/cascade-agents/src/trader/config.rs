//! `[[agents]] kind = "trader"`: the keys, their defaults and their rules, and the checks the
//! populations that hold leveraged positions share (the option traders use them too).

use super::dist::{LeverageComponent, Range, check_mixture};
use cascade_core::Check;
use cascade_core::clock::{check_delay, check_rate, legacy_delay, legacy_rate, rate_from_prob};
use serde::{Deserialize, Serialize};

fn one() -> u32 {
    1
}
fn d_capital() -> f64 {
    50_000.0
}
fn d_inventory() -> f64 {
    20.0
}
/// 0.05 per 12 s block.
fn d_open() -> f64 {
    rate_from_prob(0.05, 12.0)
}
fn d_size() -> f64 {
    20_000.0
}
fn d_sigma() -> f64 {
    0.5
}
fn d_half() -> f64 {
    0.5
}
/// 0.002 per 12 s block.
fn d_close() -> f64 {
    rate_from_prob(0.002, 12.0)
}
fn d_topup_threshold() -> f64 {
    0.02
}
fn d_topup_fraction() -> f64 {
    0.1
}
fn d_tip() -> f64 {
    1.0
}
fn d_cooldown() -> f64 {
    3_600.0
}
fn d_vol_ref() -> f64 {
    0.8
}
fn d_vol_half_life() -> f64 {
    1_800.0
}
fn d_entry_vol_k() -> f64 {
    1.0
}
fn d_entry_drawdown_k() -> f64 {
    10.0
}
fn d_drawdown_window() -> f64 {
    14_400.0
}
fn d_max_entry_cost() -> f64 {
    0.005
}
fn d_horizon() -> f64 {
    3_600.0
}
fn d_delever_threshold() -> Range {
    Range {
        min: 0.03,
        max: 0.08,
    }
}
fn d_delever_fraction() -> f64 {
    0.5
}
fn d_delever_rate() -> f64 {
    2.0
}
fn d_stop_distance() -> Range {
    Range {
        min: 0.05,
        max: 0.15,
    }
}

/// How a trader population decides (`habits`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Habits {
    /// Every decision priced at gas and slippage: the entry brake and cooldown, the entry
    /// cost limit, deleveraging, stop-losses, top-ups only when worth their gas.
    #[default]
    Economic,
    /// The legacy trader: opens at `open_per_hour` whatever the market, tops up whatever it
    /// costs, never deleverages or stops out (the keys of the economic habits are ignored).
    Mechanical,
}

/// Leverage bounds when neither `leverage` nor `leverage_min`/`leverage_max` is given.
pub const DEFAULT_LEVERAGE: (f64, f64) = (2.0, 5.0);

/// `[[agents]] kind = "trader"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraderConfig {
    #[serde(default = "one")]
    pub count: u32,
    /// Quote per trader at genesis.
    #[serde(default = "d_capital")]
    pub capital: f64,
    /// Whole units of the asset per trader at genesis (borrowers' collateral).
    #[serde(default = "d_inventory")]
    pub inventory: f64,
    /// The asset traded (default: the first).
    #[serde(default)]
    pub asset: Option<String>,
    /// Openings per hour while without a position, in a calm market (default: 15.39, 0.05
    /// per 12 s block).
    #[serde(default = "d_open")]
    pub open_per_hour: f64,
    /// Mean notional of a position, quote.
    #[serde(default = "d_size")]
    pub size_mean: f64,
    #[serde(default = "d_sigma")]
    pub size_sigma: f64,
    /// Uniform leverage range (default 2 to 5); the one-component case of `leverage`.
    #[serde(default)]
    pub leverage_min: Option<f64>,
    #[serde(default)]
    pub leverage_max: Option<f64>,
    /// Leverage as a mixture of uniform components `[{weight, min, max}, ...]`.
    #[serde(default)]
    pub leverage: Option<Vec<LeverageComponent>>,
    /// Share of positions that are perps (the rest borrow against collateral).
    #[serde(default = "d_half")]
    pub perp_share: f64,
    /// Probability that a perp is long.
    #[serde(default = "d_half")]
    pub long_prob: f64,
    /// Closings per hour while holding a position (default: 0.6006, 0.002 per 12 s block).
    #[serde(default = "d_close")]
    pub close_per_hour: f64,
    /// Top-ups per hour while health is low (default 0).
    #[serde(default)]
    pub topup_per_hour: f64,
    /// Seconds between first noticing low health and the first possible top-up.
    #[serde(default)]
    pub topup_delay_s: f64,
    #[serde(default = "d_topup_threshold")]
    pub topup_threshold: f64,
    #[serde(default = "d_topup_fraction")]
    pub topup_fraction: f64,
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
    /// `economic` (default) or `mechanical` (the legacy trader).
    #[serde(default)]
    pub habits: Habits,
    /// Seconds after being liquidated before a trader opens again (default 3600).
    #[serde(default = "d_cooldown")]
    pub reentry_cooldown_s: f64,
    /// The annualized volatility a trader takes as normal: entry slows above it, and risk
    /// estimates never assume less (default 0.8).
    #[serde(default = "d_vol_ref")]
    pub vol_ref: f64,
    /// Half-life of the realized-variance EWMA, seconds (default 1800).
    #[serde(default = "d_vol_half_life")]
    pub vol_half_life_s: f64,
    /// Entry-rate sensitivity to volatility above `vol_ref` (default 1).
    #[serde(default = "d_entry_vol_k")]
    pub entry_vol_k: f64,
    /// Entry-rate sensitivity to the drawdown (default 10: a 10% drawdown divides entry by e).
    #[serde(default = "d_entry_drawdown_k")]
    pub entry_drawdown_k: f64,
    /// Window of the drawdown's peak, seconds (default 14,400).
    #[serde(default = "d_drawdown_window")]
    pub drawdown_window_s: f64,
    /// Largest entry cost (gas plus slippage) a trader accepts, a fraction of the notional
    /// (default 0.005).
    #[serde(default = "d_max_entry_cost")]
    pub max_entry_cost: f64,
    /// Horizon of the liquidation chance a trader weighs, seconds (default 3600).
    #[serde(default = "d_horizon")]
    pub risk_horizon_s: f64,
    /// Range of the personal deleveraging threshold, maintenance health over exposure
    /// (default {min = 0.03, max = 0.08}).
    #[serde(default = "d_delever_threshold")]
    pub delever_threshold: Range,
    /// Fraction of the position a deleverage closes (default 0.5; 0 turns it off).
    #[serde(default = "d_delever_fraction")]
    pub delever_fraction: f64,
    /// Deleverage decisions per hour while below the threshold: the trader's attention (default
    /// 2, a look every 30 minutes on average).
    #[serde(default = "d_delever_rate")]
    pub delever_per_hour: f64,
    /// Share of traders who place a stop-loss with each position (default 0.5).
    #[serde(default = "d_half")]
    pub stop_share: f64,
    /// Range of the personal stop distance, a fraction of the entry price (default {min =
    /// 0.05, max = 0.15}).
    #[serde(default = "d_stop_distance")]
    pub stop_distance: Range,
    /// Replaced per-block keys, present only to be rejected with their conversion.
    #[serde(default, skip_serializing)]
    pub open_prob: Option<f64>,
    #[serde(default, skip_serializing)]
    pub close_prob: Option<f64>,
    #[serde(default, skip_serializing)]
    pub topup_prob: Option<f64>,
    #[serde(default, skip_serializing)]
    pub topup_delay_blocks: Option<f64>,
}

impl TraderConfig {
    /// The leverage mixture: `leverage`, else the one component `[leverage_min,
    /// leverage_max]`.
    pub fn leverage_components(&self) -> Vec<LeverageComponent> {
        match &self.leverage {
            Some(m) => m.clone(),
            None => vec![LeverageComponent {
                weight: 1.0,
                min: self.leverage_min.unwrap_or(DEFAULT_LEVERAGE.0),
                max: self.leverage_max.unwrap_or(DEFAULT_LEVERAGE.1),
            }],
        }
    }

    pub fn validate(&self, c: &mut Check, assets: &[String], block_time_s: f64) {
        let legacy = [
            self.open_prob,
            self.close_prob,
            self.topup_prob,
            self.topup_delay_blocks,
        ];
        reject_legacy_habits(c, legacy, block_time_s);
        c.non_negative("capital", self.capital);
        c.non_negative("inventory", self.inventory);
        check_rate(c, "open_per_hour", self.open_per_hour);
        check_delay(c, "topup_delay_s", self.topup_delay_s);
        c.positive("size_mean", self.size_mean);
        c.non_negative("size_sigma", self.size_sigma);
        match &self.leverage {
            Some(m) => {
                if self.leverage_min.is_some() || self.leverage_max.is_some() {
                    c.fail(
                        "leverage",
                        "give either leverage (a mixture) or leverage_min/leverage_max, not both",
                    );
                }
                check_mixture(c, m);
            }
            None => check_leverage(
                c,
                self.leverage_min.unwrap_or(DEFAULT_LEVERAGE.0),
                self.leverage_max.unwrap_or(DEFAULT_LEVERAGE.1),
            ),
        }
        c.unit_interval("perp_share", self.perp_share);
        c.unit_interval("long_prob", self.long_prob);
        check_position_habits(
            c,
            [
                self.close_per_hour,
                self.topup_per_hour,
                self.topup_threshold,
                self.topup_fraction,
                self.tip_gwei,
            ],
        );
        check_asset(c, self.asset.as_deref(), assets);
        self.validate_incentives(c);
    }

    /// The keys of entry, deleveraging and stops.
    fn validate_incentives(&self, c: &mut Check) {
        check_delay(c, "reentry_cooldown_s", self.reentry_cooldown_s);
        c.positive("vol_ref", self.vol_ref);
        c.positive("vol_half_life_s", self.vol_half_life_s);
        c.non_negative("entry_vol_k", self.entry_vol_k);
        c.non_negative("entry_drawdown_k", self.entry_drawdown_k);
        c.positive("drawdown_window_s", self.drawdown_window_s);
        c.non_negative("max_entry_cost", self.max_entry_cost);
        c.positive("risk_horizon_s", self.risk_horizon_s);
        self.delever_threshold
            .validate(c, "delever_threshold", 0.0, 1.0);
        c.unit_interval("delever_fraction", self.delever_fraction);
        if self.delever_fraction >= 1.0 {
            c.fail(
                "delever_fraction",
                format!(
                    "must be < 1 (a deleverage keeps part of the position; got {})",
                    self.delever_fraction
                ),
            );
        }
        check_rate(c, "delever_per_hour", self.delever_per_hour);
        c.unit_interval("stop_share", self.stop_share);
        self.stop_distance.validate(c, "stop_distance", 0.0, 1.0);
        if self.stop_share > 0.0
            && (self.stop_distance.min <= 0.0 || self.stop_distance.min.is_nan())
        {
            c.fail(
                "stop_distance.min",
                format!(
                    "must be > 0 when stop_share > 0 (got {})",
                    self.stop_distance.min
                ),
            );
        }
    }
}

/// Reject the per-block keys that `open_per_hour`, `close_per_hour`, `topup_per_hour` and
/// `topup_delay_s` replaced, with their conversion at `block_time_s`.
pub(crate) fn reject_legacy_habits(c: &mut Check, v: [Option<f64>; 4], block_time_s: f64) {
    legacy_rate(c, "open_prob", "open_per_hour", v[0], block_time_s);
    legacy_rate(c, "close_prob", "close_per_hour", v[1], block_time_s);
    legacy_rate(c, "topup_prob", "topup_per_hour", v[2], block_time_s);
    legacy_delay(c, "topup_delay_blocks", "topup_delay_s", v[3], block_time_s);
}

/// The leverage range of a population that opens leveraged positions: `1 <= min <= max`.
pub(crate) fn check_leverage(c: &mut Check, min: f64, max: f64) {
    if min.is_nan() || min < 1.0 {
        c.fail("leverage_min", format!("must be >= 1 (got {min})"));
    }
    if max.is_nan() || max < min {
        c.fail(
            "leverage_max",
            format!("must be >= leverage_min ({max} < {min})"),
        );
    }
}

/// `close_per_hour`, `topup_per_hour`, `topup_threshold`, `topup_fraction`, `tip_gwei`: the
/// habits every position-holding population shares.
pub(crate) fn check_position_habits(c: &mut Check, v: [f64; 5]) {
    check_rate(c, "close_per_hour", v[0]);
    check_rate(c, "topup_per_hour", v[1]);
    c.non_negative("topup_threshold", v[2]);
    c.non_negative("topup_fraction", v[3]);
    c.non_negative("tip_gwei", v[4]);
}

/// An optional `asset` must name a configured asset.
pub(crate) fn check_asset(c: &mut Check, asset: Option<&str>, assets: &[String]) {
    if let Some(a) = asset
        && !assets.iter().any(|n| n == a)
    {
        c.fail("asset", format!("names no configured asset (got {a:?})"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TraderConfig {
        // Every default, as a scenario without the keys gets them.
        TraderConfig {
            count: 1,
            capital: d_capital(),
            inventory: d_inventory(),
            asset: None,
            open_per_hour: d_open(),
            size_mean: d_size(),
            size_sigma: d_sigma(),
            leverage_min: None,
            leverage_max: None,
            leverage: None,
            perp_share: d_half(),
            long_prob: d_half(),
            close_per_hour: d_close(),
            topup_per_hour: 0.0,
            topup_delay_s: 0.0,
            topup_threshold: d_topup_threshold(),
            topup_fraction: d_topup_fraction(),
            tip_gwei: d_tip(),
            habits: Habits::Economic,
            reentry_cooldown_s: d_cooldown(),
            vol_ref: d_vol_ref(),
            vol_half_life_s: d_vol_half_life(),
            entry_vol_k: d_entry_vol_k(),
            entry_drawdown_k: d_entry_drawdown_k(),
            drawdown_window_s: d_drawdown_window(),
            max_entry_cost: d_max_entry_cost(),
            risk_horizon_s: d_horizon(),
            delever_threshold: d_delever_threshold(),
            delever_fraction: d_delever_fraction(),
            delever_per_hour: d_delever_rate(),
            stop_share: d_half(),
            stop_distance: d_stop_distance(),
            open_prob: None,
            close_prob: None,
            topup_prob: None,
            topup_delay_blocks: None,
        }
    }

    /// A change that breaks one rule.
    type Breaker = Box<dyn Fn(&mut TraderConfig)>;

    fn keys(c: &TraderConfig) -> Vec<String> {
        let mut issues = Vec::new();
        let mut chk = Check::new(&mut issues);
        c.validate(&mut chk.at("agents[2]"), &["ETH".to_string()], 12.0);
        issues.into_iter().map(|i| i.key).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(keys(&cfg()).is_empty(), "{:?}", keys(&cfg()));
    }

    /// Each broken rule of the incentive keys is reported under its full key.
    #[test]
    fn broken_rules_name_the_full_key() {
        let cases: Vec<(&str, Breaker)> = vec![
            (
                "agents[2].reentry_cooldown_s",
                Box::new(|c| c.reentry_cooldown_s = -1.0),
            ),
            ("agents[2].vol_ref", Box::new(|c| c.vol_ref = 0.0)),
            (
                "agents[2].drawdown_window_s",
                Box::new(|c| c.drawdown_window_s = 0.0),
            ),
            (
                "agents[2].delever_fraction",
                Box::new(|c| c.delever_fraction = 1.0),
            ),
            (
                "agents[2].delever_threshold.max",
                Box::new(|c| c.delever_threshold.max = 0.01),
            ),
            (
                "agents[2].stop_distance.min",
                Box::new(|c| c.stop_distance.min = 0.0),
            ),
            ("agents[2].stop_share", Box::new(|c| c.stop_share = 1.5)),
            (
                "agents[2].leverage",
                Box::new(|c| {
                    c.leverage_min = Some(2.0);
                    c.leverage = Some(vec![LeverageComponent {
                        weight: 1.0,
                        min: 2.0,
                        max: 3.0,
                    }]);
                }),
            ),
            (
                "agents[2].leverage[1].max",
                Box::new(|c| {
                    c.leverage = Some(vec![
                        LeverageComponent {
                            weight: 0.7,
                            min: 2.0,
                            max: 4.0,
                        },
                        LeverageComponent {
                            weight: 0.3,
                            min: 10.0,
                            max: 8.0,
                        },
                    ]);
                }),
            ),
        ];
        for (key, break_it) in cases {
            let mut c = cfg();
            break_it(&mut c);
            assert_eq!(keys(&c), vec![key.to_string()], "{key}");
        }
    }
}
