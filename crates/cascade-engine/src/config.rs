//! The margin engine's configuration (`[engine]` in a scenario): margin model, liquidation
//! mode, bad-debt waterfall, insurance fund and circuit breakers, with the validation rules
//! that keep a configuration meaningful (maintenance below initial, a bonus the maintenance
//! margin can pay, a non-empty waterfall, a non-negative fund).

use crate::options::{OptionMargin, OptionsConfig};
use crate::sequencer::SequencerConfig;
use cascade_core::Check;
use cascade_core::clock::{check_delay, legacy_delay};
use serde::{Deserialize, Serialize};

fn d_true() -> bool {
    true
}
fn d_pool() -> f64 {
    50_000_000.0
}
fn d_fee_share() -> f64 {
    1.0
}
fn d_funding_interval() -> f64 {
    3_600.0
}
fn d_waterfall() -> Vec<WaterfallStep> {
    vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize]
}

/// Cross margin (one account per trader) or isolated (one account per position).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MarginMode {
    #[default]
    Cross,
    Isolated,
}

/// How volatility is forecast for `vol_adjusted` margins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum VolEstimator {
    /// Exponentially weighted mean of squared log returns of the oracle price.
    Ewma { half_life_s: f64 },
    /// GARCH(1,1) one-step forecast of the variance rate: `h' = omega + alpha r^2/dt + beta h`
    /// (annualized rates).
    Garch { omega: f64, alpha: f64, beta: f64 },
}

/// The margin model (`engine.margin`, tag `kind`). Ratios are fractions of position value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MarginModel {
    /// Constant initial and maintenance ratios.
    Fixed { initial: f64, maintenance: f64 },
    /// Maintenance = `clamp(k * sigma_hat * sqrt(horizon_s / year), floor, cap)` with
    /// `sigma_hat` the forecast annualized volatility of the asset's oracle price; initial =
    /// maintenance * `initial_multiple`.
    VolAdjusted {
        k: f64,
        horizon_s: f64,
        estimator: VolEstimator,
        floor: f64,
        cap: f64,
        initial_multiple: f64,
        /// Volatility assumed before any returns are seen (annualized).
        initial_vol: f64,
    },
    /// Drift's size premium: `MR(size) = max(MR, 0.8 MR + imf * sqrt(|size|))`, `size` in
    /// whole units of the asset.
    SizePremium {
        initial: f64,
        maintenance: f64,
        imf: f64,
    },
    /// Predictive margin: maintenance = `clamp(Phi^-1(quantile) * sigma_H, floor, cap)`,
    /// with `sigma_H` the forecaster's standard deviation of the log return over
    /// `horizon_s`, from bars of `bar_s` seconds of oracle returns (docs/model.md,
    /// "Predictive margin"); initial = maintenance * `initial_multiple`.
    Predictive {
        forecaster: Forecaster,
        /// The loss quantile the maintenance margin covers over the horizon (e.g. 0.99).
        quantile: f64,
        horizon_s: f64,
        bar_s: f64,
        floor: f64,
        cap: f64,
        initial_multiple: f64,
        /// Volatility assumed for every bar before the run (annualized).
        initial_vol: f64,
    },
}

/// The volatility forecaster of `predictive` margin (`engine.margin.forecaster`, tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Forecaster {
    /// HAR-RV (Corsi 2009): next bar variance = `c + b1 RV(1) + b5 RV(5) + b22 RV(22)`, the
    /// means of the last 1, 5 and 22 bar variances; `c` makes `long_run_vol` the fixed point.
    Har {
        b1: f64,
        b5: f64,
        b22: f64,
        long_run_vol: f64,
    },
    /// GARCH(1,1) on bar returns, `h' = omega + alpha r^2 + beta h`, summed over the horizon
    /// in closed form; `omega` makes `long_run_vol` the long-run level.
    GarchQuantile {
        alpha: f64,
        beta: f64,
        long_run_vol: f64,
    },
    /// Online quantile regression of the next bar's absolute return on recent realized
    /// volatilities, fitted by pinball-loss subgradient steps of size `eta` at quantile `tau`.
    Learned { tau: f64, eta: f64 },
}

