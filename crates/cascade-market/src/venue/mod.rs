//! Trading venues: a constant-product pool and a limit order book.
//!
//! Agents trade the risky assets against the quote asset on venues, and the price at which
//! forced sales clear there is what turns a price drop into a liquidation cascade. Two venue
//! kinds are modelled, both exact on the integer ledger:
//!
//! - [`Cpmm`]: a Uniswap-v2 constant-product pool (reserves, a fee left in the pool, outputs
//!   rounded down so the pool never loses);
//! - [`Clob`]: a price-time-priority limit order book with integer ticks, post-only maker
//!   quotes and per-order escrow (roundings favour the resting maker).
//!
//! Every venue is one ledger holder (its reserves, or its resting orders' escrow, live there),
//! and every trade is a set of ledger transfers between the trader, that holder and (on the
//! book) the makers. [`Venue::quote`] prices a trade without touching anything, so agents can
//! weigh slippage before they act; [`Venue::execute`] performs the same trade (the same
//! [`Fill`], on the same state) or reverts, leaving the ledger and the venue unchanged.
//!
//! Side convention (the taker's, as [`Side`] in core): `Sell` pays `amount_in` base units of
//! the venue's asset and receives quote; `Buy` pays `amount_in` quote units and receives base.

pub mod clob;
pub mod cpmm;

pub use clob::{Clob, ClobParams, Order, QuoteReport};
pub use cpmm::Cpmm;

use cascade_core::{Amount, AssetId, Check, HolderId, Ledger, LedgerError, Side, TokenId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Denominator of fees held as integer parts per million.
pub const FEE_DENOM: u32 = 1_000_000;

/// The outcome of a taker trade (or of its quote).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Fill {
    /// What the trader pays: base units for `Sell`, quote units for `Buy` (fees included).
    /// On the order book this may be less than the amount asked for, if the book ran out or
    /// the rest could not buy one more base unit.
    pub amount_in: Amount,
    /// What the trader receives: quote units for `Sell`, base units for `Buy` (net of fees).
    pub amount_out: Amount,
    /// Quote per whole base token of this fill, fees included (`out/in` for a sell, `in/out`
    /// for a buy); NaN if nothing filled.
    pub avg_price: f64,
    /// The venue's price after the trade (pool price, or the book's mid; see [`Venue::price`]).
    pub price_after: f64,
    /// Whether the whole `amount_in` asked for was used (up to rounding dust on the book).
    pub filled_all: bool,
}

impl Fill {
    /// A fill of nothing, at a venue whose price is `price`.
    pub fn empty(price: f64) -> Fill {
        Fill {
            amount_in: Amount::ZERO,
            amount_out: Amount::ZERO,
            avg_price: f64::NAN,
            price_after: price,
            filled_all: false,
        }
    }

    /// Whether nothing was filled.
    pub fn is_empty(&self) -> bool {
        self.amount_out.is_zero()
    }

    /// A fill of `amount_in` for `amount_out` on `side`, with the price computed from both.
    pub(crate) fn new(
        side: Side,
        amount_in: Amount,
        amount_out: Amount,
        price_after: f64,
        filled_all: bool,
    ) -> Fill {
        let avg_price = if amount_in.is_positive() && amount_out.is_positive() {
            // Both tokens share SCALE, so a ratio of base units is a ratio of whole tokens.
            match side {
                Side::Sell => amount_out.raw() as f64 / amount_in.raw() as f64,
                Side::Buy => amount_in.raw() as f64 / amount_out.raw() as f64,
            }
        } else {
            f64::NAN
        };
        Fill {
            amount_in,
            amount_out,
            avg_price,
            price_after,
            filled_all,
        }
    }
}

