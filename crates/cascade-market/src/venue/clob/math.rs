//! The book's exact tick arithmetic: quote legs of a fill rounded in the resting maker's
//! favour (`floor` when a taker sells, `ceil` when it buys), the base a quote budget buys, one
//! taker fill against a resting order, and the walk down a side without changing it.

use super::{Order, Walk};
use crate::venue::VenueError;
use cascade_core::{Amount, SCALE, Side};
use std::collections::VecDeque;

pub(super) fn units(a: Amount) -> u128 {
    // Only called on validated non-negative amounts.
    u128::try_from(a.raw()).unwrap_or(0)
}

pub(super) fn to_amount(x: Option<u128>) -> Result<Amount, VenueError> {
    x.and_then(|v| i128::try_from(v).ok())
        .map(Amount)
        .ok_or(VenueError::Overflow)
}

/// Quote base units per whole base token at `ticks`.
pub(super) fn price_num(tick_raw: u64, ticks: u64) -> u128 {
    tick_raw as u128 * ticks as u128
}

/// `floor(base * P)` in quote units.
pub(super) fn quote_floor(tick_raw: u64, base: Amount, ticks: u64) -> Result<Amount, VenueError> {
    to_amount(cascade_core::math::mul_div_floor_u128(
        units(base),
        price_num(tick_raw, ticks),
        SCALE as u128,
    ))
}

/// `ceil(base * P)` in quote units.
pub(super) fn quote_ceil(tick_raw: u64, base: Amount, ticks: u64) -> Result<Amount, VenueError> {
    to_amount(cascade_core::math::mul_div_ceil_u128(
        units(base),
        price_num(tick_raw, ticks),
        SCALE as u128,
    ))
}

/// The largest `b` with `ceil(b * P) <= budget`, i.e. `floor(budget / P)`.
pub(super) fn base_for_budget(
    tick_raw: u64,
    budget: Amount,
    ticks: u64,
) -> Result<Amount, VenueError> {
    to_amount(cascade_core::math::mul_div_floor_u128(
        units(budget),
        SCALE as u128,
        price_num(tick_raw, ticks),
    ))
}

/// One taker fill against an order resting at `ticks` with `remaining` base, given `left`
/// taker input: `(base, quote)` traded. A seller's input is base, a buyer's is quote.
pub(super) fn match_order(
    tick_raw: u64,
    side: Side,
    ticks: u64,
    remaining: Amount,
    left: Amount,
) -> Result<(Amount, Amount), VenueError> {
    match side {
        Side::Sell => {
            let b = left.min(remaining);
            Ok((b, quote_floor(tick_raw, b, ticks)?))
        }
        Side::Buy => {
            let b = remaining.min(base_for_budget(tick_raw, left, ticks)?);
            Ok((b, quote_ceil(tick_raw, b, ticks)?))
        }
    }
}

/// Walk `levels` (best first) with `budget`, without changing anything.
pub(super) fn walk<'a>(
    tick_raw: u64,
    side: Side,
    levels: impl Iterator<Item = (&'a u64, &'a VecDeque<Order>)>,
    budget: Amount,
) -> Result<Walk, VenueError> {
    let mut w = Walk {
        base: Amount::ZERO,
        quote: Amount::ZERO,
        left: budget,
        last_ticks: None,
        after_best: None,
    };
    let mut levels = levels.peekable();
    'levels: while let Some((&ticks, level)) = levels.next() {
        for order in level {
            if w.left.is_zero() {
                w.after_best = Some(ticks);
                break 'levels;
            }
            let (b, q) = match_order(tick_raw, side, ticks, order.remaining, w.left)?;
            if b.is_zero() {
                w.after_best = Some(ticks);
                break 'levels;
            }
            w.left -= match side {
                Side::Sell => b,
                Side::Buy => q,
            };
            w.base += b;
            w.quote += q;
            w.last_ticks = Some(ticks);
            if b < order.remaining {
                // A partial fill: the input cannot take more of this order.
                w.after_best = Some(ticks);
                break 'levels;
            }
        }
        if w.left.is_zero() {
            w.after_best = levels.peek().map(|(t, _)| **t);
            break;
        }
    }
    Ok(w)
}

pub(super) fn level_total((t, q): (&u64, &VecDeque<Order>)) -> (u64, Amount) {
    (*t, q.iter().map(|o| o.remaining).sum())
}

/// Snap `x` (a price in ticks) to an integer tick, rounding up or down unless `x` is within
/// 1e-9 (relative) of an integer; `None` if not in `[0, 1e18]`.
pub(super) fn snap_ticks(x: f64, up: bool) -> Option<u64> {
    if !(x.is_finite() && (0.0..=1e18).contains(&x)) {
        return None;
    }
    let r = x.round();
    let t = if (x - r).abs() <= 1e-9 * r.max(1.0) {
        r
    } else if up {
        x.ceil()
    } else {
        x.floor()
    };
    Some(t as u64)
}