/// The liquidation mode (`engine.liquidation`, tag `kind`). Bonuses are fractions of the
/// repaid value paid to the liquidator in collateral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LiquidationMode {
    /// Generation 1: the whole debt is repaid and collateral worth `debt * (1 + bonus)` seized.
    Full { bonus: f64 },
    /// Aave v3: repay `close_factor` of the debt, or all of it when the health factor is
    /// below `full_close_below`; `protocol_fee` is the share of the bonus that goes to the
    /// insurance fund.
    CloseFactor {
        close_factor: f64,
        full_close_below: f64,
        bonus: f64,
        #[serde(default)]
        protocol_fee: f64,
    },
    /// Proactive partial liquidation: repay at most `step` of the debt per liquidation and
    /// only as much as brings maintenance health back to `exit_buffer` of the position value.
    /// With `soft_threshold` `s > 1`, an account is liquidatable as soon as its equity falls
    /// below `s` times its maintenance requirement (before it is underwater), and the same
    /// sizing lifts that soft health (`equity - s * requirement`) back to the buffer.
    Incremental {
        step: f64,
        exit_buffer: f64,
        bonus: f64,
        /// Health ratio (equity over maintenance requirement) below which partial
        /// liquidation starts; 1 (the default) is the maintenance trigger.
        #[serde(default = "d_one", skip_serializing_if = "is_one")]
        soft_threshold: f64,
    },
    /// Maker Liquidations 2.0: a keeper's `bark` moves the account's collateral and debt
    /// into a Dutch auction (penalty `chop`); bidders `take` at the falling price.
    DutchAuction {
        /// Starting price over the oracle price (Maker `buf`, e.g. 1.2).
        start_premium: f64,
        curve: AuctionCurve,
        /// Seconds per step (stairstep) .
        #[serde(default = "d_step")]
        step_s: f64,
        /// Price multiplier per step (stairstep) or per second (exponential).
        #[serde(default = "d_cut")]
        cut: f64,
        /// Seconds to zero price (linear), default `tail_s`.
        #[serde(default)]
        tau_s: Option<f64>,
        /// Restart after this many seconds.
        tail_s: f64,
        /// Restart when price / top falls below this.
        cusp: f64,
        /// Flat keeper reward, quote.
        #[serde(default)]
        tip: f64,
        /// Keeper reward as a share of the auction's tab.
        #[serde(default)]
        chip: f64,
        /// Liquidation penalty (Maker `chop - 1`), a fraction of the debt added to the tab.
        chop: f64,
    },
    /// Maker Liquidations 1.2 (`flip.sol`, the mechanism of 12 March 2020): a keeper's
    /// `bite` moves the account's collateral (the lot) and its debt plus the penalty `chop`
    /// (the tab) into an English auction. Bidders first raise the quote bid for the whole lot
    /// (`tend`) up to the tab, then offer to take less collateral for the full tab (`dent`);
    /// every bid beats the standing one by at least `beg`, the auction ends `ttl_s` after the
    /// last bid or `tau_s` after the kick, and the winner's `deal` settles it. A bid that
    /// nobody answers wins, however low.
    EnglishAuction {
        /// Minimum increment of a bid over the standing one (Maker `beg - 1`, e.g. 0.03).
        beg: f64,
        /// Bid lifetime: the auction ends this many seconds after the last bid (Maker `ttl`).
        ttl_s: f64,
        /// Auction lifetime from the kick (Maker `tau`); an auction that reaches it without a
        /// bid restarts at the next bid (Maker `tick`).
        tau_s: f64,
        /// Liquidation penalty (Maker `chop - 1`), a fraction of the debt added to the tab.
        chop: f64,
    },
    /// Hyperliquid-like: liquidators close positions with `bonus` as in `full`; an account
    /// whose equity falls below `trigger` times its maintenance requirement is absorbed by the
    /// protocol's backstop vault at the end of the block.
    Backstop { bonus: f64, trigger: f64 },
}

fn d_one() -> f64 {
    1.0
}
fn is_one(x: &f64) -> bool {
    *x == 1.0
}
fn d_step() -> f64 {
    90.0
}
fn d_cut() -> f64 {
    0.99
}

