//! cascade-engine: the margin engine, where every failure cascade studies happens.
//!
//! The engine values accounts at its oracle prices, enforces margin, executes liquidations
//! that agents submit as transactions, runs collateral auctions, settles bad debt through an
//! ordered waterfall and trips circuit breakers. It is pure: tokens move on the caller's
//! [`Ledger`], venues are the caller's, and everything it observes comes in as arguments.
//!
//! Token custody: every token the engine holds sits in one ledger holder (the vault). The
//! engine keeps exact integer claims on it: the lenders' pool (quote lent out or available),
//! the insurance fund, the backstop's warehoused collateral, accounts' quote and collateral,
//! and auction lots. `check_invariants` proves that the claims add up to the vault's balance
//! of every token.
//!
//! Layout: this file holds the [`Engine`] (its state, constructor and accessors) and the
//! types its operations return; one `impl Engine` block per mechanism lives in its module:
//! `health` (valuation, the liquidation index) and `guards` (the skip of option accounts),
//! `block` (what happens at the start and end of a block), `ops` (the operations agents
//! submit, atomic), `liquidation` (the [`Mechanism`] resolved from the configuration, the
//! plan, fixed-bonus liquidations, Dutch and English auctions, the backstop), `waterfall`
//! (bad debt), `breakers`, `causal` (the cascade measure), `structure` (generations and the
//! stress cluster), `invariants` and `metrics`.
//! `account`, `accounts`, `auction`, `config`, `index`, `margin`, `memo` and `options` are
//! the data types and libraries they use.

pub mod account;
pub mod accounts;
pub mod auction;
pub mod bridge;
pub mod config;
pub mod index;
pub mod margin;
pub mod memo;
pub mod options;
pub mod sequencer;
pub mod slots;

mod block;
mod breakers;
mod causal;
mod guards;
mod health;
pub mod intents;
mod invariants;
pub mod liquidation;
mod metrics;
mod ops;
pub mod privacy;
pub mod structure;
mod waterfall;

pub use account::{Account, Health, OptRef, Perp, RiskMemo};
// Every configuration type (the whole `config` module is public API).
pub use bridge::{BridgeConfig, BridgeMetrics, CrossChainConfig, RemoteOracle};
pub use config::*;
pub use liquidation::{Mechanism, SettlementMarket};
pub use margin::{MarginState, Req};
pub use memo::{HealthMemo, Memoized};
pub use metrics::{EngineMetrics, GapSum};
pub use ops::options::MakerQuote;
pub use options::{
    BoundTables, Greeks, IvModel, OptKind, OptionMargin, OptionsConfig, RiskTables, Series,
    StateBox, black,
};
pub use privacy::{MissedProof, Privacy, ProofMetrics, ZkProofs};
pub use sequencer::{Sequencer, SequencerConfig, SequencerMetrics};
pub use structure::StructureMetrics;

use auction::{Auction, Curve};
use cascade_core::event::Event;
use cascade_core::{
    AccountId, Amount, AuctionId, HolderId, Ledger, Side, SimRng, TokenId, VenueId,
};
use cascade_market::venue::Fill;
use guards::Guards;
use index::LiqIndex;
use std::collections::BTreeMap;

/// Why an engine operation reverted (a short machine-readable reason).
pub type Reason = &'static str;

/// What the caller must do after an operation: venue trades to record (forced flow for the
/// impact model) and, for liquidations, what the liquidator gained.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Venue trades made inside the operation: (venue, side, fill). All are forced flow.
    pub swaps: Vec<(VenueId, Side, Fill)>,
    /// Forced flow executed off the simulated venues: (asset, signed whole base units).
    pub offvenue_flow: Vec<(usize, f64)>,
    /// A liquidation (or bark, take) landed.
    pub liquidation: bool,
}