/// Why a venue operation failed. Every error leaves the ledger and the venue unchanged.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum VenueError {
    #[error("the amount is zero")]
    ZeroAmount,
    #[error("the amount {0} is negative")]
    NegativeAmount(Amount),
    #[error("the venue has no liquidity on that side")]
    NoLiquidity,
    #[error("the amount is too small: the output rounds to zero")]
    TooSmall,
    #[error("slippage limit: output {out} is below the minimum {min_out}")]
    Slippage { min_out: Amount, out: Amount },
    #[error("price of {0} ticks is not allowed (must be >= 1)")]
    InvalidPrice(u64),
    #[error("the venue's own holder cannot trade or quote on it")]
    VenueHolder,
    #[error("invalid venue parameter: {0}")]
    BadParameter(String),
    #[error("arithmetic overflow: amounts too large for the venue")]
    Overflow,
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
}

/// A trading venue of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Venue {
    Cpmm(Cpmm),
    Clob(Clob),
}

impl Venue {
    /// Build a venue at genesis from its configuration (the ledger must not be sealed).
    ///
    /// `holder` is the venue's own ledger holder (reserves, escrow and fees live there).
    /// `owner` is the passive genesis maker that owns the book's genesis ladder (unused by a
    /// pool, whose reserves belong to the pool itself). `initial_price` (quote per whole base)
    /// centres the book's ladder; a pool's price is set by its reserves alone.
    pub fn from_config(
        cfg: &VenueConfig,
        ledger: &mut Ledger,
        holder: HolderId,
        owner: HolderId,
        asset: AssetId,
        initial_price: f64,
    ) -> Result<Venue, VenueError> {
        match cfg {
            VenueConfig::Cpmm {
                reserve_base,
                reserve_quote,
                fee,
                ..
            } => Ok(Venue::Cpmm(Cpmm::genesis(
                ledger,
                holder,
                asset,
                Amount::from_whole(*reserve_base),
                Amount::from_whole(*reserve_quote),
                *fee,
            )?)),
            VenueConfig::Clob {
                tick,
                levels,
                level_size,
                spread_bp,
                level_spacing_bp,
                taker_fee,
                ..
            } => Ok(Venue::Clob(Clob::genesis(
                ledger,
                holder,
                owner,
                asset,
                initial_price,
                &ClobParams {
                    tick: *tick,
                    levels: *levels,
                    level_size: *level_size,
                    spread_bp: *spread_bp,
                    level_spacing_bp: *level_spacing_bp,
                    taker_fee: *taker_fee,
                },
            )?)),
            VenueConfig::Reference(_) => Err(VenueError::BadParameter(
                "a reference market is off chain: it is built into the price model".into(),
            )),
        }
    }

    /// The risky asset traded (against the quote asset).
    pub fn asset(&self) -> AssetId {
        match self {
            Venue::Cpmm(v) => v.asset(),
            Venue::Clob(v) => v.asset(),
        }
    }

    /// The venue's ledger holder (reserves, escrow, fee income).
    pub fn holder(&self) -> HolderId {
        match self {
            Venue::Cpmm(v) => v.holder(),
            Venue::Clob(v) => v.holder(),
        }
    }

    /// The venue's price in quote per whole base: the pool's `reserve_quote / reserve_base`,
    /// or the book's mid (one side's best if only one side is present, the last trade price,
    /// initially the genesis price, if the book is empty).
    pub fn price(&self) -> f64 {
        match self {
            Venue::Cpmm(v) => v.price(),
            Venue::Clob(v) => v.price(),
        }
    }

    /// What `execute` with these arguments would do now, without changing anything. A trade
    /// that would fail for reasons independent of the trader (zero amount, no liquidity,
    /// output rounding to zero) quotes as [`Fill::empty`].
    pub fn quote(&self, side: Side, amount_in: Amount) -> Fill {
        match self {
            Venue::Cpmm(v) => v.quote(side, amount_in),
            Venue::Clob(v) => v.quote(side, amount_in),
        }
    }

    /// Trade `amount_in` on `side` for `trader`, moving tokens through `ledger`. Reverts
    /// (error, nothing changed) on a zero amount, a trader holding less than `amount_in`, an output below
    /// `min_out`, or nothing fillable. On success the fill equals [`Venue::quote`]'s.
    pub fn execute(
        &mut self,
        ledger: &mut Ledger,
        trader: HolderId,
        side: Side,
        amount_in: Amount,
        min_out: Amount,
    ) -> Result<Fill, VenueError> {
        match self {
            Venue::Cpmm(v) => v.execute(ledger, trader, side, amount_in, min_out),
            Venue::Clob(v) => v.execute(ledger, trader, side, amount_in, min_out),
        }
    }

