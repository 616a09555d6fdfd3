//! Gas market: the EIP-1559 base fee, the block gas limit, background demand for block space,
//! and the arithmetic of paying gas in the quote asset.
//!
//! Why it matters for margin engines: in a crash everyone wants block space at once. Background
//! demand here rises with the size of price moves, so the base fee climbs block after block and
//! transactions that bid too little (a liquidator's, an oracle's) wait or never land: the Black
//! Thursday mechanism.
//!
//! **Base fee.** Exactly the EIP's integer rule (EIP-1559; docs/references.md, R14): with
//! `target = gas_limit / elasticity`, a parent block that used more than the target raises the
//! fee by `max(base * (used - target) / target / 8, 1)`, one that used less lowers it by
//! `base * (target - used) / target / 8` (integer divisions, in that order). In `flat` mode the
//! base fee never moves (an L2 or Solana-like chain with a constant fee).
//!
//! **Background demand** (the rest of the chain's users) at base fee `b`:
//! `G = target * background_util * m * exp(s e - s^2/2) * (b_ref / b)^demand_elasticity`,
//! capped at the gas limit, with `e` a standard normal (one draw per block), `s = demand_noise`
//! and the congestion multiplier `m = exp(congestion_beta * z)`. `z` is an exponentially
//! weighted average (half-life `congestion_half_life_s`, in time) of
//! `|log return| / sqrt(dt_years)`, an annualized absolute-return measure: about
//! `sigma * sqrt(2/pi)` in calm markets (sigma = 0.6 gives z ~ 0.48), and about 7.6 during a
//! 40%-per-day crash. The demand is elastic, so a shock raises the base fee until demand is back
//! at the target: the equilibrium fee is `b_ref * (util * m)^(1/elasticity)`. It bids priority
//! fees too: the demand is split into 8 equal buckets whose tips are the quantiles
//! `(k + 1/2)/8` of an exponential distribution with mean `tip_gwei * m`, and agents' transactions
//! compete with those buckets for space in the block builder.
//!
//! **Paying gas.** Gas is paid in the quote asset: `g` gas at `w` wei per gas when the native gas
//! token is worth `N` quote costs `ceil(g * w * N_nano / 1e18)` quote base units, where `N_nano =
//! round(N * 1e9)`; all integer, rounded up so the payer never underpays.

use cascade_core::clock::legacy_delay;
use cascade_core::math::mul_div_ceil_u128;
use cascade_core::tx::GasKind;
use cascade_core::{Amount, Check, SimRng};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Number of tip buckets the background demand is split into.
pub const BACKGROUND_BUCKETS: usize = 8;

/// How the base fee behaves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GasMode {
    /// EIP-1559: the base fee follows the parent block's gas used.
    #[default]
    Eip1559,
    /// A constant base fee (`base_fee_gwei`).
    Flat,
}

fn d_gas_limit() -> u64 {
    30_000_000
}
fn d_elasticity() -> u64 {
    2
}
fn d_base_fee() -> f64 {
    20.0
}
fn d_native_price() -> f64 {
    2000.0
}
fn d_util() -> f64 {
    1.0
}
fn d_elastic() -> f64 {
    1.0
}
fn d_noise() -> f64 {
    0.05
}
fn d_half_life() -> f64 {
    600.0
}
fn d_tip() -> f64 {
    1.0
}
/// Fifty 12 s blocks.
fn d_ttl() -> f64 {
    600.0
}
fn d_revert() -> f64 {
    0.5
}

/// Gas used by each kind of transaction (`[gas.costs]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GasCosts {
    pub liquidation: u64,
    pub swap: u64,
    pub oracle_update: u64,
    pub open: u64,
    pub close: u64,
    pub deposit: u64,
    pub bid: u64,
    pub order: u64,
    pub cancel: u64,
}

impl Default for GasCosts {
    fn default() -> Self {
        // Orders of magnitude from docs/references.md, R8 (Aave v3 liquidationCall
        // ~0.35-0.49M gas in its snapshots) and typical Uniswap v2 swaps.
        GasCosts {
            liquidation: 400_000,
            swap: 150_000,
            oracle_update: 80_000,
            open: 200_000,
            close: 150_000,
            deposit: 80_000,
            bid: 150_000,
            order: 120_000,
            cancel: 60_000,
        }
    }
}

