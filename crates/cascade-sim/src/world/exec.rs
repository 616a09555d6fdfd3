//! Step 7, one transaction at a time: `execute` escrows the gas, applies the action, settles
//! the fee (burn, builder, refund), writes the receipt and the event and counts the metrics;
//! `apply` is what each action does to venues, the engine and the oracles. Hedging agents'
//! off-chain offsets and the wallet values the gain metrics read are here too.

use super::World;
use cascade_agents::arbitrageur::value_gain;
use cascade_agents::{Receipt, ReceiptStatus, Role};
use cascade_core::event::{Event, Revert};
use cascade_core::tx::{Action, EngineOp, Tx};
use cascade_core::{AccountId, Amount, AssetId, FeedId, HolderId, Side, TokenId, VenueId};
use cascade_engine::Engine;
use cascade_market::gas::fee_split;
use cascade_market::mempool::PlannedTx;
use cascade_market::venue::{Fill, Venue};

impl World {
    /// Execute one planned transaction; returns (gas used, reverted, successful arbitrage).
    pub(super) fn execute(&mut self, item: PlannedTx, base_fee: u128) -> (u64, bool, bool) {
        let tx = item.tx;
        let tip = item.effective_priority;
        let native = self.gas.native_price();
        let kind = tx.action.gas_kind();
        let cost = self.gas_cfg.costs.cost(kind);
        let out_of_gas = tx.gas_limit < cost;
        let max_gas = if out_of_gas { tx.gas_limit } else { cost };
        let (b_max, t_max) = fee_split(max_gas, base_fee, tip, native);
        if self
            .ledger
            .transfer(tx.sender, self.escrow, TokenId::QUOTE, b_max + t_max)
            .is_err()
        {
            // Earlier transactions of this block drained the sender: not includable.
            self.drop_unpaid(&tx);
            return (0, false, false);
        }
        let role = self.actors[tx.agent.index()].role;
        let (result, gain) = self.apply_measured(&tx, role, out_of_gas);
        let gas_used = match &result {
            Ok(_) => cost,
            Err(Revert::OutOfGas) => tx.gas_limit,
            Err(_) => ((cost as f64) * self.gas_cfg.revert_fraction).ceil() as u64,
        }
        .min(max_gas);
        let (burn, tipf) = fee_split(gas_used, base_fee, tip, native);
        self.settle_gas(&tx, b_max + t_max, burn, tipf);
        let fee = burn + tipf;
        self.count_fee(&tx, role, burn, tipf, gain);
        let reverted = result.is_err();
        if reverted {
            self.acc.txs_reverted += 1;
        }
        let arb = matches!(result, Ok(true)) && role == Role::Arbitrageur;
        if let Some(ev) = self.events.as_mut() {
            ev.push(Event::TxIncluded {
                block: self.block,
                tx: tx.id,
                agent: tx.agent,
                sender: tx.sender,
                kind,
                gas_used,
                gas_price: base_fee + tip,
                fee,
                revert: result.as_ref().err().cloned(),
                private: item.private,
            });
        }
        self.receipts.push(Receipt {
            tx: tx.id,
            agent: tx.agent,
            block: self.block,
            status: match &result {
                Ok(_) => ReceiptStatus::Success,
                Err(r) => ReceiptStatus::Reverted(r.as_str().to_string()),
            },
            fee,
        });
        (gas_used, reverted, arb)
    }

    /// A transaction whose sender cannot pay its gas leaves the block, with a receipt.
    fn drop_unpaid(&mut self, tx: &Tx) {
        self.receipts.push(Receipt {
            tx: tx.id,
            agent: tx.agent,
            block: self.block,
            status: ReceiptStatus::Dropped("cannot pay gas".into()),
            fee: Amount::ZERO,
        });
        if let Action::OracleUpdate { feed, .. } = tx.action {
            self.oracles.forget_pending(feed);
        }
    }