    /// The pool, if this venue is one.
    pub fn as_cpmm(&self) -> Option<&Cpmm> {
        match self {
            Venue::Cpmm(v) => Some(v),
            Venue::Clob(_) => None,
        }
    }

    /// The order book, if this venue is one.
    pub fn as_clob(&self) -> Option<&Clob> {
        match self {
            Venue::Clob(v) => Some(v),
            Venue::Cpmm(_) => None,
        }
    }

    /// The order book, mutably (maker operations), if this venue is one.
    pub fn as_clob_mut(&mut self) -> Option<&mut Clob> {
        match self {
            Venue::Clob(v) => Some(v),
            Venue::Cpmm(_) => None,
        }
    }

    /// `"cpmm"` or `"clob"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Venue::Cpmm(_) => "cpmm",
            Venue::Clob(_) => "clob",
        }
    }
}

/// The configuration of one venue (`[[venues]]` in a scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum VenueConfig {
    /// A Uniswap-v2 constant-product pool.
    Cpmm {
        /// The venue's name (unique among venues; the caller checks uniqueness).
        name: String,
        /// The risky asset's name (resolved by the caller).
        asset: String,
        /// Genesis reserve of the risky asset, whole tokens.
        reserve_base: f64,
        /// Genesis reserve of the quote asset, whole tokens. The pool's initial price is
        /// `reserve_quote / reserve_base`.
        reserve_quote: f64,
        /// Swap fee, a fraction of the input left in the pool (default 0.003), held in
        /// parts per million.
        #[serde(default = "default_cpmm_fee")]
        fee: f64,
        /// Liquidity providers' withdrawal rule under stress (absent: they never withdraw).
        #[serde(default)]
        withdraw: Option<LpWithdrawal>,
    },
    /// A price-time-priority limit order book.
    Clob {
        /// The venue's name.
        name: String,
        /// The risky asset's name (resolved by the caller).
        asset: String,
        /// Tick size, quote per whole base token (at least 1e-9).
        tick: f64,
        /// Genesis ladder levels per side (>= 1).
        levels: u32,
        /// Whole base tokens per genesis level.
        level_size: f64,
        /// Genesis half-spread from the initial price, basis points (default 10).
        #[serde(default = "default_bp")]
        spread_bp: f64,
        /// Distance between genesis levels, basis points (default 10).
        #[serde(default = "default_bp")]
        level_spacing_bp: f64,
        /// Taker fee, a fraction of the quote leg paid by the taker to the venue (default 0).
        #[serde(default)]
        taker_fee: f64,
    },
    /// The asset's off-chain reference market, where its price forms (one per asset at
    /// most). Not an on-chain venue: no holder, no gas; flows routed to it move `p_ref`.
    Reference(crate::price::ReferenceConfig),
}

/// `withdraw = { ... }` of a `cpmm` venue: its liquidity providers take `fraction` of the
/// reserves out when the realised volatility of the asset's reference price (an EWMA of squared
/// block log returns, half-life `vol_half_life_s`, annualised) passes
/// `vol_threshold_per_year`, and put what they hold back, at the pool's price, once it is
/// below again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LpWithdrawal {
    pub vol_threshold_per_year: f64,
    /// The share of the reserves withdrawn, in (0, 1).
    pub fraction: f64,
    /// Half-life of the realised-volatility EWMA, seconds (default 600).
    #[serde(default = "default_lp_vol_half_life")]
    pub vol_half_life_s: f64,
}

fn default_lp_vol_half_life() -> f64 {
    600.0
}