/// Dutch auction price curves (Maker `abaci.sol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuctionCurve {
    /// `top * (tau - t) / tau`, zero after `tau`.
    Linear,
    /// `top * cut^floor(t / step)`.
    Stairstep,
    /// `top * cut^t` (cut per second).
    Exponential,
}

/// One step of the bad-debt waterfall, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WaterfallStep {
    /// The insurance fund pays what it holds.
    InsuranceFund,
    /// The lenders' pool (the counterparty of every loan and perp) writes the loss off
    /// pro rata.
    Socialize,
    /// Auto-deleveraging: opposite-side perp positions in the bankrupt position's market are
    /// closed, up to its size, at `engine.adl_price` (dYdX v4, Hyperliquid).
    Adl { ranking: AdlRanking },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdlRanking {
    /// Hyperliquid: `(mark / entry) * (notional / account value)`, highest first.
    PnlTimesLeverage,
    /// dYdX: a random order (the engine's stream).
    Random,
}

/// Circuit breakers (`engine.breakers`); every field is optional (absent = off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Pause when an oracle price moves more than this fraction in one block.
    #[serde(default)]
    pub max_oracle_move: Option<f64>,
    /// Pause when an oracle deviates from its TWAP guard by more than this fraction.
    #[serde(default)]
    pub max_twap_divergence: Option<f64>,
    /// How long a pause lasts, seconds.
    #[serde(default = "d_pause")]
    pub pause_s: f64,
    /// After a pause, liquidations stay blocked this long (Aave's grace period), seconds.
    #[serde(default)]
    pub grace_s: f64,
    /// A liquidation whose collateral sale would fill more than this fraction away from the
    /// oracle price reverts (a price band).
    #[serde(default)]
    pub price_band: Option<f64>,
    /// At most this many liquidations per block.
    #[serde(default)]
    pub max_liquidations_per_block: Option<u32>,
}

fn d_pause() -> f64 {
    600.0
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            max_oracle_move: None,
            max_twap_divergence: None,
            pause_s: d_pause(),
            grace_s: 0.0,
            price_band: None,
            max_liquidations_per_block: None,
        }
    }
}

