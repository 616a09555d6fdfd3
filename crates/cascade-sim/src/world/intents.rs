//! Intent-based liquidation in the pipeline (`engine.intents`): the engine routes liquidatable
//! accounts to solvers' standing commitments at the block start (step 4, after the engine
//! opens its block and before agents act) and right after each oracle update lands (step 7,
//! before anything behind it in the block, backruns included). Kept apart so that the
//! pipeline gains two calls and the fills' forced flow reaches the price model the way every
//! liquidation's does.

use super::World;
use cascade_engine::Outcome;

impl World {
    /// Step 4 with intents on: expiries, the capital tally, then routing.
    pub(super) fn intents_block_start(&mut self) {
        let Some(e) = self.engine.as_mut() else {
            return;
        };
        if e.intent_escrow().is_none() {
            return;
        }
        let out = e.intents_block(&mut self.ledger, &mut self.venues, Some(&self.prices));
        self.intent_flow(out);
    }

    /// Right after an oracle update landed: route at the new prices.
    pub(super) fn intents_after_update(&mut self) {
        let Some(e) = self.engine.as_mut() else {
            return;
        };
        if e.intent_escrow().is_none() {
            return;
        }
        let out = e.route_intents(&mut self.ledger, &mut self.venues, Some(&self.prices));
        self.intent_flow(out);
    }

    /// The fills' forced flow (perp closes and ADL) reaches the price model; their events
    /// join the run's.
    fn intent_flow(&mut self, out: Outcome) {
        for (a, base) in &out.offvenue_flow {
            self.forced_flow(*a, *base);
            self.sync_ref(*a);
        }
        if let Some(ev) = self.events.as_mut()
            && let Some(e) = self.engine.as_mut()
        {
            ev.extend(e.take_events());
        }
    }
}