impl LpWithdrawal {
    /// Record every broken rule under `c`.
    pub fn validate(&self, c: &mut Check) {
        c.positive("vol_threshold_per_year", self.vol_threshold_per_year);
        if c.finite("fraction", self.fraction) && !(self.fraction > 0.0 && self.fraction < 1.0) {
            c.fail(
                "fraction",
                format!(
                    "must be in (0, 1) (got {}): the share of the reserves withdrawn",
                    self.fraction
                ),
            );
        }
        c.positive("vol_half_life_s", self.vol_half_life_s);
    }
}

fn default_cpmm_fee() -> f64 {
    0.003
}

fn default_bp() -> f64 {
    10.0
}

impl VenueConfig {
    /// The venue's name.
    pub fn name(&self) -> &str {
        match self {
            VenueConfig::Cpmm { name, .. } | VenueConfig::Clob { name, .. } => name,
            VenueConfig::Reference(r) => &r.name,
        }
    }

    /// The traded asset's name.
    pub fn asset(&self) -> &str {
        match self {
            VenueConfig::Cpmm { asset, .. } | VenueConfig::Clob { asset, .. } => asset,
            VenueConfig::Reference(r) => &r.asset,
        }
    }

    /// `"cpmm"`, `"clob"` or `"reference"`.
    pub fn kind(&self) -> &'static str {
        match self {
            VenueConfig::Cpmm { .. } => "cpmm",
            VenueConfig::Clob { .. } => "clob",
            VenueConfig::Reference(_) => "reference",
        }
    }

    /// Whether the venue is on chain (a pool or a book), not the off-chain reference market.
    pub fn is_onchain(&self) -> bool {
        !matches!(self, VenueConfig::Reference(_))
    }

    /// Record every broken rule under `c` (asset names are resolved by the caller).
    pub fn validate(&self, c: &mut Check) {
        c.ensure(!self.name().trim().is_empty(), "name", || {
            "must not be empty".to_string()
        });
        c.ensure(!self.asset().trim().is_empty(), "asset", || {
            "must name an asset".to_string()
        });
        match self {
            VenueConfig::Cpmm {
                reserve_base,
                reserve_quote,
                fee,
                withdraw,
                ..
            } => {
                for (key, v) in [
                    ("reserve_base", *reserve_base),
                    ("reserve_quote", *reserve_quote),
                ] {
                    if c.finite(key, v) && Amount::from_whole(v) <= Amount::ZERO {
                        c.fail(
                            key,
                            format!(
                                "must be at least 1e-9 (got {v}): a pool without reserves has no liquidity"
                            ),
                        );
                    }
                }
                c.range_open_hi("fee", *fee, 0.0, 1.0);
                if let Some(w) = withdraw {
                    w.validate(&mut c.at("withdraw"));
                }
                if (0.0..1.0).contains(fee) && fee_ppm(*fee).is_none() {
                    c.fail(
                        "fee",
                        format!("must round to below 1 in parts per million (got {fee})"),
                    );
                }
            }
            VenueConfig::Clob {
                tick,
                levels,
                level_size,
                spread_bp,
                level_spacing_bp,
                taker_fee,
                ..
            } => {
                if c.finite("tick", *tick) && tick_raw(*tick).is_none() {
                    c.fail(
                        "tick",
                        format!("must be in [1e-9, 1e9] quote per whole token (got {tick})"),
                    );
                }
                if *levels == 0 {
                    c.fail(
                        "levels",
                        "must be >= 1 (got 0): a book without genesis levels has no liquidity",
                    );
                }
                if c.finite("level_size", *level_size)
                    && Amount::from_whole(*level_size) <= Amount::ZERO
                {
                    c.fail(
                        "level_size",
                        format!(
                            "must be at least 1e-9 (got {level_size}): empty genesis levels give no liquidity"
                        ),
                    );
                }
                c.non_negative("spread_bp", *spread_bp);
                c.non_negative("level_spacing_bp", *level_spacing_bp);
                c.range_open_hi("taker_fee", *taker_fee, 0.0, 1.0);
                if (0.0..1.0).contains(taker_fee) && fee_ppm(*taker_fee).is_none() {
                    c.fail(
                        "taker_fee",
                        format!("must round to below 1 in parts per million (got {taker_fee})"),
                    );
                }
            }
            VenueConfig::Reference(r) => r.validate(c),
        }
    }
}

