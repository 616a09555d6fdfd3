//! European options: pricing, Greeks, the implied-volatility model and the three option
//! margin rules.
//!
//! Margin engines fail on convexity (docs/model.md, "Options and portfolio margin (convexity)"):
//! margin set for small moves, a book of short options, a crash with a volatility spike.
//! This module gives the engine what it needs to study that:
//!
//! - [`black`]: Black-Scholes with zero rates and no carry, which is Black-76 on a forward
//!   equal to the spot (the oracle price): price, delta, gamma, vega and theta in closed form.
//!   The normal CDF is `0.5 * erfc(-x / sqrt 2)` with `libm`'s `erfc` (a port of the FreeBSD
//!   / musl implementation, error below 1 ulp over the real line), so prices are accurate to
//!   double precision and the finite-difference tests of the Greeks are meaningful.
//! - [`IvModel`]: `iv = max(floor, min(cap, base + beta_rv * realized_vol + skew * ln(K/S)))`,
//!   the realized vol being the engine's EWMA estimate of the oracle price (the estimator of
//!   `vol_adjusted` margin, [`crate::margin::ewma_step`]): a crash raises implied vols.
//! - [`OptionMargin`]: `standard` (per position, Deribit/Aevo: docs/references.md, R19),
//!   `portfolio` (risk matrix with full revaluation, R20) and `delta_gamma` (Greeks
//!   approximation, R21). [`RiskTables`] holds, per listed series, what each rule needs at
//!   one (price, vol) state, so an account's requirement is a sum over its positions with no
//!   pricing call: the expensive revaluation is done once per series, not once per account.
//!
//! Longer than 800 lines: about 800 of code and 300 of unit tests (the Greeks against finite
//! differences, worked margin examples). The code is one library, pricing and the three
//! margin rules with their risk tables and their bounds over a state box ([`BoundTables`]),
//! kept together so that each rule and its bound are read side by side; the engine's option
//! operations and liquidations are elsewhere (`ops/options.rs`, `liquidation/options.rs`).

use cascade_core::Check;
use serde::{Deserialize, Serialize};

/// Seconds per year (the time unit of volatilities and theta).
pub use cascade_market::SECONDS_PER_YEAR;

/// The standard normal density.
pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal CDF, `0.5 * erfc(-x / sqrt 2)`: accurate to double precision in both
/// tails (no cancellation for large negative `x`).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptKind {
    Call,
    Put,
}

/// Price and Greeks of one option on one unit of the underlying, in quote units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Greeks {
    pub price: f64,
    /// dV/dS.
    pub delta: f64,
    /// d2V/dS2.
    pub gamma: f64,
    /// dV/dsigma, per unit of volatility (1.00 = 100 vol points).
    pub vega: f64,
    /// dV/dt (calendar time passing), per year: negative for long options.
    pub theta: f64,
}

/// Black-Scholes with zero rates (Black-76 with forward = spot): option on one unit of an
/// underlying at price `s`, strike `k`, `t` years to expiry, volatility `sigma`. At or past
/// expiry (or with zero volatility) the value is the intrinsic value and the Greeks are those
/// of the payoff (delta a step, gamma and vega zero).
pub fn black(kind: OptKind, s: f64, k: f64, t: f64, sigma: f64) -> Greeks {
    let sd = sigma * t.max(0.0).sqrt();
    if sd.is_nan() || sd <= 0.0 || s.is_nan() || s <= 0.0 || k.is_nan() || k <= 0.0 {
        let (price, delta) = match kind {
            OptKind::Call => ((s - k).max(0.0), if s > k { 1.0 } else { 0.0 }),
            OptKind::Put => ((k - s).max(0.0), if s < k { -1.0 } else { 0.0 }),
        };
        return Greeks {
            price,
            delta,
            ..Greeks::default()
        };
    }
    let d1 = ((s / k).ln() + 0.5 * sd * sd) / sd;
    let d2 = d1 - sd;
    let pdf = norm_pdf(d1);
    let gamma = pdf / (s * sd);
    let vega = s * pdf * t.sqrt();
    let theta = -s * pdf * sigma / (2.0 * t.sqrt());
    match kind {
        OptKind::Call => Greeks {
            price: (s * norm_cdf(d1) - k * norm_cdf(d2)).max(0.0),
            delta: norm_cdf(d1),
            gamma,
            vega,
            theta,
        },
        OptKind::Put => Greeks {
            price: (k * norm_cdf(-d2) - s * norm_cdf(-d1)).max(0.0),
            delta: norm_cdf(d1) - 1.0,
            gamma,
            vega,
            theta,
        },
    }
}

/// The implied-volatility model (`engine.options.iv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IvModel {
    /// Implied vol with no realized vol and at the money.
    pub base: f64,
    /// Sensitivity of implied vol to the realized vol estimate.
    pub beta_rv: f64,
    /// Skew: added `skew * ln(K/S)`; negative gives puts (low strikes) higher vols.
    pub skew: f64,
    pub floor: f64,
    pub cap: f64,
    /// Half-life of the EWMA realized-vol estimator, seconds.
    pub half_life_s: f64,
    /// Realized vol assumed before any return is seen (annualized).
    pub initial_vol: f64,
}

impl IvModel {
    /// `max(floor, min(cap, base + beta_rv * rv + skew * ln(K/S)))`.
    pub fn iv(&self, k: f64, s: f64, rv: f64) -> f64 {
        let raw = self.base + self.beta_rv * rv + self.skew * (k / s).ln();
        raw.min(self.cap).max(self.floor)
    }
}