/// The engine's options state: the listed chain, the realized-vol estimator fed every block,
/// the risk tables of the last risk update, and marks at the current oracle prices.
#[derive(Debug, Clone)]
struct OptState {
    cfg: OptionsConfig,
    chain: Vec<Series>,
    /// EWMA variance rate of each asset's oracle price (live, every block).
    var_rate: Vec<f64>,
    last_price: Vec<f64>,
    /// The engine's risk view, rebuilt at each risk update.
    tables: RiskTables,
    /// Incremented at each risk update.
    epoch: u64,
    /// Marks at `marks_prices` with the tables' implied vols, at the current time.
    marks: Vec<f64>,
    marks_prices: Vec<f64>,
    expired: Vec<bool>,
}

impl OptState {
    fn rv(&self) -> Vec<f64> {
        self.var_rate.iter().map(|v| v.max(0.0).sqrt()).collect()
    }
    /// The mark of series `i` at `prices` (the tables' implied vol, time `t_s`).
    fn mark_at(&self, i: usize, prices: &[f64], t_s: f64) -> f64 {
        if prices == self.marks_prices.as_slice() {
            return self.marks[i];
        }
        let s = &self.chain[i];
        black(
            s.kind,
            prices[s.asset],
            s.strike,
            s.tau(t_s),
            self.tables.series[i].iv,
        )
        .price
    }
    /// The underlyings whose perp in `acc` is in the risk matrix (`portfolio`,
    /// `delta_gamma`): open perps in an asset the account holds options on. Their linear
    /// requirement is given back.
    fn hedged_perps<'a>(&'a self, acc: &'a Account) -> impl Iterator<Item = usize> + 'a {
        self.cfg.assets.iter().copied().filter(move |&a| {
            let holds = acc
                .options
                .iter()
                .enumerate()
                .any(|(i, q)| !q.is_zero() && self.chain[i].asset == a);
            acc.perps[a].is_open() && holds
        })
    }
    /// Where the market stands now for an option trade: `prices`, the realized vols, `t_s`.
    fn opt_ref(&self, prices: &[f64], t_s: f64) -> OptRef {
        OptRef {
            prices: prices.to_vec(),
            rv: self.rv(),
            t_s,
        }
    }
    fn refresh_marks(&mut self, prices: &[f64], t_s: f64) {
        self.marks_prices.clear();
        self.marks_prices.extend_from_slice(prices);
        for (i, s) in self.chain.iter().enumerate() {
            self.marks[i] = black(
                s.kind,
                prices[s.asset],
                s.strike,
                s.tau(t_s),
                self.tables.series[i].iv,
            )
            .price;
        }
    }
}

/// `Engine::by_owner`'s mark of a holder without an account.
const NO_ACCOUNT: u32 = u32::MAX;

