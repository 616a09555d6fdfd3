//! Per-run metrics: their names (a contract), units, and how a run accumulates them.
//!
//! A run produces one [`MetricRow`]: a value per entry of [`METRICS`], in that order. The names
//! are part of the public contract (summary tables, result stores, exports, charts); the schema
//! hash changes whenever the list changes, so stored results from another schema are refused
//! instead of misread.

use cascade_engine::EngineMetrics;
use serde::{Deserialize, Serialize};

/// How a metric is measured and aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricKind {
    /// An amount of the quote asset (whole units).
    Quote,
    /// A dimensionless fraction or ratio.
    Ratio,
    /// A count of events.
    Count,
    /// A gas price in gwei.
    Gwei,
    /// A number of blocks.
    Blocks,
    /// A duration in seconds.
    Seconds,
    /// True (1) or false (0); aggregated as a rate with a Wilson interval.
    Bool,
}

impl MetricKind {
    pub fn unit(self) -> &'static str {
        match self {
            MetricKind::Quote => "quote",
            MetricKind::Ratio => "ratio",
            MetricKind::Count => "count",
            MetricKind::Gwei => "gwei",
            MetricKind::Blocks => "blocks",
            MetricKind::Seconds => "s",
            MetricKind::Bool => "bool",
        }
    }
}

/// A metric's name, kind, meaning and display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: MetricKind,
    pub doc: &'static str,
    /// The name charts, tables and reports show ("Bad debt"); empty: [`key_words`] of the
    /// name. Read it through [`MetricDef::display_name`].
    pub title: &'static str,
}

const fn m(name: &'static str, kind: MetricKind, doc: &'static str) -> MetricDef {
    MetricDef {
        name,
        kind,
        doc,
        title: "",
    }
}

impl MetricDef {
    const fn titled(mut self, title: &'static str) -> MetricDef {
        self.title = title;
        self
    }

    /// The name to show: the table's title, or the metric's name turned into words.
    pub fn display_name(&self) -> String {
        if self.title.is_empty() {
            key_words(self.name)
        } else {
            self.title.to_string()
        }
    }

    /// The unit to show beside the name: the quote asset's name for amounts of it, "share of
    /// runs" for booleans (charted as rates), none for dimensionless ratios.
    pub fn display_unit(&self, quote: &str) -> String {
        match self.kind {
            MetricKind::Quote => quote.to_string(),
            MetricKind::Ratio => String::new(),
            MetricKind::Bool => "share of runs".into(),
            other => other.unit().to_string(),
        }
    }
}

/// A metric's display name and unit (see [`MetricDef::display_name`] and
/// [`MetricDef::display_unit`]); `None` for a name that is not a metric.
pub fn metric_display(name: &str, quote: &str) -> Option<(String, String)> {
    METRICS
        .iter()
        .find(|d| d.name == name)
        .map(|d| (d.display_name(), d.display_unit(quote)))
}

/// "name (unit)", or the name alone when the unit is empty.
pub fn with_unit(name: &str, unit: &str) -> String {
    if unit.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({unit})")
    }
}

/// A key turned into words, the fallback display name of a metric or sweep axis without a
/// title: its last two segments that are not list indices, underscores as spaces, first letter
/// capitalized (`engine.liquidation.bonus` -> "Liquidation bonus", `venues.0.depth_scale` ->
/// "Venues depth scale", `oev_recaptured` -> "Oev recaptured").
pub fn key_words(key: &str) -> String {
    let segs: Vec<&str> = key
        .split('.')
        .filter(|s| !s.is_empty() && s.parse::<usize>().is_err())
        .collect();
    let words = segs[segs.len().saturating_sub(2)..]
        .join(" ")
        .replace('_', " ");
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => key.to_string(),
    }
}