/// `[engine]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    pub margin: MarginModel,
    pub liquidation: LiquidationMode,
    #[serde(default = "d_waterfall")]
    pub waterfall: Vec<WaterfallStep>,
    /// Insurance fund at genesis, quote.
    #[serde(default)]
    pub insurance_fund: f64,
    /// Share of liquidation penalties and protocol fees paid into the insurance fund (the
    /// rest goes to the lenders' pool).
    #[serde(default = "d_fee_share")]
    pub insurance_fee_share: f64,
    /// Quote the lenders supply at genesis (the counterparty of loans and perps).
    #[serde(default = "d_pool")]
    pub pool_liquidity: f64,
    #[serde(default)]
    pub margin_mode: MarginMode,
    /// Perp funding: annualized rate = clamp(funding_scale * (venue - oracle) / oracle,
    /// +-funding_cap), settled every `funding_interval_s`.
    #[serde(default)]
    pub funding_scale: f64,
    #[serde(default)]
    pub funding_cap: f64,
    #[serde(default = "d_funding_interval")]
    pub funding_interval_s: f64,
    /// Venue whose price is the perp mark for funding (default: the asset's first venue).
    #[serde(default)]
    pub funding_venue: Option<String>,
    /// Open/close fee on perp notional, a fraction (to the insurance fund share / pool).
    #[serde(default)]
    pub perp_fee: f64,
    #[serde(default)]
    pub breakers: BreakerConfig,
    /// What the public (searchers and their bots) may read of accounts: `false` (all),
    /// `true` (health hidden until the protocol's own end-of-block check flags the account:
    /// nobody can liquidate ahead of the flag by reading a pending oracle update), or
    /// `{ kind = "zk_proofs", ... }` (private positions with solvency and insolvency proofs,
    /// `privacy.rs`).
    #[serde(default)]
    pub privacy: crate::privacy::Privacy,
    /// Whether oracle guard violations block liquidations.
    #[serde(default = "d_true")]
    pub respect_oracle_guards: bool,
    /// The listed options chain (absent: no options).
    #[serde(default)]
    pub options: Option<OptionsConfig>,
    /// How option books are margined (`standard`, `portfolio`, `delta_gamma`).
    #[serde(default)]
    pub option_margin: OptionMargin,
    /// Margin parameters, implied vols and Greeks are refreshed every this many seconds: at
    /// the first block whose time reaches each multiple of the interval (0, the default:
    /// every block, exact).
    #[serde(default)]
    pub risk_update_interval_s: f64,
    /// Replaced block-count key, present only to be rejected with its conversion.
    #[serde(default, skip_serializing)]
    pub risk_update_interval_blocks: Option<f64>,
    /// How many option accounts the engine can revalue per block (absent: all, exact); the
    /// rest keep their last requirement until their turn.
    #[serde(default)]
    pub max_revaluations_per_block: Option<u32>,
    /// The price liquidated perps close at (`oracle`, `market`, `backstop`).
    #[serde(default)]
    pub perp_settlement: PerpSettlement,
    /// Who pays the slippage of a `market` or `backstop` settlement against `p_ref`.
    #[serde(default)]
    pub market_slippage_payer: SlippagePayer,
    /// The backstop liquidity provider (`perp_settlement = "backstop"` only).
    #[serde(default)]
    pub settlement_backstop: Option<SettlementBackstop>,
    /// The price an `adl` waterfall step closes positions at.
    #[serde(default)]
    pub adl_price: AdlPrice,
    /// The price a voluntary perp trade (open, add, reduce, close) fills at.
    #[serde(default)]
    pub perp_trade_price: PerpTradePrice,
    /// Who decides liquidations: the chain (`onchain`) or an off-chain engine settling in
    /// batches (`async`; `crate::sequencer`).
    #[serde(default, skip_serializing_if = "SequencerConfig::is_onchain")]
    pub sequencer: SequencerConfig,
    /// Intent-based liquidation: solvers' standing commitments routed before the public
    /// race (`crate::intents`; off by default, and then not serialized, so identities of
    /// existing configurations do not change).
    #[serde(default, skip_serializing_if = "crate::intents::IntentPolicy::is_off")]
    pub intents: crate::intents::IntentPolicy,
    /// Where borrowers' collateral lives: with the debt (`off`) or on a second chain reached
    /// through a bridge (`bridge`; `crate::bridge`; off by default, and then not serialized).
    #[serde(
        default,
        skip_serializing_if = "crate::bridge::CrossChainConfig::is_off"
    )]
    pub cross_chain: crate::bridge::CrossChainConfig,
}

impl EngineConfig {
    /// A plain engine (tests and examples build from it with struct update syntax): fixed
    /// margins `initial` / `maintenance`, `liquidation`, losses socialized, no insurance
    /// fund, a 10,000,000 pool, cross margin, oracle guards respected, and every optional
    /// mechanism off (no funding, fees, breakers, options, privacy, risk budget, sequencer or
    /// intents; perps settle and trade at the oracle).
    pub fn plain(initial: f64, maintenance: f64, liquidation: LiquidationMode) -> EngineConfig {
        EngineConfig {
            margin: MarginModel::Fixed {
                initial,
                maintenance,
            },
            liquidation,
            waterfall: vec![WaterfallStep::Socialize],
            insurance_fund: 0.0,
            insurance_fee_share: 1.0,
            pool_liquidity: 10_000_000.0,
            margin_mode: MarginMode::Cross,
            funding_scale: 0.0,
            funding_cap: 0.0,
            funding_interval_s: 3600.0,
            funding_venue: None,
            perp_fee: 0.0,
            breakers: BreakerConfig::default(),
            privacy: Default::default(),
            respect_oracle_guards: true,
            options: None,
            option_margin: Default::default(),
            risk_update_interval_s: 0.0,
            risk_update_interval_blocks: None,
            max_revaluations_per_block: None,
            perp_settlement: Default::default(),
            market_slippage_payer: Default::default(),
            settlement_backstop: None,
            adl_price: Default::default(),
            perp_trade_price: Default::default(),
            sequencer: Default::default(),
            intents: Default::default(),
            cross_chain: Default::default(),
        }
    }
}