/// The margin engine of one run.
#[derive(Debug, Clone)]
pub struct Engine {
    cfg: EngineConfig,
    n_assets: usize,
    vault: HolderId,
    accounts: accounts::Accounts,
    /// Each holder's cross-margin account, indexed by holder: a dense table, since every
    /// trader looks its account up every block; `NO_ACCOUNT` for none (4 bytes a holder,
    /// not the 8 of an `Option<AccountId>`).
    by_owner: Vec<u32>,
    pool_cash: Amount,
    pool_base: Vec<Amount>,
    insurance: Amount,
    index: LiqIndex,
    margin: MarginState,
    prices: Vec<f64>,
    /// Advances whenever the oracle prices change (`store_prices`) (for memos of health, `memo.rs`).
    price_epoch: u64,
    cf_prices: Vec<f64>,
    prev_prices: Vec<f64>,
    guard_ok: Vec<bool>,
    mark: Vec<f64>,
    funding_acc: Vec<f64>,
    /// Per asset, the sum of every settled funding payment per unit of long size (quote per
    /// base; a long pays `size * f` at a settlement of `f`), and the number of settlements of
    /// any asset: what a sleeping holder watches instead of the funding writes.
    funding_index: Vec<f64>,
    funding_settlements: u64,
    last_funding_t: f64,
    auctions: Vec<Auction>,
    /// The liquidation mechanism, resolved from `cfg.liquidation` once, here.
    mechanism: Mechanism,
    /// Accounts found liquidatable by the protocol's own check, with the block first seen.
    flagged: BTreeMap<AccountId, u64>,
    paused_until: f64,
    grace_until: f64,
    liqs_this_block: u32,
    block: u64,
    t_s: f64,
    rng: SimRng,
    metrics: EngineMetrics,
    /// Liquidations not yet shown to be exogenous.
    unresolved: Vec<causal::Unresolved>,
    /// Each account's first flag (block and time) since it opened or since a liquidation
    /// last left it healthy; a bounce back above the threshold and a partial liquidation keep
    /// it. Liquidation delays count from it.
    first_flag: BTreeMap<AccountId, (u64, f64)>,
    /// The cascade structure: every liquidation's place in it, the stress cluster.
    structure: structure::Structure,
    events: Option<Vec<Event>>,
    /// Options (absent when the scenario lists none).
    opts: Option<Box<OptState>>,
    /// With `risk_update_interval_s > 0`: the margin state fed every block, copied into
    /// `margin` (the engine's view) at each risk update.
    margin_live: Option<MarginState>,
    /// Time (s) of the next risk update (with `risk_update_interval_s > 0`).
    next_risk_t: f64,
    /// Where the round-robin revaluation under `max_revaluations_per_block` resumes.
    reval_cursor: usize,
    /// Options market makers' standing quotes, in the order first posted.
    makers: Vec<MakerQuote>,
    /// The per-block check's skip of option accounts (ARCHITECTURE.md, "Skipping option
    /// accounts"): the shared box and its bounds, and each account's guard.
    guards: Guards,
    /// The backstop liquidity provider's capacity left (`perp_settlement = "backstop"`),
    /// notional at `p_ref`, quote.
    settle_backstop_left: f64,
    /// Closes of auto-deleveraged positions not yet handed to the caller: (asset, signed
    /// whole base units), drained into the operation's outcome or by
    /// [`Engine::take_forced_flow`].
    pending_flow: Vec<(usize, f64)>,
    /// The proof mechanism's state (`engine.privacy = { kind = "zk_proofs" }` only).
    zk: Option<privacy::ZkState>,
    /// The off-chain engine of `engine.sequencer = { kind = "async" }` (`None`: on chain).
    seq: Option<sequencer::Sequencer>,
    /// Solvers' standing commitments and their escrow (`engine.intents`; none when off).
    intents: Option<Box<intents::IntentBook>>,
    /// The bridge to the chain holding borrowers' collateral (`engine.cross_chain`; none
    /// when off).
    bridge: Option<Box<bridge::Bridge>>,
}

/// The collateral a liquidation seizes and the debt it repays (a preview).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiqPlan {
    pub asset: Option<usize>,
    /// Quote the liquidator pays (debt repaid plus the protocol fee).
    pub pay: Amount,
    /// Debt principal repaid.
    pub repay: Amount,
    /// Protocol fee (to the insurance fund / pool).
    pub fee: Amount,
    /// Collateral the liquidator receives.
    pub seize: Amount,
    /// Perp base closed (signed, as held by the account) and its asset.
    pub perp_asset: Option<usize>,
    pub perp_close: Amount,
    /// Quote bonus the account pays the liquidator for the perp and option closes.
    pub perp_bonus: Amount,
    /// Fraction of every option position closed (0: none).
    pub opt_frac: f64,
    /// The options' share of `perp_bonus`: the penalty on the closed options' mark value.
    pub opt_bonus: Amount,
}

