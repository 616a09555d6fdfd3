//! TWAP manipulation arithmetic: what it costs to hold a constant-product pool away from the
//! market, and where that puts a TWAP oracle that reads the pool.
//!
//! A margin engine whose oracle is the time-weighted average of a thin pool's price can be
//! moved by anyone who moves the pool and holds it there for long enough. The MEV bot
//! (`mev.rs`, `manipulate = true`) uses these functions to decide, from the public state,
//! whether a campaign pays: the forecast of the oracle after `n` blocks of pushing
//! ([`forecast_twap`]), the size of the swap that leaves the pool at a target price
//! ([`push_amount`]), the arbitrageurs' reaction it must pay for again every block
//! ([`restore`]) and the value it loses on each push at the reference price ([`push_cost`]).
//! They are pure functions of a pool copy and numbers, so they are tested by themselves.
//!
//! Timing follows the oracle module: the venue's price is sampled at each block start (the
//! state at the end of the previous block) and each sample holds until the next one; the
//! engine reads the TWAP at the block start, when the newest sample has zero weight. So the
//! end-of-block price of block `b + i - 1` is the sample at `t + i dt` and counts from the
//! engine's price at block `b + i + 1` on.

use crate::arbitrageur::value_gain;
use cascade_core::{Amount, Side};
use cascade_market::venue::Cpmm;

/// The engine's TWAP at the start of block `b + blocks`, seen from block `b` at time `t`, if
/// the pool's end-of-block price is held at `p_push` for blocks `b .. b + blocks - 2` (that is
/// `blocks - 1` pushes; `blocks = 1` means no push). `p0` is the pool price now (the sample
/// recorded at `t`), `hist(w)` the TWAP over `[t - w, t]` (the recorded history), `dt` the block
/// time and `window` the oracle's window. `None` when the history does not cover the window.
pub fn forecast_twap(
    hist: impl Fn(f64) -> Option<f64>,
    t: f64,
    dt: f64,
    window: f64,
    p0: f64,
    p_push: f64,
    blocks: u32,
) -> Option<f64> {
    if !(dt > 0.0 && window > 0.0 && blocks >= 1) {
        return None;
    }
    let end = t + blocks as f64 * dt;
    let start = end - window;
    let mut acc = 0.0;
    // Recorded history: [start, t].
    let w_hist = t - start;
    if w_hist > 0.0 {
        // The history must reach back to the window start (one block after genesis at least).
        if t - w_hist < dt {
            return None;
        }
        acc += hist(w_hist)? * w_hist;
    }
    // Future samples: p0 over [t, t + dt], then p_push over each later block up to `end`.
    for i in 0..blocks {
        let a = (t + i as f64 * dt).max(start);
        let b = (t + (i + 1) as f64 * dt).min(end);
        if b > a {
            acc += if i == 0 { p0 } else { p_push } * (b - a);
        }
    }
    let v = acc / window;
    (v.is_finite() && v > 0.0).then_some(v)
}

/// The swap that moves `pool` to spot price `target` (`Sell` base to lower it, `Buy` base with
/// quote to raise it), in closed form on `x y = k` with the fee kept in the pool:
/// after selling `X` with `g = 1 - fee` the price is `x y / ((x + g X)(x + X))`, after buying
/// with `Y` quote it is `(y + Y)(y + g Y) / (x y)`; each is a quadratic in the input.
/// `None` when the target is on the wrong side of the spot price.
pub fn push_amount(pool: &Cpmm, target: f64) -> Option<(Side, Amount)> {
    let x = pool.reserve_base().to_whole();
    let y = pool.reserve_quote().to_whole();
    let g = 1.0 - pool.fee();
    let p = y / x;
    if !(target.is_finite() && target > 0.0 && g > 0.0) {
        return None;
    }
    // g u^2 + r (1 + g) u + r^2 - c = 0, u >= 0.
    let solve = |r: f64, c: f64| -> f64 {
        let b = r * (1.0 + g);
        let disc = b * b - 4.0 * g * (r * r - c);
        (-b + disc.max(0.0).sqrt()) / (2.0 * g)
    };
    let (side, u) = if target < p {
        (Side::Sell, solve(x, x * y / target))
    } else if target > p {
        (Side::Buy, solve(y, x * y * target))
    } else {
        return None;
    };
    let a = Amount::from_whole_floor(u);
    a.is_positive().then_some((side, a))
}

/// What the arbitrageurs do to `pool` before the bot's push lands in the same block: the
/// optimal arbitrage towards `p_ref` (`Cpmm::arb_trade_to`), when its gain at `p_ref` beats
/// `min_gain` (their gas). Applied to the copy; returns whether they trade.
pub fn restore(pool: &mut Cpmm, p_ref: f64, min_gain: Amount) -> bool {
    let Some((side, amount)) = pool.arb_trade_to(p_ref) else {
        return false;
    };
    let out = pool.quote(side, amount).amount_out;
    if value_gain(side, amount, out, p_ref) <= min_gain {
        return false;
    }
    pool.simulate(side, amount).is_some()
}