/// The listed chain (`engine.options`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionsConfig {
    /// Indices of the underlying assets (order of `[[assets]]`).
    #[serde(default = "d_assets")]
    pub assets: Vec<usize>,
    /// Strikes as moneyness offsets from the genesis oracle price: `K = S0 * (1 + x)`.
    pub strikes: Vec<f64>,
    /// Expiries, seconds from the start of the run.
    pub expiries_s: Vec<f64>,
    pub iv: IvModel,
    /// The engine's book trades at `mark * (1 + spread)` (buys by accounts) and
    /// `mark * (1 - spread)` (sales by accounts).
    #[serde(default)]
    pub spread: f64,
}

fn d_assets() -> Vec<usize> {
    vec![0]
}

/// The option margin model (`engine.option_margin`, tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[derive(Default)]
pub enum OptionMargin {
    /// Per position (docs/references.md, R19): longs pay their mark; a short call
    /// `IM = max(0.15 - OTM/S, 0.10) S + mark`, `MM = 0.075 S + mark`; a short put
    /// `IM = max(max(0.15 - OTM/S, 0.10) S + mark, MM)`, `MM = max(0.075 S, 0.075 mark) + mark`.
    #[default]
    Standard,
    /// Risk matrix (10b.2): the book (options and perps of the underlying) revalued at
    /// `price_buckets` moves evenly spaced over `+-price_range` (zero included when odd), each
    /// with implied vol `+vol_up`, unchanged and `-vol_down` (absolute vol points); plus the
    /// `extended` moves with vol up counting `extended_fraction` of their loss. MM = worst
    /// loss + `contingency_per_short` x S per net short contract; IM = MM x `im_factor`.
    Portfolio {
        price_range: f64,
        price_buckets: u32,
        vol_up: f64,
        vol_down: f64,
        #[serde(default)]
        extended: Vec<f64>,
        #[serde(default)]
        extended_fraction: f64,
        #[serde(default)]
        contingency_per_short: f64,
        im_factor: f64,
    },
    /// Greeks approximation (10b.3): the loss `-(delta dS + gamma dS^2 / 2)` over moves
    /// `|dS| <= price_range * S`, plus `|vega| * vol_shift`. IM = MM x `im_factor` (default 1).
    DeltaGamma {
        price_range: f64,
        vol_shift: f64,
        #[serde(default = "d_one")]
        im_factor: f64,
    },
}

fn d_one() -> f64 {
    1.0
}

impl OptionsConfig {
    pub fn validate(&self, c: &mut Check, n_assets: usize) {
        if self.assets.is_empty() {
            c.fail("assets", "must name at least one underlying asset index");
        }
        for (i, a) in self.assets.iter().enumerate() {
            if *a >= n_assets {
                c.fail(
                    &format!("assets[{i}]"),
                    format!("asset index {a} out of range (the scenario has {n_assets} assets)"),
                );
            }
            if self.assets[..i].contains(a) {
                c.fail(&format!("assets[{i}]"), "appears twice");
            }
        }
        if self.strikes.is_empty() {
            c.fail("strikes", "must list at least one moneyness offset");
        }
        for (i, x) in self.strikes.iter().enumerate() {
            if !(x.is_finite() && *x > -1.0) {
                c.fail(
                    &format!("strikes[{i}]"),
                    format!("a moneyness offset must be > -1 (strike = S0 (1 + x)), got {x}"),
                );
            }
        }
        if self.expiries_s.is_empty() {
            c.fail("expiries_s", "must list at least one expiry");
        }
        for (i, t) in self.expiries_s.iter().enumerate() {
            c.positive(&format!("expiries_s[{i}]"), *t);
        }
        c.range_open_hi("spread", self.spread, 0.0, 1.0);
        let mut v = c.at("iv");
        let iv = &self.iv;
        v.non_negative("base", iv.base);
        v.non_negative("beta_rv", iv.beta_rv);
        v.finite("skew", iv.skew);
        v.positive("floor", iv.floor);
        if iv.cap.is_nan() || iv.cap < iv.floor {
            v.fail(
                "cap",
                format!("must be >= floor ({} < {})", iv.cap, iv.floor),
            );
        }
        v.positive("half_life_s", iv.half_life_s);
        v.non_negative("initial_vol", iv.initial_vol);
    }
}

impl OptionMargin {
    pub fn validate(&self, c: &mut Check) {
        match self {
            OptionMargin::Standard => {}
            OptionMargin::Portfolio {
                price_range,
                price_buckets,
                vol_up,
                vol_down,
                extended,
                extended_fraction,
                contingency_per_short,
                im_factor,
            } => {
                c.positive("price_range", *price_range);
                c.range_open_hi("price_range", *price_range, 0.0, 1.0);
                if *price_buckets < 2 {
                    c.fail(
                        "price_buckets",
                        format!("must be >= 2 (both ends of the range), got {price_buckets}"),
                    );
                }
                c.non_negative("vol_up", *vol_up);
                c.non_negative("vol_down", *vol_down);
                for (i, m) in extended.iter().enumerate() {
                    if !(m.is_finite() && *m > -1.0) {
                        c.fail(
                            &format!("extended[{i}]"),
                            format!("a price move must be > -1, got {m}"),
                        );
                    }
                }
                c.unit_interval("extended_fraction", *extended_fraction);
                c.non_negative("contingency_per_short", *contingency_per_short);
                if im_factor.is_nan() || *im_factor < 1.0 {
                    c.fail("im_factor", format!("must be >= 1, got {im_factor}"));
                }
            }
            OptionMargin::DeltaGamma {
                price_range,
                vol_shift,
                im_factor,
            } => {
                c.positive("price_range", *price_range);
                c.range_open_hi("price_range", *price_range, 0.0, 1.0);
                c.non_negative("vol_shift", *vol_shift);
                if im_factor.is_nan() || *im_factor < 1.0 {
                    c.fail("im_factor", format!("must be >= 1, got {im_factor}"));
                }
            }
        }
    }