    /// Apply `tx` (a revert when it ran out of gas) with the metrics around it: the wallet
    /// gain of liquidators and MEV bots (returned for them), the delay of a landed
    /// liquidation from the oracle report, the failed liquidations.
    fn apply_measured(
        &mut self,
        tx: &Tx,
        role: Role,
        out_of_gas: bool,
    ) -> (Result<bool, Revert>, Option<f64>) {
        let track = matches!(role, Role::Liquidator | Role::Mev);
        let is_liquidation = matches!(&tx.action, Action::Engine(op) if op.is_liquidation());
        // For the delay from the oracle report: when the protocol flagged the account, and
        // the asset whose oracle decides it.
        let liq_probe = match (&tx.action, self.engine.as_ref()) {
            (Action::Engine(EngineOp::Liquidate { account, .. }), Some(e)) => Some((
                e.flagged().get(account).copied().unwrap_or(self.block),
                main_asset(e, *account),
            )),
            _ => None,
        };
        let before = if track {
            self.wallet_value(tx.sender)
        } else {
            0.0
        };
        let result = if out_of_gas {
            Err(Revert::OutOfGas)
        } else {
            self.apply(tx)
        };
        let mut liq_gain = None;
        if track {
            let gain = self.wallet_value(tx.sender) - before;
            match role {
                Role::Liquidator => self.acc.liquidator_gain += gain,
                _ => self.acc.mev_gain += gain,
            }
            liq_gain = Some(gain);
        }
        if result.is_ok()
            && let Some((since, asset)) = liq_probe
        {
            let lag = asset.map_or(0, |a| lag_at(&self.report_lag[a], since));
            self.acc.report_delay_sum += (self.block.saturating_sub(since) + lag) as f64;
            self.acc.report_delay_count += 1;
        }
        if result.is_err() && is_liquidation {
            self.acc.failed_liquidation_txs += 1;
        }
        (result, liq_gain)
    }

    /// Empty the gas escrow (`escrowed`, the fee at the transaction's full gas): the base fee
    /// `burn` to the burn sink, the tip to the builder, the rest back to the sender.
    fn settle_gas(&mut self, tx: &Tx, escrowed: Amount, burn: Amount, tipf: Amount) {
        // The escrow holds b_max + t_max >= burn + tipf (fees are monotone in gas).
        let refund = escrowed - (burn + tipf);
        let moved = self
            .ledger
            .transfer(self.escrow, self.burn, TokenId::QUOTE, burn)
            .and_then(|_| {
                self.ledger
                    .transfer(self.escrow, self.builder, TokenId::QUOTE, tipf)
            })
            .and_then(|_| {
                self.ledger
                    .transfer(self.escrow, tx.sender, TokenId::QUOTE, refund)
            });
        debug_assert!(moved.is_ok(), "gas escrow arithmetic");
    }

    /// The gas metrics of an included transaction (`liq_gain`: the sender's tracked gain).
    fn count_fee(
        &mut self,
        tx: &Tx,
        role: Role,
        burn: Amount,
        tipf: Amount,
        liq_gain: Option<f64>,
    ) {
        let fee = burn + tipf;
        self.acc.gas_spent += fee.to_whole();
        self.acc.txs_included += 1;
        if matches!(&tx.action, Action::Engine(op) if op.is_liquidation()) {
            self.acc.liq_tips += tipf.to_whole();
            self.acc.liq_burn += burn.to_whole();
            if let Some(gain) = liq_gain {
                self.acc.liq_net += gain - fee.to_whole();
                if role == Role::Mev {
                    self.acc.mev_liq_net += gain - fee.to_whole();
                }
            }
        }
        match role {
            Role::Arbitrageur => self.acc.arb_gas += fee.to_whole(),
            Role::Liquidator => self.acc.liquidator_gas += fee.to_whole(),
            Role::Mev => self.acc.mev_gas += fee.to_whole(),
            _ => {}
        }
    }

    /// Apply a transaction's action. `Ok(true)` when it was a trade.
    fn apply(&mut self, tx: &Tx) -> Result<bool, Revert> {
        match &tx.action {
            Action::Swap {
                venue,
                side,
                amount_in,
                min_out,
            } => self.apply_swap(tx, *venue, *side, *amount_in, *min_out),
            Action::Quote { venue, bids, asks } => match self.venues.get_mut(venue.index()) {
                Some(Venue::Clob(book)) => {
                    book.replace_quotes(&mut self.ledger, tx.sender, bids, asks)
                        .map_err(venue_revert)?;
                    Ok(false)
                }
                _ => Err(Revert::InvalidVenue),
            },
            Action::CancelAll { venue } => match self.venues.get_mut(venue.index()) {
                Some(Venue::Clob(book)) => {
                    book.cancel_all(&mut self.ledger, tx.sender)
                        .map_err(venue_revert)?;
                    Ok(false)
                }
                _ => Err(Revert::InvalidVenue),
            },
            Action::Engine(op) => self.apply_engine_op(tx, op),
            Action::OracleUpdate { feed, price } => self.apply_oracle_update(tx, *feed, *price),
        }
    }

