//! A liquidator's sale policy: what it does with the collateral it acquires.
//!
//! Without a policy (`sale` absent, the legacy behaviour every shipped scenario was built on)
//! the mechanism decides: a direct liquidation with `flash = true` and every Dutch-auction take
//! sell the collateral inside the transaction, while `flash = false` liquidations and
//! English-auction wins keep it for ever. Comparing English with Dutch auctions then compares
//! two sale policies as much as two auctions. With `sale` set, the same policy applies to every
//! acquisition, whatever the mechanism: the liquidator pays from its own capital (no sale
//! inside the transaction), the collateral lands in its wallet, and [`SaleBook`] sells the
//! wallet's holdings of each asset by public swaps on the venue that pays most:
//!
//! - `hold`: never sells (the collateral is valued at `p_ref * (1 - inventory_risk)`);
//! - `immediate`: sells the whole holding in the next block it acts, every block until it is
//!   gone (a failed or late sale is retried with the holding as it then is);
//! - `twap` (`duration_s = D`): sells the holding over `D` seconds, in `N = round(D / bt)`
//!   equal slices, one per block (`bt` the chain's block time, so the sale lasts as long on a
//!   2 s chain as on a 12 s one): each block it sells `holding / blocks_left`, so a slice that
//!   did not land is spread over the remaining blocks and the last one sells what is left; an
//!   acquisition that raises the holding above what it was the block before restarts the
//!   schedule over `N` blocks for the whole holding. The former `blocks = N` is rejected with
//!   its conversion.
//!
//! The state is per agent and per asset (blocks left, the holding last seen), updated only from
//! the agent's own View, so the schedule is deterministic. Sales are forced flow (liquidation
//! originated), like the flash sales they replace.

use crate::Submission;
use crate::view::View;
use cascade_core::clock::legacy_delay;
use cascade_core::tx::{GasKind, Side};
use cascade_core::{Action, Amount, Check, HolderId, VenueId};
use serde::{Deserialize, Serialize};

/// A sale is submitted only if it keeps at least this share of the quoted proceeds (the swap's
/// slippage limit against the price moving before it lands).
pub const MIN_OUT_SHARE: f64 = 0.98;

/// `sale = { kind = "hold" | "immediate" | "twap", duration_s = D }` on a liquidator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SalePolicy {
    // Empty struct variants (not unit variants) so that a stray key such as `blocks` on
    // `hold` is rejected as unknown rather than ignored.
    Hold {},
    Immediate {},
    Twap {
        /// Seconds a sale is spread over (one slice per block).
        #[serde(default)]
        duration_s: Option<f64>,
        /// Replaced block count, present only to be rejected with its conversion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blocks: Option<f64>,
    },
}

impl SalePolicy {
    /// Record broken rules under `c` (the key of the policy itself, e.g. `agents[3].sale`);
    /// `block_time_s` is the time base of a replaced key's conversion.
    pub fn validate(&self, c: &mut Check, block_time_s: f64) {
        if let SalePolicy::Twap { duration_s, blocks } = self {
            legacy_delay(c, "blocks", "duration_s", *blocks, block_time_s);
            match duration_s {
                None if blocks.is_none() => c.fail(
                    "duration_s",
                    "twap needs `duration_s`, the seconds it spreads a sale over (> 0)",
                ),
                Some(d) => c.positive("duration_s", *d),
                None => {}
            }
        }
    }

    /// The number of blocks the policy spreads a sale over (`None` for `hold`) on a chain of
    /// `block_time_s` blocks: `twap` `round(duration_s / block_time_s)`, at least 1.
    pub fn slices(&self, block_time_s: f64) -> Option<u32> {
        match self {
            SalePolicy::Hold {} => None,
            SalePolicy::Immediate {} => Some(1),
            SalePolicy::Twap { duration_s, .. } => {
                let n = (duration_s.unwrap_or(0.0) / block_time_s).round();
                Some(if n >= 1.0 {
                    n.min(u32::MAX as f64) as u32
                } else {
                    1
                })
            }
        }
    }