/// The price a voluntary perp trade fills at (`engine.perp_trade_price`): opening, adding
/// to, reducing or flattening a perp, and the perps a `Close` realizes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PerpTradePrice {
    /// At the market's execution price for the traded size (`p_ref` plus impact, from the
    /// caller's market): the trader pays the slippage and the trade is flow on the market.
    #[default]
    Market,
    /// At the oracle price against the pool, free of slippage and without market flow (an
    /// oracle-priced perp venue, e.g. GMX v1): the legacy rule.
    Oracle,
}

/// The price a liquidation closes a perp at (`engine.perp_settlement`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PerpSettlement {
    /// At the oracle price against the pool (the protocol takes the position over at the
    /// oracle and its unwind hits the market): the legacy rule, kept for comparison.
    #[default]
    Oracle,
    /// At the market's execution price for the closed size (`p_ref` plus impact).
    Market,
    /// To a backstop liquidity provider at a discount to `p_ref`, within its capacity; the
    /// rest at market.
    Backstop,
}

/// Who pays a market settlement's slippage against `p_ref` (`engine.market_slippage_payer`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SlippagePayer {
    /// The liquidated account is settled at the execution price.
    #[default]
    Account,
    /// The account is settled at `p_ref`; the liquidator pays the difference.
    Liquidator,
}

/// `engine.settlement_backstop`: the backstop liquidity provider of `perp_settlement =
/// "backstop"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementBackstop {
    /// It buys longs at `p_ref (1 - discount)` and shorts at `p_ref (1 + discount)`.
    pub discount: f64,
    /// Notional at `p_ref` it takes over in a run, quote; beyond it closes go to market.
    pub capacity: f64,
}

/// The price auto-deleveraging closes positions at (`engine.adl_price`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AdlPrice {
    /// dYdX v4: the bankrupt position's bankruptcy price (where its equity is zero).
    #[default]
    Bankruptcy,
    /// Hyperliquid: the previous mark price.
    Mark,
}

