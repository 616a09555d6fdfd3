//! Dutch collateral auctions, after Maker's Liquidations 2.0 (docs/references.md, R11).
//!
//! A keeper's liquidation ("bark") moves an unsafe account's collateral (the lot) and its
//! debt plus a penalty (the tab) into an auction that starts at `top = oracle * buf` and
//! falls along a curve: linear `top (tau - t) / tau`, stair-step `top cut^floor(t / step)` or
//! exponential `top cut^t`. Anyone may `take` collateral at the current price; the auction
//! needs a restart ("redo", with a fresh top and a keeper reward) once it has run longer than
//! `tail` or its price has fallen below `cusp * top`. Intent-based liquidation: nobody has to
//! sell into a crashing market at a fixed bonus; bidders take when the price pays them.
//!
//! English collateral auctions, after Maker's Liquidations 1.2 (`flip.sol`, in force on 12
//! March 2020; docs/references.md, R12), use the same lot and tab: bidders raise a quote bid for the whole lot
//! (`tend`) until it reaches the tab, then lower the collateral they accept for the tab
//! (`dent`), each bid beating the standing one by at least `beg`; the auction is over `ttl`
//! after the last bid or `tau` after the kick, and a bid nobody answers wins however low
//! (the "zero-bid" auctions of Black Thursday). The bids are held by the engine's vault.

use crate::config::AuctionCurve;
use cascade_core::{AccountId, Amount, HolderId};

/// The scale of an English auction's `beg` in exact integer comparisons (parts per billion).
const BEG_SCALE: i128 = 1_000_000_000;

/// `beg` in parts per billion, rounded up (the rule is never looser than configured).
fn beg_ppb(beg: f64) -> i128 {
    (beg * BEG_SCALE as f64).ceil() as i128
}

/// The smallest bid that beats `standing` by `beg` (rounded up, exact integers).
pub fn min_next_bid(standing: Amount, beg: f64) -> Amount {
    standing
        .mul_div_ceil(BEG_SCALE + beg_ppb(beg), BEG_SCALE)
        .unwrap_or(Amount::MAX)
}

/// The largest lot a `dent` may offer against a standing `lot`: `lot / (1 + beg)`, rounded
/// down.
pub fn max_next_lot(lot: Amount, beg: f64) -> Amount {
    lot.mul_div_floor(BEG_SCALE, BEG_SCALE + beg_ppb(beg))
        .unwrap_or(Amount::ZERO)
}

/// The price-curve parameters of an auction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub kind: AuctionCurve,
    pub tau_s: f64,
    pub step_s: f64,
    pub cut: f64,
    pub tail_s: f64,
    pub cusp: f64,
}

impl Curve {
    /// The price `elapsed_s` seconds after a start at `top`.
    pub fn price(&self, top: f64, elapsed_s: f64) -> f64 {
        let t = elapsed_s.max(0.0);
        match self.kind {
            AuctionCurve::Linear => {
                if t >= self.tau_s {
                    0.0
                } else {
                    top * (self.tau_s - t) / self.tau_s
                }
            }
            AuctionCurve::Stairstep => top * self.cut.powf((t / self.step_s).floor()),
            AuctionCurve::Exponential => top * self.cut.powf(t),
        }
    }

    /// Whether an auction started at `top` `elapsed_s` ago needs a restart.
    pub fn needs_reset(&self, top: f64, elapsed_s: f64) -> bool {
        elapsed_s > self.tail_s || self.price(top, elapsed_s) < self.cusp * top
    }
}

/// A running (or finished) auction.
#[derive(Debug, Clone, PartialEq)]
pub struct Auction {
    pub account: AccountId,
    pub asset: usize,
    /// Collateral left to sell (base units).
    pub lot: Amount,
    /// Debt principal still to raise (owed to the lenders' pool).
    pub debt: Amount,
    /// Penalty still to raise (to the insurance fund).
    pub penalty: Amount,
    pub top: f64,
    /// Start time of the current price curve (seconds).
    pub tic: f64,
    pub kicked_block: u64,
    pub active: bool,
    /// English auctions: the standing bid (quote, held by the vault; zero in Dutch auctions).
    pub bid: Amount,
    /// English auctions: who holds the standing bid.
    pub guy: Option<HolderId>,
    /// English auctions: when the standing bid wins unless beaten (Maker `tic`).
    pub bid_end_s: Option<f64>,
    /// English auctions: when the auction ends (Maker `end`; infinite for Dutch auctions).
    pub end_s: f64,
}

