//! The causal cascade measure: each liquidation is classified as exogenous (the exogenous
//! oracle price `p_exo` alone would have made the account liquidatable) or induced (only
//! the price moves that forced sales caused did), and recorded with its delay.

use crate::Engine;
use crate::account::Account;
use crate::liquidation::SettlementMarket;
use cascade_core::event::Event;
use cascade_core::{AccountId, Amount, HolderId};

/// A liquidation not yet shown to be exogenous: the account as it stood before it, the
/// notional, its id and block (for the event that reclassifies it) and its index in the
/// cascade structure's log.
#[derive(Debug, Clone)]
pub(crate) struct Unresolved {
    pub(crate) account: Account,
    pub(crate) notional: f64,
    pub(crate) id: AccountId,
    pub(crate) block: u64,
    pub(crate) log: usize,
}

/// What the causal measure needs of an account about to be liquidated, read before the
/// liquidation writes anything: whether the exogenous oracle price alone makes it
/// liquidatable, the block and time it was first flagged, and the account as it stood (to
/// check against the exogenous prices of later blocks, and for the cascade structure).
#[derive(Debug, Clone)]
pub(crate) struct Before {
    pub(crate) cf_liquidatable: bool,
    pub(crate) flagged_at: u64,
    pub(crate) flagged_t_s: f64,
    pub(crate) account: Account,
}

impl Engine {
    /// Read [`Before`] of account `id` (writes nothing). An account not flagged yet (its
    /// liquidation comes before the block's own check) counts from now.
    pub(crate) fn before_liquidation(&self, id: AccountId) -> Before {
        let acc = &self.accounts[id.index()];
        let cf_liquidatable = self.triggered(&self.health_of(acc, &self.cf_prices));
        let (flagged_at, flagged_t_s) = self
            .first_flag
            .get(&id)
            .copied()
            .unwrap_or((self.block, self.t_s));
        Before {
            cf_liquidatable,
            flagged_at,
            flagged_t_s,
            account: acc.clone(),
        }
    }

    /// The market price `p_ref` of every asset (the oracle's without a market): what
    /// liquidated notional is valued at.
    pub(crate) fn market_prices(&self, market: Option<&dyn SettlementMarket>) -> Vec<f64> {
        (0..self.n_assets)
            .map(|a| market.map_or(self.prices[a], |m| m.quote(a, 0.0)))
            .collect()
    }

    /// Count a liquidation of `id` of `notional` (whole quote, at `p_ref`, see
    /// [`Engine::market_prices`]) by `liquidator`: exogenous, or not (yet), its delay since
    /// the account was first flagged, and its place in the cascade structure. The first flag
    /// stays while the account stays liquidatable (a partial liquidation's successor counts
    /// from it too); [`Engine::spend_flag`] drops it once a liquidation has made the account
    /// healthy.
    pub(crate) fn record_liquidation(
        &mut self,
        id: AccountId,
        notional: f64,
        before: Before,
        liquidator: HolderId,
        p_ref: &[f64],
    ) {
        let Before {
            cf_liquidatable,
            flagged_at,
            flagged_t_s,
            account,
        } = before;
        let exposure = account.exposure_value(p_ref);
        let log = self.log_liquidation(id, &account, exposure, notional, cf_liquidatable);
        let m = &mut self.metrics;
        m.liquidations += 1;
        m.liquidated_notional += notional;
        if cf_liquidatable {
            m.exogenous_notional += notional;
        } else {
            // Not liquidatable at the p_exo oracle price now: induced unless the exogenous
            // path liquidates it later in the run (checked at each block end).
            self.unresolved.push(Unresolved {
                account,
                notional,
                id,
                block: self.block,
                log,
            });
        }
        let delay = self.block.saturating_sub(flagged_at);
        let delay_s = (self.t_s - flagged_t_s).max(0.0);
        let m = &mut self.metrics;
        m.delay_sum += delay as f64;
        m.delay_count += 1;
        m.delay_max = m.delay_max.max(delay as f64);
        m.delay_s_sum += delay_s;
        m.delay_s_max = m.delay_s_max.max(delay_s);
        if self.events.is_some() {
            let generation = *self.structure.generations().last().unwrap_or(&0);
            let block = self.block;
            if let Some(ev) = self.events.as_mut() {
                ev.push(Event::Liquidation {
                    block,
                    account: id,
                    liquidator,
                    notional: Amount::from_whole(notional),
                    delay_blocks: delay,
                    delay_s,
                    generation,
                    cause: if cf_liquidatable {
                        "exogenous"
                    } else {
                        "not_exogenous_yet"
                    }
                    .to_string(),
                });
            }
        }
    }

    /// After a liquidation of `id`: an account it left healthy (or closed) loses its first
    /// flag, so its next liquidation counts from its next flag.
    pub(crate) fn spend_flag(&mut self, id: AccountId) {
        if !self.is_liquidatable(id) {
            self.first_flag.remove(&id);
        }
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
            let mut logs = Vec::new();
            unresolved.retain(|u| {
                if self.triggered(&self.health_of(&u.account, cf)) {
                    exo += u.notional;
                    logs.push(u.log);
                    if recording {
                        resolved.push((u.id, u.notional, u.block));
                    }
                    false
                } else {
                    true
                }
            });
            for i in logs {
                self.mark_exogenous(i);
            }
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