/// A fee fraction in `[0, 1)` as integer parts per million, or `None` if out of range (or if
/// it rounds to a whole million).
pub(crate) fn fee_ppm(fee: f64) -> Option<u32> {
    if !fee.is_finite() || !(0.0..1.0).contains(&fee) {
        return None;
    }
    let ppm = (fee * FEE_DENOM as f64).round();
    if ppm < FEE_DENOM as f64 {
        Some(ppm as u32)
    } else {
        None
    }
}

/// A tick (quote per whole base token) as integer quote base units per whole base token,
/// or `None` outside `[1, 1e18]` base units.
pub(crate) fn tick_raw(tick: f64) -> Option<u64> {
    if !tick.is_finite() {
        return None;
    }
    let raw = (tick * cascade_core::amount::SCALE_F).round();
    if (1.0..=1e18).contains(&raw) {
        Some(raw as u64)
    } else {
        None
    }
}

/// `ceil(amount * fee_ppm / 1e6)`: a fee on `amount`, rounded up (in the venue's favour).
pub(crate) fn fee_on(amount: Amount, fee_ppm: u32) -> Result<Amount, VenueError> {
    amount
        .mul_div_ceil(fee_ppm as i128, FEE_DENOM as i128)
        .ok_or(VenueError::Overflow)
}

/// `holder`'s balance of `token`, or an error if either is unknown to the ledger (so that
/// [`Ledger::balance`], which indexes directly, is never called out of range).
pub(crate) fn balance_of(
    ledger: &Ledger,
    holder: HolderId,
    token: TokenId,
) -> Result<Amount, VenueError> {
    if holder.index() >= ledger.n_holders() {
        return Err(LedgerError::UnknownHolder(holder).into());
    }
    if token.index() >= ledger.n_tokens() {
        return Err(LedgerError::UnknownToken(token).into());
    }
    Ok(ledger.balance(holder, token))
}

/// Require that `holder` holds at least `needed` of `token`.
pub(crate) fn require_funds(
    ledger: &Ledger,
    holder: HolderId,
    token: TokenId,
    needed: Amount,
) -> Result<(), VenueError> {
    let available = balance_of(ledger, holder, token)?;
    if available < needed {
        return Err(LedgerError::Insufficient {
            holder,
            name: ledger.holder_name(holder).to_string(),
            token,
            available,
            needed,
        }
        .into());
    }
    Ok(())
}