impl MarginModel {
    pub fn validate(&self, c: &mut Check) {
        match self {
            MarginModel::Fixed {
                initial,
                maintenance,
            }
            | MarginModel::SizePremium {
                initial,
                maintenance,
                ..
            } => {
                c.range_open_hi("maintenance", *maintenance, 0.0, 1.0);
                c.range_open_hi("initial", *initial, 0.0, 1.0);
                if maintenance > initial {
                    c.fail(
                        "maintenance",
                        format!("must not exceed initial ({maintenance} > {initial})"),
                    );
                }
                if *maintenance <= 0.0 {
                    c.fail("maintenance", "must be > 0");
                }
                if let MarginModel::SizePremium { imf, .. } = self {
                    c.non_negative("imf", *imf);
                }
            }
            MarginModel::Predictive {
                forecaster,
                quantile,
                horizon_s,
                bar_s,
                floor,
                cap,
                initial_multiple,
                initial_vol,
            } => {
                if !(*quantile > 0.5 && *quantile < 1.0) {
                    c.fail(
                        "quantile",
                        format!("must be in (0.5, 1): the loss quantile the margin covers (got {quantile})"),
                    );
                }
                c.positive("bar_s", *bar_s);
                c.positive("horizon_s", *horizon_s);
                if horizon_s < bar_s {
                    c.fail(
                        "horizon_s",
                        format!("must be >= bar_s (a horizon of at least one bar; got {horizon_s} < {bar_s})"),
                    );
                }
                validate_bounds(c, *floor, *cap, *initial_multiple);
                c.positive("initial_vol", *initial_vol);
                let mut e = c.at("forecaster");
                match forecaster {
                    Forecaster::Har {
                        b1,
                        b5,
                        b22,
                        long_run_vol,
                    } => {
                        e.non_negative("b1", *b1);
                        e.non_negative("b5", *b5);
                        e.non_negative("b22", *b22);
                        if b1 + b5 + b22 >= 1.0 {
                            e.fail(
                                "b22",
                                format!(
                                    "b1 + b5 + b22 must be < 1 (a stationary HAR; got {})",
                                    b1 + b5 + b22
                                ),
                            );
                        }
                        e.positive("long_run_vol", *long_run_vol);
                    }
                    Forecaster::GarchQuantile {
                        alpha,
                        beta,
                        long_run_vol,
                    } => {
                        e.non_negative("alpha", *alpha);
                        e.non_negative("beta", *beta);
                        if alpha + beta >= 1.0 {
                            e.fail(
                                "beta",
                                format!("alpha + beta must be < 1 (got {})", alpha + beta),
                            );
                        }
                        e.positive("long_run_vol", *long_run_vol);
                    }
                    Forecaster::Learned { tau, eta } => {
                        if !(*tau > 0.0 && *tau < 1.0) {
                            e.fail("tau", format!("must be in (0, 1) (got {tau})"));
                        }
                        e.positive("eta", *eta);
                    }
                }
            }
            MarginModel::VolAdjusted {
                k,
                horizon_s,
                estimator,
                floor,
                cap,
                initial_multiple,
                initial_vol,
            } => {
                c.positive("k", *k);
                c.positive("horizon_s", *horizon_s);
                c.range_open_hi("floor", *floor, 0.0, 1.0);
                c.range_open_hi("cap", *cap, 0.0, 1.0);
                if *floor <= 0.0 {
                    c.fail("floor", "must be > 0");
                }
                if floor > cap {
                    c.fail("cap", format!("must be >= floor ({cap} < {floor})"));
                }
                if initial_multiple.is_nan() || *initial_multiple < 1.0 {
                    c.fail(
                        "initial_multiple",
                        format!("must be >= 1 (initial margin at least maintenance), got {initial_multiple}"),
                    );
                }
                if *initial_multiple * *cap >= 1.0 {
                    c.fail(
                        "initial_multiple",
                        "initial_multiple * cap must be < 1 (an initial margin of 100% allows no borrowing)",
                    );
                }
                c.positive("initial_vol", *initial_vol);
                let mut e = c.at("estimator");
                match estimator {
                    VolEstimator::Ewma { half_life_s } => e.positive("half_life_s", *half_life_s),
                    VolEstimator::Garch { omega, alpha, beta } => {
                        e.positive("omega", *omega);
                        e.non_negative("alpha", *alpha);
                        e.non_negative("beta", *beta);
                        if alpha + beta >= 1.0 {
                            e.fail(
                                "beta",
                                format!("alpha + beta must be < 1 (got {})", alpha + beta),
                            );
                        }
                    }
                }
            }
        }
    }

    /// The smallest maintenance ratio the model can produce.
    pub fn min_maintenance(&self) -> f64 {
        match self {
            MarginModel::Fixed { maintenance, .. }
            | MarginModel::SizePremium { maintenance, .. } => *maintenance,
            MarginModel::VolAdjusted { floor, .. } | MarginModel::Predictive { floor, .. } => {
                *floor
            }
        }
    }
}

/// The floor, cap and initial multiple of a forecast-driven margin (`predictive`).
fn validate_bounds(c: &mut Check, floor: f64, cap: f64, initial_multiple: f64) {
    c.range_open_hi("floor", floor, 0.0, 1.0);
    c.range_open_hi("cap", cap, 0.0, 1.0);
    if floor <= 0.0 {
        c.fail("floor", "must be > 0");
    }
    if floor > cap {
        c.fail("cap", format!("must be >= floor ({cap} < {floor})"));
    }
    if initial_multiple.is_nan() || initial_multiple < 1.0 {
        c.fail(
            "initial_multiple",
            format!("must be >= 1 (initial margin at least maintenance), got {initial_multiple}"),
        );
    }
    if initial_multiple * cap >= 1.0 {
        c.fail(
            "initial_multiple",
            "initial_multiple * cap must be < 1 (an initial margin of 100% allows no borrowing)",
        );
    }
}

impl LiquidationMode {
    /// Whether liquidations start collateral auctions (Dutch or English).
    pub fn is_auction(&self) -> bool {
        matches!(
            self,
            LiquidationMode::DutchAuction { .. } | LiquidationMode::EnglishAuction { .. }
        )
    }