    /// The portfolio scenarios: (price move, vol shift, weight), in a fixed order.
    pub fn scenarios(&self) -> Vec<(f64, f64, f64)> {
        match self {
            OptionMargin::Portfolio {
                price_range,
                price_buckets,
                vol_up,
                vol_down,
                extended,
                extended_fraction,
                ..
            } => {
                let n = (*price_buckets).max(2) as usize;
                let mut out = Vec::with_capacity(3 * n + extended.len());
                for b in 0..n {
                    let m = -price_range + 2.0 * price_range * b as f64 / (n - 1) as f64;
                    for dv in [*vol_up, 0.0, -vol_down] {
                        out.push((m, dv, 1.0));
                    }
                }
                for m in extended {
                    out.push((*m, *vol_up, *extended_fraction));
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

/// One listed option series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Series {
    pub asset: usize,
    pub kind: OptKind,
    pub strike: f64,
    pub expiry_s: f64,
}

impl Series {
    /// Years to expiry at time `t_s`.
    pub fn tau(&self, t_s: f64) -> f64 {
        ((self.expiry_s - t_s) / SECONDS_PER_YEAR).max(0.0)
    }
    /// Payoff per contract at settlement price `s`.
    pub fn payoff(&self, s: f64) -> f64 {
        match self.kind {
            OptKind::Call => (s - self.strike).max(0.0),
            OptKind::Put => (self.strike - s).max(0.0),
        }
    }
}

/// The listed chain: every (asset, expiry, strike, call/put), in that order.
pub fn list_chain(cfg: &OptionsConfig, genesis_prices: &[f64]) -> Vec<Series> {
    let mut out = Vec::new();
    for &a in &cfg.assets {
        let s0 = genesis_prices[a];
        for &e in &cfg.expiries_s {
            for &x in &cfg.strikes {
                for kind in [OptKind::Call, OptKind::Put] {
                    out.push(Series {
                        asset: a,
                        kind,
                        strike: s0 * (1.0 + x),
                        expiry_s: e,
                    });
                }
            }
        }
    }
    out
}

/// Standard (per-position) requirements of one short contract, quote: (initial, maintenance).
/// `mark` is the option's mark in quote, `s` the underlying price.
pub fn standard_short(kind: OptKind, s: f64, k: f64, mark: f64) -> (f64, f64) {
    let otm = match kind {
        OptKind::Call => (k - s).max(0.0),
        OptKind::Put => (s - k).max(0.0),
    };
    let base = (0.15 - otm / s).max(0.10) * s + mark;
    match kind {
        OptKind::Call => (base, 0.075 * s + mark),
        OptKind::Put => {
            let mm = (0.075 * s).max(0.075 * mark) + mark;
            (base.max(mm), mm)
        }
    }
}

/// What the margin rules need about one series at one risk state.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRisk {
    pub iv: f64,
    pub g: Greeks,
    /// Standard rule for one short contract: (initial, maintenance).
    pub short_req: (f64, f64),
    /// Portfolio rule: weighted loss of one long contract in each scenario.
    pub scen_loss: Vec<f64>,
}

/// The engine's risk view of the chain at one state (prices, realized vols, time): built at
/// each risk update, read by every account's requirement.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskTables {
    pub prices: Vec<f64>,
    pub rv: Vec<f64>,
    pub t_s: f64,
    pub series: Vec<SeriesRisk>,
    /// Portfolio rule: weighted loss of one long unit of each asset in each scenario.
    pub perp_loss: Vec<Vec<f64>>,
}

impl RiskTables {
    /// Revalue every series at `prices`, realized vols `rv` and time `t_s`.
    pub fn build(
        chain: &[Series],
        iv: &IvModel,
        model: &OptionMargin,
        prices: &[f64],
        rv: &[f64],
        t_s: f64,
    ) -> RiskTables {
        let scen = model.scenarios();
        let series = chain
            .iter()
            .map(|s| {
                let p = prices[s.asset];
                let tau = s.tau(t_s);
                let vol = iv.iv(s.strike, p, rv[s.asset]);
                let g = black(s.kind, p, s.strike, tau, vol);
                let short_req = standard_short(s.kind, p, s.strike, g.price);
                let scen_loss = scen
                    .iter()
                    .map(|&(m, dv, w)| {
                        let v = black(
                            s.kind,
                            p * (1.0 + m),
                            s.strike,
                            tau,
                            (vol + dv).max(iv.floor.min(0.01)),
                        )
                        .price;
                        w * (g.price - v)
                    })
                    .collect();
                SeriesRisk {
                    iv: vol,
                    g,
                    short_req,
                    scen_loss,
                }
            })
            .collect();
        let perp_loss = prices
            .iter()
            .map(|&p| scen.iter().map(|&(m, _, w)| -w * p * m).collect())
            .collect();
        RiskTables {
            prices: prices.to_vec(),
            rv: rv.to_vec(),
            t_s,
            series,
            perp_loss,
        }
    }

    /// The (initial, maintenance) requirement of a book under `model`: `qty[i]` signed
    /// contracts of series `i` (whole units), `perp[a]` signed perp size of asset `a` (whole
    /// units; counted in the risk matrix by `portfolio` and `delta_gamma` only, for assets
    /// the book holds options on).
    pub fn requirement(
        &self,
        chain: &[Series],
        model: &OptionMargin,
        qty: &[f64],
        perp: &[f64],
    ) -> (f64, f64) {
        match model {
            OptionMargin::Standard => {
                let (mut im, mut mm) = (0.0, 0.0);
                for (i, &q) in qty.iter().enumerate() {
                    if q > 0.0 {
                        let v = q * self.series[i].g.price;
                        im += v;
                        mm += v;
                    } else if q < 0.0 {
                        let (si, sm) = self.series[i].short_req;
                        im += -q * si;
                        mm += -q * sm;
                    }
                }
                (im, mm)
            }
            OptionMargin::Portfolio {
                contingency_per_short,
                im_factor,
                ..
            } => {
                let mut mm = 0.0;
                for a in underlyings(chain, qty) {
                    let n = self.perp_loss[a].len();
                    let mut worst = 0.0f64;
                    for j in 0..n {
                        let mut loss = perp[a] * self.perp_loss[a][j];
                        for (i, &q) in qty.iter().enumerate() {
                            if q != 0.0 && chain[i].asset == a {
                                loss += q * self.series[i].scen_loss[j];
                            }
                        }
                        worst = worst.max(loss);
                    }
                    let shorts: f64 = qty
                        .iter()
                        .enumerate()
                        .filter(|(i, q)| **q < 0.0 && chain[*i].asset == a)
                        .map(|(_, q)| -q)
                        .sum();
                    mm += worst + contingency_per_short * self.prices[a] * shorts;
                }
                (mm * im_factor, mm)
            }
            OptionMargin::DeltaGamma {
                price_range,
                vol_shift,
                im_factor,
            } => {
                let mut mm = 0.0;
                for a in underlyings(chain, qty) {
                    let (d, g, v) = self.book_greeks(chain, qty, perp, a);
                    let r = price_range * self.prices[a];
                    mm += dg_worst_loss(d, g, r) + v.abs() * vol_shift;
                }
                (mm * im_factor, mm)
            }
        }
    }

    /// Net (delta, gamma, vega) of a book in asset `a`, the perp counted in delta.
    pub fn book_greeks(
        &self,
        chain: &[Series],
        qty: &[f64],
        perp: &[f64],
        a: usize,
    ) -> (f64, f64, f64) {
        let (mut d, mut g, mut v) = (perp[a], 0.0, 0.0);
        for (i, &q) in qty.iter().enumerate() {
            if q != 0.0 && chain[i].asset == a {
                let gr = &self.series[i].g;
                d += q * gr.delta;
                g += q * gr.gamma;
                v += q * gr.vega;
            }
        }
        (d, g, v)
    }
}

/// A box of risk states: per asset a price range and a realized-vol range, and a time range.
/// The engine's skip of option accounts (see [`BoundTables`]) holds while the state stays in
/// one box.
#[derive(Debug, Clone, PartialEq)]
pub struct StateBox {
    pub s_lo: Vec<f64>,
    pub s_hi: Vec<f64>,
    pub rv_lo: Vec<f64>,
    pub rv_hi: Vec<f64>,
    pub t_lo: f64,
    pub t_hi: f64,
}

impl StateBox {
    /// The box `prices (1 +- price_band)`, `rv +- rv_band` (at least 0), `[t, t + time_s]`.
    pub fn around(
        prices: &[f64],
        rv: &[f64],
        t: f64,
        price_band: f64,
        rv_band: f64,
        time_s: f64,
    ) -> StateBox {
        StateBox {
            s_lo: prices.iter().map(|p| p * (1.0 - price_band)).collect(),
            s_hi: prices.iter().map(|p| p * (1.0 + price_band)).collect(),
            rv_lo: rv.iter().map(|v| (v - rv_band).max(0.0)).collect(),
            rv_hi: rv.iter().map(|v| v + rv_band).collect(),
            t_lo: t,
            t_hi: t + time_s,
        }
    }

    /// Whether prices `prices`, realized vols `rv` of the `assets` and time `t` are inside.
    pub fn contains(&self, assets: &[usize], prices: &[f64], rv: &[f64], t: f64) -> bool {
        t >= self.t_lo
            && t <= self.t_hi
            && assets.iter().all(|&a| {
                prices[a] >= self.s_lo[a]
                    && prices[a] <= self.s_hi[a]
                    && rv[a] >= self.rv_lo[a]
                    && rv[a] <= self.rv_hi[a]
            })
    }
}

/// Bounds of one series over a [`StateBox`].
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesBounds {
    /// The mark's range (the engine's mark and the tables' price alike).
    pub v_lo: f64,
    pub v_hi: f64,
    /// Largest standard maintenance requirement of one short contract.
    pub short_mm_hi: f64,
    /// Portfolio rule: range of the weighted scenario loss of one long contract.
    pub scen_lo: Vec<f64>,
    pub scen_hi: Vec<f64>,
}

/// Guaranteed bounds, over every state of a [`StateBox`], of what the `standard` and
/// `portfolio` rules read, so that a lower bound of an account's option value minus its
/// option maintenance requirement over the whole box costs one pass over its positions.
///
/// Why they are bounds: with zero rates an option's Black-Scholes value is nondecreasing in
/// its total variance `sigma^2 tau` (vega >= 0), nondecreasing in the price for a call and
/// nonincreasing for a put; the implied vol `clamp(base + beta_rv rv + skew ln(K/S))` is
/// monotone in `rv` (`beta_rv >= 0`) and in `ln S` before a monotone clamp, so its extremes
/// over the box are at the corners; a scenario's vol `max(sigma + dv, c)` is monotone in
/// `sigma`, its price `S (1 + m)` in `S`. Each value is therefore extreme at a corner of the
/// box, and every term of the rules is a sum, a positive multiple, a `max` or a `max(0, .)`
/// of such values, bounded term by term. See ARCHITECTURE.md ("Skipping option accounts").
#[derive(Debug, Clone, PartialEq)]
pub struct BoundTables {
    pub bx: StateBox,
    pub series: Vec<SeriesBounds>,
    /// Number of portfolio scenarios (zero for other rules).
    pub n_scen: usize,
    /// Portfolio scenarios (move, vol shift, weight).
    pub scen: Vec<(f64, f64, f64)>,
}

impl BoundTables {
    pub fn build(chain: &[Series], iv: &IvModel, model: &OptionMargin, bx: StateBox) -> Self {
        let scen = model.scenarios();
        let series = chain
            .iter()
            .map(|s| {
                let a = s.asset;
                let (slo, shi) = (bx.s_lo[a], bx.s_hi[a]);
                let corners = [
                    iv.iv(s.strike, slo, bx.rv_lo[a]),
                    iv.iv(s.strike, slo, bx.rv_hi[a]),
                    iv.iv(s.strike, shi, bx.rv_lo[a]),
                    iv.iv(s.strike, shi, bx.rv_hi[a]),
                ];
                let vol_lo = corners.iter().copied().fold(f64::INFINITY, f64::min);
                let vol_hi = corners.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let (tau_lo, tau_hi) = (s.tau(bx.t_hi), s.tau(bx.t_lo));
                // (lowest, highest) value over prices [lo, hi] and vols [vlo, vhi].
                let range = |lo: f64, hi: f64, vlo: f64, vhi: f64| match s.kind {
                    OptKind::Call => (
                        black(s.kind, lo, s.strike, tau_lo, vlo).price,
                        black(s.kind, hi, s.strike, tau_hi, vhi).price,
                    ),
                    OptKind::Put => (
                        black(s.kind, hi, s.strike, tau_lo, vlo).price,
                        black(s.kind, lo, s.strike, tau_hi, vhi).price,
                    ),
                };
                let (v_lo, v_hi) = range(slo, shi, vol_lo, vol_hi);
                let short_mm_hi = match s.kind {
                    OptKind::Call => 0.075 * shi + v_hi,
                    OptKind::Put => (0.075 * shi).max(0.075 * v_hi) + v_hi,
                };
                let c = iv.floor.min(0.01);
                let (mut scen_lo, mut scen_hi) = (Vec::new(), Vec::new());
                for &(m, dv, w) in &scen {
                    let (sv_lo, sv_hi) = range(
                        slo * (1.0 + m),
                        shi * (1.0 + m),
                        (vol_lo + dv).max(c),
                        (vol_hi + dv).max(c),
                    );
                    scen_lo.push(w * (v_lo - sv_hi));
                    scen_hi.push(w * (v_hi - sv_lo));
                }
                SeriesBounds {
                    v_lo,
                    v_hi,
                    short_mm_hi,
                    scen_lo,
                    scen_hi,
                }
            })
            .collect();
        BoundTables {
            bx,
            series,
            n_scen: scen.len(),
            scen,
        }
    }

    /// A lower bound, over every state of the box, of the option value of a book minus its
    /// option maintenance requirement (the perp's linear margin given back under `portfolio`
    /// is not included), and the gross size of the terms (for the rounding slack). `None`
    /// for `delta_gamma`, whose Greeks are not bounded here.
    pub fn option_part_lo(
        &self,
        chain: &[Series],
        model: &OptionMargin,
        qty: &[f64],
        perp: &[f64],
    ) -> Option<(f64, f64)> {
        let mut value_lo = 0.0;
        let mut gross = 0.0;
        for (i, &q) in qty.iter().enumerate() {
            if q == 0.0 {
                continue;
            }
            let b = &self.series[i];
            value_lo += if q > 0.0 { q * b.v_lo } else { q * b.v_hi };
            let a = chain[i].asset;
            gross += q.abs() * (self.bx.s_hi[a] + chain[i].strike) * (self.n_scen + 2) as f64;
        }
        let mm_hi = match model {
            OptionMargin::Standard => {
                let mut mm = 0.0;
                for (i, &q) in qty.iter().enumerate() {
                    if q > 0.0 {
                        mm += q * self.series[i].v_hi;
                    } else if q < 0.0 {
                        mm += -q * self.series[i].short_mm_hi;
                    }
                }
                mm
            }
            OptionMargin::Portfolio {
                contingency_per_short,
                ..
            } => {
                let mut mm = 0.0;
                for a in underlyings(chain, qty) {
                    let mut worst = 0.0f64;
                    for (j, &(m, _, w)) in self.scen.iter().enumerate() {
                        // The perp's scenario loss `-w p m` is linear in the price p.
                        let pl = |p: f64| perp[a] * (-w * p * m);
                        let mut loss = pl(self.bx.s_lo[a]).max(pl(self.bx.s_hi[a]));
                        for (i, &q) in qty.iter().enumerate() {
                            if q != 0.0 && chain[i].asset == a {
                                let b = &self.series[i];
                                loss += if q > 0.0 {
                                    q * b.scen_hi[j]
                                } else {
                                    q * b.scen_lo[j]
                                };
                            }
                        }
                        worst = worst.max(loss);
                    }
                    let shorts: f64 = qty
                        .iter()
                        .enumerate()
                        .filter(|(i, q)| **q < 0.0 && chain[*i].asset == a)
                        .map(|(_, q)| -q)
                        .sum();
                    mm += worst + contingency_per_short * self.bx.s_hi[a] * shorts;
                    gross += perp[a].abs() * self.bx.s_hi[a] * (self.n_scen + 1) as f64;
                }
                mm
            }
            OptionMargin::DeltaGamma { .. } => return None,
        };
        Some((value_lo - mm_hi, gross))
    }
}

/// The largest delta-gamma loss `-(d x + g x^2 / 2)` over `|x| <= r` (never below zero): at
/// an end of the range, or at the vertex `x = -d/g` of a long-gamma book.
pub fn dg_worst_loss(d: f64, g: f64, r: f64) -> f64 {
    let loss = |x: f64| -(d * x + 0.5 * g * x * x);
    let mut worst = loss(r).max(loss(-r)).max(0.0);
    if g > 0.0 {
        let x = -d / g;
        if x.abs() <= r {
            worst = worst.max(loss(x));
        }
    }
    worst
}

/// The assets a book holds options on, ascending.
fn underlyings(chain: &[Series], qty: &[f64]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for (i, &q) in qty.iter().enumerate() {
        if q != 0.0 && !out.contains(&chain[i].asset) {
            out.push(chain[i].asset);
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: f64 = 2000.0;
    const T: f64 = 30.0 / 365.0;

    #[test]
    fn normal_cdf_known_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((norm_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-15);
        assert!((norm_cdf(-1.0) - 0.158_655_253_931_457_05).abs() < 1e-16);
        // Deep tail without cancellation: Phi(-10) = 7.6198530241605e-24.
        assert!((norm_cdf(-10.0) / 7.619_853_024_160_527e-24 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn put_call_parity() {
        for &k in &[1500.0, 1900.0, 2000.0, 2300.0] {
            for &sigma in &[0.2, 0.8, 1.5] {
                let c = black(OptKind::Call, S, k, T, sigma).price;
                let p = black(OptKind::Put, S, k, T, sigma).price;
                // Zero rates: C - P = S - K.
                assert!((c - p - (S - k)).abs() < 1e-9, "k {k} sigma {sigma}");
            }
        }
    }

    #[test]
    fn hand_checked_price() {
        // ATM, sigma sqrt(T) = 0.2: C = S (2 N(0.1) - 1) = 2000 * 0.0796557 = 159.31.
        let t = 0.04 / (0.8 * 0.8) * 1.0; // sigma 0.8 -> sd 0.2 at t = 0.0625
        let c = black(OptKind::Call, S, S, t, 0.8).price;
        assert!((c - 2000.0 * (2.0 * norm_cdf(0.1) - 1.0)).abs() < 1e-9);
        assert!((c - 159.3113).abs() < 1e-3);
    }

    #[test]
    fn every_greek_matches_finite_differences() {
        for kind in [OptKind::Call, OptKind::Put] {
            for &k in &[1600.0, 2000.0, 2400.0] {
                for &sigma in &[0.3, 1.0] {
                    let g = black(kind, S, k, T, sigma);
                    let v = |s: f64, t: f64, sg: f64| black(kind, s, k, t, sg).price;
                    let h = 0.5;
                    let delta = (v(S + h, T, sigma) - v(S - h, T, sigma)) / (2.0 * h);
                    let gamma =
                        (v(S + h, T, sigma) - 2.0 * v(S, T, sigma) + v(S - h, T, sigma)) / (h * h);
                    let hv = 1e-4;
                    let vega = (v(S, T, sigma + hv) - v(S, T, sigma - hv)) / (2.0 * hv);
                    let ht = 1e-6;
                    // theta: value change as calendar time passes (time to expiry falls).
                    let theta = (v(S, T - ht, sigma) - v(S, T + ht, sigma)) / (2.0 * ht);
                    assert!((g.delta - delta).abs() < 1e-6, "{kind:?} {k} {sigma} delta");
                    assert!(
                        (g.gamma - gamma).abs() < 1e-6 * (1.0 + g.gamma.abs()) + 1e-7,
                        "{kind:?} {k} {sigma} gamma {} vs {gamma}",
                        g.gamma
                    );
                    assert!((g.vega - vega).abs() < 1e-4, "{kind:?} {k} {sigma} vega");
                    assert!(
                        (g.theta - theta).abs() < 1e-3 * (1.0 + g.theta.abs()),
                        "{kind:?} {k} {sigma} theta {} vs {theta}",
                        g.theta
                    );
                }
            }
        }
    }

    #[test]
    fn iv_model_skew_floor_and_cap() {
        let m = IvModel {
            base: 0.4,
            beta_rv: 0.5,
            skew: -0.5,
            floor: 0.2,
            cap: 1.5,
            half_life_s: 3600.0,
            initial_vol: 0.6,
        };
        // ATM: 0.4 + 0.5 * 0.6 = 0.7; a 10% lower strike adds -0.5 * ln(0.9) = 0.0527.
        assert!((m.iv(2000.0, 2000.0, 0.6) - 0.7).abs() < 1e-12);
        assert!((m.iv(1800.0, 2000.0, 0.6) - (0.7 - 0.5 * 0.9f64.ln())).abs() < 1e-12);
        // A crash's realized vol hits the cap; a dead market sits on the floor.
        assert_eq!(m.iv(2000.0, 2000.0, 5.0), 1.5);
        assert_eq!(m.iv(4000.0, 2000.0, 0.0), 0.2);
    }

    fn iv_flat(vol: f64) -> IvModel {
        IvModel {
            base: vol,
            beta_rv: 0.0,
            skew: 0.0,
            floor: 0.05,
            cap: 3.0,
            half_life_s: 3600.0,
            initial_vol: 0.0,
        }
    }

    #[test]
    fn standard_margin_worked_examples() {
        // One series of each kind at S = 2000, K = 1800 (put 10% OTM) / 2200 (call 10% OTM).
        // Short call K 2200: OTM = 200, 0.15 - 0.1 = 0.05 < 0.10 -> IM = 0.10 * 2000 + mark
        // = 200 + mark; MM = 0.075 * 2000 + mark = 150 + mark.
        let mark = 37.5;
        let (im, mm) = standard_short(OptKind::Call, 2000.0, 2200.0, mark);
        assert!((im - 237.5).abs() < 1e-9 && (mm - 187.5).abs() < 1e-9);
        // Short call ITM (K 1900): OTM = 0 -> IM = 0.15 * 2000 + mark = 300 + mark.
        let (im, mm) = standard_short(OptKind::Call, 2000.0, 1900.0, 150.0);
        assert!((im - 450.0).abs() < 1e-9 && (mm - 300.0).abs() < 1e-9);
        // Short put K 1800: OTM = 200 -> 0.10 floor: IM = 200 + mark; MM = max(150, 0.075
        // mark) + mark.
        let (im, mm) = standard_short(OptKind::Put, 2000.0, 1800.0, 20.0);
        assert!((im - 220.0).abs() < 1e-9 && (mm - 170.0).abs() < 1e-9);
        // Short put slightly OTM (K 1950): 0.15 - 50/2000 = 0.125 -> IM = 250 + mark.
        let (im, mm) = standard_short(OptKind::Put, 2000.0, 1950.0, 60.0);
        assert!((im - 310.0).abs() < 1e-9 && (mm - 210.0).abs() < 1e-9);
        // A deep in-the-money put (K 8000, mark 6000) checks the 0.075 * mark branch and the
        // MM floor of IM: MM = max(150, 450) + 6000 = 6450 > 0.15 * 2000 + 6000 = 6300, so
        // IM = 6450.
        let (im, mm) = standard_short(OptKind::Put, 2000.0, 8000.0, 6000.0);
        assert!((mm - 6450.0).abs() < 1e-9 && (im - 6450.0).abs() < 1e-9);
        // Long call and long put: IM = MM = mark, through the tables.
        let chain = vec![
            Series {
                asset: 0,
                kind: OptKind::Call,
                strike: 2200.0,
                expiry_s: 30.0 * 86_400.0,
            },
            Series {
                asset: 0,
                kind: OptKind::Put,
                strike: 1800.0,
                expiry_s: 30.0 * 86_400.0,
            },
        ];
        let t = RiskTables::build(
            &chain,
            &iv_flat(0.8),
            &OptionMargin::Standard,
            &[2000.0],
            &[0.0],
            0.0,
        );
        let c = t.series[0].g.price;
        let p = t.series[1].g.price;
        let (im, mm) = t.requirement(&chain, &OptionMargin::Standard, &[2.0, 3.0], &[0.0]);
        assert!((im - (2.0 * c + 3.0 * p)).abs() < 1e-9 && im == mm);
        // Short both: sum of the per-position rules.
        let (im, mm) = t.requirement(&chain, &OptionMargin::Standard, &[-1.0, -1.0], &[0.0]);
        let want_mm = (150.0 + c) + ((150.0f64).max(0.075 * p) + p);
        let want_im = (200.0 + c) + (200.0 + p).max(150.0 + p);
        assert!((mm - want_mm).abs() < 1e-9 && (im - want_im).abs() < 1e-9);
    }

    fn portfolio() -> OptionMargin {
        OptionMargin::Portfolio {
            price_range: 0.16,
            price_buckets: 9,
            vol_up: 0.3,
            vol_down: 0.2,
            extended: vec![-0.66, -0.33, 0.5, 1.0],
            extended_fraction: 0.3,
            contingency_per_short: 0.01,
            im_factor: 1.25,
        }
    }

    #[test]
    fn portfolio_margin_of_hedged_books_is_far_below_the_per_position_sum() {
        let e = 30.0 * 86_400.0;
        let chain = vec![
            Series {
                asset: 0,
                kind: OptKind::Put,
                strike: 2000.0,
                expiry_s: e,
            },
            Series {
                asset: 0,
                kind: OptKind::Call,
                strike: 1800.0,
                expiry_s: e,
            },
            Series {
                asset: 0,
                kind: OptKind::Put,
                strike: 1800.0,
                expiry_s: e,
            },
            Series {
                asset: 0,
                kind: OptKind::Call,
                strike: 2200.0,
                expiry_s: e,
            },
            Series {
                asset: 0,
                kind: OptKind::Put,
                strike: 2200.0,
                expiry_s: e,
            },
        ];
        let pm = portfolio();
        let iv = iv_flat(0.8);
        let tp = RiskTables::build(&chain, &iv, &pm, &[2000.0], &[0.0], 0.0);
        let ts = RiskTables::build(&chain, &iv, &OptionMargin::Standard, &[2000.0], &[0.0], 0.0);
        // Protective put: long 10 ATM puts + long 10 units of the underlying (a perp). Per
        // position: the puts' mark plus a 10% linear margin on the perp's 20,000 notional.
        let q = [10.0, 0.0, 0.0, 0.0, 0.0];
        let (_, mm_opts) = ts.requirement(&chain, &OptionMargin::Standard, &q, &[10.0]);
        let per_position = mm_opts + 0.10 * 10.0 * 2000.0;
        let (_, pm_mm) = tp.requirement(&chain, &pm, &q, &[10.0]);
        // The hedged book's worst loss is bounded by the put's premium decay under vol down
        // plus the extended up-moves' gain (none): far below the per-position sum.
        assert!(pm_mm < 0.5 * per_position, "{pm_mm} vs {per_position}");
        // The put hedges: the perp alone loses 0.16 * 20,000 = 3,200 at the range's end.
        assert!(pm_mm < 3_200.0, "{pm_mm}");
        // A box (long call + short put at 1800, short call + long put at 2200): payoff
        // 400 in every state; its only risk is vol/price of the spread's time value.
        let boxq = [0.0, 10.0, -10.0, -10.0, 10.0];
        let (_, box_std) = ts.requirement(&chain, &OptionMargin::Standard, &boxq, &[0.0]);
        let (_, box_pm) = tp.requirement(&chain, &pm, &boxq, &[0.0]);
        assert!(box_pm < 0.1 * box_std, "box {box_pm} vs {box_std}");
        // The box value is exactly 400 per unit with zero rates: no scenario loses money, so
        // only the contingency (0.01 S per short, 20 shorts) remains.
        assert!((box_pm - 0.01 * 2000.0 * 20.0).abs() < 1e-6, "{box_pm}");
    }

    /// Full revaluation loss and the delta-gamma estimate for a price move of `m` (fraction).
    fn losses(chain: &[Series], q: &[f64], m: f64) -> (f64, f64) {
        let iv = iv_flat(0.6);
        let t = RiskTables::build(chain, &iv, &OptionMargin::Standard, &[S], &[0.0], 0.0);
        let mut full = 0.0;
        for (i, s) in chain.iter().enumerate() {
            let v1 = black(s.kind, S * (1.0 + m), s.strike, s.tau(0.0), 0.6).price;
            full += q[i] * (t.series[i].g.price - v1);
        }
        let (d, g, _) = t.book_greeks(chain, q, &[0.0], 0);
        let x = S * m;
        (full, -(d * x + 0.5 * g * x * x))
    }

    #[test]
    fn delta_gamma_matches_small_moves_and_understates_large_ones() {
        // Short 10 puts 10% out of the money, 7 days: the premium seller's book.
        let chain = vec![Series {
            asset: 0,
            kind: OptKind::Put,
            strike: 1800.0,
            expiry_s: 7.0 * 86_400.0,
        }];
        let q = [-10.0];
        // Small move: second-order exact, the error is third order.
        let (full, dg) = losses(&chain, &q, -0.002);
        assert!(
            (full - dg).abs() < 1e-3 * full.abs().max(1.0),
            "{full} {dg}"
        );
        // Large falls: the short put's loss grows faster than quadratic; delta-gamma
        // understates it, and the gap grows with the move.
        let mut last_gap = 0.0;
        for m in [-0.05, -0.10, -0.20, -0.30, -0.40] {
            let (full, dg) = losses(&chain, &q, m);
            let gap = full - dg;
            assert!(full > 0.0 && gap > 0.0, "move {m}: full {full} dg {dg}");
            assert!(
                gap > last_gap,
                "gap must grow: {gap} after {last_gap} at {m}"
            );
            last_gap = gap;
        }
        // And the delta_gamma margin rule itself is below the portfolio rule for the book.
        let iv = iv_flat(0.6);
        let dgm = OptionMargin::DeltaGamma {
            price_range: 0.33,
            vol_shift: 0.0,
            im_factor: 1.0,
        };
        let pm = OptionMargin::Portfolio {
            price_range: 0.33,
            price_buckets: 3,
            vol_up: 0.0,
            vol_down: 0.0,
            extended: vec![],
            extended_fraction: 0.0,
            contingency_per_short: 0.0,
            im_factor: 1.0,
        };
        let t = RiskTables::build(&chain, &iv, &pm, &[S], &[0.0], 0.0);
        let (_, full_mm) = t.requirement(&chain, &pm, &q, &[0.0]);
        let (_, dg_mm) = t.requirement(&chain, &dgm, &q, &[0.0]);
        assert!(dg_mm < full_mm, "dg {dg_mm} full {full_mm}");
    }

    #[test]
    fn dg_worst_loss_finds_the_vertex_of_long_gamma_books() {
        // Long gamma, short delta: loss -(d x + g x^2/2) with d = 1, g = 0.01 peaks at x =
        // -100 with loss 50.
        assert!((dg_worst_loss(1.0, 0.01, 500.0) - 50.0).abs() < 1e-12);
        // Short gamma: the ends.
        assert!((dg_worst_loss(0.0, -0.01, 100.0) - 50.0).abs() < 1e-12);
        // A flat book loses nothing.
        assert_eq!(dg_worst_loss(0.0, 0.0, 100.0), 0.0);
    }
}
