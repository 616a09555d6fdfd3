//! The causal cascade measure: each liquidation is classified as exogenous (the exogenous
//! oracle price `p_exo` alone would have made the account liquidatable) or induced (only
//! the price moves that forced sales caused did), and recorded with its delay.

use crate::Engine;
use cascade_core::{AccountId, Amount, HolderId};

impl Engine {
    pub(crate) fn record_liquidation(
        &mut self,
        id: AccountId,
        notional: f64,
        cf_liquidatable: bool,
        flagged_at: u64,
        liquidator: HolderId,
    ) {
        let m = &mut self.metrics;
        m.liquidations += 1;
        m.liquidated_notional += notional;
        if cf_liquidatable {
            m.exogenous_notional += notional;
        } else if let Some(acc) = self.snapshot.take() {
            // Not liquidatable at the p_exo oracle price now: induced unless the exogenous
            // path liquidates it later in the run (checked at each block end).
            self.unresolved.push((acc, notional, id, self.block));
        }
        self.snapshot = None;
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
}
