//! The engine's per-run metrics (`EngineMetrics`) and what is computed from the state when
//! they are read (induced liquidations, unresolved shortfall).

use crate::Engine;

/// Per-run engine metrics (names and definitions: README.md, "Metrics", and docs/model.md), in whole quote units unless counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineMetrics {
    pub liquidations: u64,
    pub liquidated_notional: f64,
    pub exogenous_notional: f64,
    pub induced_notional: f64,
    pub induced_liquidations: u64,
    pub bad_debt: f64,
    /// Everything the insurance fund paid out (bad debt and keeper rewards).
    pub insurance_paid: f64,
    /// The part of it that covered bad debt.
    pub insurance_for_debt: f64,
    pub socialized_loss: f64,
    pub adl_events: u64,
    pub adl_loss: f64,
    pub uncovered_bad_debt: f64,
    pub delay_sum: f64,
    pub delay_max: f64,
    pub delay_count: u64,
    /// Sum and largest of the liquidation delays in seconds (from the first flag).
    pub delay_s_sum: f64,
    pub delay_s_max: f64,
    /// The cascade structure (set by callers from [`Engine::structure_metrics`] with the
    /// market's prices; default until then).
    pub structure: crate::StructureMetrics,
    pub gap_through_count: u64,
    /// Private positions' proofs (`engine.privacy = { kind = "zk_proofs" }`; zero otherwise).
    pub proofs: crate::privacy::ProofMetrics,
    pub breaker_trips: u64,
    pub max_open_interest: f64,
    pub auctions: u64,
    /// Auction sales: Dutch takes and English deals.
    pub auction_sales: u64,
    /// Oracle value of the collateral those sales handed over, and what the buyers paid.
    pub auction_sale_value: f64,
    pub auction_sale_paid: f64,
    /// Sales that paid less than 1% of the collateral's oracle value ("zero-bid" auctions).
    pub auction_near_zero: u64,
    pub backstop_absorptions: u64,
    /// Liquidations filled by a solver's commitment (`engine.intents`).
    pub intent_fills: u64,
    /// Over those fills: (public bonus - commitment discount) x notional, the bonus the
    /// liquidated accounts kept, quote.
    pub intent_surplus_to_protocol: f64,
    /// Over those fills: commitment discount x notional, what the solvers earned, quote.
    pub intent_surplus_to_solvers: f64,
    /// Time-mean of the quote locked in commitments (set when the metrics are read).
    pub committed_capital_mean: f64,
    /// Unweighted shortfall of accounts still bankrupt and unresolved at the end of the run.
    pub unresolved_shortfall: f64,
    /// Liquidations (and backstop absorptions) of accounts holding options.
    pub options_liquidations: u64,
    /// Sum over those of the loss beyond the margin held: the account's negative equity when
    /// it was liquidated.
    pub margin_shortfall_at_liquidation: f64,
    /// Over the long (short) positions of those books: the full-revaluation loss minus its
    /// delta-gamma-vega-theta estimate from the Greeks of the engine's last risk update, for
    /// the move from that update to the liquidation, summed, with their notional at the
    /// update.
    pub convexity_gap_long: GapSum,
    pub convexity_gap_short: GapSum,
    /// Forced delta-hedge volume of liquidated option books, quote at the oracle price.
    pub hedge_flow: f64,
    /// Net dollar gamma of all accounts (`sum q gamma S^2 / 100`: the change of the books'
    /// delta value per 1% move), the block-end value of largest magnitude, signed.
    pub engine_gamma: f64,
    /// Blocks an option account spent liquidatable under fresh risk figures but not under
    /// the engine's (stale) ones: the cost of a risk recomputation budget.
    pub stale_risk_blocks: u64,
    /// The largest relative rise of an asset's maintenance ratio in effect over its genesis
    /// value, over the run's blocks ([`crate::MarginState::maintenance_rise`]).
    pub maintenance_ratio_rise: f64,
    /// Sum over perp closes settled at the oracle of `size * (oracle - market execution
    /// price)`: value the oracle rule moved from the protocol (negative: to it), quote.
    pub oracle_gap_loss: f64,
    /// Sum over perp closes settled at market or by the backstop of `size * (p_ref -
    /// execution price)`: the slippage forced closes paid, quote.
    pub liquidation_slippage: f64,
    /// Sum over perp closes of `size * (p_ref - execution price)` under every rule: the cost
    /// of their trades at the market (or with the backstop provider) against `p_ref`, which
    /// the buyers outside the ledger gain; part of `protocol_loss_at_market`, quote.
    pub unwind_cost: f64,
    /// The protocol side's loss at the market's prices (set by
    /// [`Engine::protocol_loss_at_market`] callers; 0 until then), quote.
    pub protocol_loss_at_market: f64,
    /// Asynchronous settlement (`engine.sequencer`; zero under `onchain`), read from the
    /// sequencer when the metrics are read.
    pub sequencer: crate::SequencerMetrics,
    /// Cross-chain collateral (`engine.cross_chain`; zero when off), read from the bridge
    /// when the metrics are read.
    pub bridge: crate::BridgeMetrics,
}