    /// The liquidator's bonus, if the mode has one.
    pub fn bonus(&self) -> Option<f64> {
        match self {
            LiquidationMode::Full { bonus }
            | LiquidationMode::CloseFactor { bonus, .. }
            | LiquidationMode::Incremental { bonus, .. }
            | LiquidationMode::Backstop { bonus, .. } => Some(*bonus),
            LiquidationMode::DutchAuction { .. } | LiquidationMode::EnglishAuction { .. } => None,
        }
    }

    pub fn validate(&self, c: &mut Check, min_maintenance: f64) {
        if let Some(b) = self.bonus() {
            c.non_negative("bonus", b);
            // A liquidation raises health only while bonus < m / (1 - m): past that, each
            // liquidation leaves the account worse off (docs/references.md, R26).
            let max = min_maintenance / (1.0 - min_maintenance);
            if b >= max {
                c.fail(
                    "bonus",
                    format!(
                        "must be below what the maintenance margin can pay: bonus < m / (1 - m) = {max:.4} for maintenance {min_maintenance} (got {b})"
                    ),
                );
            }
        }
        match self {
            LiquidationMode::Full { .. } => {}
            LiquidationMode::CloseFactor {
                close_factor,
                full_close_below,
                protocol_fee,
                ..
            } => {
                c.positive("close_factor", *close_factor);
                c.range("close_factor", *close_factor, 0.0, 1.0);
                c.range("full_close_below", *full_close_below, 0.0, 1.0);
                c.unit_interval("protocol_fee", *protocol_fee);
            }
            LiquidationMode::Incremental {
                step,
                exit_buffer,
                soft_threshold,
                ..
            } => {
                c.positive("step", *step);
                c.range("step", *step, 0.0, 1.0);
                c.range_open_hi("exit_buffer", *exit_buffer, 0.0, 1.0);
                if soft_threshold.is_nan() || *soft_threshold < 1.0 || *soft_threshold > 10.0 {
                    c.fail(
                        "soft_threshold",
                        format!("must be in [1, 10]: a health ratio (equity over maintenance requirement), 1 = the maintenance trigger (got {soft_threshold})"),
                    );
                }
            }
            LiquidationMode::DutchAuction {
                start_premium,
                curve,
                step_s,
                cut,
                tau_s,
                tail_s,
                cusp,
                tip,
                chip,
                chop,
            } => {
                if start_premium.is_nan() || *start_premium < 1.0 {
                    c.fail(
                        "start_premium",
                        format!("must be >= 1 (got {start_premium})"),
                    );
                }
                c.positive("step_s", *step_s);
                if *curve != AuctionCurve::Linear {
                    c.positive("cut", *cut);
                    c.range_open_hi("cut", *cut, 0.0, 1.0);
                }
                if let Some(t) = tau_s {
                    c.positive("tau_s", *t);
                }
                c.positive("tail_s", *tail_s);
                c.range_open_hi("cusp", *cusp, 0.0, 1.0);
                c.non_negative("tip", *tip);
                c.unit_interval("chip", *chip);
                c.range_open_hi("chop", *chop, 0.0, 1.0);
            }
            LiquidationMode::EnglishAuction {
                beg,
                ttl_s,
                tau_s,
                chop,
            } => {
                c.positive("beg", *beg);
                c.range_open_hi("beg", *beg, 0.0, 1.0);
                c.positive("ttl_s", *ttl_s);
                c.positive("tau_s", *tau_s);
                c.range_open_hi("chop", *chop, 0.0, 1.0);
            }
            LiquidationMode::Backstop { trigger, .. } => {
                c.range("trigger", *trigger, 0.0, 1.0);
            }
        }
    }
}