/// Every metric of a run, in row order.
pub const METRICS: &[MetricDef] = &[
    m(
        "max_drawdown",
        MetricKind::Ratio,
        "largest peak-to-trough fall of the reference asset's p_ref",
    )
    .titled("Max drawdown"),
    m(
        "base_fee_max",
        MetricKind::Gwei,
        "highest base fee of the run",
    )
    .titled("Peak base fee"),
    m(
        "gas_spent",
        MetricKind::Quote,
        "gas fees paid by all agents and oracle publishers",
    )
    .titled("Gas spent"),
    m(
        "oracle_max_deviation",
        MetricKind::Ratio,
        "largest |oracle - p_ref| / p_ref over blocks and assets",
    )
    .titled("Max oracle deviation"),
    m(
        "arb_profit",
        MetricKind::Quote,
        "arbitrageurs' trading gains valued at p_ref, net of their gas",
    )
    .titled("Arbitrage profit"),
    m(
        "lp_loss_vs_rebalancing",
        MetricKind::Quote,
        "constant-product pools' loss to informed flow (arbitrage, liquidations, MEV) at p_ref",
    )
    .titled("LP loss vs rebalancing"),
    m(
        "arb_block_share",
        MetricKind::Ratio,
        "share of blocks with at least one successful arbitrage trade",
    )
    .titled("Blocks with arbitrage"),
    m(
        "oracle_updates",
        MetricKind::Count,
        "oracle publications that landed on chain",
    )
    .titled("Oracle updates"),
    m(
        "oracle_update_delay_blocks_mean",
        MetricKind::Blocks,
        "mean blocks from an oracle publication's submission to its inclusion",
    )
    .titled("Oracle update delay"),
    m(
        "txs_included",
        MetricKind::Count,
        "transactions included (successful or reverted)",
    )
    .titled("Transactions included"),
    m(
        "txs_reverted",
        MetricKind::Count,
        "included transactions that reverted",
    )
    .titled("Transactions reverted"),
    m(
        "txs_expired",
        MetricKind::Count,
        "transactions that left the mempool unincluded",
    )
    .titled("Transactions expired"),
    m("blocks", MetricKind::Count, "blocks simulated").titled("Blocks"),
    m(
        "liquidations",
        MetricKind::Count,
        "liquidations (and auction kicks) that landed",
    )
    .titled("Liquidations"),
    m(
        "liquidated_notional",
        MetricKind::Quote,
        "collateral seized plus perp notional closed (plus the delta hedge of closed option books) by liquidations and auction kicks, valued at the market price p_ref of the moment, in every liquidation mode",
    )
    .titled("Liquidated notional"),
    m(
        "bad_debt",
        MetricKind::Quote,
        "shortfall of bankrupt accounts before the waterfall (realized, plus unresolved at the end)",
    )
    .titled("Bad debt"),
    m(
        "insurance_fund_drawdown",
        MetricKind::Quote,
        "what the insurance fund paid out (bad debt and keeper rewards)",
    )
    .titled("Insurance fund drawdown"),
    m(
        "socialized_loss",
        MetricKind::Quote,
        "bad debt written off by the lenders' pool",
    )
    .titled("Socialized loss"),
    m(
        "adl_events",
        MetricKind::Count,
        "positions auto-deleveraged",
    )
    .titled("ADL events"),
    m(
        "uncovered_bad_debt",
        MetricKind::Quote,
        "bad debt no waterfall step covered, plus unresolved shortfall at the end",
    )
    .titled("Uncovered bad debt"),
    m(
        "protocol_loss_at_market",
        MetricKind::Quote,
        "the protocol side's loss at p_ref: pool and insurance fund at genesis minus their value now (warehoused collateral and claims on accounts at p_ref; socialized loss included)",
    )
    .titled("Protocol loss at market"),
    m(
        "oracle_gap_loss",
        MetricKind::Quote,
        "value moved from the protocol by settling liquidated perps at the oracle, not the market: sum of size x (oracle - market execution price)",
    )
    .titled("Oracle gap loss"),
    m(
        "liquidation_slippage",
        MetricKind::Quote,
        "slippage paid by liquidated perps settled at market or by the backstop provider: sum of size x (p_ref - execution price)",
    )
    .titled("Liquidation slippage"),
    m(
        "liquidation_delay_blocks_mean",
        MetricKind::Blocks,
        "mean blocks from the account's first flag (the protocol's check found it liquidatable; kept through bounces and partial liquidations, spent when a liquidation leaves the account healthy) to the liquidation",
    )
    .titled("Liquidation delay"),
    m(
        "liquidation_delay_blocks_max",
        MetricKind::Blocks,
        "largest such delay",
    )
    .titled("Max liquidation delay"),
    m(
        "liquidation_delay_s_mean",
        MetricKind::Seconds,
        "the same delay in seconds (block times), mean over liquidations",
    )
    .titled("Liquidation delay"),
    m(
        "liquidation_delay_s_max",
        MetricKind::Seconds,
        "largest delay in seconds",
    )
    .titled("Max liquidation delay"),
    m(
        "gap_through_count",
        MetricKind::Count,
        "accounts that went from healthy to bankrupt between two checks",
    )
    .titled("Gap-through accounts"),
    m(
        "induced_liquidations",
        MetricKind::Count,
        "liquidations that p_exo alone would not have caused (forced-flow impact)",
    )
    .titled("Induced liquidations"),
    m(
        "cascade_amplification",
        MetricKind::Ratio,
        "liquidated notional / exogenous liquidated notional (1 when nothing was induced)",
    )
    .titled("Cascade amplification"),
    m(
        "has_cascade",
        MetricKind::Bool,
        "metrics.cascade_rule: induced liquidated notional >= cascade_threshold (default 1) x exogenous liquidated notional (induced_vs_exogenous, the default), or >= cascade_threshold (default 0.01) x peak open interest (share_of_open_interest); never without an induced liquidation",
    )
    .titled("Cascade frequency"),
    m(
        "branching_ratio",
        MetricKind::Ratio,
        "liquidated notional of generations 1..K over that of generations 0..K-1 (K the last generation; 0 without an induced generation): the mean offspring per unit of parent notional",
    )
    .titled("Branching ratio"),
    m(
        "longest_chain",
        MetricKind::Count,
        "the largest cascade generation (0: no induced liquidation)",
    )
    .titled("Longest cascade chain"),
    m(
        "cluster_consumed",
        MetricKind::Ratio,
        "share of the stress cluster's exposure (accounts liquidatable at the exogenous path's extremes, or exogenously liquidated) that liquidations took (0 for an empty cluster)",
    )
    .titled("Stress cluster consumed"),
    m(
        "has_bad_debt",
        MetricKind::Bool,
        "bad_debt > 0: some shortfall reached the waterfall or was left at the end",
    )
    .titled("Bad-debt frequency"),
    m(
        "liquidator_profit",
        MetricKind::Quote,
        "liquidators' wallet gains at p_ref from their engine transactions, net of all their gas",
    )
    .titled("Liquidator profit"),
    m(
        "mev_profit",
        MetricKind::Quote,
        "MEV bots' wallet gains at p_ref, net of their gas",
    )
    .titled("MEV profit"),
    m(
        "failed_liquidation_txs",
        MetricKind::Count,
        "included liquidation, take and redo transactions that reverted",
    )
    .titled("Failed liquidation transactions"),
    m("breaker_trips", MetricKind::Count, "circuit-breaker trips").titled("Circuit-breaker trips"),
    m(
        "oev_auctions",
        MetricKind::Count,
        "oracle updates offered in an order-flow auction (oev_auction publication mode)",
    )
    .titled("OEV auctions"),
    m(
        "oev_recaptured",
        MetricKind::Quote,
        "auction winners' payments for the right to backrun oracle updates (protocol + oracle shares)",
    )
    .titled("OEV recaptured"),
    m(
        "oev_fallbacks",
        MetricKind::Count,
        "auctioned updates that went the public way fallback_delay_s later (no bid, private route failed, bundle not includable)",
    )
    .titled("OEV fallbacks"),
    m(
        "surplus_to_liquidators",
        MetricKind::Quote,
        "liquidators' and MEV bots' gains at p_ref from liquidation transactions, net of their gas and auction payments",
    )
    .titled("Surplus to liquidators"),
    m(
        "surplus_to_builder",
        MetricKind::Quote,
        "priority fees paid by liquidation transactions (to the block builder)",
    )
    .titled("Surplus to block builder"),
    m(
        "surplus_to_protocol",
        MetricKind::Quote,
        "share_to_protocol of the auction payments, paid into the insurance fund",
    )
    .titled("Surplus to protocol"),
    m(
        "surplus_to_oracle",
        MetricKind::Quote,
        "the rest of the auction payments, to the oracle",
    )
    .titled("Surplus to oracle"),
    m(
        "surplus_burned",
        MetricKind::Quote,
        "base fees paid by liquidation transactions (burned)",
    )
    .titled("Surplus burned"),
    m(
        "liquidation_delay_from_report_blocks_mean",
        MetricKind::Blocks,
        "mean blocks from the oracle report that made an account liquidatable to its liquidation: the delay from the protocol's flag plus that update's lag from report to landing",
    )
    .titled("Liquidation delay from oracle report"),
    m(
        "options_liquidations",
        MetricKind::Count,
        "liquidations (and backstop absorptions) of accounts holding options",
    )
    .titled("Options liquidations"),
    m(
        "margin_shortfall_at_liquidation",
        MetricKind::Quote,
        "loss beyond the margin held: the negative equity of option accounts when liquidated, summed",
    )
    .titled("Margin shortfall at liquidation"),
    m(
        "convexity_gap",
        MetricKind::Ratio,
        "over every option position of liquidated books: full-revaluation loss minus the delta-gamma-vega-theta estimate from the Greeks of the engine's last risk update, for the move from that update to the liquidation, summed, per unit of their notional (underlying price x contracts at that update)",
    )
    .titled("Convexity gap"),
    m(
        "convexity_gap_long",
        MetricKind::Ratio,
        "convexity_gap over the long positions only, per unit of their notional",
    )
    .titled("Convexity gap (long)"),
    m(
        "convexity_gap_short",
        MetricKind::Ratio,
        "convexity_gap over the short positions only, per unit of their notional",
    )
    .titled("Convexity gap (short)"),
    m(
        "hedge_flow",
        MetricKind::Quote,
        "forced delta-hedge volume of liquidated option books, at the oracle price",
    )
    .titled("Forced hedge flow"),
    m(
        "engine_gamma",
        MetricKind::Quote,
        "net dollar gamma of all accounts (sum q gamma S^2 / 100), the block-end value of largest magnitude, signed",
    )
    .titled("Engine net gamma"),
    m(
        "stale_risk_blocks",
        MetricKind::Blocks,
        "account-blocks spent liquidatable under fresh risk figures but not under the engine's (risk recomputation budget)",
    )
    .titled("Stale-risk account-blocks"),
    m(
        "auction_sales",
        MetricKind::Count,
        "collateral auction sales: Dutch takes and English deals",
    )
    .titled("Auction sales"),
    m(
        "auction_discount",
        MetricKind::Ratio,
        "1 - paid / oracle value of the collateral sold by auctions, over all sales (0 without a sale)",
    )
    .titled("Auction discount"),
    m(
        "auction_near_zero_share",
        MetricKind::Ratio,
        "share of auction sales that paid under 1% of the collateral's oracle value (zero-bid auctions)",
    )
    .titled("Near-zero auction share"),
    m(
        "maintenance_ratio_rise",
        MetricKind::Ratio,
        "largest rise of an asset's maintenance margin ratio over its genesis value, max over blocks of m(t) / m(0) - 1 (0 under fixed ratios): the procyclicality of the margin model",
    ),
    m(
        "mev_from_liquidations",
        MetricKind::Quote,
        "MEV bots' wallet gains at p_ref from their liquidation transactions, net of those transactions' gas (the liquidation part of mev_profit)",
    )
    .titled("MEV from liquidations"),
    m(
        "proof_delay_s_mean",
        MetricKind::Seconds,
        "engine.privacy = zk_proofs: mean seconds from the protocol's first sight of an insolvent hidden account to the on-chain verification of its proof of insolvency (0 without such a proof)",
    )
    .titled("Proof delay"),
    m(
        "proof_gas",
        MetricKind::Count,
        "engine.privacy = zk_proofs: verification gas units of every solvency and insolvency proof verified (0 without proofs)",
    )
    .titled("Proof gas"),
    m(
        "settlement_lag_s_mean",
        MetricKind::Seconds,
        "mean over liquidation decisions of the off-chain engine (engine.sequencer.kind = \"async\") that settled on chain of the seconds from the account's first flag on chain to the landing of its decision's batch (0 without one, and under \"onchain\")",
    )
    .titled("Settlement lag"),
    m(
        "unsettled_exposure_max",
        MetricKind::Quote,
        "largest block-end exposure (borrowers' collateral plus perp notional, at the oracle) of accounts liquidatable on chain whose liquidation decision has not settled (0 under engine.sequencer.kind = \"onchain\")",
    )
    .titled("Unsettled exposure (max)"),
    m(
        "divergence_loss",
        MetricKind::Quote,
        "sum over settled liquidation decisions of max(0, account equity at the decision - equity at its landing), at the oracle: the value lost to on-chain moves between the off-chain decision and its settlement (0 under \"onchain\")",
    )
    .titled("Divergence loss"),
    m("intent_fills", MetricKind::Count, "liquidations filled by a solver's standing commitment before the public race (engine.intents; 0 when off)").titled("Intent fills"),
    m("intent_surplus_to_protocol", MetricKind::Quote, "over intent fills, (public bonus - commitment discount) x notional: the bonus the liquidated accounts kept (engine.intents; 0 when off)").titled("Intent surplus to protocol"),
    m("intent_surplus_to_solvers", MetricKind::Quote, "over intent fills, commitment discount x notional: what the solvers earned at the oracle, before gas and capital cost (engine.intents; 0 when off)").titled("Intent surplus to solvers"),
    m("committed_capital_mean", MetricKind::Quote, "time-mean over the run of the quote locked in solvers' commitments (engine.intents; 0 when off)").titled("Committed capital (mean)"),
    m(
        "remote_liquidation_delay_s_mean",
        MetricKind::Seconds,
        "engine.cross_chain = bridge: mean over remote liquidations whose proceeds landed of the seconds from the home engine's decision (the seize message sent) to the home block end at which the proceeds landed (0 without one, and when off)",
    )
    .titled("Remote liquidation delay"),
    m(
        "bridge_bad_debt",
        MetricKind::Quote,
        "engine.cross_chain = bridge: sum over landed proceeds of max(0, debt repaid at the decision - proceeds net of remote gas): the collateral's fall in value (and the gas) between the decision and the remote sale, through the waterfall; part of bad_debt (0 when off)",
    )
    .titled("Bridge bad debt"),
    m(
        "bridge_messages_failed",
        MetricKind::Count,
        "engine.cross_chain = bridge: bridge message delivery attempts that failed and were retried (0 when off)",
    )
    .titled("Bridge messages failed"),
    m(
        "bridge_fees",
        MetricKind::Quote,
        "engine.cross_chain = bridge: remote-chain gas of the seize and proceeds messages, paid from the proceeds (0 when off)",
    )
    .titled("Bridge fees"),
    m(
        "liquidations_vs_twin",
        MetricKind::Count,
        "liquidations minus those of the run's twin without liquidation flow reaching the price (metrics.counterfactual = \"twin\"; NaN otherwise)",
    )
    .titled("Liquidations vs twin"),
    m(
        "bad_debt_vs_twin",
        MetricKind::Quote,
        "bad_debt minus the twin's (metrics.counterfactual = \"twin\"; NaN otherwise)",
    )
    .titled("Bad debt vs twin"),
    m(
        "drawdown_vs_twin",
        MetricKind::Ratio,
        "max_drawdown minus the twin's (metrics.counterfactual = \"twin\"; NaN otherwise)",
    )
    .titled("Drawdown vs twin"),
];