impl GasCosts {
    pub fn cost(&self, kind: GasKind) -> u64 {
        match kind {
            GasKind::Liquidation => self.liquidation,
            GasKind::Swap => self.swap,
            GasKind::OracleUpdate => self.oracle_update,
            GasKind::Open => self.open,
            GasKind::Close => self.close,
            GasKind::Deposit => self.deposit,
            GasKind::Bid => self.bid,
            GasKind::Order => self.order,
            GasKind::Cancel => self.cancel,
        }
    }
}

/// `[gas]`. Every field has a default, so the table may be omitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GasConfig {
    #[serde(default)]
    pub mode: GasMode,
    #[serde(default = "d_gas_limit")]
    pub gas_limit: u64,
    #[serde(default = "d_elasticity")]
    pub elasticity: u64,
    /// Initial base fee (the constant fee in flat mode), gwei.
    #[serde(default = "d_base_fee")]
    pub base_fee_gwei: f64,
    /// Quote per whole native gas token, when `native_asset` is not set.
    #[serde(default = "d_native_price")]
    pub native_price: f64,
    /// An asset whose reference price is the native token's price (the simulator resolves it).
    #[serde(default)]
    pub native_asset: Option<String>,
    /// The base fee at which background demand is `background_util * target`; default
    /// `base_fee_gwei`.
    #[serde(default)]
    pub reference_fee_gwei: Option<f64>,
    #[serde(default = "d_util")]
    pub background_util: f64,
    #[serde(default = "d_elastic")]
    pub demand_elasticity: f64,
    #[serde(default = "d_noise")]
    pub demand_noise: f64,
    #[serde(default)]
    pub congestion_beta: f64,
    #[serde(default = "d_half_life")]
    pub congestion_half_life_s: f64,
    /// Mean priority fee of background demand in calm markets, gwei.
    #[serde(default = "d_tip")]
    pub tip_gwei: f64,
    /// Seconds a public transaction waits before it expires: it leaves the mempool at the
    /// first block whose time is at least its submission block's time plus this.
    #[serde(default = "d_ttl")]
    pub mempool_ttl_s: f64,
    /// Replaced block-count key, present only to be rejected with its conversion.
    #[serde(default, skip_serializing)]
    pub mempool_ttl_blocks: Option<f64>,
    /// Share of its kind's gas that a reverted transaction uses.
    #[serde(default = "d_revert")]
    pub revert_fraction: f64,
    #[serde(default)]
    pub costs: GasCosts,
}

impl Default for GasConfig {
    fn default() -> Self {
        GasConfig {
            mode: GasMode::Eip1559,
            gas_limit: d_gas_limit(),
            elasticity: d_elasticity(),
            base_fee_gwei: d_base_fee(),
            native_price: d_native_price(),
            native_asset: None,
            reference_fee_gwei: None,
            background_util: d_util(),
            demand_elasticity: d_elastic(),
            demand_noise: d_noise(),
            congestion_beta: 0.0,
            congestion_half_life_s: d_half_life(),
            tip_gwei: d_tip(),
            mempool_ttl_s: d_ttl(),
            mempool_ttl_blocks: None,
            revert_fraction: d_revert(),
            costs: GasCosts::default(),
        }
    }
}