    /// What `amount` of asset `a` is worth to a liquidator that will dispose of it by this
    /// policy, quote: `hold` at `p_ref * (1 - inventory_risk)`; a sale in `n` slices at `n`
    /// times the best venue's quote for one slice (the venue is assumed to recover between
    /// slices) less `inventory_risk` and `n` swaps' gas. `None` when no venue trades the
    /// asset.
    pub fn value(
        &self,
        view: &View<'_>,
        venues: &[VenueId],
        a: usize,
        amount: Amount,
        inventory_risk: f64,
        tip: u128,
    ) -> Option<f64> {
        match self.slices(view.block_time_s) {
            None => Some(amount.to_whole() * view.p_ref[a] * (1.0 - inventory_risk)),
            Some(n) => {
                let slice = Amount::from_whole_floor(amount.to_whole() / n as f64);
                let (_, q) = view.best_sale(venues, a, slice, &[])?;
                let gas = view.fee_estimate(GasKind::Swap, tip).to_whole();
                Some(n as f64 * (q.to_whole() * (1.0 - inventory_risk) - gas))
            }
        }
    }
}

/// Per-asset schedule of a liquidator's sales (module doc).
#[derive(Debug, Clone, Default)]
pub struct SaleBook {
    /// Blocks left in each asset's schedule (0: none running).
    left: Vec<u32>,
    /// Each asset's holding when it last acted (before that block's sale).
    last: Vec<Amount>,
}

impl SaleBook {
    /// The sale of `holding` of an asset this block, and update the schedule: `None` for none.
    /// `holding` is the wallet's balance now; `n` the policy's slices.
    pub fn slice(&mut self, a: usize, holding: Amount, n: u32) -> Option<Amount> {
        if self.left.len() <= a {
            self.left.resize(a + 1, 0);
            self.last.resize(a + 1, Amount::ZERO);
        }
        let grew = holding > self.last[a];
        if !holding.is_positive() {
            self.left[a] = 0;
            self.last[a] = holding;
            return None;
        }
        if grew || self.left[a] == 0 {
            self.left[a] = n.max(1);
        }
        let k = self.left[a];
        let sell = if k <= 1 {
            holding
        } else {
            Amount::from_whole_floor(holding.to_whole() / k as f64).min(holding)
        };
        self.left[a] = k.saturating_sub(1);
        self.last[a] = holding;
        sell.is_positive().then_some(sell)
    }