/// The metrics that compare a run with its twin, and the metric each is the difference of.
pub const TWIN_METRICS: [(&str, &str); 3] = [
    ("liquidations_vs_twin", "liquidations"),
    ("bad_debt_vs_twin", "bad_debt"),
    ("drawdown_vs_twin", "max_drawdown"),
];

/// `has_cascade`'s test, resolved from `metrics.cascade_rule` and `metrics.cascade_threshold`
/// (docs/model.md, "Cascade structure").
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CascadeTest {
    /// Induced liquidated notional at least `ratio` times the exogenous one.
    InducedVsExogenous { ratio: f64 },
    /// Induced liquidated notional at least `share` of peak open interest.
    ShareOfOpenInterest { share: f64 },
}

impl CascadeTest {
    /// Whether a run with engine metrics `e` had a cascade; never without induced notional.
    pub fn holds(&self, e: &EngineMetrics) -> bool {
        if e.induced_notional <= 0.0 {
            return false;
        }
        match *self {
            CascadeTest::InducedVsExogenous { ratio } => {
                e.induced_notional >= ratio * e.exogenous_notional
            }
            CascadeTest::ShareOfOpenInterest { share } => {
                e.max_open_interest > 0.0 && e.induced_notional >= share * e.max_open_interest
            }
        }
    }
}

