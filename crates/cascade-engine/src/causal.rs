//! The causal cascade measure: each liquidation is classified as exogenous (the exogenous
//! oracle price `p_exo` alone would have made the account liquidatable) or induced (only
//! the price moves that forced sales caused did), and recorded with its delay.

use crate::Engine;
use crate::account::Account;
use cascade_core::{AccountId, Amount, HolderId};

/// What the causal measure needs of an account about to be liquidated, read before the
/// liquidation writes anything: whether the exogenous oracle price alone makes it
/// liquidatable, the block it was flagged, and (when the exogenous price does not) the
/// account as it stood, to check against the exogenous prices of later blocks.
#[derive(Debug, Clone)]
pub(crate) struct Before {
    pub(crate) cf_liquidatable: bool,
    pub(crate) flagged_at: u64,
    pub(crate) account: Option<Account>,
}

impl Engine {
    /// Read [`Before`] of account `id` (writes nothing).
    pub(crate) fn before_liquidation(&self, id: AccountId) -> Before {
        let acc = &self.accounts[id.index()];
        let cf_liquidatable = self.health_of(acc, &self.cf_prices).maintenance < 0.0;
        Before {
            cf_liquidatable,
            flagged_at: self.flagged.get(&id).copied().unwrap_or(self.block),
            account: (!cf_liquidatable).then(|| acc.clone()),
        }
    }

    /// Count a liquidation of `id` of `notional` (whole quote) by `liquidator`: exogenous, or
    /// not (yet), and its delay since the account was flagged.
    pub(crate) fn record_liquidation(
        &mut self,
        id: AccountId,
        notional: f64,
        before: Before,
        liquidator: HolderId,
    ) {
        let Before {
            cf_liquidatable,
            flagged_at,
            account,
        } = before;
        let m = &mut self.metrics;
        m.liquidations += 1;
        m.liquidated_notional += notional;
        if cf_liquidatable {
            m.exogenous_notional += notional;
        } else if let Some(acc) = account {
            // Not liquidatable at the p_exo oracle price now: induced unless the exogenous
            // path liquidates it later in the run (checked at each block end).
            self.unresolved.push((acc, notional, id, self.block));
        }
        let delay = self.block.saturating_sub(flagged_at) as f64;
        m.delay_sum += delay;
        m.delay_count += 1;
        m.delay_max = m.delay_max.max(delay);
        self.event(
            "liquidation",
            Some(id),
            Some(liquidator),
            Amount::from_whole(notional),
            delay,
            if cf_liquidatable {
                "exogenous"
            } else {
                "not_exogenous_yet"
            }
            .to_string(),
        );
    }

    /// End of a block: a liquidation not (yet) explained by p_exo becomes exogenous as soon
    /// as the exogenous oracle price would have made the account liquidatable.
    pub(crate) fn resolve_exogenous(&mut self) {
        if !self.unresolved.is_empty() {
            let mut unresolved = std::mem::take(&mut self.unresolved);
            let cf = &self.cf_prices;
            let mut exo = 0.0;
            // Only filled when events are recorded (replays), so the block loop stays
            // allocation-free in sweeps.
            let mut resolved = Vec::new();
            let recording = self.events.is_some();
            unresolved.retain(|(acc, n, id, at)| {
                if self.health_of(acc, cf).maintenance < 0.0 {
                    exo += *n;
                    if recording {
                        resolved.push((*id, *n, *at));
                    }
                    false
                } else {
                    true
                }
            });
            self.unresolved = unresolved;
            self.metrics.exogenous_notional += exo;
            // The final word on a `not_exogenous_yet` liquidation: `value` is the block of
            // the liquidation it reclassifies. Those never reclassified are the induced ones.
            for (id, n, at) in resolved {
                self.event(
                    "liquidation_exogenous",
                    Some(id),
                    None,
                    Amount::from_whole(n),
                    at as f64,
                    format!("the liquidation at block {at} is exogenous"),
                );
            }
        }
    }
}
