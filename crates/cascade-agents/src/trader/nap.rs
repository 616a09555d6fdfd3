//! A holder's sleep (`chain.holders_sleep`): the band of prices, funding and maintenance
//! ratio within which its conditions stay as they are (`Trader::wake_band`), from the engine's
//! linear health form, and the nap that records it for the World (`Trader::nap`). Apart from
//! the trader's decisions because it decides nothing: it only says, conservatively, when a
//! decision could differ from the one just made (docs/model.md, "Sleeping holders").

use super::{Trader, some};
use crate::schedule::FUNDING_ROUNDING_RESERVE;
use crate::view::View;
use cascade_core::AccountId;

/// The most, as a share of its maintenance ratio `r0`, by which a moving ratio may move while
/// a holder sleeps: up by as much (its health falls), and, below its top-up threshold, down by
/// as much (its health rises). Less when its health is close to a threshold
/// (`Trader::wake_band`).
const RATIO_SLACK: f64 = 1.0 / 8.0;

/// The ratio band a holder sleeping at ratio `r0` with half-width `dr` watches (`(-inf, inf)`
/// for NaN: ratios that never move): `r0 + dr` above, and below its top-up threshold (`low`)
/// `r0 - dr` below (above it a falling ratio only raises health).
pub(super) fn ratio_band(r0: f64, dr: f64, low: bool) -> (f64, f64) {
    if r0.is_nan() {
        return (f64::NEG_INFINITY, f64::INFINITY);
    }
    (if low { r0 - dr } else { f64::NEG_INFINITY }, r0 + dr)
}

impl Trader {
    /// Nothing was sent and no condition holds but, when `low`, the top-up threshold's: sleep
    /// until `wake` (the close clock's next event, or below the threshold the top-up clock's
    /// or its delay's; infinite: no wake by time), and until the asset's price (the engine's,
    /// which the health reads, and the oracle's, which the stop reads) leaves the band in
    /// which the conditions stay as they are (`wake_band`), its funding index leaves its
    /// funding band, or its maintenance ratio leaves its ratio band (`ratio_band`). Stays
    /// awake when no band can be drawn.
    pub(super) fn nap(
        &mut self,
        view: &View<'_>,
        id: AccountId,
        p: f64,
        delevers: bool,
        wake: f64,
        low: bool,
    ) {
        let Some(engine) = view.engine else { return };
        let a = self.pop.asset.index();
        // A moving margin model: the maintenance ratio may move by `dr` before it wakes.
        let moves = engine.margin().moves();
        let r0 = engine.margin().base(a, cascade_engine::Req::Maintenance);
        let dr_max = if moves { r0 * RATIO_SLACK } else { 0.0 };
        let Some((lo, hi, f_half, dr)) = self.wake_band(engine, id, delevers, dr_max, low) else {
            return;
        };
        let pe = engine.prices()[a];
        if !(lo < p.min(pe) && p.max(pe) < hi) {
            return;
        }
        // No time cap: every change that can make a condition hold wakes it (an hourly
        // backstop woke every holder of a book opened together in one block, a cost in
        // proportion to the accounts that exist).
        self.wake = wake;
        let f0 = engine.funding_index(a);
        let h = self.holding_mut();
        h.nap_account = id.0;
        h.nap_low = low;
        h.nap_lo = lo;
        h.nap_hi = hi;
        h.nap_f_lo = f0 - f_half;
        h.nap_f_hi = f0 + f_half;
        (h.nap_r0, h.nap_dr) = if moves {
            (r0, dr)
        } else {
            (f64::NAN, f64::NAN)
        };
    }