impl Engine {
    /// Create the engine: register its vault on `ledger` (before it is sealed) and mint the
    /// lenders' pool and the insurance fund into it. `prices` are the initial oracle prices.
    pub fn new(
        cfg: &EngineConfig,
        ledger: &mut Ledger,
        prices: &[f64],
        rng: SimRng,
    ) -> Result<Engine, String> {
        let n = prices.len();
        let vault = ledger.add_holder("engine:vault");
        let pool = Amount::from_whole(cfg.pool_liquidity);
        let ins = Amount::from_whole(cfg.insurance_fund);
        ledger
            .mint_genesis(vault, TokenId::QUOTE, pool + ins)
            .map_err(|e| e.to_string())?;
        // Registered only when on, so that runs without intents keep their holders.
        let intents = intents::IntentBook::new(&cfg.intents, ledger);
        // Likewise the bridge's holders, registered only when on.
        let bridge = bridge::Bridge::new(&cfg.cross_chain, ledger, prices)?;
        Ok(Engine {
            cfg: cfg.clone(),
            n_assets: n,
            vault,
            accounts: accounts::Accounts::new(n),
            by_owner: Vec::new(),
            pool_cash: pool,
            pool_base: vec![Amount::ZERO; n],
            insurance: ins,
            index: LiqIndex::new(n),
            margin: MarginState::new(&cfg.margin, prices),
            prices: prices.to_vec(),
            price_epoch: 0,
            cf_prices: prices.to_vec(),
            prev_prices: prices.to_vec(),
            guard_ok: vec![true; n],
            mark: prices.to_vec(),
            funding_acc: vec![0.0; n],
            funding_index: vec![0.0; n],
            funding_settlements: 0,
            last_funding_t: 0.0,
            auctions: Vec::new(),
            mechanism: Mechanism::resolve(&cfg.liquidation),
            flagged: BTreeMap::new(),
            paused_until: f64::NEG_INFINITY,
            grace_until: f64::NEG_INFINITY,
            liqs_this_block: 0,
            block: 0,
            t_s: 0.0,
            rng,
            metrics: EngineMetrics::default(),
            unresolved: Vec::new(),
            first_flag: BTreeMap::new(),
            structure: structure::Structure::default(),
            events: None,
            opts: cfg.options.as_ref().map(|o| {
                let chain = options::list_chain(o, prices);
                let var0 = o.iv.initial_vol * o.iv.initial_vol;
                let var_rate = vec![var0; n];
                let rv: Vec<f64> = var_rate.iter().map(|v: &f64| v.sqrt()).collect();
                let tables = RiskTables::build(&chain, &o.iv, &cfg.option_margin, prices, &rv, 0.0);
                let mut st = OptState {
                    cfg: o.clone(),
                    marks: vec![0.0; chain.len()],
                    expired: vec![false; chain.len()],
                    chain,
                    var_rate,
                    last_price: prices.to_vec(),
                    tables,
                    epoch: 0,
                    marks_prices: Vec::new(),
                };
                st.refresh_marks(prices, 0.0);
                Box::new(st)
            }),
            margin_live: (cfg.risk_update_interval_s > 0.0)
                .then(|| MarginState::new(&cfg.margin, prices)),
            next_risk_t: cfg.risk_update_interval_s,
            reval_cursor: 0,
            makers: Vec::new(),
            guards: Guards::new(),
            settle_backstop_left: cfg.settlement_backstop.map_or(0.0, |b| b.capacity),
            pending_flow: Vec::new(),
            zk: None,
            seq: sequencer::Sequencer::new(&cfg.sequencer, {
                use rand::SeedableRng;
                SimRng::seed_from_u64(0)
            }),
            intents,
            bridge,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(id.index())
    }

    /// The account a wallet trades through in cross margin.
    pub fn account_of(&self, owner: HolderId) -> Option<AccountId> {
        self.by_owner
            .get(owner.index())
            .copied()
            .filter(|&i| i != NO_ACCOUNT)
            .map(AccountId)
    }

    pub fn prices(&self) -> &[f64] {
        &self.prices
    }

    /// Log every account written from now on, for [`Engine::drain_touched`] (the World's
    /// wake of sleeping holders).
    pub fn track_touched(&mut self, on: bool) {
        self.accounts.track_touched(on);
    }

    /// The accounts written since the last call (each once), appended to `out`.
    pub fn drain_touched(&mut self, out: &mut Vec<u32>) {
        self.accounts.drain_touched(out);
    }

    /// The cumulative funding per unit of long size of asset `a` (quote per base): a perp of
    /// size `s` (negative short) has had `s (F1 - F0)` taken from its quote between two
    /// readings `F0`, `F1` of it, up to the rounding of each settlement in the protocol's
    /// favour (less than one base unit per settlement). Settlements do not appear in the
    /// touched log ([`Engine::drain_touched`]).
    pub fn funding_index(&self, a: usize) -> f64 {
        self.funding_index.get(a).copied().unwrap_or(0.0)
    }

    /// How many funding settlements (of any asset, each a nonzero payment) have been made.
    pub fn funding_settlements(&self) -> u64 {
        self.funding_settlements
    }

    pub fn margin(&self) -> &MarginState {
        &self.margin
    }

    pub fn insurance_fund(&self) -> Amount {
        self.insurance
    }

    /// Open interest: the exposure value of every live account at the engine's prices.
    /// Kept from exact per-asset totals of the accounts' exposures, updated for the accounts
    /// written since the last block (`accounts.rs`), not by a pass over every account.
    pub fn open_interest(&self) -> f64 {
        self.accounts.open_interest(&self.prices)
    }

    pub fn pool_cash(&self) -> Amount {
        self.pool_cash
    }

    pub fn auctions(&self) -> &[Auction] {
        &self.auctions
    }

    pub fn auction_curve(&self) -> Option<&Curve> {
        self.mechanism.curve()
    }

    /// The current price of an auction, quote per whole unit.
    pub fn auction_price(&self, id: AuctionId) -> Option<f64> {
        let a = self.auctions.get(id.index())?;
        let c = self.mechanism.curve()?;
        Some(c.price(a.top, self.t_s - a.tic))
    }

    /// Accounts the protocol's own check found liquidatable, with the block first seen.
    pub fn flagged(&self) -> &BTreeMap<AccountId, u64> {
        &self.flagged
    }

    /// The listed option series (empty without options).
    pub fn option_series(&self) -> &[Series] {
        self.opts
            .as_ref()
            .map(|o| o.chain.as_slice())
            .unwrap_or(&[])
    }

    /// The options configuration, if any.
    pub fn options_config(&self) -> Option<&OptionsConfig> {
        self.opts.as_ref().map(|o| &o.cfg)
    }

    /// The mark of series `i` at the engine's prices.
    pub fn option_mark(&self, i: usize) -> Option<f64> {
        self.opts.as_ref().and_then(|o| o.marks.get(i).copied())
    }

    /// The engine's risk tables (implied vols, Greeks) as of the last risk update.
    pub fn risk_tables(&self) -> Option<&RiskTables> {
        self.opts.as_ref().map(|o| &o.tables)
    }

    /// Whether series `i` can still be traded (listed and not expired).
    pub fn option_live(&self, i: usize) -> bool {
        self.opts
            .as_ref()
            .is_some_and(|o| i < o.chain.len() && !o.expired[i] && o.chain[i].expiry_s > self.t_s)
    }

    /// The realized vol estimate of asset `a` the options' implied vols follow.
    pub fn realized_vol(&self, a: usize) -> Option<f64> {
        self.opts.as_ref().map(|o| o.var_rate[a].max(0.0).sqrt())
    }

    /// Time of the current block, seconds.
    pub fn time_s(&self) -> f64 {
        self.t_s
    }

    pub fn enable_events(&mut self) {
        self.events = Some(Vec::new());
    }

    /// Forced flow the engine made outside an operation (auto-deleveraging during the end
    /// of a block): (asset, signed whole base units), for the caller to route to the market.
    pub fn take_forced_flow(&mut self) -> Vec<(usize, f64)> {
        std::mem::take(&mut self.pending_flow)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Index sizes (long, short, complex), for benchmarks and tests.
    pub fn index_sizes(&self) -> (usize, usize, usize) {
        self.index.sizes()
    }

    /// The whole engine state as text, the position of its random stream included: tests
    /// compare it before and after an operation that reverted (on `Err` nothing changed).
    pub fn state_dump(&self) -> String {
        format!(
            "{self:?}\nrng seed {:?} stream {} word {}",
            self.rng.get_seed(),
            self.rng.get_stream(),
            self.rng.get_word_pos()
        )
    }

    pub(crate) fn event(
        &mut self,
        kind: &'static str,
        account: Option<AccountId>,
        actor: Option<HolderId>,
        amount: Amount,
        value: f64,
        detail: String,
    ) {
        if let Some(ev) = self.events.as_mut() {
            ev.push(Event::Engine {
                block: self.block,
                kind: kind.to_string(),
                account,
                actor,
                amount,
                value,
                detail,
            });
        }
    }
}