impl GasConfig {
    /// Record every broken rule under `c`.
    /// `block_time_s` is the time base of the conversion a replaced block-count key is given.
    pub fn validate(&self, c: &mut Check, block_time_s: f64) {
        let old = self.mempool_ttl_blocks;
        legacy_delay(c, "mempool_ttl_blocks", "mempool_ttl_s", old, block_time_s);
        c.positive_int("gas_limit", self.gas_limit);
        c.positive_int("elasticity", self.elasticity);
        match self.mode {
            GasMode::Eip1559 => {
                c.positive("base_fee_gwei", self.base_fee_gwei);
                if let Some(r) = self.reference_fee_gwei {
                    c.positive("reference_fee_gwei", r);
                }
            }
            GasMode::Flat => {
                c.non_negative("base_fee_gwei", self.base_fee_gwei);
                if let Some(r) = self.reference_fee_gwei {
                    c.non_negative("reference_fee_gwei", r);
                }
            }
        }
        if self.base_fee_gwei > 1e9 {
            c.fail(
                "base_fee_gwei",
                format!("must be at most 1e9 gwei (got {})", self.base_fee_gwei),
            );
        }
        c.positive("native_price", self.native_price);
        c.non_negative("background_util", self.background_util);
        c.non_negative("demand_elasticity", self.demand_elasticity);
        c.non_negative("demand_noise", self.demand_noise);
        c.non_negative("congestion_beta", self.congestion_beta);
        c.positive("congestion_half_life_s", self.congestion_half_life_s);
        c.non_negative("tip_gwei", self.tip_gwei);
        c.positive("mempool_ttl_s", self.mempool_ttl_s);
        c.unit_interval("revert_fraction", self.revert_fraction);
        let too_big: Vec<String> = GasKind::ALL
            .iter()
            .filter(|k| self.costs.cost(**k) > self.gas_limit)
            .map(|k| format!("{} = {}", k.as_str(), self.costs.cost(*k)))
            .collect();
        if self.gas_limit > 0 && !too_big.is_empty() {
            c.fail(
                "gas_limit",
                format!(
                    "must hold the largest transaction (got {}; gas.costs: {}): such transactions would never fit in a block",
                    self.gas_limit,
                    too_big.join(", ")
                ),
            );
        }
        let mut cc = c.at("costs");
        for k in GasKind::ALL {
            cc.positive_int(k.as_str(), self.costs.cost(k));
        }
    }

    /// The gas target of a block.
    pub fn target(&self) -> u64 {
        self.gas_limit / self.elasticity.max(1)
    }
}

/// The EIP-1559 base fee of a block whose parent had `parent_base_fee` and used
/// `parent_gas_used`, exactly as the EIP's integer rule.
pub fn next_base_fee(
    parent_base_fee: u128,
    parent_gas_used: u64,
    gas_limit: u64,
    elasticity: u64,
) -> u128 {
    let target = (gas_limit / elasticity.max(1)) as u128;
    let used = parent_gas_used as u128;
    if target == 0 || used == target {
        return parent_base_fee;
    }
    if used > target {
        let delta = (parent_base_fee * (used - target) / target / 8).max(1);
        parent_base_fee.saturating_add(delta)
    } else {
        let delta = parent_base_fee * (target - used) / target / 8;
        parent_base_fee - delta
    }
}

/// Quote base units of `gas` at `price_wei` per gas when the native token is worth
/// `native_price` quote: `ceil(gas * price_wei * round(native_price * 1e9) / 1e18)`.
pub fn fee_in_quote(gas: u64, price_wei: u128, native_price: f64) -> Amount {
    let n = native_nano(native_price);
    let gw = (gas as u128).saturating_mul(price_wei);
    Amount(mul_div_ceil_u128(gw, n, 1_000_000_000_000_000_000).unwrap_or(u128::MAX >> 1) as i128)
}

/// The base-fee part (burnt) and the tip part (to the builder) of a fee, each rounded up.
pub fn fee_split(gas: u64, base_fee: u128, tip: u128, native_price: f64) -> (Amount, Amount) {
    (
        fee_in_quote(gas, base_fee, native_price),
        fee_in_quote(gas, tip, native_price),
    )
}

fn native_nano(p: f64) -> u128 {
    if p.is_finite() && p > 0.0 {
        (p * 1e9).round().min(1e30) as u128
    } else {
        0
    }
}

/// Gwei to wei, rounded.
pub fn gwei_to_wei(g: f64) -> u128 {
    if g.is_finite() && g > 0.0 {
        (g * 1e9).round().min(1e35) as u128
    } else {
        0
    }
}

/// The rest of the chain's demand for one block: gas per tip level, highest tip first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackgroundDemand {
    /// `(tip in wei per gas, gas)`, sorted by tip, descending (a fixed array: drawing a
    /// block's demand allocates nothing).
    pub buckets: [(u128, u64); BACKGROUND_BUCKETS],
    pub total: u64,
}

impl BackgroundDemand {
    /// Demand of the given buckets (at most [`BACKGROUND_BUCKETS`], by tip, descending), the
    /// rest empty: a bucket of no gas at tip 0 changes no block (tests).
    pub fn from_buckets(buckets: &[(u128, u64)]) -> BackgroundDemand {
        let mut b = [(0u128, 0u64); BACKGROUND_BUCKETS];
        b[..buckets.len()].copy_from_slice(buckets);
        BackgroundDemand {
            buckets: b,
            total: buckets.iter().map(|x| x.1).sum(),
        }
    }
}