impl Engine {
    /// The metrics so far; liquidations the exogenous path has not explained (yet) count as
    /// induced.
    pub fn metrics(&self) -> EngineMetrics {
        let mut m = self.metrics.clone();
        m.induced_liquidations = self.unresolved.len() as u64;
        m.induced_notional = self.unresolved.iter().map(|u| u.notional).sum();
        m.unresolved_shortfall = self.unresolved_shortfall();
        m.sequencer = self.sequencer_metrics().unwrap_or_default();
        m.bridge = self.bridge_metrics().unwrap_or_default();
        m.committed_capital_mean = self.committed_capital_mean();
        m
    }

    /// The protocol side's loss marked to market at `p_ref` (per asset): what the lenders'
    /// pool and the insurance fund held at genesis minus what they are worth now, the pool's
    /// warehoused collateral at `p_ref` and its claim on every live account (what the
    /// account holds, less the account's positive equity, both at `p_ref`) included, plus the
    /// closes' trading cost against `p_ref` (`unwind_cost`: the pool settles a close at its
    /// rule's price, and the difference to `p_ref` goes to buyers outside the ledger). The
    /// socialized loss and the oracle gap are in it; so are the pool's gains (fees, traders'
    /// losses).
    pub fn protocol_loss_at_market(&self, p_ref: &[f64]) -> f64 {
        let mut value = self.pool_cash.to_whole() + self.insurance.to_whole();
        for (a, b) in self.pool_base.iter().enumerate() {
            value += b.to_whole() * p_ref[a];
        }
        for acc in self.accounts.iter() {
            if acc.closed {
                continue;
            }
            let own: f64 = acc.quote.to_whole()
                + (0..self.n_assets)
                    .map(|a| acc.collateral[a].to_whole() * p_ref[a])
                    .sum::<f64>();
            let h = self.health_of(acc, p_ref);
            value += own - h.equity.max(0.0);
        }
        for auc in self.auctions.iter().filter(|x| x.active) {
            value += auc
                .debt
                .to_whole()
                .min(auc.lot.to_whole() * p_ref[auc.asset]);
        }
        value += self.bridge_in_flight_value(p_ref);
        self.cfg.pool_liquidity + self.cfg.insurance_fund - value + self.metrics.unwind_cost
    }

    /// Bankrupt accounts nobody liquidated: their shortfall is unresolved bad debt (not
    /// passed through the waterfall: it was never realized).
    pub fn unresolved_shortfall(&self) -> f64 {
        let mut short = 0.0;
        for acc in &self.accounts {
            if acc.closed {
                continue;
            }
            let h = self.health_of(acc, &self.prices);
            if h.equity < 0.0 {
                short += -h.equity;
            }
        }
        short
    }
}

/// A convexity gap summed over positions with their notional (quote).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GapSum {
    pub gap: f64,
    pub notional: f64,
}

impl GapSum {
    pub fn add(&mut self, o: GapSum) {
        self.gap += o.gap;
        self.notional += o.notional;
    }
    /// The gap per unit of notional (0 without notional).
    pub fn per_notional(&self) -> f64 {
        if self.notional > 0.0 {
            self.gap / self.notional
        } else {
            0.0
        }
    }
}

impl EngineMetrics {
    /// Insurance payments toward bad debt (keeper rewards excluded).
    pub fn insurance_paid_for_debt(&self) -> f64 {
        self.insurance_for_debt
    }
}