    /// The prices of the asset between which the holder's conditions stay as they are, from
    /// the engine's linear health form `m0 + m1 P` and exposure `x1 P`: the top-up and
    /// deleveraging conditions `m0 + m1 P < k x1 P` hold on one side of `-m0 / (m1 - k x1)`,
    /// the stop beyond its price. Each must stay false, except, when `low`, the top-up
    /// condition, which must stay true (the holder waits below its threshold for its top-up
    /// clock). Each edge is pulled in by `BAND_EPS` (relative) against rounding, so the band
    /// is conservative: a holder woken early finds what it found when it fell asleep.
    ///
    /// A perp of size `s` pays funding without waking its holder (settlements are not logged
    /// as writes): the edges are drawn for health moved by a budget `B` against the holder,
    /// a 32nd of the smallest distance `|m0 + (m1 - k x1) P|` at the engine's price from a
    /// condition changing (`m0 - B` for a condition that must stay false, `m0 + B` for one
    /// that must stay true), and the third value is the half-width `(B - R) / |s|` of the
    /// band of the funding index within which the payments (`s dF`, plus less than one base
    /// unit of rounding per settlement, which the reserve `R` covers) cannot use up `B`
    /// (infinite without a perp). `None` (stay awake) when no band can be drawn or the margin
    /// is too thin to spare the reserve.
    ///
    /// With a margin model whose ratios move, the maintenance ratio `r` may move by `dr`
    /// while the holder sleeps (`ratio_band`): health `m0 + m1 P` has `dm1/dr = -(c + |s|)`
    /// (collateral and perp size: `coef`), so the edges of a condition that must stay false
    /// are drawn for `m1 - slack` and that of one that must stay true for `m1 + slack`, with
    /// `slack = coef dr`. `dr` is `dr_max` or less, so that the slack uses at most half of the
    /// smallest distance from a condition changing at the engine's price (a holder close to a
    /// threshold watches a narrower ratio band rather than stay awake); it is the fourth value.
    fn wake_band(
        &self,
        engine: &cascade_engine::Engine,
        id: AccountId,
        delevers: bool,
        dr_max: f64,
        low: bool,
    ) -> Option<(f64, f64, f64, f64)> {
        const BAND_EPS: f64 = 1e-6;
        let a = self.pop.asset.index();
        let (m0, m1, x1) = engine.linear_health(id, a)?;
        let (size, collateral) = engine.account(id).map_or((0.0, 0.0), |acc| {
            (acc.perps[a].size.to_whole(), acc.collateral[a].to_whole())
        });
        let coef = collateral + size.abs();
        if !(coef.is_finite() && dr_max.is_finite()) {
            return None;
        }
        if !(x1 > 0.0 && m0.is_finite() && m1.is_finite() && size.is_finite()) {
            return None;
        }
        // (threshold, whether its condition must stay true).
        let ks = [
            Some((self.pop.cfg.topup_threshold, low)),
            delevers.then_some((self.delever_at, false)),
        ];
        let pe = engine.prices()[a];
        // The health's slope for a threshold with the ratio moved by a slack `s` against the
        // holder (down for a condition that must stay false, up for one that must stay true),
        // and the smallest distance of the health from a condition changing at the engine's
        // price.
        let slope = |k: f64, held: bool, s: f64| {
            if held {
                m1 + s - k * x1
            } else {
                m1 - s - k * x1
            }
        };
        let distance = |s: f64| {
            ks.into_iter()
                .flatten()
                .map(|(k, held)| {
                    let h = m0 + slope(k, held, s) * pe;
                    if held { -h } else { h }
                })
                .fold(f64::INFINITY, f64::min)
        };
        let dr = if dr_max > 0.0 && coef > 0.0 && pe > 0.0 {
            let room = distance(0.0);
            if room.is_nan() || room <= 0.0 {
                return None;
            }
            dr_max.min(room / (2.0 * coef * pe))
        } else {
            dr_max
        };
        let slack = coef * dr;
        // The funding budget: a 32nd of the smallest distance from a condition changing at
        // the engine's price (the price band narrows by as much, so few more holders wake by
        // the price than without it).
        let (budget, f_half) = if size != 0.0 {
            let b = distance(slack) / 32.0;
            if b.is_nan() || b <= 2.0 * FUNDING_ROUNDING_RESERVE {
                return None;
            }
            (b, (b - FUNDING_ROUNDING_RESERVE) / size.abs())
        } else {
            (0.0, f64::INFINITY)
        };
        // Below this price the exposure is floored at 1e-9 (`manage`'s `value`).
        let (mut lo, mut hi) = (1e-9 / x1, f64::INFINITY);
        for (k, held) in ks.into_iter().flatten() {
            let slope = slope(k, held, slack);
            // Health at its worst for this condition: lower if it must stay false (the
            // condition holds below `-m0 / slope` when the slope is positive), higher if it
            // must stay true (the condition holds below it, so the band ends there).
            let m0 = if held { m0 + budget } else { m0 - budget };
            let edge = -m0 / slope;
            match (slope > 0.0, slope < 0.0, held) {
                (true, _, false) => lo = lo.max(edge),
                (_, true, false) => hi = hi.min(edge),
                (true, _, true) => hi = hi.min(edge),
                (_, true, true) => lo = lo.max(edge),
                // A flat health line: its condition never changes with the price.
                _ if (m0 < 0.0) != held => return None,
                _ => {}
            }
        }
        if let (true, Some(stop), Some((entry, long))) =
            (self.economic(), some(self.stop), self.entry())
        {
            if long {
                lo = lo.max(entry * (1.0 - stop));
            } else {
                hi = hi.min(entry * (1.0 + stop));
            }
        }
        let (lo, hi) = (lo * (1.0 + BAND_EPS), hi * (1.0 - BAND_EPS));
        (lo < hi).then_some((lo, hi, f_half, dr))
    }
}
