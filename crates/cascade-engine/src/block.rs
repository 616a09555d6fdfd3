//! The block: what the engine does at the start (oracle prices, risk updates, breakers,
//! funding, option expiries, the revaluation budget) and at the end (the causal measure, the
//! protocol's own liquidation check, the backstop, block-level metrics) of every block.

use crate::account::close_value;
use crate::options::RiskTables;
use crate::{Engine, margin};
use cascade_core::{AccountId, Amount};

impl Engine {
    /// Start of a block: the engine's oracle prices (`None` keeps a price), whether each
    /// asset's oracle passes its guards, the counterfactual prices of the causal cascade
    /// measure (the oracle price `p_exo` alone would give) and the perp mark prices.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_block(
        &mut self,
        block: u64,
        t_s: f64,
        dt_s: f64,
        prices: &[f64],
        cf_prices: &[f64],
        guard_ok: &[bool],
        twap_divergence: &[Option<f64>],
        mark: &[f64],
    ) {
        self.block = block;
        self.t_s = t_s;
        self.liqs_this_block = 0;
        self.prev_prices.copy_from_slice(&self.prices);
        self.store_prices(prices, cf_prices);
        self.guard_ok.copy_from_slice(guard_ok);
        self.mark.copy_from_slice(mark);
        // Risk updates: every block by default; with `risk_update_interval_s = T` the margin
        // parameters, implied vols and Greeks the engine uses are refreshed only at the first
        // block whose time reaches each multiple of T (the live estimators still see every
        // block).
        let interval = self.cfg.risk_update_interval_s;
        let due = t_s >= self.next_risk_t;
        if due && interval > 0.0 {
            while self.next_risk_t <= t_s {
                self.next_risk_t += interval;
            }
        }
        match &mut self.margin_live {
            None => self.margin.update(prices, dt_s),
            Some(live) => {
                live.update(prices, dt_s);
                if due {
                    self.margin = live.clone();
                }
            }
        }
        let rise = self.margin.maintenance_rise();
        if rise > self.metrics.maintenance_ratio_rise {
            self.metrics.maintenance_ratio_rise = rise;
        }
        if self.opts.is_some() {
            self.options_begin_block(dt_s, due);
        }
        self.check_breakers(t_s, twap_divergence);
        // Funding accrues every block, settles every interval.
        if self.cfg.funding_scale > 0.0 {
            let dt = dt_s / cascade_market::SECONDS_PER_YEAR;
            for a in 0..self.n_assets {
                let p = self.prices[a];
                if p > 0.0 && self.mark[a] > 0.0 {
                    let rate = (self.cfg.funding_scale * (self.mark[a] - p) / p)
                        .clamp(-self.cfg.funding_cap, self.cfg.funding_cap);
                    self.funding_acc[a] += rate * dt * p;
                }
            }
            if t_s - self.last_funding_t >= self.cfg.funding_interval_s {
                self.settle_funding();
                self.last_funding_t = t_s;
            }
        }
    }

    /// Update the oracle prices mid-block (an oracle publication landed); the oracle-move
    /// breaker sees the move at once.
    pub fn set_prices(&mut self, prices: &[f64], cf_prices: &[f64]) {
        self.store_prices(prices, cf_prices);
        self.check_oracle_move();
    }

    /// The engine's oracle prices (`None`-like entries, not finite or not positive, keep a
    /// price) and the counterfactual prices of the causal measure.
    fn store_prices(&mut self, prices: &[f64], cf_prices: &[f64]) {
        for a in 0..self.n_assets {
            if prices[a].is_finite() && prices[a] > 0.0 {
                if self.prices[a].to_bits() != prices[a].to_bits() {
                    self.price_epoch += 1;
                }
                self.prices[a] = prices[a];
            }
            if cf_prices[a].is_finite() && cf_prices[a] > 0.0 {
                self.cf_prices[a] = cf_prices[a];
            }
        }
        self.structure.observe_cf(&self.cf_prices);
        if let Some(o) = &mut self.opts {
            o.refresh_marks(&self.prices, self.t_s);
        }
    }

    /// The options' part of the start of a block: feed the realized-vol estimator, settle
    /// expired series, and (at a risk update) rebuild the risk tables and spend the
    /// revaluation budget.
    pub(crate) fn options_begin_block(&mut self, dt_s: f64, due: bool) {
        let Some(o) = self.opts.as_mut() else { return };
        let dt = dt_s / cascade_market::SECONDS_PER_YEAR;
        for &a in &o.cfg.assets {
            let (p, prev) = (self.prices[a], o.last_price[a]);
            o.last_price[a] = p;
            if p > 0.0 && prev > 0.0 && dt > 0.0 {
                let r = (p / prev).ln();
                o.var_rate[a] =
                    margin::ewma_step(o.var_rate[a], r * r / dt, dt_s, o.cfg.iv.half_life_s);
            }
        }
        self.settle_expiries();
        let o = self.opts.as_mut().expect("options");
        if due {
            let rv = o.rv();
            o.tables = RiskTables::build(
                &o.chain,
                &o.cfg.iv,
                &self.cfg.option_margin,
                &self.prices,
                &rv,
                self.t_s,
            );
            o.epoch += 1;
        }
        o.refresh_marks(&self.prices, self.t_s);
        if due && let Some(k) = self.cfg.max_revaluations_per_block {
            self.revalue_budget(k);
        }
    }

    /// Spend the per-block revaluation budget: up to `k` option accounts whose cached
    /// requirement predates this risk update are revalued, round-robin from where the last
    /// block stopped, so every account gets its turn.
    pub(crate) fn revalue_budget(&mut self, k: u32) {
        let n = self.accounts.len();
        let Some(o) = &self.opts else { return };
        let epoch = o.epoch;
        let (mut done, mut i) = (0u32, 0usize);
        while i < n && done < k {
            let idx = (self.reval_cursor + i) % n;
            i += 1;
            let acc = &self.accounts[idx];
            if acc.closed || !acc.has_options() || acc.risk.is_some_and(|m| m.epoch == epoch) {
                continue;
            }
            self.revalue(AccountId(idx as u32));
            done += 1;
        }
        if n > 0 {
            self.reval_cursor = (self.reval_cursor + i) % n;
        }
    }

    /// Cash-settle every series whose expiry has come, at the oracle price, against the
    /// lenders' pool (the counterparty of every option): a long receives its payoff rounded
    /// down, a short pays it rounded up. An account left with nothing but a negative balance
    /// goes through the waterfall.
    pub(crate) fn settle_expiries(&mut self) {
        let Some(o) = self.opts.as_mut() else { return };
        let due: Vec<usize> = (0..o.chain.len())
            .filter(|&i| !o.expired[i] && o.chain[i].expiry_s <= self.t_s)
            .collect();
        if due.is_empty() {
            return;
        }
        let mut touched = Vec::new();
        let mut settled = Vec::new();
        for &i in &due {
            o.expired[i] = true;
            let s = o.chain[i];
            let payoff = s.payoff(self.prices[s.asset]);
            for (j, acc) in self.accounts.iter_mut().enumerate() {
                let Some(&q) = acc.options.get(i) else {
                    continue;
                };
                if q.is_zero() {
                    continue;
                }
                let amt = close_value(q, payoff);
                acc.quote += amt;
                acc.options[i] = Amount::ZERO;
                self.pool_cash -= amt;
                if touched.last() != Some(&j) {
                    touched.push(j);
                }
            }
            settled.push((i, payoff, self.prices[s.asset]));
        }
        for (i, payoff, p) in settled {
            self.event(
                "option_expiry",
                None,
                None,
                Amount::ZERO,
                payoff,
                format!("series {i} settled at {p}"),
            );
        }
        touched.sort_unstable();
        touched.dedup();
        for j in touched {
            let id = AccountId(j as u32);
            let acc = &self.accounts[j];
            if !acc.closed && !acc.has_positions() && acc.quote < acc.debt {
                self.settle_bankrupt(id, &[]);
            }
            self.revalue(id);
            self.reindex(id);
        }
    }

    /// Funding settlement: longs pay shorts `acc` per unit of base (negative: shorts pay),
    /// against the pool, rounded in the pool's favour. Touches every perp account, once per
    /// funding interval.
    pub(crate) fn settle_funding(&mut self) {
        let mut settled: Vec<(AccountId, crate::index::Slot)> = Vec::new();
        for a in 0..self.n_assets {
            let f = std::mem::take(&mut self.funding_acc[a]);
            if f == 0.0 {
                continue;
            }
            self.funding_index[a] += f;
            self.funding_settlements += 1;
            for i in 0..self.accounts.len() {
                // Read first: taking the account for writing advances its stamp.
                if self.accounts[i].closed || !self.accounts[i].perps[a].is_open() {
                    continue;
                }
                // Not in the touched log: holders watch `funding_index` instead.
                let acc = self.accounts.funding_write(i);
                // Payment by the account: size * f (long pays when f > 0), rounded in the
                // pool's favour.
                let owed = acc.perps[a].size.to_whole() * f;
                let amt = if owed >= 0.0 {
                    Amount::from_whole_ceil(owed)
                } else {
                    -Amount::from_whole_floor(-owed)
                };
                acc.perps[a].quote -= amt;
                // The pool is the counterparty of the funding payment: it is realized into
                // the account's quote on close, so nothing moves now.
                // Its new place in the index, while the account is in the cache.
                let id = AccountId(i as u32);
                settled.push((id, self.slot_of(id)));
            }
            // Every settled account's key moved: one bulk update of the index.
            self.index.set_many(&settled);
            settled.clear();
        }
    }

    /// End of a block: the protocol's own liquidation check (via the index), the backstop,
    /// metrics.
    pub fn end_block(&mut self) {
        self.resolve_exogenous();
        self.accounts.flush();
        let oi = self.open_interest();
        if oi > self.metrics.max_open_interest {
            self.metrics.max_open_interest = oi;
        }
        if self.opts.is_some() {
            self.options_end_block();
            self.refresh_guards();
        }
        let now = self.liquidatable_now();
        // Under private positions with proofs only the proven (or public) ones are flagged;
        // otherwise all of them.
        let admitted = self.admit_proven(&now);
        // Accounts no longer liquidatable leave the flagged set.
        self.flagged
            .retain(|id, _| admitted.binary_search(id).is_ok());
        for &id in &admitted {
            if !self.flagged.contains_key(&id) {
                // Newly liquidatable: did it go straight from healthy to bankrupt?
                let h = self.health_of(&self.accounts[id.index()], &self.prices);
                if h.equity < 0.0 {
                    self.metrics.gap_through_count += 1;
                }
                self.flagged.insert(id, self.block);
            }
        }
        // Delays count from the protocol's first sight, proven or not.
        for id in now {
            if !self.first_flag.contains_key(&id) {
                self.first_flag.insert(id, (self.block, self.t_s));
                self.flag_event(id);
            }
        }
        self.sequencer_block_end();
        if let Some(backstop) = self.mechanism.backstop() {
            self.backstop_sweep(backstop);
        }
    }

    /// The `account_flagged` event of `id` (only when events are recorded): the engine's
    /// price of its largest exposure and its maintenance health.
    fn flag_event(&mut self, id: AccountId) {
        if self.events.is_none() {
            return;
        }
        let acc = &self.accounts[id.index()];
        let h = self.health_of(acc, &self.prices);
        let asset = acc
            .largest_perp(&self.prices)
            .or_else(|| acc.largest_collateral(&self.prices))
            .unwrap_or(0);
        let (block, oracle_price) = (self.block, self.prices[asset]);
        if let Some(ev) = self.events.as_mut() {
            ev.push(cascade_core::event::Event::AccountFlagged {
                block,
                account: id,
                asset,
                oracle_price,
                health: h.maintenance,
            });
        }
    }

    /// Options at the end of a block: the net gamma of all books and, under a risk budget,
    /// the accounts liquidatable under fresh figures that the engine's stale ones miss.
    pub(crate) fn options_end_block(&mut self) {
        let Some(o) = &self.opts else { return };
        let mut net = vec![0.0; o.chain.len()];
        for acc in &self.accounts {
            if acc.closed {
                continue;
            }
            for (i, q) in acc.options.iter().enumerate() {
                if !q.is_zero() {
                    net[i] += q.to_whole();
                }
            }
        }
        let mut gamma = 0.0;
        for (i, q) in net.iter().enumerate() {
            let s = self.prices[o.chain[i].asset];
            gamma += q * o.tables.series[i].g.gamma * s * s / 100.0;
        }
        if gamma.abs() > self.metrics.engine_gamma.abs() {
            self.metrics.engine_gamma = gamma;
        }
        let budgeted =
            self.cfg.risk_update_interval_s > 0.0 || self.cfg.max_revaluations_per_block.is_some();
        if !budgeted {
            return;
        }
        // Fresh figures: tables at the current prices and realized vols, the live margin.
        let fresh = RiskTables::build(
            &o.chain,
            &o.cfg.iv,
            &self.cfg.option_margin,
            &self.prices,
            &o.rv(),
            self.t_s,
        );
        let margin = self.margin_live.as_ref().unwrap_or(&self.margin);
        let mut stale = 0;
        for acc in &self.accounts {
            if acc.closed || !acc.has_options() {
                continue;
            }
            let lin = acc.health(&self.prices, margin);
            let truth = self.option_health(acc, lin, &self.prices, margin, o, &fresh, None, false);
            if truth.maintenance < 0.0 && self.health_of(acc, &self.prices).maintenance >= 0.0 {
                stale += 1;
            }
        }
        self.metrics.stale_risk_blocks += stale;
    }
}