/// Check an input amount: positive.
pub(crate) fn check_amount(amount: Amount) -> Result<(), VenueError> {
    if amount.is_zero() {
        Err(VenueError::ZeroAmount)
    } else if amount.is_negative() {
        Err(VenueError::NegativeAmount(amount))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::ConfigIssue;

    fn issues(cfg: &VenueConfig) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        let mut c = Check::new(&mut v);
        cfg.validate(&mut c.at("venues[0]"));
        v
    }

    #[test]
    fn config_defaults_and_unknown_fields() {
        let cfg: VenueConfig = toml::from_str(
            "kind = \"cpmm\"\nname = \"uni\"\nasset = \"ETH\"\nreserve_base = 1000.0\nreserve_quote = 2000000.0\n",
        )
        .unwrap();
        match &cfg {
            VenueConfig::Cpmm { fee, .. } => assert_eq!(*fee, 0.003),
            _ => panic!("expected a cpmm"),
        }
        assert!(issues(&cfg).is_empty());
        let cfg: VenueConfig = toml::from_str(
            "kind = \"clob\"\nname = \"book\"\nasset = \"ETH\"\ntick = 0.01\nlevels = 5\nlevel_size = 2.0\n",
        )
        .unwrap();
        match &cfg {
            VenueConfig::Clob {
                spread_bp,
                level_spacing_bp,
                taker_fee,
                ..
            } => {
                assert_eq!(
                    (*spread_bp, *level_spacing_bp, *taker_fee),
                    (10.0, 10.0, 0.0)
                );
            }
            _ => panic!("expected a clob"),
        }
        assert!(issues(&cfg).is_empty());
        let bad = toml::from_str::<VenueConfig>(
            "kind = \"cpmm\"\nname = \"uni\"\nasset = \"ETH\"\nreserve_base = 1.0\nreserve_quote = 1.0\nfees = 0.1\n",
        );
        assert!(bad.is_err());
    }

    #[test]
    fn config_validation_names_every_problem() {
        let cfg = VenueConfig::Cpmm {
            name: " ".into(),
            asset: "ETH".into(),
            reserve_base: 0.0,
            reserve_quote: -1.0,
            fee: 1.0,
            withdraw: None,
        };
        let v = issues(&cfg);
        let keys: Vec<&str> = v.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "venues[0].name",
                "venues[0].reserve_base",
                "venues[0].reserve_quote",
                "venues[0].fee"
            ]
        );
        assert!(v[1].rule.contains("no liquidity"));
        let cfg = VenueConfig::Clob {
            name: "b".into(),
            asset: "".into(),
            tick: 0.0,
            levels: 0,
            level_size: 0.0,
            spread_bp: -1.0,
            level_spacing_bp: f64::NAN,
            taker_fee: 1.5,
        };
        let v = issues(&cfg);
        let keys: Vec<&str> = v.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "venues[0].asset",
                "venues[0].tick",
                "venues[0].levels",
                "venues[0].level_size",
                "venues[0].spread_bp",
                "venues[0].level_spacing_bp",
                "venues[0].taker_fee"
            ]
        );
        assert!(v[2].rule.contains("no liquidity"));
        assert!(v[3].rule.contains("no liquidity"));
    }

    #[test]
    fn from_config_builds_both_kinds() {
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool = l.add_holder("pool");
        let book = l.add_holder("book");
        let maker = l.add_holder("genesis maker");
        let trader = l.add_holder("trader");
        l.mint_genesis(trader, TokenId::QUOTE, Amount::from_whole(10_000.0))
            .unwrap();
        let cpmm = VenueConfig::Cpmm {
            name: "uni".into(),
            asset: "ETH".into(),
            reserve_base: 1000.0,
            reserve_quote: 2_000_000.0,
            fee: 0.003,
            withdraw: None,
        };
        let clob = VenueConfig::Clob {
            name: "book".into(),
            asset: "ETH".into(),
            tick: 0.01,
            levels: 3,
            level_size: 1.0,
            spread_bp: 10.0,
            level_spacing_bp: 10.0,
            taker_fee: 0.0,
        };
        let mut v0 = Venue::from_config(&cpmm, &mut l, pool, maker, AssetId(0), 0.0).unwrap();
        let mut v1 = Venue::from_config(&clob, &mut l, book, maker, AssetId(0), 2000.0).unwrap();
        l.seal();
        assert_eq!(v0.kind(), "cpmm");
        assert_eq!(v1.kind(), "clob");
        assert_eq!(v0.price(), 2000.0);
        // Bid 1998, ask 2002: the mid is the initial price.
        assert!((v1.price() - 2000.0).abs() < 1e-9);
        for v in [&mut v0, &mut v1] {
            let before = v.price();
            let q = v.quote(Side::Buy, Amount::from_whole(1000.0));
            let f = v
                .execute(
                    &mut l,
                    trader,
                    Side::Buy,
                    Amount::from_whole(1000.0),
                    Amount::ZERO,
                )
                .unwrap();
            assert_eq!(q, f);
            assert!(f.avg_price > 2000.0 && f.avg_price < 2010.0, "{f:?}");
            assert!(f.price_after >= before && f.price_after == v.price());
            l.check_conservation().unwrap();
        }
        let z = v0.quote(Side::Sell, Amount::ZERO);
        assert!(z.is_empty() && z.avg_price.is_nan() && !z.filled_all);
        assert_eq!(
            v0.execute(&mut l, trader, Side::Sell, Amount::ZERO, Amount::ZERO),
            Err(VenueError::ZeroAmount)
        );
    }
}