    /// A swap on a venue; a hedging trader offsets it off chain.
    fn apply_swap(
        &mut self,
        tx: &Tx,
        venue: VenueId,
        side: Side,
        amount_in: Amount,
        min_out: Amount,
    ) -> Result<bool, Revert> {
        let v = self
            .venues
            .get_mut(venue.index())
            .ok_or(Revert::InvalidVenue)?;
        let asset: AssetId = v.asset();
        let fill = v
            .execute(&mut self.ledger, tx.sender, side, amount_in, min_out)
            .map_err(venue_revert)?;
        if self.actors[tx.agent.index()].role == Role::Arbitrageur {
            self.acc.arb_gain += self.fill_gain(venue, side, &fill);
        }
        if self.actors[tx.agent.index()].hedges {
            self.hedge(tx.sender, asset, side, fill.amount_in, fill.amount_out);
        }
        self.fill_landed(tx, venue, side, &fill, tx.forced);
        Ok(true)
    }

    /// What a fill on `venue` gained its trader at `p_ref`, whole quote.
    fn fill_gain(&self, venue: VenueId, side: Side, fill: &Fill) -> f64 {
        let p = self.p_ref[self.venues[venue.index()].asset().index()];
        value_gain(side, fill.amount_in, fill.amount_out, p).to_whole()
    }

    /// A venue fill of `tx` landed (its own swap, or one the engine made for it): the pool's
    /// loss to an informed trader, the price impact of forced flow, the event.
    fn fill_landed(&mut self, tx: &Tx, venue: VenueId, side: Side, fill: &Fill, forced: bool) {
        let vi = venue.index();
        let asset = self.venues[vi].asset().index();
        if self.venue_is_cpmm[vi] && self.actors[tx.agent.index()].role.is_informed() {
            // The pool is the counterparty: an informed trader's gain at p_ref is the
            // pool's loss versus rebalancing (Milionis et al. 2022). Uninformed flow
            // (noise, retail) is fee income, not LVR, and is left out.
            self.acc.lvr += self.fill_gain(venue, side, fill);
        }
        // On a reference market, a forced sale on a venue reaches the price through the
        // arbitrageurs who offset it there (their hedges), not directly.
        if forced && !self.prices.has_reference(asset) {
            let base = match side {
                Side::Sell => -fill.amount_in.to_whole(),
                Side::Buy => fill.amount_out.to_whole(),
            };
            self.forced_flow(asset, base);
        }
        if let Some(ev) = self.events.as_mut() {
            ev.push(Event::Swap {
                block: self.block,
                tx: tx.id,
                venue,
                trader: tx.sender,
                side,
                amount_in: fill.amount_in,
                amount_out: fill.amount_out,
                price_after: fill.price_after,
                forced,
            });
        }
    }

    /// An engine operation, with the venue trades and off-venue flow it forced.
    fn apply_engine_op(&mut self, tx: &Tx, op: &EngineOp) -> Result<bool, Revert> {
        let Some(engine) = self.engine.as_mut() else {
            return Err(Revert::Other("no_engine".into()));
        };
        let out = engine
            .apply_at_market(
                op,
                tx.sender,
                tx.agent,
                &mut self.ledger,
                &mut self.venues,
                &self.prices,
            )
            .map_err(|r| Revert::Other(r.to_string()))?;
        for (v, side, fill) in &out.swaps {
            self.fill_landed(tx, *v, *side, fill, true);
        }
        for (a, base) in &out.offvenue_flow {
            self.forced_flow(*a, *base);
            self.sync_ref(*a);
        }
        if let Some(ev) = self.events.as_mut()
            && let Some(e) = self.engine.as_mut()
        {
            ev.extend(e.take_events());
        }
        Ok(false)
    }

    /// An oracle update by its feed's publisher: the engine's prices follow, and the
    /// transport lag from the report is recorded.
    fn apply_oracle_update(&mut self, tx: &Tx, feed: FeedId, price: f64) -> Result<bool, Revert> {
        if self.feed_publisher.get(feed.index()) != Some(&tx.agent) {
            return Err(Revert::Other("unauthorized_oracle".into()));
        }
        self.oracles.apply(feed, price, self.t_s);
        self.refresh_engine_prices();
        self.intents_after_update();
        // A released fallback counts from its report, not from its release.
        let reported = self
            .oev
            .as_mut()
            .and_then(|o| {
                let i = o.released.iter().position(|(id, _)| *id == tx.id)?;
                Some(o.released.swap_remove(i).1)
            })
            .unwrap_or(tx.submitted_block);
        let lag = self.block.saturating_sub(reported);
        let lags = &mut self.report_lag[self.oracles.feed_asset(feed)];
        if lags.last().is_none_or(|(_, l)| *l != lag) {
            lags.push((self.block, lag));
        }
        self.oev_restore_pending(feed, None);
        self.acc.oracle_updates += 1;
        self.acc.oracle_delay_sum += lag;
        if let Some(ev) = self.events.as_mut() {
            ev.push(Event::OracleUpdate {
                block: self.block,
                feed,
                price,
            });
        }
        Ok(false)
    }
}