/// The index of a metric in a row.
pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|d| d.name == name)
}

/// A hash of the metric schema (names and kinds, in order): FNV-1a 64.
pub fn schema_hash() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for d in METRICS {
        for b in d.name.bytes().chain([0u8, d.kind as u8, 0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// One run's metrics, in [`METRICS`] order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricRow(pub Vec<f64>);

/// Rows are equal when every value has the same bits: the equality of reproducible results,
/// under which a metric not measured (NaN, the twin comparisons without a twin) equals itself.
impl PartialEq for MetricRow {
    fn eq(&self, other: &MetricRow) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl MetricRow {
    pub fn get(&self, name: &str) -> Option<f64> {
        metric_index(name).map(|i| self.0[i])
    }

    /// Fill the `*_vs_twin` metrics: this row's value minus the twin's, for each pair of
    /// [`TWIN_METRICS`].
    pub fn set_twin(&mut self, twin: &MetricRow) {
        for (name, of) in TWIN_METRICS {
            let (Some(i), Some(j)) = (metric_index(name), metric_index(of)) else {
                continue;
            };
            self.0[i] = self.0[j] - twin.0[j];
        }
    }
}

/// Running accumulators of one run.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    pub ref_peak: f64,
    pub max_drawdown: f64,
    pub base_fee_max_wei: u128,
    pub gas_spent: f64,
    pub oracle_max_deviation: f64,
    pub arb_gain: f64,
    pub arb_gas: f64,
    pub lvr: f64,
    pub arb_blocks: u64,
    pub oracle_updates: u64,
    pub oracle_delay_sum: u64,
    pub txs_included: u64,
    pub txs_reverted: u64,
    pub txs_expired: u64,
    pub blocks: u64,
    pub liquidator_gain: f64,
    pub liquidator_gas: f64,
    pub mev_gain: f64,
    pub mev_gas: f64,
    pub failed_liquidation_txs: u64,
    pub oev_auctions: u64,
    pub oev_fallbacks: u64,
    pub oev_recaptured: f64,
    pub oev_to_protocol: f64,
    pub oev_to_oracle: f64,
    /// Liquidation transactions of liquidators and MEV bots: wallet gains net of their fees.
    pub liq_net: f64,
    /// Liquidation transactions of anyone: priority fees and base fees.
    pub liq_tips: f64,
    pub liq_burn: f64,
    pub report_delay_sum: f64,
    pub report_delay_count: u64,
    /// MEV bots' liquidation transactions: wallet gains net of their fees.
    pub mev_liq_net: f64,
}

impl Accumulator {
    /// Track the reference price for drawdown.
    pub fn observe_ref(&mut self, p: f64) {
        if p > self.ref_peak {
            self.ref_peak = p;
        }
        if self.ref_peak > 0.0 {
            let dd = 1.0 - p / self.ref_peak;
            if dd > self.max_drawdown {
                self.max_drawdown = dd;
            }
        }
    }

    /// The run's row; `engine` is `None` when the scenario has no margin engine (its metrics
    /// are then zero, and `cascade_amplification` 1).
    pub fn row(&self, engine: Option<&EngineMetrics>, cascade: CascadeTest) -> MetricRow {
        let v = vec![
            self.max_drawdown,
            self.base_fee_max_wei as f64 / 1e9,
            self.gas_spent,
            self.oracle_max_deviation,
            self.arb_gain - self.arb_gas,
            self.lvr,
            if self.blocks > 0 {
                self.arb_blocks as f64 / self.blocks as f64
            } else {
                0.0
            },
            self.oracle_updates as f64,
            if self.oracle_updates > 0 {
                self.oracle_delay_sum as f64 / self.oracle_updates as f64
            } else {
                0.0
            },
            self.txs_included as f64,
            self.txs_reverted as f64,
            self.txs_expired as f64,
            self.blocks as f64,
        ];
        let e = engine.cloned().unwrap_or_default();
        let bad = e.bad_debt + e.unresolved_shortfall;
        let amplification = if e.exogenous_notional > 0.0 {
            e.liquidated_notional / e.exogenous_notional
        } else {
            1.0
        };
        let mut v = v;
        v.extend([
            e.liquidations as f64,
            e.liquidated_notional,
            bad,
            e.insurance_paid,
            e.socialized_loss,
            e.adl_events as f64,
            e.uncovered_bad_debt + e.unresolved_shortfall,
            e.protocol_loss_at_market,
            e.oracle_gap_loss,
            e.liquidation_slippage,
            if e.delay_count > 0 {
                e.delay_sum / e.delay_count as f64
            } else {
                0.0
            },
            e.delay_max,
            if e.delay_count > 0 {
                e.delay_s_sum / e.delay_count as f64
            } else {
                0.0
            },
            e.delay_s_max,
            e.gap_through_count as f64,
            e.induced_liquidations as f64,
            amplification,
            if cascade.holds(&e) { 1.0 } else { 0.0 },
            e.structure.branching_ratio,
            e.structure.longest_chain as f64,
            e.structure.cluster_consumed,
            if bad > 0.0 { 1.0 } else { 0.0 },
            self.liquidator_gain - self.liquidator_gas,
            self.mev_gain - self.mev_gas,
            self.failed_liquidation_txs as f64,
            e.breaker_trips as f64,
            self.oev_auctions as f64,
            self.oev_recaptured,
            self.oev_fallbacks as f64,
            self.liq_net - self.oev_recaptured,
            self.liq_tips,
            self.oev_to_protocol,
            self.oev_to_oracle,
            self.liq_burn,
            if self.report_delay_count > 0 {
                self.report_delay_sum / self.report_delay_count as f64
            } else {
                0.0
            },
            e.options_liquidations as f64,
            e.margin_shortfall_at_liquidation,
            {
                let mut all = e.convexity_gap_long;
                all.add(e.convexity_gap_short);
                all.per_notional()
            },
            e.convexity_gap_long.per_notional(),
            e.convexity_gap_short.per_notional(),
            e.hedge_flow,
            e.engine_gamma,
            e.stale_risk_blocks as f64,
            e.auction_sales as f64,
            if e.auction_sale_value > 0.0 {
                1.0 - e.auction_sale_paid / e.auction_sale_value
            } else {
                0.0
            },
            if e.auction_sales > 0 {
                e.auction_near_zero as f64 / e.auction_sales as f64
            } else {
                0.0
            },
            e.maintenance_ratio_rise,
            self.mev_liq_net,
            if e.proofs.delay_count > 0 {
                e.proofs.delay_s_sum / e.proofs.delay_count as f64
            } else {
                0.0
            },
            e.proofs.gas,
            e.sequencer.lag_s_mean(),
            e.sequencer.unsettled_exposure_max,
            e.sequencer.divergence_loss,
            e.intent_fills as f64,
            e.intent_surplus_to_protocol,
            e.intent_surplus_to_solvers,
            e.committed_capital_mean,
            e.bridge.delay_s_mean(),
            e.bridge.bad_debt,
            e.bridge.messages_failed as f64,
            e.bridge.fees,
            // The twin comparisons, filled by the runner when a twin runs.
            f64::NAN,
            f64::NAN,
            f64::NAN,
        ]);
        debug_assert_eq!(v.len(), METRICS.len());
        MetricRow(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_matches_schema_and_names_are_unique() {
        assert_eq!(
            Accumulator::default()
                .row(None, CascadeTest::InducedVsExogenous { ratio: 1.0 })
                .0
                .len(),
            METRICS.len()
        );
        for (i, d) in METRICS.iter().enumerate() {
            assert_eq!(metric_index(d.name), Some(i), "{} duplicated", d.name);
        }
    }

    /// docs/model.md's "Metrics table" lists every metric of the row, in row order, with its
    /// display name, the unit of [`MetricKind::unit`] and [`METRICS`]' own definition.
    #[test]
    fn the_docs_metrics_table_is_the_metric_row() {
        let doc = include_str!("../../../docs/model.md");
        let start = doc
            .find("\n## Metrics table\n")
            .expect("a Metrics table section");
        let section = &doc[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
        let rows: Vec<(String, String, String, String)> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let c: Vec<&str> = l.trim_matches('|').split(" | ").collect();
                (
                    c[0].trim().trim_matches('`').to_string(),
                    c[1].trim().to_string(),
                    c[2].trim().to_string(),
                    c[3..].join(" | ").trim().replace("\\|", "|"),
                )
            })
            .collect();
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let want: Vec<&str> = METRICS.iter().map(|d| d.name).collect();
        assert_eq!(names, want, "docs/model.md's metrics table vs METRICS");
        for (r, d) in rows.iter().zip(METRICS) {
            assert_eq!(r.1, d.display_name(), "display name of {}", d.name);
            assert_eq!(r.2, d.kind.unit(), "unit of {}", d.name);
            assert_eq!(r.3, d.doc, "definition of {}", d.name);
        }
        assert_eq!(
            Accumulator::default()
                .row(None, CascadeTest::InducedVsExogenous { ratio: 1.0 })
                .0
                .len(),
            rows.len()
        );
    }

    #[test]
    fn keys_turn_into_words_when_there_is_no_title() {
        assert_eq!(key_words("engine.liquidation.bonus"), "Liquidation bonus");
        assert_eq!(key_words("venues.0.depth_scale"), "Venues depth scale");
        assert_eq!(key_words("scenario"), "Scenario");
        assert_eq!(key_words("oev_recaptured"), "Oev recaptured");
        assert_eq!(key_words(""), "");
        let untitled = m("some_new_metric", MetricKind::Count, "x");
        assert_eq!(untitled.display_name(), "Some new metric");
        assert_eq!(
            metric_display("bad_debt", "USDC"),
            Some(("Bad debt".to_string(), "USDC".to_string()))
        );
        assert_eq!(metric_display("max_drawdown", "USDC").unwrap().1, "");
        assert_eq!(metric_display("nope", "USDC"), None);
        assert_eq!(with_unit("Bad debt", "USDC"), "Bad debt (USDC)");
        assert_eq!(with_unit("Max drawdown", ""), "Max drawdown");
    }

    #[test]
    fn the_cascade_rules() {
        let e = |exo: f64, ind: f64, oi: f64| EngineMetrics {
            exogenous_notional: exo,
            induced_notional: ind,
            max_open_interest: oi,
            ..EngineMetrics::default()
        };
        let vs = CascadeTest::InducedVsExogenous { ratio: 1.0 };
        // Amplification 2 exactly is a cascade; just under it is not; nothing induced never.
        assert!(vs.holds(&e(100.0, 100.0, 1e6)));
        assert!(!vs.holds(&e(100.0, 99.9, 1e6)));
        assert!(!vs.holds(&e(0.0, 0.0, 1e6)));
        // Induced without exogenous notional: a cascade (infinite amplification).
        assert!(vs.holds(&e(0.0, 1.0, 1e6)));
        let oi = CascadeTest::ShareOfOpenInterest { share: 0.01 };
        assert!(oi.holds(&e(100.0, 10_000.0, 1e6)));
        assert!(!oi.holds(&e(100.0, 9_999.0, 1e6)));
        assert!(!oi.holds(&e(100.0, 10.0, 0.0)));
    }

    #[test]
    fn drawdown_is_peak_to_trough() {
        let mut a = Accumulator::default();
        for p in [100.0, 120.0, 90.0, 130.0, 117.0] {
            a.observe_ref(p);
        }
        assert!((a.max_drawdown - 0.25).abs() < 1e-12);
    }
}