/// One push on `pool` (a copy, updated): the swap that leaves it at `target`, its output, and
/// the value the pusher loses at `p_ref` (what it pays minus what it receives, both valued at
/// `p_ref`; positive): `(side, amount_in, amount_out, cost)`.
pub fn push_cost(
    pool: &mut Cpmm,
    target: f64,
    p_ref: f64,
) -> Option<(Side, Amount, Amount, Amount)> {
    let (side, amount) = push_amount(pool, target)?;
    let out = pool.simulate(side, amount)?;
    let cost = Amount::ZERO - value_gain(side, amount, out, p_ref);
    Some((side, amount, out, cost))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cascade_core::{AssetId, Ledger};
    use cascade_market::oracle::TwapSamples;
    use cascade_market::venue::{Venue, VenueConfig};

    /// A constant-product ETH pool of `base` and `quote` with `fee`, for tests here and in
    /// `mev::manipulate`.
    pub(crate) fn pool(base: f64, quote: f64, fee: f64) -> Cpmm {
        let mut l = Ledger::new(["USD", "ETH"]);
        let h = l.add_holder("pool");
        let o = l.add_holder("owner");
        let cfg = VenueConfig::Cpmm {
            name: "amm".into(),
            asset: "ETH".into(),
            reserve_base: base,
            reserve_quote: quote,
            fee,
            withdraw: None,
        };
        let v = Venue::from_config(&cfg, &mut l, h, o, AssetId(0), quote / base).unwrap();
        v.as_cpmm().unwrap().clone()
    }

    #[test]
    fn push_amount_lands_on_the_target_price() {
        for fee in [0.0, 0.003, 0.01] {
            for target in [1500.0, 1900.0, 1990.0, 2010.0, 2300.0] {
                let mut p = pool(1_000.0, 2_000_000.0, fee);
                let (side, a) = push_amount(&p, target).unwrap();
                assert_eq!(side == Side::Sell, target < 2000.0);
                p.simulate(side, a).unwrap();
                assert!(
                    (p.price() / target - 1.0).abs() < 1e-9,
                    "fee {fee}: {} vs {target}",
                    p.price()
                );
            }
        }
        assert!(push_amount(&pool(1_000.0, 2_000_000.0, 0.003), 2000.0).is_none());
    }

    #[test]
    fn push_cost_is_the_value_lost_at_the_reference_price() {
        // Selling down 10% from p_ref = 2000 on a zero-fee pool of 1000 ETH: X = 1000
        // (1/sqrt(0.9) - 1) = 54.09 ETH sold for 2e6 (1 - sqrt(0.9)) = 102,633 quote, worth
        // 108,185 at p_ref: a loss of about 5,551 (x p (1/sqrt(r) + sqrt(r) - 2)).
        let mut p = pool(1_000.0, 2_000_000.0, 0.0);
        let (side, a, out, cost) = push_cost(&mut p, 1800.0, 2000.0).unwrap();
        assert_eq!(side, Side::Sell);
        let r: f64 = 0.9;
        assert!((a.to_whole() - 1000.0 * (1.0 / r.sqrt() - 1.0)).abs() < 1e-6);
        assert!((out.to_whole() - 2e6 * (1.0 - r.sqrt())).abs() < 1e-3);
        let expect = 2e6 * (1.0 / r.sqrt() + r.sqrt() - 2.0);
        assert!(
            (cost.to_whole() - expect).abs() < 1e-3,
            "{cost:?} vs {expect}"
        );
        // Ten times deeper, ten times the cost for the same displacement.
        let mut deep = pool(10_000.0, 20_000_000.0, 0.0);
        let (.., cost_deep) = push_cost(&mut deep, 1800.0, 2000.0).unwrap();
        assert!((cost_deep.to_whole() / cost.to_whole() - 10.0).abs() < 1e-6);
    }

    #[test]
    fn restore_brings_the_pool_back_within_the_fee_band() {
        let mut p = pool(1_000.0, 2_000_000.0, 0.003);
        push_cost(&mut p, 1800.0, 2000.0).unwrap();
        assert!(restore(&mut p, 2000.0, Amount::from_whole(1.0)));
        // Within the no-arbitrage band of a 0.3% fee.
        assert!((p.price() / 2000.0 - 1.0).abs() < 0.004, "{}", p.price());
        // A gap smaller than the arbitrageurs' gas is left alone.
        let mut q = pool(1_000.0, 2_000_000.0, 0.003);
        push_cost(&mut q, 1990.0, 2000.0).unwrap();
        assert!(!restore(&mut q, 2000.0, Amount::from_whole(1_000.0)));
    }

    #[test]
    fn forecast_matches_the_oracles_own_twap() {
        // Record a history, forecast, then record what the forecast assumed and compare with
        // the TWAP the oracle computes.
        let dt = 12.0;
        let window = 120.0;
        let mut s = TwapSamples::new(window);
        let mut t = 0.0;
        for i in 0..30 {
            t += dt;
            s.record(t, 2000.0 + (i % 7) as f64);
        }
        let p0 = 2003.0;
        t += dt;
        s.record(t, p0);
        for blocks in [1u32, 2, 5, 10, 11, 15] {
            let f = forecast_twap(|w| s.twap(t, w), t, dt, window, p0, 1700.0, blocks).unwrap();
            let mut s2 = s.clone();
            for i in 1..=blocks {
                s2.record(t + i as f64 * dt, 1700.0);
            }
            let truth = s2.twap(t + blocks as f64 * dt, window).unwrap();
            assert!((f - truth).abs() < 1e-9, "{blocks}: {f} vs {truth}");
        }
        // Not enough history: no forecast.
        assert!(forecast_twap(|w| s.twap(24.0, w), 24.0, dt, window, p0, 1700.0, 2).is_none());
    }
}