impl World {
    /// The engine's oracle prices changed mid-block (a publication landed).
    fn refresh_engine_prices(&mut self) {
        if self.engine.is_none() {
            return;
        }
        // The block's engine-input buffers (their values were handed to the engine at the
        // block start): reused, so a landed update allocates nothing.
        let n = self.p_ref.len();
        let mut px = std::mem::take(&mut self.engine_inputs.px);
        let mut cf = std::mem::take(&mut self.engine_inputs.cf);
        px.clear();
        px.extend((0..n).map(|a| self.oracles.price(a, self.t_s)));
        cf.clear();
        cf.extend((0..n).map(|a| px[a] * self.prices.p_exo(a) / self.p_ref[a]));
        if let Some(e) = self.engine.as_mut() {
            e.set_prices(&px, &cf);
        }
        self.engine_inputs.px = px;
        self.engine_inputs.cf = cf;
    }

    /// A wallet's value at `p_ref`, whole quote units.
    fn wallet_value(&self, h: HolderId) -> f64 {
        let mut v = self.ledger.balance(h, TokenId::QUOTE).to_whole();
        // Standing English-auction bids are the bidder's until it is outbid or wins.
        if let Some(e) = &self.engine {
            v += e.escrowed_bids(h).to_whole();
        }
        for (a, p) in self.p_ref.iter().enumerate() {
            v += self.ledger.balance(h, AssetId(a as u16).token()).to_whole() * p;
        }
        v
    }

    /// `p_ref` of asset `a` after a flow moved its reference market within the block.
    pub(super) fn sync_ref(&mut self, a: usize) {
        if self.prices.has_reference(a) {
            self.p_ref[a] = self.prices.p_ref(a);
        }
    }

    /// Offset a landed venue trade on the off-chain market: after selling `base` on the venue
    /// the trader buys it back, after buying it sells it, rounding in the market's favour;
    /// limited to what the trader holds, so it can never fail. Under the reduced-form impact
    /// it trades at `p_ref`; on a reference market it walks the book (impact and taker fee)
    /// and moves `p_ref` at once.
    pub(super) fn hedge(
        &mut self,
        who: HolderId,
        asset: AssetId,
        side: Side,
        amount_in: Amount,
        amount_out: Amount,
    ) {
        let a = asset.index();
        let token = asset.token();
        let (base_back, base_out) = match side {
            Side::Sell => (amount_in, Amount::ZERO),
            Side::Buy => (Amount::ZERO, amount_out),
        };
        if base_back.is_positive() {
            // Buy back what was sold, as much as the quote balance allows (priced at the
            // whole size's average, which is above a smaller size's on a reference market).
            let quote = self.ledger.balance(who, TokenId::QUOTE);
            let p = self.prices.quote_flow(a, base_back.to_whole());
            let cost = base_back.value_ceil(p);
            let (base, cost) = if cost <= quote {
                (base_back, cost)
            } else {
                let b = quote.scale_floor(1.0 / p);
                (b, b.value_ceil(p).min(quote))
            };
            if base.is_positive() {
                self.prices.execute_flow(a, base.to_whole());
                self.sync_ref(a);
                let _ = self
                    .ledger
                    .transfer(who, self.offchain, TokenId::QUOTE, cost);
                let _ = self.ledger.transfer(self.offchain, who, token, base);
            }
        }
        if base_out.is_positive() {
            let base = base_out.min(self.ledger.balance(who, token));
            if base.is_positive() {
                let proceeds = base.value_floor(self.prices.execute_flow(a, -base.to_whole()));
                self.sync_ref(a);
                let _ = self.ledger.transfer(who, self.offchain, token, base);
                let _ = self
                    .ledger
                    .transfer(self.offchain, who, TokenId::QUOTE, proceeds);
            }
        }
    }
}

/// The asset whose oracle decides account `id`: its largest collateral by value, else its
/// largest perp by notional, at the engine's prices.
fn main_asset(e: &Engine, id: AccountId) -> Option<usize> {
    let acc = e.account(id)?;
    acc.largest_collateral(e.prices())
        .or_else(|| acc.largest_perp(e.prices()))
}

/// The lag of the asset's latest oracle update landed at or before `block` (0 before any).
fn lag_at(changes: &[(u64, u64)], block: u64) -> u64 {
    let i = changes.partition_point(|(b, _)| *b <= block);
    if i == 0 { 0 } else { changes[i - 1].1 }
}

fn venue_revert(e: cascade_market::venue::VenueError) -> Revert {
    use cascade_market::venue::VenueError as E;
    match e {
        E::Slippage { .. } => Revert::Slippage,
        E::NoLiquidity => Revert::NoLiquidity,
        E::Ledger(_) => Revert::InsufficientFunds,
        other => Revert::Other(other.to_string()),
    }
}