    /// Submit this block's sales of `holder`'s collateral by `policy` on the venue among
    /// `venues` that pays most, each only when its proceeds beat the swap's gas.
    #[allow(clippy::too_many_arguments)]
    pub fn act(
        &mut self,
        policy: SalePolicy,
        view: &View<'_>,
        holder: HolderId,
        venues: &[VenueId],
        tip: u128,
        cap: Option<u128>,
        out: &mut Vec<Submission>,
    ) {
        let Some(n) = policy.slices(view.block_time_s) else {
            return;
        };
        let gas = view.fee_estimate(GasKind::Swap, tip);
        for a in 0..view.p_ref.len() {
            let holding = view.balance(holder, cascade_core::AssetId(a as u16).token());
            let Some(sell) = self.slice(a, holding, n) else {
                continue;
            };
            let Some((v, q)) = view.best_sale(venues, a, sell, &[]) else {
                continue;
            };
            if q <= gas {
                // Not worth the gas now: keep the slice for the next block.
                self.left[a] = self.left[a].saturating_add(1);
                continue;
            }
            let min_out = Amount::from_whole_floor(q.to_whole() * MIN_OUT_SHARE);
            out.push(Submission::Tx(view.request(
                Action::Swap {
                    venue: v,
                    side: Side::Sell,
                    amount_in: sell,
                    min_out,
                },
                tip,
                cap,
                true,
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(x: f64) -> Amount {
        Amount::from_whole(x)
    }

    /// TWAP over 4 blocks: four equal slices when every sale lands, nothing after.
    #[test]
    fn twap_sells_in_equal_slices_over_n_blocks() {
        let mut b = SaleBook::default();
        let mut h = whole(100.0);
        let mut sold = Vec::new();
        for _ in 0..6 {
            if let Some(s) = b.slice(0, h, 4) {
                sold.push(s.to_whole());
                h -= s;
            }
        }
        assert_eq!(sold, vec![25.0, 25.0, 25.0, 25.0]);
        assert!(!h.is_positive());
    }

    /// A slice that did not land is spread over the remaining blocks; the last block sells
    /// what is left.
    #[test]
    fn a_missed_slice_is_spread_over_the_rest() {
        let mut b = SaleBook::default();
        let h = whole(90.0);
        assert_eq!(b.slice(0, h, 3), Some(whole(30.0)));
        // The sale did not land: the holding is still 90 (it did not grow past what it was).
        let s2 = b.slice(0, h, 3).unwrap();
        assert_eq!(s2, whole(45.0));
        let h = h - s2;
        assert_eq!(b.slice(0, h, 3), Some(whole(45.0)));
    }

    /// Immediate sells the whole holding each block; an acquisition restarts a TWAP.
    #[test]
    fn immediate_sells_everything_and_acquisitions_restart_twap() {
        let mut b = SaleBook::default();
        assert_eq!(b.slice(0, whole(7.0), 1), Some(whole(7.0)));
        assert_eq!(b.slice(0, Amount::ZERO, 1), None);
        let mut t = SaleBook::default();
        assert_eq!(t.slice(1, whole(40.0), 4), Some(whole(10.0)));
        // 30 left; a new lot of 50 arrives: 80 (above the 40 seen) over a fresh 4 blocks.
        assert_eq!(t.slice(1, whole(80.0), 4), Some(whole(20.0)));
        // A smaller lot that does not lift the holding above the last one seen joins the
        // running schedule: 60 + 10 = 70 < 80, 3 blocks left.
        assert_eq!(
            t.slice(1, whole(70.0), 4),
            Some(Amount::from_whole_floor(70.0 / 3.0))
        );
    }

    fn twap(duration_s: Option<f64>, blocks: Option<f64>) -> SalePolicy {
        SalePolicy::Twap { duration_s, blocks }
    }

    /// `duration_s` must be positive; the former `blocks` is rejected with its conversion.
    #[test]
    fn twap_needs_a_duration_and_rejects_blocks() {
        let mut issues = Vec::new();
        let mut c = Check::new(&mut issues);
        twap(Some(0.0), None).validate(&mut c.at("agents[2].sale"), 12.0);
        twap(Some(120.0), None).validate(&mut c.at("agents[3].sale"), 12.0);
        twap(None, Some(10.0)).validate(&mut c.at("agents[4].sale"), 12.0);
        twap(None, None).validate(&mut c.at("agents[5].sale"), 12.0);
        assert_eq!(issues.len(), 3, "{issues:?}");
        let s = format!("{issues:?}");
        assert!(s.contains("agents[2].sale.duration_s"), "{s}");
        assert!(
            s.contains("agents[4].sale.blocks") && s.contains("10 * 12 = 120 s"),
            "{s}"
        );
        assert!(s.contains("agents[5].sale.duration_s"), "{s}");
    }

    /// A sale lasts its duration in seconds: 120 s is 10 slices at 12 s, 60 at 2 s, 4 at 30 s.
    #[test]
    fn twap_slices_follow_the_block_time() {
        let p = twap(Some(120.0), None);
        assert_eq!(p.slices(12.0), Some(10));
        assert_eq!(p.slices(2.0), Some(60));
        assert_eq!(p.slices(30.0), Some(4));
        assert_eq!(twap(Some(5.0), None).slices(12.0), Some(1));
        assert_eq!(SalePolicy::Hold {}.slices(12.0), None);
    }
}