/// The gas market's state.
#[derive(Debug, Clone)]
pub struct GasMarket {
    mode: GasMode,
    gas_limit: u64,
    elasticity: u64,
    target: u64,
    base_fee: u128,
    reference_fee: f64,
    util: f64,
    elasticity_d: f64,
    noise: f64,
    beta: f64,
    half_life_s: f64,
    tip_wei: f64,
    native_price: f64,
    z: f64,
    base_fee_max: u128,
}

impl GasMarket {
    pub fn new(cfg: &GasConfig) -> GasMarket {
        let base = gwei_to_wei(cfg.base_fee_gwei);
        GasMarket {
            mode: cfg.mode,
            gas_limit: cfg.gas_limit,
            elasticity: cfg.elasticity.max(1),
            target: cfg.target(),
            base_fee: base,
            reference_fee: gwei_to_wei(cfg.reference_fee_gwei.unwrap_or(cfg.base_fee_gwei)) as f64,
            util: cfg.background_util,
            elasticity_d: cfg.demand_elasticity,
            noise: cfg.demand_noise,
            beta: cfg.congestion_beta,
            half_life_s: cfg.congestion_half_life_s,
            tip_wei: cfg.tip_gwei * 1e9,
            native_price: cfg.native_price,
            z: 0.0,
            base_fee_max: base,
        }
    }

    /// The current base fee, wei per gas.
    pub fn base_fee(&self) -> u128 {
        self.base_fee
    }

    /// The highest base fee so far.
    pub fn base_fee_max(&self) -> u128 {
        self.base_fee_max
    }

    pub fn native_price(&self) -> f64 {
        self.native_price
    }

    pub fn set_native_price(&mut self, p: f64) {
        if p.is_finite() && p > 0.0 {
            self.native_price = p;
        }
    }

    /// The congestion state `z` and the demand multiplier `exp(beta z)`.
    pub fn congestion(&self) -> (f64, f64) {
        (self.z, (self.beta * self.z).exp())
    }

    pub fn gas_limit(&self) -> u64 {
        self.gas_limit
    }

    /// Step 3 of a block: update congestion with this block's absolute log return over `dt_s`
    /// seconds, then draw the background demand at the current base fee. Draws exactly one
    /// normal from `rng`.
    pub fn begin_block(
        &mut self,
        abs_log_return: f64,
        dt_s: f64,
        rng: &mut SimRng,
    ) -> BackgroundDemand {
        let e: f64 = StandardNormal.sample(rng);
        let dt_years = dt_s / crate::SECONDS_PER_YEAR;
        if dt_years > 0.0 && abs_log_return.is_finite() {
            let x = abs_log_return / dt_years.sqrt();
            let w = 1.0 - 0.5f64.powf(dt_s / self.half_life_s);
            self.z = (1.0 - w) * self.z + w * x;
        }
        let m = (self.beta * self.z).exp();
        let price_factor = if self.elasticity_d == 0.0 {
            1.0
        } else if self.base_fee == 0 {
            f64::INFINITY
        } else {
            (self.reference_fee / self.base_fee as f64).powf(self.elasticity_d)
        };
        let s = self.noise;
        let g = self.target as f64 * self.util * m * (s * e - 0.5 * s * s).exp() * price_factor;
        let total = if g.is_finite() {
            g.clamp(0.0, self.gas_limit as f64) as u64
        } else if g > 0.0 {
            self.gas_limit
        } else {
            0
        };
        let mean_tip = self.tip_wei * m;
        let k = BACKGROUND_BUCKETS as u64;
        let mut buckets = [(0u128, 0u64); BACKGROUND_BUCKETS];
        let mut left = total;
        for (i, bucket) in buckets.iter_mut().enumerate() {
            // Quantiles from the top: bucket 0 holds the highest tips.
            let q = 1.0 - (i as f64 + 0.5) / BACKGROUND_BUCKETS as f64;
            let tip = -mean_tip * (1.0 - q).ln();
            let gas = if i + 1 == BACKGROUND_BUCKETS {
                left
            } else {
                total / k
            };
            left -= gas;
            *bucket = (
                if tip.is_finite() {
                    tip.max(0.0) as u128
                } else {
                    0
                },
                gas,
            );
        }
        BackgroundDemand { buckets, total }
    }