impl Auction {
    /// What is left to raise.
    pub fn tab(&self) -> Amount {
        self.debt + self.penalty
    }

    /// An English auction that has a winner at time `now_s`: its last bid expired or its
    /// lifetime ran out with a bid standing.
    pub fn english_over(&self, now_s: f64) -> bool {
        self.guy.is_some() && (self.bid_end_s.is_some_and(|t| now_s >= t) || now_s >= self.end_s)
    }

    /// Whether an English auction is in its second phase (the bid has reached the tab).
    pub fn in_dent_phase(&self) -> bool {
        self.guy.is_some() && self.bid >= self.tab()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(kind: AuctionCurve) -> Curve {
        Curve {
            kind,
            tau_s: 3600.0,
            step_s: 90.0,
            cut: 0.99,
            tail_s: 8400.0,
            cusp: 0.4,
        }
    }

    #[test]
    fn maker_curves_match_their_formulas() {
        // abaci.sol: LinearDecrease top*(tau-dur)/tau; StairstepExponentialDecrease
        // top*cut^floor(dur/step); ExponentialDecrease top*cut^dur.
        let l = curve(AuctionCurve::Linear);
        assert_eq!(l.price(1200.0, 0.0), 1200.0);
        assert_eq!(l.price(1200.0, 900.0), 900.0);
        assert_eq!(l.price(1200.0, 3600.0), 0.0);
        let s = curve(AuctionCurve::Stairstep);
        assert_eq!(s.price(1200.0, 89.0), 1200.0);
        assert!((s.price(1200.0, 90.0) - 1188.0).abs() < 1e-9);
        assert!((s.price(1200.0, 905.0) - 1200.0 * 0.99f64.powi(10)).abs() < 1e-9);
        let mut e = curve(AuctionCurve::Exponential);
        e.cut = 0.9999;
        assert!((e.price(1200.0, 100.0) - 1200.0 * 0.9999f64.powi(100)).abs() < 1e-9);
    }

    #[test]
    fn reset_after_tail_or_below_cusp() {
        let s = curve(AuctionCurve::Stairstep);
        // ETH-A: cut 0.99 per 90 s falls below cusp 0.4 after ceil(ln 0.4 / ln 0.99) = 92 steps.
        assert!(!s.needs_reset(1000.0, 91.0 * 90.0));
        assert!(s.needs_reset(1000.0, 92.0 * 90.0));
        let mut t = s;
        t.cusp = 0.0;
        assert!(!t.needs_reset(1000.0, 8400.0));
        assert!(t.needs_reset(1000.0, 8400.5));
    }

    #[test]
    fn english_increments_are_exact_integers() {
        // beg 3%: after a bid of 1,000 the next must be at least 1,030, rounded up.
        let b = Amount::from_whole(1_000.0);
        assert_eq!(min_next_bid(b, 0.03), Amount::from_whole(1_030.0));
        assert_eq!(min_next_bid(Amount::ONE_UNIT, 0.03), Amount(2));
        // A dent against a lot of 10.3 may offer at most 10.3 / 1.03 = 10.
        let lot = Amount::from_whole(10.3);
        assert_eq!(max_next_lot(lot, 0.03), Amount::from_whole(10.0));
        assert!(max_next_lot(Amount::ONE_UNIT, 0.03).is_zero());
    }

    proptest::proptest! {
        #[test]
        fn curves_never_rise(top in 1.0f64..1e6, a in 0.0f64..1e5, b in 0.0f64..1e5,
                             kind in 0usize..3) {
            let kind = [AuctionCurve::Linear, AuctionCurve::Stairstep, AuctionCurve::Exponential][kind];
            let mut c = curve(kind);
            if kind == AuctionCurve::Exponential { c.cut = 0.9995; }
            let (t0, t1) = if a <= b { (a, b) } else { (b, a) };
            proptest::prop_assert!(c.price(top, t1) <= c.price(top, t0));
            proptest::prop_assert!(c.price(top, t0) <= top);
        }
    }
}