impl EngineConfig {
    /// Record every broken rule. `venue_names` are the scenario's venues.
    /// `block_time_s` is the time base of the conversion a replaced block-count key is given.
    pub fn validate(&self, c: &mut Check, venue_names: &[String], block_time_s: f64) {
        self.margin.validate(&mut c.at("margin"));
        self.liquidation
            .validate(&mut c.at("liquidation"), self.margin.min_maintenance());
        if self.waterfall.is_empty() {
            c.fail(
                "waterfall",
                "must name at least one step (insurance_fund, socialize, adl): otherwise no loss is ever covered",
            );
        }
        for (i, a) in self.waterfall.iter().enumerate() {
            if self.waterfall[..i].contains(a) {
                c.fail(&format!("waterfall[{i}]"), "appears twice");
            }
        }
        c.non_negative("insurance_fund", self.insurance_fund);
        c.unit_interval("insurance_fee_share", self.insurance_fee_share);
        c.positive("pool_liquidity", self.pool_liquidity);
        c.non_negative("funding_scale", self.funding_scale);
        c.non_negative("funding_cap", self.funding_cap);
        c.positive("funding_interval_s", self.funding_interval_s);
        c.range_open_hi("perp_fee", self.perp_fee, 0.0, 0.1);
        if let Some(v) = &self.funding_venue
            && !venue_names.iter().any(|n| n == v)
        {
            c.fail("funding_venue", format!("no venue is named {v:?}"));
        }
        let b = &self.breakers;
        let mut bc = c.at("breakers");
        if let Some(x) = b.max_oracle_move {
            bc.positive("max_oracle_move", x);
            bc.range_open_hi("max_oracle_move", x, 0.0, 1.0);
        }
        if let Some(x) = b.max_twap_divergence {
            bc.positive("max_twap_divergence", x);
        }
        if let Some(x) = b.price_band {
            bc.positive("price_band", x);
        }
        bc.positive("pause_s", b.pause_s);
        bc.non_negative("grace_s", b.grace_s);
        if b.max_liquidations_per_block == Some(0) {
            bc.fail(
                "max_liquidations_per_block",
                "must be >= 1 (0 would forbid every liquidation)",
            );
        }
        self.option_margin.validate(&mut c.at("option_margin"));
        self.privacy.validate(&mut c.at("privacy"));
        let old = self.risk_update_interval_blocks;
        legacy_delay(
            c,
            "risk_update_interval_blocks",
            "risk_update_interval_s",
            old,
            block_time_s,
        );
        check_delay(c, "risk_update_interval_s", self.risk_update_interval_s);
        if self.max_revaluations_per_block == Some(0) {
            c.fail(
                "max_revaluations_per_block",
                "must be >= 1 (0 would never revalue an option account; leave it out for unlimited)",
            );
        }
        match (&self.perp_settlement, &self.settlement_backstop) {
            (PerpSettlement::Backstop, None) => c.fail(
                "settlement_backstop",
                "is required when perp_settlement = \"backstop\" (give discount and capacity)",
            ),
            (PerpSettlement::Backstop, Some(b)) => {
                let mut bc = c.at("settlement_backstop");
                bc.range_open_hi("discount", b.discount, 0.0, 1.0);
                bc.non_negative("capacity", b.capacity);
            }
            // Read only under `backstop`: a sweep may set the provider once and vary the rule.
            _ => {}
        }
        self.sequencer.validate(&mut c.at("sequencer"));
        self.intents.validate(&mut c.at("intents"), self);
        self.cross_chain.validate(&mut c.at("cross_chain"));
        if !self.cross_chain.is_off() {
            if !matches!(
                self.liquidation,
                LiquidationMode::Full { .. }
                    | LiquidationMode::CloseFactor { .. }
                    | LiquidationMode::Incremental { .. }
            ) {
                c.fail(
                    "cross_chain",
                    "kind = \"bridge\" needs a fixed-bonus liquidation (full, close_factor or incremental): the remote keeper buys at the bonus",
                );
            }
            if !self.intents.is_off() {
                c.fail(
                    "cross_chain",
                    "kind = \"bridge\" cannot be combined with engine.intents (a solver's fill would take remote collateral on the home chain)",
                );
            }
        }
    }

    /// Rules that need the scenario's asset count (the options chain's underlyings).
    pub fn validate_assets(&self, c: &mut Check, n_assets: usize) {
        if let Some(o) = &self.options {
            o.validate(&mut c.at("options"), n_assets);
        }
    }
}