    /// Step 8: the block used `gas_used_total` (background and transactions); set the next base
    /// fee.
    pub fn end_block(&mut self, gas_used_total: u64) {
        if self.mode == GasMode::Eip1559 {
            self.base_fee = next_base_fee(
                self.base_fee,
                gas_used_total,
                self.gas_limit,
                self.elasticity,
            );
        }
        self.base_fee_max = self.base_fee_max.max(self.base_fee);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::rng::{run_seed, stream};

    /// Hand-computed values of the EIP-1559 rule (limit 30M, elasticity 2: target 15M).
    #[test]
    fn eip1559_golden() {
        let l = 30_000_000;
        // Used == target: unchanged.
        assert_eq!(
            next_base_fee(1_000_000_000, 15_000_000, l, 2),
            1_000_000_000
        );
        // Full block: +1e9 * 15e6 / 15e6 / 8 = +125,000,000 (+12.5%).
        assert_eq!(
            next_base_fee(1_000_000_000, 30_000_000, l, 2),
            1_125_000_000
        );
        // Empty block: -1e9 * 15e6 / 15e6 / 8 = -125,000,000.
        assert_eq!(next_base_fee(1_000_000_000, 0, l, 2), 875_000_000);
        // Tiny excess: 7 * 1 / 15e6 / 8 = 0 -> the minimum increase of 1.
        assert_eq!(next_base_fee(7, 15_000_001, l, 2), 8);
        // 20 gwei, used 20M: 20e9 * 5e6 = 1e17; / 15e6 = 6,666,666,666 (truncated); / 8 =
        // 833,333,333 (truncated).
        assert_eq!(
            next_base_fee(20_000_000_000, 20_000_000, l, 2),
            20_833_333_333
        );
        // 20 gwei, used 10M: 20e9 * 5e6 / 15e6 = 6,666,666,666; / 8 = 833,333,333 down.
        assert_eq!(
            next_base_fee(20_000_000_000, 10_000_000, l, 2),
            19_166_666_667
        );
        // Base 100, used 1: 100 * 14,999,999 = 1,499,999,900; / 15e6 = 99; / 8 = 12 -> 88.
        assert_eq!(next_base_fee(100, 1, l, 2), 88);
        // Base 1, below target: 1 * 15e6 / 15e6 / 8 = 0: stays at 1 (never reaches 0 here).
        assert_eq!(next_base_fee(1, 0, l, 2), 1);
        // Elasticity 4 (target 7.5M), full block: 8 * 22.5e6 / 7.5e6 / 8 = 3 -> 11.
        assert_eq!(next_base_fee(8, 30_000_000, l, 4), 11);
        // Base 0 above target: max(0, 1) = 1.
        assert_eq!(next_base_fee(0, 30_000_000, l, 2), 1);
    }

    /// The EIP's rule transcribed independently from the specification's Python
    /// (ethereum/EIPs, EIPS/eip-1559.md, `validate_block`), in arbitrary-precision style: no
    /// saturation, every intermediate checked, division order as written there.
    fn spec_next_base_fee(
        parent_base_fee: u128,
        parent_gas_used: u64,
        limit: u64,
        em: u64,
    ) -> u128 {
        const BASE_FEE_MAX_CHANGE_DENOMINATOR: u128 = 8;
        let parent_gas_target = (limit / em) as u128;
        let used = parent_gas_used as u128;
        if used == parent_gas_target {
            parent_base_fee
        } else if used > parent_gas_target {
            let gas_used_delta = used - parent_gas_target;
            let delta = std::cmp::max(
                parent_base_fee.checked_mul(gas_used_delta).unwrap()
                    / parent_gas_target
                    / BASE_FEE_MAX_CHANGE_DENOMINATOR,
                1,
            );
            parent_base_fee.checked_add(delta).unwrap()
        } else {
            let gas_used_delta = parent_gas_target - used;
            let delta = parent_base_fee.checked_mul(gas_used_delta).unwrap()
                / parent_gas_target
                / BASE_FEE_MAX_CHANGE_DENOMINATOR;
            parent_base_fee.checked_sub(delta).unwrap()
        }
    }

    /// EIP-1559 (docs/references.md, R14): the base-fee path of a `GasMarket` driven by a scripted
    /// sequence of gas used equals the EIP's rule applied block by block, to the wei: runs of
    /// full and empty blocks, blocks at the target and one gas either side of it, a ramp, a
    /// deterministic pseudo-random sequence, and a base fee small enough that the minimum
    /// increase of 1 wei decides; for elasticity 2 and 4.
    #[test]
    fn base_fee_path_follows_the_eip_rule_to_the_wei() {
        let limit = 30_000_000u64;
        for (elasticity, start_gwei) in [(2u64, 20.0), (4, 1.0), (2, 0.000_000_007)] {
            let target = limit / elasticity;
            let mut script: Vec<u64> = Vec::new();
            script.extend(std::iter::repeat_n(limit, 40));
            script.extend(std::iter::repeat_n(0, 60));
            script.extend([target, target + 1, target - 1, target, 1, limit - 1]);
            script.extend((0..=50).map(|i| limit / 50 * i));
            // A linear congruential sequence (Knuth's MMIX constants) in [0, 2 target], centred
            // on the target so that the fee wanders instead of running away.
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            for _ in 0..500 {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                script.push((x >> 33) % (2 * target + 1));
            }
            let cfg = GasConfig {
                elasticity,
                base_fee_gwei: start_gwei,
                ..GasConfig::default()
            };
            let mut g = GasMarket::new(&cfg);
            let mut want = gwei_to_wei(start_gwei);
            assert_eq!(g.base_fee(), want);
            let mut max = want;
            for (i, &used) in script.iter().enumerate() {
                g.end_block(used);
                want = spec_next_base_fee(want, used, limit, elasticity);
                max = max.max(want);
                assert_eq!(g.base_fee(), want, "block {i}, used {used}");
            }
            assert_eq!(g.base_fee_max(), max);
            // The path went somewhere: up 40 blocks in a row, down 60.
            assert!(max > gwei_to_wei(start_gwei));
        }
    }

    #[test]
    fn fees_round_up_and_never_overflow() {
        // 100,000 gas at 20 gwei, native at 2000: 2e15 wei = 0.002 ETH = 4 quote.
        assert_eq!(
            fee_in_quote(100_000, 20_000_000_000, 2000.0),
            Amount::from_whole(4.0)
        );
        // 1 gas at 1 wei, native at 1: 1e-18 quote -> rounds up to one base unit.
        assert_eq!(fee_in_quote(1, 1, 1.0), Amount(1));
        assert_eq!(fee_in_quote(0, 1_000, 1.0), Amount::ZERO);
        // 30M gas at 10,000 gwei = 3e20 wei = 300 native tokens, at 1e6 quote each: 3e8 quote.
        let f = fee_in_quote(30_000_000, 10_000 * 1_000_000_000, 1e6);
        assert_eq!(f, Amount::from_whole(300_000_000.0));
        let (b, t) = fee_split(21_000, 10, 3, 1.0);
        assert_eq!((b, t), (Amount(1), Amount(1)));
    }

    /// `[gas.costs]`: each kind of transaction uses its own configured gas (unset kinds keep
    /// their defaults), and its fee follows: a 400k-gas liquidation at 50 gwei with the native
    /// token at 2,000 costs 400,000 * 50e9 * 2,000 / 1e18 = 40 quote, a 150k swap 15.
    #[test]
    fn per_kind_costs_from_the_config() {
        let cfg: GasConfig =
            toml::from_str("[costs]\nliquidation = 500_000\noracle_update = 60_000\n").unwrap();
        let d = GasCosts::default();
        for k in GasKind::ALL {
            let want = match k {
                GasKind::Liquidation => 500_000,
                GasKind::OracleUpdate => 60_000,
                _ => d.cost(k),
            };
            assert_eq!(cfg.costs.cost(k), want, "{}", k.as_str());
        }
        // The defaults are distinct per kind where the actions differ in work.
        assert_eq!(d.cost(GasKind::Liquidation), 400_000);
        assert_eq!(d.cost(GasKind::Swap), 150_000);
        assert!(d.cost(GasKind::Cancel) < d.cost(GasKind::Order));
        let w = gwei_to_wei(50.0);
        assert_eq!(
            fee_in_quote(d.cost(GasKind::Liquidation), w, 2000.0),
            Amount::from_whole(40.0)
        );
        assert_eq!(
            fee_in_quote(d.cost(GasKind::Swap), w, 2000.0),
            Amount::from_whole(15.0)
        );
        // An unknown kind is an error, and a kind larger than the block is named.
        assert!(toml::from_str::<GasConfig>("[costs]\nflashloan = 1\n").is_err());
        let big: GasConfig = toml::from_str("gas_limit = 300_000\n").unwrap();
        let mut issues = Vec::new();
        big.validate(&mut Check::new(&mut issues), 12.0);
        let text = format!("{issues:?}");
        assert!(text.contains("liquidation = 400000"), "{text}");
        assert!(!text.contains("swap = 150000"), "{text}");
    }

    fn market(cfg: GasConfig) -> (GasMarket, SimRng) {
        (GasMarket::new(&cfg), stream(run_seed(1, 0), "gas", 0))
    }

    /// With constant congestion and no noise, the base fee converges to the fee at which
    /// background demand equals the target, from above and from below.
    #[test]
    fn base_fee_converges_to_the_demand_equilibrium() {
        for (start, util, el) in [
            (5.0, 1.5, 1.0),
            (200.0, 1.5, 1.0),
            (20.0, 0.6, 0.5),
            (1.0, 2.0, 2.0),
        ] {
            let cfg = GasConfig {
                base_fee_gwei: start,
                reference_fee_gwei: Some(20.0),
                background_util: util,
                demand_elasticity: el,
                demand_noise: 0.0,
                ..GasConfig::default()
            };
            let (mut g, mut r) = market(cfg);
            for _ in 0..3000 {
                let d = g.begin_block(0.0, 12.0, &mut r);
                g.end_block(d.total);
            }
            let eq = 20e9 * f64::powf(util, 1.0 / el);
            let got = g.base_fee() as f64;
            assert!(
                (got / eq - 1.0).abs() < 0.03,
                "start {start}: {got} vs {eq}"
            );
        }
    }

    #[test]
    fn flat_mode_never_moves() {
        let (mut g, mut r) = market(GasConfig {
            mode: GasMode::Flat,
            base_fee_gwei: 0.001,
            ..GasConfig::default()
        });
        for i in 0..100 {
            let d = g.begin_block(0.01 * i as f64, 0.4, &mut r);
            g.end_block(d.total * 2);
            assert_eq!(g.base_fee(), 1_000_000);
        }
    }

    #[test]
    fn congestion_raises_demand_and_tips() {
        let cfg = GasConfig {
            congestion_beta: 0.3,
            demand_noise: 0.0,
            congestion_half_life_s: 60.0,
            ..GasConfig::default()
        };
        let (mut g, mut r) = market(cfg);
        let calm = g.begin_block(0.0, 12.0, &mut r);
        // A 2% move per 12-second block for 40 half-lives of the average.
        let mut crash = calm.clone();
        for _ in 0..200 {
            crash = g.begin_block(0.02, 12.0, &mut r);
        }
        assert!(crash.total > calm.total);
        assert!(crash.buckets[0].0 > calm.buckets[0].0);
        // z tends to |r| / sqrt(dt) = 0.02 / sqrt(12 / 31,536,000).
        let want = 0.02 / (12.0f64 / 31_536_000.0).sqrt();
        assert!((g.congestion().0 / want - 1.0).abs() < 1e-6);
        // Buckets: tips descending, gas adds up.
        for w in crash.buckets.windows(2) {
            assert!(w[0].0 >= w[1].0);
        }
        assert_eq!(crash.buckets.iter().map(|b| b.1).sum::<u64>(), crash.total);
    }

    #[test]
    fn validation_names_keys() {
        let cfg = GasConfig {
            gas_limit: 100_000,
            elasticity: 0,
            base_fee_gwei: -1.0,
            revert_fraction: 2.0,
            ..GasConfig::default()
        };
        let mut issues = Vec::new();
        cfg.validate(&mut Check::new(&mut issues).at("gas"), 12.0);
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        for k in [
            "gas.elasticity",
            "gas.base_fee_gwei",
            "gas.revert_fraction",
            "gas.gas_limit",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        let msg = &issues
            .iter()
            .find(|i| i.key == "gas.gas_limit")
            .unwrap()
            .rule;
        assert!(
            msg.contains("liquidation = 400000") && !msg.contains("oracle_update"),
            "{msg}"
        );
    }
}
