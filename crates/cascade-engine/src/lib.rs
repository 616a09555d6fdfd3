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

pub mod account;
pub mod accounts;
pub mod auction;
pub mod config;
pub mod index;
pub mod margin;
pub mod memo;
pub mod options;

pub use account::{Account, Health, OptRef, Perp, RiskMemo};
pub use config::{
    AdlRanking, AuctionCurve, BreakerConfig, EngineConfig, LiquidationMode, MarginMode,
    MarginModel, VolEstimator, WaterfallStep,
};
pub use margin::{MarginState, Req};
pub use memo::{HealthMemo, Memoized};
pub use options::{
    BoundTables, Greeks, IvModel, OptKind, OptionMargin, OptionsConfig, RiskTables, Series,
    StateBox, black,
};

use auction::{Auction, Curve};
use cascade_core::event::Event;
use cascade_core::tx::EngineOp;
use cascade_core::{
    AccountId, AgentId, Amount, AuctionId, HolderId, Ledger, LedgerError, Side, SimRng, TokenId,
    VenueId,
};
use cascade_market::venue::{Fill, Venue};
use index::{LiqIndex, Slot};
use rand::RngExt;
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

/// Per-run engine metrics (DESIGN.md section 4), in whole quote units unless counted.
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
    pub gap_through_count: u64,
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
    /// Unweighted shortfall of accounts still bankrupt and unresolved at the end of the run.
    pub unresolved_shortfall: f64,
    /// Liquidations (and backstop absorptions) of accounts holding options.
    pub options_liquidations: u64,
    /// Sum over those of the loss beyond the margin held: the account's negative equity when
    /// it was liquidated.
    pub margin_shortfall_at_liquidation: f64,
    /// Sum over those of the book's full-revaluation loss minus its delta-gamma-vega-theta
    /// estimate, for the move from the account's last option trade to the liquidation.
    pub convexity_gap: f64,
    /// Forced delta-hedge volume of liquidated option books, quote at the oracle price.
    pub hedge_flow: f64,
    /// Net dollar gamma of all accounts (`sum q gamma S^2 / 100`: the change of the books'
    /// delta value per 1% move), the block-end value of largest magnitude, signed.
    pub engine_gamma: f64,
    /// Blocks an option account spent liquidatable under fresh risk figures but not under
    /// the engine's (stale) ones: the cost of a risk recomputation budget.
    pub stale_risk_blocks: u64,
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

/// The margin engine of one run.
#[derive(Debug, Clone)]
pub struct Engine {
    cfg: EngineConfig,
    n_assets: usize,
    vault: HolderId,
    accounts: accounts::Accounts,
    /// Each holder's cross-margin account, indexed by holder: a dense table, since every
    /// trader looks its account up every block.
    by_owner: Vec<Option<AccountId>>,
    pool_cash: Amount,
    pool_base: Vec<Amount>,
    insurance: Amount,
    index: LiqIndex,
    margin: MarginState,
    prices: Vec<f64>,
    /// Advances whenever `set_prices` changes a price (for memos of health, `memo.rs`).
    price_epoch: u64,
    cf_prices: Vec<f64>,
    prev_prices: Vec<f64>,
    guard_ok: Vec<bool>,
    mark: Vec<f64>,
    funding_acc: Vec<f64>,
    last_funding_t: f64,
    auctions: Vec<Auction>,
    curve: Option<Curve>,
    /// Accounts found liquidatable by the protocol's own check, with the block first seen.
    flagged: BTreeMap<AccountId, u64>,
    paused_until: f64,
    grace_until: f64,
    liqs_this_block: u32,
    block: u64,
    t_s: f64,
    rng: SimRng,
    /// The account being liquidated, as it stood before (for the causal measure).
    snapshot: Option<Account>,
    metrics: EngineMetrics,
    /// Liquidations not yet shown to be exogenous: the account as it stood before the
    /// liquidation, the notional, and (for the event that reclassifies it) its id and block.
    unresolved: Vec<(Account, f64, AccountId, u64)>,
    events: Option<Vec<Event>>,
    /// Options (absent when the scenario lists none).
    opts: Option<Box<OptState>>,
    /// With `risk_update_interval_blocks > 1`: the margin state fed every block, copied into
    /// `margin` (the engine's view) at each risk update.
    margin_live: Option<MarginState>,
    /// Where the round-robin revaluation under `max_revaluations_per_block` resumes.
    reval_cursor: usize,
    /// Options market makers' standing quotes, in the order first posted.
    makers: Vec<MakerQuote>,
    /// The per-block check's skip of option accounts (ARCHITECTURE.md, "Skipping option
    /// accounts"): the shared box and its bounds, and each account's guard.
    guards: Guards,
}

/// Price band, realized-vol band (absolute) and time span of the skip's state box.
const GUARD_PRICE_BAND: f64 = 0.01;
const GUARD_RV_BAND: f64 = 0.05;
const GUARD_TIME_S: f64 = 600.0;
/// Relative slack against floating-point rounding (the bound holds in exact arithmetic).
const GUARD_SLACK: f64 = 1e-9;

/// The skip's state: on unless disabled (tests and benches compare with the full scan).
#[derive(Debug, Clone)]
struct Guards {
    enabled: bool,
    /// The current box's bounds and its number.
    bounds: Option<(u64, Box<BoundTables>)>,
    /// Per account: (box number, lower bound of option value minus option maintenance over
    /// the box, gross size, the positions it was computed for).
    of: Vec<Option<OptGuard>>,
}

#[derive(Debug, Clone)]
struct OptGuard {
    box_no: u64,
    lo: f64,
    gross: f64,
    options: Vec<Amount>,
    perps: Vec<Amount>,
}

/// One options market maker's standing quote (`EngineOp::OptionQuote`): every live series
/// of `asset` at the engine's mark plus or minus `half_spread`, `bid_left` / `ask_left`
/// contracts left until the next quote.
#[derive(Debug, Clone, PartialEq)]
pub struct MakerQuote {
    pub holder: HolderId,
    pub account: AccountId,
    pub asset: usize,
    pub half_spread: f64,
    pub bid_left: Amount,
    pub ask_left: Amount,
}

impl OptGuard {
    fn perps_match(&self, acc: &Account) -> bool {
        self.perps.len() == acc.perps.len()
            && self.perps.iter().zip(&acc.perps).all(|(s, p)| *s == p.size)
    }
}

/// A fill a maker can give: the maker's index, the taker's premium (its quote change) and
/// the maker's account after the fill.
struct MakerFill {
    k: usize,
    premium: Amount,
    acc: Account,
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

fn ledger_err(_: LedgerError) -> Reason {
    "insufficient_funds"
}

/// The part of an option position `q` a liquidation of fraction `f` closes: all of it at
/// `f >= 1`, else `f` of it rounded down, at least one unit.
fn option_close(q: Amount, f: f64) -> Amount {
    if f >= 1.0 {
        return q;
    }
    let c = q.abs().scale_floor(f).max(Amount::ONE_UNIT).min(q.abs());
    if q.is_positive() { c } else { -c }
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
        let curve = match &cfg.liquidation {
            LiquidationMode::DutchAuction {
                curve,
                step_s,
                cut,
                tau_s,
                tail_s,
                cusp,
                ..
            } => Some(Curve {
                kind: *curve,
                tau_s: tau_s.unwrap_or(*tail_s),
                step_s: *step_s,
                cut: *cut,
                tail_s: *tail_s,
                cusp: *cusp,
            }),
            _ => None,
        };
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
            last_funding_t: 0.0,
            auctions: Vec::new(),
            curve,
            flagged: BTreeMap::new(),
            paused_until: f64::NEG_INFINITY,
            grace_until: f64::NEG_INFINITY,
            liqs_this_block: 0,
            block: 0,
            t_s: 0.0,
            rng,
            snapshot: None,
            metrics: EngineMetrics::default(),
            unresolved: Vec::new(),
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
            margin_live: (cfg.risk_update_interval_blocks > 1)
                .then(|| MarginState::new(&cfg.margin, prices)),
            reval_cursor: 0,
            makers: Vec::new(),
            guards: Guards {
                enabled: true,
                bounds: None,
                of: Vec::new(),
            },
        })
    }

    // ----- accessors -----

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
        self.by_owner.get(owner.index()).copied().flatten()
    }
    pub fn prices(&self) -> &[f64] {
        &self.prices
    }
    pub fn margin(&self) -> &MarginState {
        &self.margin
    }
    /// The metrics so far; liquidations the exogenous path has not explained (yet) count as
    /// induced.
    pub fn metrics(&self) -> EngineMetrics {
        let mut m = self.metrics.clone();
        m.induced_liquidations = self.unresolved.len() as u64;
        m.induced_notional = self.unresolved.iter().map(|(_, n, _, _)| n).sum();
        m.unresolved_shortfall = self.unresolved_shortfall();
        m
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
        self.curve.as_ref()
    }
    /// The current price of an auction, quote per whole unit.
    pub fn auction_price(&self, id: AuctionId) -> Option<f64> {
        let a = self.auctions.get(id.index())?;
        let c = self.curve.as_ref()?;
        Some(c.price(a.top, self.t_s - a.tic))
    }
    /// Accounts the protocol's own check found liquidatable, with the block first seen.
    pub fn flagged(&self) -> &BTreeMap<AccountId, u64> {
        &self.flagged
    }
    pub fn is_paused(&self) -> bool {
        self.t_s < self.paused_until
    }
    /// Whether liquidations are blocked now (pause or grace period).
    pub fn liquidations_blocked(&self) -> bool {
        self.t_s < self.paused_until || self.t_s < self.grace_until
    }
    pub fn health(&self, id: AccountId) -> Option<Health> {
        self.accounts
            .get(id.index())
            .map(|a| self.health_of(a, &self.prices))
    }
    /// Health at other prices (what a bot computes from a pending oracle update).
    pub fn health_at(&self, id: AccountId, prices: &[f64]) -> Option<Health> {
        self.accounts
            .get(id.index())
            .map(|a| self.health_of(a, prices))
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

    /// Health of `acc` at `prices`: [`Account::health`], plus, for an account holding
    /// options, their marks and the option margin requirement. An account without options
    /// is valued exactly as by [`Account::health`].
    pub fn health_of(&self, acc: &Account, prices: &[f64]) -> Health {
        let h = acc.health(prices, &self.margin);
        match &self.opts {
            Some(o) if acc.has_options() => {
                let memo = if self.cfg.max_revaluations_per_block.is_some() {
                    acc.risk.filter(|m| m.epoch < o.epoch)
                } else {
                    None
                };
                self.option_health(acc, h, prices, &self.margin, o, &o.tables, memo, true)
            }
            _ => h,
        }
    }

    /// Add the option book of `acc` to its linear health `h`: values at `prices` with the
    /// implied vols of `tables`, requirement from `memo` when given, else from `tables`.
    #[allow(clippy::too_many_arguments)]
    fn option_health(
        &self,
        acc: &Account,
        mut h: Health,
        prices: &[f64],
        margin: &MarginState,
        o: &OptState,
        tables: &RiskTables,
        memo: Option<RiskMemo>,
        engine_marks: bool,
    ) -> Health {
        let mut v = 0.0;
        for (i, q) in acc.options.iter().enumerate() {
            if q.is_zero() {
                continue;
            }
            let mark = if engine_marks {
                o.mark_at(i, prices, self.t_s)
            } else {
                let s = &o.chain[i];
                black(
                    s.kind,
                    prices[s.asset],
                    s.strike,
                    s.tau(self.t_s),
                    tables.series[i].iv,
                )
                .price
            };
            v += q.to_whole() * mark;
        }
        let (im, mm) = match memo {
            Some(m) => (m.initial, m.maintenance),
            None => self.option_requirement(acc, o, tables),
        };
        h.equity += v;
        h.initial += v - im;
        h.maintenance += v - mm;
        if !matches!(self.cfg.option_margin, OptionMargin::Standard) {
            // The perp in an option underlying is in the risk matrix: its linear requirement
            // is given back.
            for &a in &o.cfg.assets {
                let perp = &acc.perps[a];
                let holds = acc
                    .options
                    .iter()
                    .enumerate()
                    .any(|(i, q)| !q.is_zero() && o.chain[i].asset == a);
                if perp.is_open() && holds {
                    let notional = perp.size.abs().to_whole() * prices[a];
                    let size = acc.size(a);
                    h.initial += notional * margin.ratio(a, size, Req::Initial);
                    h.maintenance += notional * margin.ratio(a, size, Req::Maintenance);
                }
            }
        }
        h
    }

    /// The (initial, maintenance) option requirement of `acc` from `tables`.
    fn option_requirement(&self, acc: &Account, o: &OptState, tables: &RiskTables) -> (f64, f64) {
        let qty: Vec<f64> = acc.options.iter().map(|q| q.to_whole()).collect();
        let perp: Vec<f64> = acc.perps.iter().map(|p| p.size.to_whole()).collect();
        tables.requirement(&o.chain, &self.cfg.option_margin, &qty, &perp)
    }

    /// Revalue account `id` now (its own trade or liquidation): under a revaluation budget,
    /// its cached requirement becomes the current one.
    fn revalue(&mut self, id: AccountId) {
        if self.cfg.max_revaluations_per_block.is_none() {
            return;
        }
        let Some(o) = &self.opts else { return };
        let acc = &self.accounts[id.index()];
        let memo = if acc.has_options() {
            let (im, mm) = self.option_requirement(acc, o, &o.tables);
            Some(RiskMemo {
                epoch: o.epoch,
                initial: im,
                maintenance: mm,
            })
        } else {
            None
        };
        self.accounts[id.index()].risk = memo;
    }
    pub fn enable_events(&mut self) {
        self.events = Some(Vec::new());
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

    fn event(
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

    fn bonus(&self) -> f64 {
        self.cfg.liquidation.bonus().unwrap_or(0.0)
    }

    // ----- the block -----

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
        self.set_prices(prices, cf_prices);
        self.guard_ok.copy_from_slice(guard_ok);
        self.mark.copy_from_slice(mark);
        // Risk updates: every block by default; with `risk_update_interval_blocks = N` the
        // margin parameters, implied vols and Greeks the engine uses are refreshed only at
        // blocks divisible by N (the live estimators still see every block).
        let n = self.cfg.risk_update_interval_blocks.max(1) as u64;
        let due = block.is_multiple_of(n);
        match &mut self.margin_live {
            None => self.margin.update(prices, dt_s),
            Some(live) => {
                live.update(prices, dt_s);
                if due {
                    self.margin = live.clone();
                }
            }
        }
        if self.opts.is_some() {
            self.options_begin_block(dt_s, due);
        }
        // Breakers.
        let b = self.cfg.breakers.clone();
        let mut trip = None;
        if let Some(x) = b.max_oracle_move {
            for a in 0..self.n_assets {
                let m = (self.prices[a] / self.prev_prices[a] - 1.0).abs();
                if m > x {
                    trip = Some(format!("oracle move {m:.4} > {x} on asset {a}"));
                }
            }
        }
        if let Some(x) = b.max_twap_divergence {
            for (a, d) in twap_divergence.iter().enumerate() {
                if let Some(d) = d
                    && *d > x
                {
                    trip = Some(format!("twap divergence {d:.4} > {x} on asset {a}"));
                }
            }
        }
        if let Some(why) = trip {
            if !self.is_paused() {
                self.metrics.breaker_trips += 1;
                self.event("breaker_trip", None, None, Amount::ZERO, 0.0, why);
            }
            self.paused_until = t_s + b.pause_s;
            self.grace_until = self.paused_until + b.grace_s;
        }
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

    /// Update the oracle prices mid-block (an oracle publication landed).
    pub fn set_prices(&mut self, prices: &[f64], cf_prices: &[f64]) {
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
        if let Some(o) = &mut self.opts {
            o.refresh_marks(&self.prices, self.t_s);
        }
    }

    /// The options' part of the start of a block: feed the realized-vol estimator, settle
    /// expired series, and (at a risk update) rebuild the risk tables and spend the
    /// revaluation budget.
    fn options_begin_block(&mut self, dt_s: f64, due: bool) {
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
    fn revalue_budget(&mut self, k: u32) {
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
    fn settle_expiries(&mut self) {
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
                let amt = if q.is_positive() {
                    q.value_floor(payoff)
                } else {
                    -q.abs().value_ceil(payoff)
                };
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
                self.settle_bankrupt(id, None);
            }
            self.revalue(id);
            self.reindex(id);
        }
    }

    /// Funding settlement: longs pay shorts `acc` per unit of base (negative: shorts pay),
    /// against the pool, rounded in the pool's favour. Touches every perp account, once per
    /// funding interval.
    fn settle_funding(&mut self) {
        for a in 0..self.n_assets {
            let f = std::mem::take(&mut self.funding_acc[a]);
            if f == 0.0 {
                continue;
            }
            for i in 0..self.accounts.len() {
                // Read first: taking the account for writing advances its stamp.
                if self.accounts[i].closed || !self.accounts[i].perps[a].is_open() {
                    continue;
                }
                let acc = &mut self.accounts[i];
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
                let id = AccountId(i as u32);
                self.reindex(id);
            }
        }
    }

    /// End of a block: the protocol's own liquidation check (via the index), the backstop,
    /// metrics.
    pub fn end_block(&mut self) {
        // Causal measure: a liquidation not (yet) explained by p_exo becomes exogenous as
        // soon as the exogenous oracle price would have made the account liquidatable.
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
        // Accounts no longer liquidatable leave the flagged set.
        let keep: BTreeMap<AccountId, u64> = self
            .flagged
            .iter()
            .filter(|(id, _)| now.binary_search(id).is_ok())
            .map(|(k, v)| (*k, *v))
            .collect();
        self.flagged = keep;
        for id in now {
            if !self.flagged.contains_key(&id) {
                // Newly liquidatable: did it go straight from healthy to bankrupt?
                let h = self.health_of(&self.accounts[id.index()], &self.prices);
                if h.equity < 0.0 {
                    self.metrics.gap_through_count += 1;
                }
                self.flagged.insert(id, self.block);
            }
        }
        if let LiquidationMode::Backstop { trigger, .. } = self.cfg.liquidation {
            let ids: Vec<AccountId> = self.flagged.keys().copied().collect();
            for id in ids {
                let acc = &self.accounts[id.index()];
                let h = self.health_of(acc, &self.prices);
                let req = h.equity - h.maintenance; // the maintenance requirement
                if h.equity < trigger * req {
                    self.absorb(id);
                }
            }
        }
    }

    /// Options at the end of a block: the net gamma of all books and, under a risk budget,
    /// the accounts liquidatable under fresh figures that the engine's stale ones miss.
    fn options_end_block(&mut self) {
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
        let budgeted = self.cfg.risk_update_interval_blocks > 1
            || self.cfg.max_revaluations_per_block.is_some();
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

    /// Every liquidatable account, found through the index and confirmed by exact health.
    pub fn liquidatable_now(&self) -> Vec<AccountId> {
        let mut lo = vec![0.0; self.n_assets];
        let mut hi = vec![0.0; self.n_assets];
        for a in 0..self.n_assets {
            let base = self.margin.base(a, Req::Maintenance);
            lo[a] = self.prices[a] * (1.0 - base);
            hi[a] = self.prices[a] * (1.0 + base);
        }
        self.index
            .candidates(&lo, &hi)
            .into_iter()
            .filter(|id| !self.guaranteed_healthy(*id) && self.is_liquidatable(*id))
            .collect()
    }

    /// Turn the skip of option accounts in the per-block check on or off (on by default;
    /// off, every option account is revalued in full every block).
    pub fn set_option_guards(&mut self, on: bool) {
        self.guards.enabled = on;
        self.guards.bounds = None;
        self.guards.of.clear();
    }

    /// (open option accounts, those the per-block check skips now): how much of the
    /// revaluation the guards save in the current state.
    pub fn option_guard_counts(&self) -> (usize, usize) {
        let mut n = (0, 0);
        for (k, acc) in self.accounts.iter().enumerate() {
            if !acc.closed && acc.has_options() {
                n.0 += 1;
                if self.guaranteed_healthy(AccountId(k as u32)) {
                    n.1 += 1;
                }
            }
        }
        n
    }

    /// Whether the skip can apply: options under `standard` or `portfolio` margin with the
    /// exact risk defaults (a budget keeps stale requirements the bounds do not describe).
    fn guards_apply(&self) -> bool {
        self.guards.enabled
            && self.opts.is_some()
            && !matches!(self.cfg.option_margin, OptionMargin::DeltaGamma { .. })
            && self.cfg.risk_update_interval_blocks <= 1
            && self.cfg.max_revaluations_per_block.is_none()
    }

    /// Whether the current state (oracle prices, the tables' prices and realized vols, the
    /// time) is inside the current box.
    fn in_box(&self, o: &OptState, b: &BoundTables) -> bool {
        let t = &o.tables;
        b.bx.contains(&o.cfg.assets, &self.prices, &t.rv, self.t_s)
            && b.bx.contains(&o.cfg.assets, &t.prices, &t.rv, t.t_s)
    }

    /// Start a new box around the current state when it has left the last one, and compute
    /// the guard of every option account whose guard is missing, from another box, or for
    /// other positions.
    fn refresh_guards(&mut self) {
        if !self.guards_apply() {
            return;
        }
        let o = self.opts.as_ref().expect("options");
        let inside = match &self.guards.bounds {
            Some((_, b)) => self.in_box(o, b),
            None => false,
        };
        if !inside {
            let bx = StateBox::around(
                &self.prices,
                &o.tables.rv,
                self.t_s,
                GUARD_PRICE_BAND,
                GUARD_RV_BAND,
                GUARD_TIME_S,
            );
            let no = self.guards.bounds.as_ref().map(|(n, _)| n + 1).unwrap_or(0);
            let b = BoundTables::build(&o.chain, &o.cfg.iv, &self.cfg.option_margin, bx);
            self.guards.bounds = Some((no, Box::new(b)));
        }
        let Some((no, b)) = &self.guards.bounds else {
            return;
        };
        if !self.in_box(o, b) {
            // A mid-block move put the tables' and the oracle's prices too far apart.
            return;
        }
        self.guards.of.resize(self.accounts.len(), None);
        for (k, acc) in self.accounts.iter().enumerate() {
            if acc.closed || !acc.has_options() {
                self.guards.of[k] = None;
                continue;
            }
            let fresh = self.guards.of[k]
                .as_ref()
                .is_some_and(|g| g.box_no == *no && g.options == acc.options && g.perps_match(acc));
            if fresh {
                continue;
            }
            let qty: Vec<f64> = acc.options.iter().map(|q| q.to_whole()).collect();
            let perp: Vec<f64> = acc.perps.iter().map(|p| p.size.to_whole()).collect();
            self.guards.of[k] = b
                .option_part_lo(&o.chain, &self.cfg.option_margin, &qty, &perp)
                .map(|(lo, gross)| OptGuard {
                    box_no: *no,
                    lo,
                    gross,
                    options: acc.options.clone(),
                    perps: acc.perps.iter().map(|p| p.size).collect(),
                });
        }
    }

    /// Whether account `id` holds options and is healthy in every state of the current box
    /// with room to spare: its exact linear maintenance health (and, under `portfolio`, the
    /// perp's linear requirement given back) plus its guard's lower bound of option value
    /// minus option maintenance exceeds the rounding slack, the state being inside the box
    /// and its positions those the guard was computed for. Such an account is not
    /// liquidatable: the per-block check skips its revaluation.
    fn guaranteed_healthy(&self, id: AccountId) -> bool {
        let acc = &self.accounts[id.index()];
        let Some(o) = &self.opts else { return false };
        if acc.closed || !acc.has_options() || !self.guards_apply() {
            return false;
        }
        self.guard_holds(acc, o, id)
    }

    fn guard_holds(&self, acc: &Account, o: &OptState, id: AccountId) -> bool {
        let Some((no, b)) = &self.guards.bounds else {
            return false;
        };
        let Some(Some(g)) = self.guards.of.get(id.index()) else {
            return false;
        };
        if g.box_no != *no || g.options != acc.options || !g.perps_match(acc) || !self.in_box(o, b)
        {
            return false;
        }
        let lin = acc.health(&self.prices, &self.margin).maintenance;
        let mut give = 0.0;
        if !matches!(self.cfg.option_margin, OptionMargin::Standard) {
            for &a in &o.cfg.assets {
                let perp = &acc.perps[a];
                let holds = acc
                    .options
                    .iter()
                    .enumerate()
                    .any(|(i, q)| !q.is_zero() && o.chain[i].asset == a);
                if perp.is_open() && holds {
                    let notional = perp.size.abs().to_whole() * self.prices[a];
                    give += notional * self.margin.ratio(a, acc.size(a), Req::Maintenance);
                }
            }
        }
        let slack = GUARD_SLACK * (g.gross + lin.abs() + give.abs() + 1.0);
        lin + give + g.lo > slack
    }

    /// The full scan the index must agree with.
    pub fn liquidatable_scan(&self) -> Vec<AccountId> {
        (0..self.accounts.len())
            .map(|i| AccountId(i as u32))
            .filter(|id| self.is_liquidatable(*id))
            .collect()
    }

    pub fn is_liquidatable(&self, id: AccountId) -> bool {
        let acc = &self.accounts[id.index()];
        !acc.closed
            && (acc.has_positions() || acc.debt.is_positive())
            && self.health_of(acc, &self.prices).maintenance < 0.0
    }

    /// Recompute where account `id` sits in the index.
    fn reindex(&mut self, id: AccountId) {
        let acc = &self.accounts[id.index()];
        let slot = if acc.closed {
            Slot::None
        } else if acc.has_options() {
            // Option books are nonlinear in the price: always checked in full.
            Slot::Complex
        } else {
            let exposed: Vec<usize> = (0..self.n_assets)
                .filter(|&a| acc.collateral[a].is_positive() || acc.perps[a].is_open())
                .collect();
            match exposed.as_slice() {
                [] => {
                    if acc.debt > acc.quote {
                        Slot::Complex
                    } else {
                        Slot::None
                    }
                }
                [a] => {
                    let a = *a;
                    let c = acc.collateral[a].to_whole();
                    let s = acc.perps[a].size.to_whole();
                    let k =
                        acc.debt.to_whole() - acc.quote.to_whole() - acc.perps[a].quote.to_whole();
                    let size = acc.size(a);
                    let base = self.margin.base(a, Req::Maintenance);
                    let r = self.margin.ratio(a, size, Req::Maintenance);
                    if s >= 0.0 {
                        let e = c + s;
                        let f = (1.0 - r) / (1.0 - base);
                        Slot::Long {
                            asset: a,
                            key: k / (e * f),
                        }
                    } else if c == 0.0 {
                        let e = -s;
                        let g = (1.0 + r) / (1.0 + base);
                        Slot::Short {
                            asset: a,
                            key: -k / (e * g),
                        }
                    } else {
                        Slot::Complex
                    }
                }
                _ => Slot::Complex,
            }
        };
        self.index.set(id, slot);
    }

    // ----- operations -----

    /// Execute an engine operation for `sender` (agent `agent`). Atomic: on `Err` nothing
    /// changed.
    pub fn apply(
        &mut self,
        op: &EngineOp,
        sender: HolderId,
        agent: AgentId,
        ledger: &mut Ledger,
        venues: &mut [Venue],
    ) -> Result<Outcome, Reason> {
        match op {
            EngineOp::Borrow {
                asset,
                collateral,
                borrow,
            } => self.op_borrow(sender, agent, asset.index(), *collateral, *borrow, ledger),
            EngineOp::PerpOpen {
                asset,
                size,
                margin,
            } => self.op_perp_open(sender, agent, asset.index(), *size, *margin, ledger),
            EngineOp::Deposit {
                account,
                token,
                amount,
            } => self.op_deposit(sender, *account, *token, *amount, ledger),
            EngineOp::Close { account } => self.op_close(sender, *account, ledger),
            EngineOp::Liquidate {
                account,
                sell_on,
                min_profit,
            } => self.op_liquidate(sender, *account, *sell_on, *min_profit, ledger, venues),
            EngineOp::Take {
                auction,
                max_lot,
                max_price,
                sell_on,
            } => self.op_take(
                sender, *auction, *max_lot, *max_price, *sell_on, ledger, venues,
            ),
            EngineOp::Redo { auction } => self.op_redo(sender, *auction, ledger),
            EngineOp::Tend { auction, bid } => self.op_tend(sender, *auction, *bid, ledger),
            EngineOp::Dent { auction, lot } => self.op_dent(sender, *auction, *lot, ledger),
            EngineOp::Deal { auction } => self.op_deal(*auction, ledger),
            EngineOp::OptionTrade {
                series,
                size,
                margin,
            } => self.op_option_trade(sender, agent, *series, *size, *margin, ledger),
            EngineOp::OptionQuote {
                asset,
                half_spread,
                bid_size,
                ask_size,
                margin,
            } => self.op_option_quote(
                sender,
                agent,
                asset.index(),
                *half_spread,
                (*bid_size, *ask_size),
                *margin,
                ledger,
            ),
        }
    }

    fn target_account(&self, sender: HolderId) -> Option<AccountId> {
        match self.cfg.margin_mode {
            MarginMode::Cross => self.account_of(sender),
            MarginMode::Isolated => None,
        }
    }

    fn new_account(&mut self, sender: HolderId, agent: AgentId) -> AccountId {
        let id = AccountId(self.accounts.len() as u32);
        self.accounts
            .push(Account::new(sender, agent, self.n_assets));
        if self.cfg.margin_mode == MarginMode::Cross {
            let i = sender.index();
            if i >= self.by_owner.len() {
                self.by_owner.resize(i + 1, None);
            }
            self.by_owner[i] = Some(id);
        }
        id
    }

    fn check_asset(&self, a: usize) -> Result<(), Reason> {
        if a < self.n_assets {
            Ok(())
        } else {
            Err("invalid_asset")
        }
    }

    fn op_borrow(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        a: usize,
        collateral: Amount,
        borrow: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.check_asset(a)?;
        if collateral.is_negative()
            || borrow.is_negative()
            || (collateral.is_zero() && borrow.is_zero())
        {
            return Err("invalid_amount");
        }
        if self.is_paused() {
            return Err("paused");
        }
        let token = TokenId(a as u16 + 1);
        if ledger.balance(sender, token) < collateral {
            return Err("insufficient_funds");
        }
        if borrow > self.pool_cash {
            return Err("pool_exhausted");
        }
        let existing = self.target_account(sender);
        let mut acc = match existing {
            Some(id) => self.accounts[id.index()].clone(),
            None => Account::new(sender, agent, self.n_assets),
        };
        if acc.closed {
            acc = Account::new(sender, agent, self.n_assets);
        }
        acc.collateral[a] += collateral;
        acc.debt += borrow;
        if self.health_of(&acc, &self.prices).initial < 0.0 {
            return Err("insufficient_margin");
        }
        ledger
            .transfer(sender, self.vault, token, collateral)
            .map_err(ledger_err)?;
        ledger
            .transfer(self.vault, sender, TokenId::QUOTE, borrow)
            .map_err(ledger_err)?;
        self.pool_cash -= borrow;
        let id = match existing {
            Some(id) if !self.accounts[id.index()].closed => id,
            _ => self.new_account(sender, agent),
        };
        self.accounts[id.index()] = acc;
        self.reindex(id);
        Ok(Outcome::default())
    }

    fn op_perp_open(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        a: usize,
        size: Amount,
        margin: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.check_asset(a)?;
        if size.is_zero() || margin.is_negative() {
            return Err("invalid_amount");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if ledger.balance(sender, TokenId::QUOTE) < margin {
            return Err("insufficient_funds");
        }
        let p = self.prices[a];
        let existing = self.target_account(sender);
        let mut acc = match existing {
            Some(id) if !self.accounts[id.index()].closed => self.accounts[id.index()].clone(),
            _ => Account::new(sender, agent, self.n_assets),
        };
        // Entry at the oracle price, rounded against the trader.
        let notional_up = size.abs().value_ceil(p);
        let notional_dn = size.abs().value_floor(p);
        let dq = if size.is_positive() {
            -notional_up
        } else {
            notional_dn
        };
        let fee = notional_up.value_ceil(self.cfg.perp_fee);
        acc.quote = acc.quote + margin - fee;
        acc.perps[a].size += size;
        acc.perps[a].quote += dq;
        // A trade that flattens the position realizes its PnL against the pool: a perp of
        // size zero counts for nothing in health, so its quote must not stay behind.
        let mut realized = Amount::ZERO;
        if acc.perps[a].size.is_zero() {
            realized = acc.perps[a].quote;
            acc.quote += realized;
            acc.perps[a] = Perp::default();
        }
        if self.health_of(&acc, &self.prices).initial < 0.0 {
            return Err("insufficient_margin");
        }
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, margin)
            .map_err(ledger_err)?;
        self.pool_cash -= realized;
        self.book_fee(fee);
        let id = match existing {
            Some(id) if !self.accounts[id.index()].closed => id,
            _ => self.new_account(sender, agent),
        };
        self.accounts[id.index()] = acc;
        self.reindex(id);
        Ok(Outcome::default())
    }

    /// An external payment into the insurance fund (the protocol's share of an oracle
    /// order-flow auction payment): `amount` quote moves from `from` to the vault and the
    /// fund's claim grows by exactly that. Atomic: on `Err` nothing changed.
    pub fn pay_insurance_fund(
        &mut self,
        from: HolderId,
        amount: Amount,
        ledger: &mut Ledger,
    ) -> Result<(), Reason> {
        if amount.is_negative() {
            return Err("invalid_amount");
        }
        ledger
            .transfer(from, self.vault, TokenId::QUOTE, amount)
            .map_err(ledger_err)?;
        self.insurance += amount;
        Ok(())
    }

    /// A protocol fee or penalty: the insurance share to the fund, the rest to the pool.
    fn book_fee(&mut self, fee: Amount) {
        if !fee.is_positive() {
            return;
        }
        let to_if = fee.scale_floor(self.cfg.insurance_fee_share);
        self.insurance += to_if;
        self.pool_cash += fee - to_if;
    }

    fn owned(&self, sender: HolderId, id: AccountId) -> Result<(), Reason> {
        match self.accounts.get(id.index()) {
            None => Err("no_account"),
            Some(a) if a.closed => Err("account_closed"),
            Some(a) if a.owner != sender => Err("not_owner"),
            Some(_) => Ok(()),
        }
    }

    fn op_deposit(
        &mut self,
        sender: HolderId,
        id: AccountId,
        token: TokenId,
        amount: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.owned(sender, id)?;
        if !amount.is_positive() || token.index() > self.n_assets {
            return Err("invalid_amount");
        }
        ledger
            .transfer(sender, self.vault, token, amount)
            .map_err(ledger_err)?;
        let acc = &mut self.accounts[id.index()];
        match token.asset() {
            None => acc.quote += amount,
            Some(a) => acc.collateral[a.index()] = acc.collateral[a.index()] + amount,
        }
        self.reindex(id);
        Ok(Outcome::default())
    }

    /// Realize every perp of account `id` at the oracle price against the pool (PnL rounded
    /// down for the account). Returns the closed sizes.
    fn realize_perps(&mut self, id: AccountId) -> Vec<(usize, Amount)> {
        let mut closed = Vec::new();
        for a in 0..self.n_assets {
            let p = self.prices[a];
            let perp = self.accounts[id.index()].perps[a];
            if !perp.is_open() {
                continue;
            }
            // Closing a long sells `size` at p (proceeds rounded down); a short buys back
            // (cost rounded up).
            let close_value = if perp.size.is_positive() {
                perp.size.value_floor(p)
            } else {
                -perp.size.abs().value_ceil(p)
            };
            let pnl = close_value + perp.quote;
            let acc = &mut self.accounts[id.index()];
            acc.quote += pnl;
            acc.perps[a] = Perp::default();
            self.pool_cash -= pnl;
            closed.push((a, perp.size));
        }
        closed
    }

    /// Sell every option of account `id` back to the pool at mark (longs rounded down,
    /// shorts bought back rounded up).
    fn realize_options(&mut self, id: AccountId) {
        let Some(o) = &self.opts else { return };
        let acc = &mut self.accounts[id.index()];
        let mut value = Amount::ZERO;
        for (i, q) in acc.options.iter_mut().enumerate() {
            if q.is_zero() {
                continue;
            }
            value += if q.is_positive() {
                q.value_floor(o.marks[i])
            } else {
                -q.abs().value_ceil(o.marks[i])
            };
            *q = Amount::ZERO;
        }
        acc.quote += value;
        self.pool_cash -= value;
    }

    /// Trade `size` contracts of option series `series` with the engine's book (the
    /// lenders' pool is the counterparty): buys at `mark * (1 + spread)`, sales at
    /// `mark * (1 - spread)`, the premium settled in the account's quote; `margin` quote comes
    /// from the wallet. Reverts if the account would break its initial margin.
    #[allow(clippy::too_many_arguments)]
    fn op_option_trade(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        series: u32,
        size: Amount,
        margin: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let i = series as usize;
        if !self.option_live(i) {
            return Err("invalid_series");
        }
        if size.is_zero() || margin.is_negative() {
            return Err("invalid_amount");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if ledger.balance(sender, TokenId::QUOTE) < margin {
            return Err("insufficient_funds");
        }
        let o = self.opts.as_ref().expect("options");
        let n_series = o.chain.len();
        let (mark, spread) = (o.marks[i], o.cfg.spread);
        let existing = self.target_account(sender);
        let mut acc = match existing {
            Some(id) if !self.accounts[id.index()].closed => self.accounts[id.index()].clone(),
            _ => Account::new(sender, agent, self.n_assets),
        };
        if acc.options.len() < n_series {
            acc.options.resize(n_series, Amount::ZERO);
        }
        let live = existing.filter(|id| !self.accounts[id.index()].closed);
        let fill = self.maker_offer(live, i, size);
        let premium = match &fill {
            Some(f) => f.premium,
            None if size.is_positive() => -size.value_ceil(mark * (1.0 + spread)),
            None => size.abs().value_floor(mark * (1.0 - spread)),
        };
        acc.quote = acc.quote + margin + premium;
        acc.options[i] += size;
        acc.risk = None;
        acc.opt_ref = Some(OptRef {
            prices: self.prices.clone(),
            rv: o.rv(),
            t_s: self.t_s,
        });
        if self.health_of(&acc, &self.prices).initial < 0.0 {
            return Err("insufficient_margin");
        }
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, margin)
            .map_err(ledger_err)?;
        match fill {
            // The maker pays what the taker receives: no quote leaves the accounts.
            Some(f) => self.commit_maker(f, size),
            None => self.pool_cash -= premium,
        }
        let id = match existing {
            Some(id) if !self.accounts[id.index()].closed => id,
            _ => self.new_account(sender, agent),
        };
        self.accounts[id.index()] = acc;
        self.revalue(id);
        self.reindex(id);
        Ok(Outcome::default())
    }

    /// The best fill a market maker can give a taker (account `taker`, none for a quote
    /// request) changing its position in series `i` by `size`: the lowest half-spread among
    /// the quotes on the series' asset with `|size|` left on the side the taker hits, whose
    /// account stays within its initial margin after taking `-size` (ties: the quote posted
    /// first). Buys by the taker cost `mark * (1 + half_spread)` rounded up; its sales earn
    /// `mark * (1 - half_spread)` rounded down; the maker's quote moves by the opposite.
    fn maker_offer(&self, taker: Option<AccountId>, i: usize, size: Amount) -> Option<MakerFill> {
        let o = self.opts.as_ref()?;
        if size.is_zero() || self.makers.is_empty() || !self.option_live(i) {
            return None;
        }
        let (asset, mark, n) = (o.chain[i].asset, o.marks[i], o.chain.len());
        let mut order: Vec<usize> = (0..self.makers.len())
            .filter(|&k| {
                let m = &self.makers[k];
                let left = if size.is_positive() {
                    m.ask_left
                } else {
                    m.bid_left
                };
                m.asset == asset
                    && Some(m.account) != taker
                    && left >= size.abs()
                    && !self.accounts[m.account.index()].closed
            })
            .collect();
        order.sort_by(|&x, &y| {
            self.makers[x]
                .half_spread
                .total_cmp(&self.makers[y].half_spread)
                .then(x.cmp(&y))
        });
        for k in order {
            let hs = self.makers[k].half_spread;
            let premium = if size.is_positive() {
                -size.value_ceil(mark * (1.0 + hs))
            } else {
                size.abs().value_floor(mark * (1.0 - hs))
            };
            let mut acc = self.accounts[self.makers[k].account.index()].clone();
            if acc.options.len() < n {
                acc.options.resize(n, Amount::ZERO);
            }
            acc.options[i] -= size;
            acc.quote -= premium;
            acc.risk = None;
            acc.opt_ref = Some(OptRef {
                prices: self.prices.clone(),
                rv: o.rv(),
                t_s: self.t_s,
            });
            if self.health_of(&acc, &self.prices).initial >= 0.0 {
                return Some(MakerFill { k, premium, acc });
            }
        }
        None
    }

    /// Book a maker fill of a taker's position change `size`.
    fn commit_maker(&mut self, f: MakerFill, size: Amount) {
        let m = &mut self.makers[f.k];
        if size.is_positive() {
            m.ask_left -= size;
        } else {
            m.bid_left -= size.abs();
        }
        let id = m.account;
        self.accounts[id.index()] = f.acc;
        self.revalue(id);
        self.reindex(id);
    }

    /// What a taker would pay (`size > 0`) or receive (`size < 0`) per contract of series
    /// `i` now: a maker's quote where one can fill it, else the pool's mark plus or minus
    /// the spread.
    pub fn option_price(&self, i: usize, size: Amount) -> Option<f64> {
        let o = self.opts.as_ref()?;
        let mark = *o.marks.get(i)?;
        let hs = match self.maker_offer(None, i, size) {
            Some(f) => self.makers[f.k].half_spread,
            None => o.cfg.spread,
        };
        Some(if size.is_positive() {
            mark * (1.0 + hs)
        } else {
            mark * (1.0 - hs)
        })
    }

    /// The standing quote of market maker `holder`, if it has posted one.
    pub fn maker_quote(&self, holder: HolderId) -> Option<&MakerQuote> {
        self.makers.iter().find(|m| m.holder == holder)
    }

    /// Post or replace `sender`'s option quotes on `asset` (see `EngineOp::OptionQuote`),
    /// moving `margin` quote from its wallet into its account.
    #[allow(clippy::too_many_arguments)]
    fn op_option_quote(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        a: usize,
        half_spread: f64,
        (bid, ask): (Amount, Amount),
        margin: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.check_asset(a)?;
        let Some(o) = &self.opts else {
            return Err("invalid_series");
        };
        if !o.cfg.assets.contains(&a) {
            return Err("invalid_series");
        }
        if !(half_spread.is_finite() && (0.0..1.0).contains(&half_spread))
            || bid.is_negative()
            || ask.is_negative()
            || margin.is_negative()
        {
            return Err("invalid_amount");
        }
        if ledger.balance(sender, TokenId::QUOTE) < margin {
            return Err("insufficient_funds");
        }
        let k = self.makers.iter().position(|m| m.holder == sender);
        let id = k
            .map(|k| self.makers[k].account)
            .or(self.target_account(sender))
            .filter(|id| !self.accounts[id.index()].closed);
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, margin)
            .map_err(ledger_err)?;
        let id = match id {
            Some(id) => id,
            None => self.new_account(sender, agent),
        };
        self.accounts[id.index()].quote += margin;
        let q = MakerQuote {
            holder: sender,
            account: id,
            asset: a,
            half_spread,
            bid_left: bid,
            ask_left: ask,
        };
        match k {
            Some(k) => self.makers[k] = q,
            None => self.makers.push(q),
        }
        self.revalue(id);
        self.reindex(id);
        Ok(Outcome::default())
    }

    fn op_close(
        &mut self,
        sender: HolderId,
        id: AccountId,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        self.owned(sender, id)?;
        if self.auctions.iter().any(|x| x.active && x.account == id) {
            return Err("in_auction");
        }
        let before = (
            self.accounts[id.index()].clone(),
            self.pool_cash,
            self.insurance,
        );
        let debt = self.accounts[id.index()].debt;
        if ledger.balance(sender, TokenId::QUOTE) < debt {
            return Err("insufficient_funds");
        }
        // Close fee on perp notional.
        let mut fee = Amount::ZERO;
        for a in 0..self.n_assets {
            let perp = self.accounts[id.index()].perps[a];
            fee += perp
                .size
                .abs()
                .value_ceil(self.prices[a])
                .value_ceil(self.cfg.perp_fee);
        }
        self.realize_perps(id);
        self.realize_options(id);
        let acc = &mut self.accounts[id.index()];
        acc.quote -= fee;
        if acc.quote.is_negative() {
            // Underwater: it must be liquidated, not closed.
            let (a, p, i) = before;
            self.accounts[id.index()] = a;
            self.pool_cash = p;
            self.insurance = i;
            return Err("insufficient_margin");
        }
        self.book_fee(fee);
        let acc = self.accounts[id.index()].clone();
        // Repay, then withdraw everything.
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, debt)
            .map_err(ledger_err)?;
        self.pool_cash += debt;
        ledger
            .transfer(self.vault, sender, TokenId::QUOTE, acc.quote)
            .map_err(ledger_err)?;
        for a in 0..self.n_assets {
            ledger
                .transfer(self.vault, sender, TokenId(a as u16 + 1), acc.collateral[a])
                .map_err(ledger_err)?;
        }
        let acc = &mut self.accounts[id.index()];
        acc.quote = Amount::ZERO;
        acc.debt = Amount::ZERO;
        acc.collateral.iter_mut().for_each(|c| *c = Amount::ZERO);
        acc.closed = true;
        if self.account_of(sender) == Some(id) {
            self.by_owner[sender.index()] = None;
        }
        self.flagged.remove(&id);
        self.reindex(id);
        Ok(Outcome::default())
    }

    /// What a liquidation of `id` would do now, or why it cannot happen. Non-mutating: what
    /// liquidators call before deciding.
    pub fn plan_liquidation(&self, id: AccountId) -> Result<LiqPlan, Reason> {
        self.plan_liquidation_at(id, &self.prices)
    }

    /// The plan at other oracle prices (what a bot computes from a pending oracle update).
    pub fn plan_liquidation_at(&self, id: AccountId, prices: &[f64]) -> Result<LiqPlan, Reason> {
        let acc = self.accounts.get(id.index()).ok_or("no_account")?;
        if acc.closed {
            return Err("account_closed");
        }
        if self.liquidations_blocked() {
            return Err("paused");
        }
        if let Some(cap) = self.cfg.breakers.max_liquidations_per_block
            && self.liqs_this_block >= cap
        {
            return Err("block_cap");
        }
        if self.cfg.respect_oracle_guards && !self.guard_ok.iter().all(|g| *g) {
            return Err("oracle_guard");
        }
        let h = self.health_of(acc, prices);
        if h.maintenance >= 0.0 {
            return Err("healthy");
        }
        let bonus = self.bonus();
        // The collateral with the largest value is seized first (lending part).
        let asset = (0..self.n_assets)
            .filter(|&a| acc.collateral[a].is_positive())
            .max_by(|&x, &y| {
                (acc.collateral[x].to_whole() * prices[x])
                    .total_cmp(&(acc.collateral[y].to_whole() * prices[y]))
            });
        let perp_asset = (0..self.n_assets)
            .filter(|&a| acc.perps[a].is_open())
            .max_by(|&x, &y| {
                (acc.perps[x].size.abs().to_whole() * prices[x])
                    .total_cmp(&(acc.perps[y].size.abs().to_whole() * prices[y]))
            });
        let mut plan = LiqPlan {
            asset,
            pay: Amount::ZERO,
            repay: Amount::ZERO,
            fee: Amount::ZERO,
            seize: Amount::ZERO,
            perp_asset,
            perp_close: Amount::ZERO,
            perp_bonus: Amount::ZERO,
            opt_frac: 0.0,
            opt_bonus: Amount::ZERO,
        };
        // Fractions of the debt and of the perp position to close.
        let (frac_lend, frac_perp) = match &self.cfg.liquidation {
            LiquidationMode::Full { .. } | LiquidationMode::Backstop { .. } => (1.0, 1.0),
            LiquidationMode::DutchAuction { .. } | LiquidationMode::EnglishAuction { .. } => {
                (1.0, 1.0)
            }
            LiquidationMode::CloseFactor {
                close_factor,
                full_close_below,
                ..
            } => {
                // Aave's health factor: weighted collateral over liabilities, the perp margin
                // requirement counted as a liability.
                let req: f64 = (0..self.n_assets)
                    .map(|a| {
                        acc.perps[a].size.abs().to_whole()
                            * prices[a]
                            * self.margin.ratio(a, acc.size(a), Req::Maintenance)
                    })
                    .sum();
                let liab = acc.debt.to_whole() + req;
                let hf = if liab > 0.0 {
                    (h.maintenance + liab) / liab
                } else {
                    f64::INFINITY
                };
                let f = if hf < *full_close_below {
                    1.0
                } else {
                    *close_factor
                };
                (f, f)
            }
            LiquidationMode::Incremental {
                step, exit_buffer, ..
            } => {
                let v = acc.exposure_value(prices).max(1e-12);
                let buf = *exit_buffer;
                let gap = buf * v - h.maintenance;
                match (asset, perp_asset) {
                    (Some(a), _) if acc.debt.is_positive() => {
                        // Repay R (seizing R (1 + b) of collateral) to lift maintenance health
                        // H to buf of the position value V:
                        // H + R k >= buf (V - R (1 + b)), k = 1 - (1 + b)(1 - m).
                        let m = self.margin.ratio(a, acc.size(a), Req::Maintenance);
                        let k = 1.0 - (1.0 + bonus) * (1.0 - m);
                        let r = gap / (k + buf * (1.0 + bonus));
                        ((r / acc.debt.to_whole()).clamp(1e-9, *step), 0.0)
                    }
                    (_, Some(a)) => {
                        // Closing notional N frees N m of margin and costs N b of bonus:
                        // H + N (m - b) >= buf (V - N).
                        let m = self.margin.ratio(a, acc.size(a), Req::Maintenance);
                        let n = gap / (m - bonus + buf);
                        let notional = acc.perps[a].size.abs().to_whole() * prices[a];
                        (0.0, (n / notional.max(1e-12)).clamp(1e-9, *step))
                    }
                    _ => (1.0, 1.0),
                }
            }
        };
        if let Some(a) = asset
            && acc.debt.is_positive()
        {
            let p = prices[a];
            let mut repay = acc
                .debt
                .scale_floor(frac_lend)
                .max(Amount::ONE_UNIT)
                .min(acc.debt);
            if frac_lend >= 1.0 {
                repay = acc.debt;
            }
            // Collateral worth repay * (1 + bonus), rounded down (against the liquidator).
            let mut seize = Amount::from_whole_floor(repay.to_whole() * (1.0 + bonus) / p);
            if seize > acc.collateral[a] {
                seize = acc.collateral[a];
                repay = Amount::from_whole_ceil(seize.to_whole() * p / (1.0 + bonus)).min(acc.debt);
            }
            let fee = match &self.cfg.liquidation {
                LiquidationMode::CloseFactor { protocol_fee, .. } => {
                    // Aave: a share of the bonus; charged here in quote.
                    Amount::from_whole_ceil(repay.to_whole() * bonus * protocol_fee)
                }
                _ => Amount::ZERO,
            };
            plan.repay = repay;
            plan.seize = seize;
            plan.fee = fee;
            plan.pay = repay + fee;
        }
        if let Some(a) = perp_asset
            && frac_perp > 0.0
        {
            let perp = acc.perps[a];
            let close = if frac_perp >= 1.0 {
                perp.size
            } else {
                let c = perp.size.abs().scale_floor(frac_perp).max(Amount::ONE_UNIT);
                if perp.size.is_positive() { c } else { -c }
            };
            plan.perp_close = close;
            plan.perp_bonus = close.abs().value_floor(prices[a]).value_floor(bonus);
        }
        if acc.has_options()
            && let Some(o) = &self.opts
        {
            // Options close by the same fraction as perps (the step of incremental mode); the
            // account pays the bonus on the closed options' mark value.
            let f = match &self.cfg.liquidation {
                LiquidationMode::Incremental { step, .. } => *step,
                _ => frac_perp,
            };
            plan.opt_frac = f;
            for (i, q) in acc.options.iter().enumerate() {
                if q.is_zero() {
                    continue;
                }
                let close = option_close(*q, f);
                plan.opt_bonus += close
                    .abs()
                    .value_floor(o.mark_at(i, prices, self.t_s))
                    .value_floor(bonus);
            }
            plan.perp_bonus += plan.opt_bonus;
        }
        if plan.seize.is_zero()
            && plan.perp_close.is_zero()
            && plan.repay.is_zero()
            && plan.opt_frac == 0.0
        {
            // Only quote and debt: nothing to seize; settle as bad debt directly.
            plan.asset = None;
        }
        Ok(plan)
    }

    #[allow(clippy::too_many_arguments)]
    fn op_liquidate(
        &mut self,
        liquidator: HolderId,
        id: AccountId,
        sell_on: Option<VenueId>,
        min_profit: Amount,
        ledger: &mut Ledger,
        venues: &mut [Venue],
    ) -> Result<Outcome, Reason> {
        let plan = self.plan_liquidation(id)?;
        if self.auctions.iter().any(|x| x.active && x.account == id) {
            return Err("in_auction");
        }
        let cf_liquidatable = self
            .health_of(&self.accounts[id.index()], &self.cf_prices)
            .maintenance
            < 0.0;
        self.snapshot = Some(self.accounts[id.index()].clone());
        let flagged_at = self.flagged.get(&id).copied().unwrap_or(self.block);
        if self.cfg.liquidation.is_auction() {
            return self.bark(liquidator, id, cf_liquidatable, flagged_at, ledger);
        }
        let mut out = Outcome {
            liquidation: true,
            ..Outcome::default()
        };
        // Lending part: the liquidator pays `pay` quote and receives `seize` collateral.
        let mut notional = 0.0;
        if let Some(a) = plan.asset
            && plan.seize.is_positive()
        {
            let token = TokenId(a as u16 + 1);
            let p = self.prices[a];
            match sell_on {
                Some(v) => {
                    let venue = venues.get(v.index()).ok_or("invalid_venue")?;
                    if venue.asset().index() != a {
                        return Err("invalid_venue");
                    }
                    let q = venue.quote(Side::Sell, plan.seize);
                    if let Some(band) = self.cfg.breakers.price_band {
                        let avg = q.amount_out.to_whole() / plan.seize.to_whole();
                        if (avg / p - 1.0).abs() > band {
                            return Err("price_band");
                        }
                    }
                    let have = ledger.balance(liquidator, TokenId::QUOTE);
                    if q.amount_out + have < plan.pay {
                        return Err("insufficient_funds");
                    }
                    if q.amount_out - plan.pay < min_profit {
                        return Err("unprofitable");
                    }
                    ledger
                        .transfer(self.vault, liquidator, token, plan.seize)
                        .map_err(ledger_err)?;
                    let fill = match venues[v.index()].execute(
                        ledger,
                        liquidator,
                        Side::Sell,
                        plan.seize,
                        q.amount_out,
                    ) {
                        Ok(f) => f,
                        Err(_) => {
                            // Undo the collateral move: the quote was exact, so this is
                            // unreachable unless the venue state changed in between.
                            let _ = ledger.transfer(liquidator, self.vault, token, plan.seize);
                            return Err("venue_failed");
                        }
                    };
                    if let Err(e) =
                        ledger.transfer(liquidator, self.vault, TokenId::QUOTE, plan.pay)
                    {
                        return Err(ledger_err(e));
                    }
                    out.swaps.push((v, Side::Sell, fill));
                }
                None => {
                    if ledger.balance(liquidator, TokenId::QUOTE) < plan.pay {
                        return Err("insufficient_funds");
                    }
                    if plan.seize.value_floor(p) - plan.pay < min_profit {
                        return Err("unprofitable");
                    }
                    ledger
                        .transfer(liquidator, self.vault, TokenId::QUOTE, plan.pay)
                        .map_err(ledger_err)?;
                    ledger
                        .transfer(self.vault, liquidator, token, plan.seize)
                        .map_err(ledger_err)?;
                }
            }
            let acc = &mut self.accounts[id.index()];
            acc.collateral[a] -= plan.seize;
            acc.debt -= plan.repay;
            self.pool_cash += plan.repay;
            self.book_fee(plan.fee);
            notional += plan.repay.to_whole();
        }
        // Perp part: closed at the oracle against the pool; the account pays the bonus to
        // the liquidator in quote; the close is a market order on the wider market.
        if let Some(a) = plan.perp_asset
            && !plan.perp_close.is_zero()
        {
            let p = self.prices[a];
            let acc = &mut self.accounts[id.index()];
            let perp = acc.perps[a];
            // Realize the closed fraction: its share of the entry quote.
            let share_q = if plan.perp_close == perp.size {
                perp.quote
            } else {
                Amount(
                    cascade_core::math::mul_div_floor_i128(
                        perp.quote.raw(),
                        plan.perp_close.raw(),
                        perp.size.raw(),
                    )
                    .unwrap_or(perp.quote.raw()),
                )
            };
            let close_value = if plan.perp_close.is_positive() {
                plan.perp_close.value_floor(p)
            } else {
                -plan.perp_close.abs().value_ceil(p)
            };
            let pnl = close_value + share_q;
            let perp_bonus = plan.perp_bonus - plan.opt_bonus;
            acc.perps[a].size = perp.size - plan.perp_close;
            acc.perps[a].quote = perp.quote - share_q;
            acc.quote = acc.quote + pnl - perp_bonus;
            self.pool_cash -= pnl;
            ledger
                .transfer(self.vault, liquidator, TokenId::QUOTE, perp_bonus)
                .map_err(ledger_err)?;
            // The pool paid the bonus out of the account's claim: the account's quote went
            // down by the bonus and the vault paid it.
            out.offvenue_flow.push((a, -plan.perp_close.to_whole()));
            notional += plan.perp_close.abs().to_whole() * p;
        }
        // Options part: the account's options are bought back (shorts) or sold (longs) at
        // mark against the pool, the account pays the bonus on their value, and the pool
        // unwinds the delta hedge of the closed book: forced flow in the underlying.
        if plan.opt_frac > 0.0 && self.accounts[id.index()].has_options() {
            let (bonus, flow) = self.liquidate_options(id, plan.opt_frac, self.bonus(), true);
            ledger
                .transfer(self.vault, liquidator, TokenId::QUOTE, bonus)
                .map_err(ledger_err)?;
            for (a, f) in flow {
                notional += f.abs() * self.prices[a];
                out.offvenue_flow.push((a, f));
            }
        }
        self.liqs_this_block += 1;
        self.record_liquidation(id, notional, cf_liquidatable, flagged_at, liquidator);
        self.after_liquidation(id);
        Ok(out)
    }

    fn record_liquidation(
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

    /// After a liquidation: re-index, and settle bad debt if nothing is left to seize.
    fn after_liquidation(&mut self, id: AccountId) {
        let acc = &self.accounts[id.index()];
        if !acc.has_positions() {
            let perp_side = None;
            self.settle_bankrupt(id, perp_side);
        }
        self.revalue(id);
        if !self.is_liquidatable(id) {
            self.flagged.remove(&id);
        }
        self.reindex(id);
    }

    /// Liquidate the option book of `id`: record the options metrics (shortfall, convexity
    /// gap), then close `frac` of every position at mark with `bonus_rate` of the closed
    /// value charged to the account. Returns the bonus (for the caller to pay out of the
    /// vault) and the forced delta-hedge flow per asset (signed whole base units).
    fn liquidate_options(
        &mut self,
        id: AccountId,
        frac: f64,
        bonus_rate: f64,
        to_makers: bool,
    ) -> (Amount, Vec<(usize, f64)>) {
        let Some(o) = &self.opts else {
            return (Amount::ZERO, Vec::new());
        };
        let acc = &self.accounts[id.index()];
        let h = self.health_of(acc, &self.prices);
        // Convexity gap: full revaluation of the book from the state at its last trade to
        // now, minus the Greeks' estimate from that state.
        let mut gap = 0.0;
        if let Some(r) = &acc.opt_ref {
            for (i, q) in acc.options.iter().enumerate() {
                if q.is_zero() {
                    continue;
                }
                let s = &o.chain[i];
                let (s0, s1) = (r.prices[s.asset], self.prices[s.asset]);
                let iv0 = o.cfg.iv.iv(s.strike, s0, r.rv[s.asset]);
                let g0 = black(s.kind, s0, s.strike, s.tau(r.t_s), iv0);
                let iv1 = o.tables.series[i].iv;
                let v1 = o.mark_at(i, &self.prices, self.t_s);
                let (ds, dv) = (s1 - s0, iv1 - iv0);
                let dt = (self.t_s - r.t_s) / cascade_market::SECONDS_PER_YEAR;
                let full = g0.price - v1;
                let est =
                    -(g0.delta * ds + 0.5 * g0.gamma * ds * ds + g0.vega * dv + g0.theta * dt);
                gap += q.to_whole() * (full - est);
            }
        }
        self.metrics.options_liquidations += 1;
        self.metrics.margin_shortfall_at_liquidation += (-h.equity).max(0.0);
        self.metrics.convexity_gap += gap;
        let mut bonus = Amount::ZERO;
        let mut flow: Vec<(usize, f64)> = Vec::new();
        let mut value = Amount::ZERO;
        let n = self.accounts[id.index()].options.len();
        for i in 0..n {
            let q = self.accounts[id.index()].options[i];
            if q.is_zero() {
                continue;
            }
            let o = self.opts.as_ref().expect("options");
            let (mark, delta, asset) = (o.marks[i], o.tables.series[i].g.delta, o.chain[i].asset);
            let close = option_close(q, frac);
            bonus += close.abs().value_floor(mark).value_floor(bonus_rate);
            // The delta the closed book's counterparty must now hedge: forced flow in the
            // underlying whoever takes the close (DESIGN: the hedge of a liquidated options
            // book feeds the impact channel either way).
            let hedge = -close.to_whole() * delta;
            match flow.iter_mut().find(|(a, _)| *a == asset) {
                Some((_, x)) => *x += hedge,
                None => flow.push((asset, hedge)),
            }
            // A market maker quoting the series takes the close at its quote (at crash-time
            // implied vols: the mark is the tables') and hedges that delta with its own perp
            // trades; the flow above is their market impact.
            let fill = if to_makers {
                self.maker_offer(Some(id), i, -close)
            } else {
                None
            };
            if let Some(f) = fill {
                let prem = f.premium;
                self.commit_maker(f, -close);
                self.accounts[id.index()].quote += prem;
                self.accounts[id.index()].options[i] -= close;
                continue;
            }
            // The account sells longs to the pool (proceeds rounded down) and buys back
            // shorts (cost rounded up).
            let v = if close.is_positive() {
                close.value_floor(mark)
            } else {
                -close.abs().value_ceil(mark)
            };
            value += v;
            self.accounts[id.index()].options[i] -= close;
        }
        let acc = &mut self.accounts[id.index()];
        acc.quote = acc.quote + value - bonus;
        self.pool_cash -= value;
        for (a, f) in &flow {
            self.metrics.hedge_flow += f.abs() * self.prices[*a];
        }
        self.event(
            "option_liquidation",
            Some(id),
            None,
            value,
            gap,
            format!("fraction {frac}"),
        );
        (bonus, flow)
    }

    /// An account with nothing left at risk: its quote pays its debt; any shortfall goes
    /// through the waterfall.
    fn settle_bankrupt(&mut self, id: AccountId, _perp: Option<(usize, Amount)>) {
        let acc = &mut self.accounts[id.index()];
        let net = acc.quote - acc.debt;
        if !net.is_negative() {
            if acc.debt.is_positive() {
                acc.quote -= acc.debt;
                self.pool_cash += acc.debt;
                acc.debt = Amount::ZERO;
            }
            return;
        }
        let shortfall = -net;
        // The account's quote (possibly negative after perp losses) goes to the pool; the
        // debt is written off.
        self.pool_cash += acc.quote;
        acc.quote = Amount::ZERO;
        acc.debt = Amount::ZERO;
        acc.closed = true;
        self.flagged.remove(&id);
        self.metrics.bad_debt += shortfall.to_whole();
        self.event("bad_debt", Some(id), None, shortfall, 0.0, String::new());
        self.waterfall(id, shortfall);
    }

    fn waterfall(&mut self, id: AccountId, shortfall: Amount) {
        let mut left = shortfall;
        let steps = self.cfg.waterfall.clone();
        for step in &steps {
            if !left.is_positive() {
                break;
            }
            match step {
                WaterfallStep::InsuranceFund => {
                    let pay = left.min(self.insurance).max(Amount::ZERO);
                    self.insurance -= pay;
                    self.pool_cash += pay;
                    left -= pay;
                    self.metrics.insurance_paid += pay.to_whole();
                    self.metrics.insurance_for_debt += pay.to_whole();
                    self.event("insurance_fund", Some(id), None, pay, 0.0, String::new());
                }
                WaterfallStep::Adl { ranking } => {
                    let covered = self.adl(id, left, *ranking);
                    left -= covered;
                }
                WaterfallStep::Socialize => {
                    // The lenders' pool writes the rest off pro rata to its suppliers.
                    self.metrics.socialized_loss += left.to_whole();
                    self.event("socialize", Some(id), None, left, 0.0, String::new());
                    left = Amount::ZERO;
                }
            }
        }
        if left.is_positive() {
            self.metrics.uncovered_bad_debt += left.to_whole();
            self.event("uncovered", Some(id), None, left, 0.0, String::new());
        }
    }

    /// Auto-deleveraging: profitable perp positions are cut, highest ranked first, and each
    /// gives up PnL (at most what it has) until the loss is covered. Returns what was covered.
    fn adl(&mut self, bankrupt: AccountId, loss: Amount, ranking: AdlRanking) -> Amount {
        let mut cands: Vec<(f64, AccountId, usize)> = Vec::new();
        for (i, acc) in self.accounts.iter().enumerate() {
            if acc.closed || i == bankrupt.index() {
                continue;
            }
            for a in 0..self.n_assets {
                let perp = &acc.perps[a];
                if !perp.is_open() {
                    continue;
                }
                let p = self.prices[a];
                let pnl = perp.pnl(p);
                if pnl <= 0.0 {
                    continue;
                }
                let h = self.health_of(acc, &self.prices);
                let notional = perp.size.abs().to_whole() * p;
                let entry = -perp.quote.to_whole() / perp.size.to_whole();
                let score = match ranking {
                    AdlRanking::PnlTimesLeverage => {
                        (p / entry).abs() * notional / h.equity.max(1e-9)
                    }
                    AdlRanking::Random => 0.0,
                };
                cands.push((score, AccountId(i as u32), a));
            }
        }
        match ranking {
            AdlRanking::PnlTimesLeverage => {
                cands.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)))
            }
            AdlRanking::Random => {
                for i in (1..cands.len()).rev() {
                    let j = self.rng.random_range(0..=i);
                    cands.swap(i, j);
                }
            }
        }
        let mut left = loss;
        for (_, id, a) in cands {
            if !left.is_positive() {
                break;
            }
            // Close the position at the oracle and take up to its PnL.
            let p = self.prices[a];
            let perp = self.accounts[id.index()].perps[a];
            let close_value = if perp.size.is_positive() {
                perp.size.value_floor(p)
            } else {
                -perp.size.abs().value_ceil(p)
            };
            let pnl = close_value + perp.quote;
            if !pnl.is_positive() {
                continue;
            }
            let take = pnl.min(left);
            let acc = &mut self.accounts[id.index()];
            acc.perps[a] = Perp::default();
            acc.quote = acc.quote + pnl - take;
            // The pool paid the pnl minus what the deleveraged trader gave up.
            self.pool_cash -= pnl - take;
            left -= take;
            self.metrics.adl_events += 1;
            self.metrics.adl_loss += take.to_whole();
            self.revalue(id);
            self.event(
                "adl",
                Some(id),
                None,
                take,
                p,
                format!("for account {bankrupt}"),
            );
            self.reindex(id);
        }
        loss - left
    }

    /// The backstop vault absorbs an account: its collateral goes to the pool's warehouse,
    /// its perps close at the oracle against the pool, its debt is cancelled; a negative
    /// equity goes through the waterfall.
    fn absorb(&mut self, id: AccountId) {
        self.realize_perps(id);
        if self.accounts[id.index()].has_options() {
            // The vault takes the option book over at mark: it stays hedged, so no flow.
            self.liquidate_options(id, 1.0, 0.0, false);
        }
        let acc = self.accounts[id.index()].clone();
        let mut value = acc.quote.to_whole() - acc.debt.to_whole();
        for a in 0..self.n_assets {
            self.pool_base[a] += acc.collateral[a];
            value += acc.collateral[a].to_whole() * self.prices[a];
        }
        // The pool takes the collateral and the quote in exchange for the debt.
        self.pool_cash += acc.quote;
        let a = &mut self.accounts[id.index()];
        a.collateral.iter_mut().for_each(|c| *c = Amount::ZERO);
        a.quote = Amount::ZERO;
        a.debt = Amount::ZERO;
        a.closed = true;
        self.flagged.remove(&id);
        self.metrics.backstop_absorptions += 1;
        self.event(
            "backstop",
            Some(id),
            None,
            Amount::from_whole(value),
            0.0,
            String::new(),
        );
        if value < 0.0 {
            let shortfall = Amount::from_whole_ceil(-value);
            self.metrics.bad_debt += shortfall.to_whole();
            // The pool holds less than it lent: the loss is the pool's unless covered.
            self.waterfall(id, shortfall);
        }
        self.reindex(id);
    }

    /// Maker `bark` (Dutch) or `bite` (English): move the account's collateral and debt
    /// (perps realized first) into an auction; in a Dutch auction the keeper earns `tip +
    /// chip * tab`, paid by the insurance fund (then the pool), as Maker's `vat.suck` mints
    /// it as system debt; Liquidations 1.2 paid the biting keeper nothing.
    fn bark(
        &mut self,
        keeper: HolderId,
        id: AccountId,
        cf_liquidatable: bool,
        flagged_at: u64,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let (buf, tip, chip, chop, tau) = match &self.cfg.liquidation {
            LiquidationMode::DutchAuction {
                start_premium,
                tip,
                chip,
                chop,
                ..
            } => (*start_premium, *tip, *chip, *chop, None),
            LiquidationMode::EnglishAuction { tau_s, chop, .. } => {
                (1.0, 0.0, 0.0, *chop, Some(*tau_s))
            }
            _ => return Err("not_auction_mode"),
        };
        let acc = &self.accounts[id.index()];
        let asset = (0..self.n_assets)
            .filter(|&a| acc.collateral[a].is_positive())
            .max_by(|&x, &y| {
                (acc.collateral[x].to_whole() * self.prices[x])
                    .total_cmp(&(acc.collateral[y].to_whole() * self.prices[y]))
            });
        let closed = self.realize_perps(id);
        let mut flow: Vec<(usize, f64)> = closed.iter().map(|(a, s)| (*a, -s.to_whole())).collect();
        if self.accounts[id.index()].has_options() {
            // The option book is closed at mark (no penalty: the auction's chop is on the
            // debt); its delta hedge is forced flow like the perps' close.
            let (_, f) = self.liquidate_options(id, 1.0, 0.0, true);
            flow.extend(f);
        }
        let acc = self.accounts[id.index()].clone();
        let Some(a) = asset else {
            // Perps only: settled directly.
            let notional: f64 = closed
                .iter()
                .map(|(a, s)| s.abs().to_whole() * self.prices[*a])
                .sum();
            self.liqs_this_block += 1;
            self.record_liquidation(id, notional, cf_liquidatable, flagged_at, keeper);
            self.after_liquidation(id);
            return Ok(Outcome {
                liquidation: true,
                offvenue_flow: flow.clone(),
                ..Outcome::default()
            });
        };
        // Net the account's quote against its debt first.
        let debt = (acc.debt - acc.quote).max(Amount::ZERO);
        let quote_left = (acc.quote - acc.debt).max(Amount::ZERO);
        self.pool_cash += acc.quote.min(acc.debt);
        if debt.is_zero() {
            // Closing the perps left enough quote to repay the debt: the account is safe
            // and, like Maker's `bark` on a safe vault, nothing is auctioned (an auction with
            // an empty tab could never be taken and would hold the collateral forever).
            let notional: f64 = closed
                .iter()
                .map(|(a, s)| s.abs().to_whole() * self.prices[*a])
                .sum();
            let acc = &mut self.accounts[id.index()];
            acc.debt = Amount::ZERO;
            acc.quote = quote_left;
            self.liqs_this_block += 1;
            self.record_liquidation(id, notional, cf_liquidatable, flagged_at, keeper);
            self.after_liquidation(id);
            return Ok(Outcome {
                liquidation: true,
                offvenue_flow: flow.clone(),
                ..Outcome::default()
            });
        }
        let penalty = debt.scale_floor(chop);
        let lot = acc.collateral[a];
        let notional = lot.to_whole() * self.prices[a];
        let auction = Auction {
            account: id,
            asset: a,
            lot,
            debt,
            penalty,
            top: self.prices[a] * buf,
            tic: self.t_s,
            kicked_block: self.block,
            active: true,
            bid: Amount::ZERO,
            guy: None,
            bid_end_s: None,
            end_s: tau.map_or(f64::INFINITY, |t| self.t_s + t),
        };
        let reward = Amount::from_whole(tip) + (debt + penalty).scale_floor(chip);
        let acc = &mut self.accounts[id.index()];
        acc.collateral[a] = Amount::ZERO;
        acc.debt = Amount::ZERO;
        acc.quote = quote_left;
        // Other collateral stays in the account; the auctioned part is gone from it.
        if reward.is_positive() {
            self.pay_keeper(keeper, reward, ledger);
        }
        let aid = AuctionId(self.auctions.len() as u32);
        self.auctions.push(auction);
        self.metrics.auctions += 1;
        self.liqs_this_block += 1;
        self.record_liquidation(id, notional, cf_liquidatable, flagged_at, keeper);
        self.event(
            "auction_kick",
            Some(id),
            Some(keeper),
            debt + penalty,
            self.prices[a] * buf,
            format!("auction {aid}, lot {}", lot.to_whole()),
        );
        if !self.accounts[id.index()].has_positions() {
            self.flagged.remove(&id);
        }
        self.reindex(id);
        Ok(Outcome {
            liquidation: true,
            offvenue_flow: flow,
            ..Outcome::default()
        })
    }

    /// A keeper reward: from the insurance fund, then the pool.
    fn pay_keeper(&mut self, keeper: HolderId, reward: Amount, ledger: &mut Ledger) -> Amount {
        let from_if = reward.min(self.insurance).max(Amount::ZERO);
        let from_pool = (reward - from_if).min(self.pool_cash.max(Amount::ZERO));
        let paid = from_if + from_pool;
        // The vault holds every claim, so paying a claim out cannot overdraw it.
        if ledger
            .transfer(self.vault, keeper, TokenId::QUOTE, paid)
            .is_ok()
        {
            self.insurance -= from_if;
            self.pool_cash -= from_pool;
            self.metrics.insurance_paid += from_if.to_whole();
            paid
        } else {
            Amount::ZERO
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn op_take(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        max_lot: Amount,
        max_price: f64,
        sell_on: Option<VenueId>,
        ledger: &mut Ledger,
        venues: &mut [Venue],
    ) -> Result<Outcome, Reason> {
        let curve = self.curve.ok_or("not_auction_mode")?;
        let auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        if self.is_paused() {
            return Err("paused");
        }
        let elapsed = self.t_s - auc.tic;
        if curve.needs_reset(auc.top, elapsed) {
            return Err("needs_redo");
        }
        let price = curve.price(auc.top, elapsed);
        if price > max_price || price <= 0.0 {
            return Err("too_expensive");
        }
        let mut slice = auc.lot.min(max_lot);
        let mut owe = slice.value_ceil(price);
        let tab = auc.tab();
        if owe > tab {
            owe = tab;
            slice = Amount::from_whole_floor(tab.to_whole() / price).min(auc.lot);
        }
        if !slice.is_positive() {
            return Err("invalid_amount");
        }
        let token = TokenId(auc.asset as u16 + 1);
        let mut out = Outcome {
            liquidation: true,
            ..Outcome::default()
        };
        match sell_on {
            Some(v) => {
                let venue = venues.get(v.index()).ok_or("invalid_venue")?;
                if venue.asset().index() != auc.asset {
                    return Err("invalid_venue");
                }
                let q = venue.quote(Side::Sell, slice);
                if q.amount_out + ledger.balance(bidder, TokenId::QUOTE) < owe {
                    return Err("insufficient_funds");
                }
                ledger
                    .transfer(self.vault, bidder, token, slice)
                    .map_err(ledger_err)?;
                let fill = match venues[v.index()].execute(
                    ledger,
                    bidder,
                    Side::Sell,
                    slice,
                    q.amount_out,
                ) {
                    Ok(f) => f,
                    Err(_) => {
                        let _ = ledger.transfer(bidder, self.vault, token, slice);
                        return Err("venue_failed");
                    }
                };
                ledger
                    .transfer(bidder, self.vault, TokenId::QUOTE, owe)
                    .map_err(ledger_err)?;
                out.swaps.push((v, Side::Sell, fill));
            }
            None => {
                if ledger.balance(bidder, TokenId::QUOTE) < owe {
                    return Err("insufficient_funds");
                }
                ledger
                    .transfer(bidder, self.vault, TokenId::QUOTE, owe)
                    .map_err(ledger_err)?;
                ledger
                    .transfer(self.vault, bidder, token, slice)
                    .map_err(ledger_err)?;
            }
        }
        self.sell_from_auction(aid, slice, owe);
        self.event(
            "auction_take",
            Some(auc.account),
            Some(bidder),
            owe,
            price,
            format!("auction {aid}, slice {}", slice.to_whole()),
        );
        self.finish_auction(aid);
        Ok(out)
    }

    /// An auction that has raised its tab returns the rest of the lot; one whose lot is gone
    /// with debt left books bad debt.
    fn finish_auction(&mut self, aid: AuctionId) {
        let auc = self.auctions[aid.index()].clone();
        if auc.tab().is_zero() || auc.lot.is_zero() {
            let acc = &mut self.accounts[auc.account.index()];
            acc.collateral[auc.asset] += auc.lot;
            self.auctions[aid.index()].active = false;
            self.auctions[aid.index()].lot = Amount::ZERO;
            // A penalty not raised when the lot ran out is forgone.
            self.auctions[aid.index()].penalty = Amount::ZERO;
            if auc.debt.is_positive() {
                let shortfall = auc.debt;
                self.auctions[aid.index()].debt = Amount::ZERO;
                self.auctions[aid.index()].penalty = Amount::ZERO;
                self.metrics.bad_debt += shortfall.to_whole();
                self.event(
                    "bad_debt",
                    Some(auc.account),
                    None,
                    shortfall,
                    0.0,
                    format!("auction {aid}"),
                );
                self.waterfall(auc.account, shortfall);
            }
            self.event(
                "auction_end",
                Some(auc.account),
                None,
                auc.lot,
                0.0,
                format!("auction {aid}"),
            );
            self.reindex(auc.account);
        }
    }

    fn op_redo(
        &mut self,
        keeper: HolderId,
        aid: AuctionId,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let curve = self.curve.ok_or("not_auction_mode")?;
        let (tip, chip) = match &self.cfg.liquidation {
            LiquidationMode::DutchAuction { tip, chip, .. } => (*tip, *chip),
            _ => return Err("not_auction_mode"),
        };
        let buf = match &self.cfg.liquidation {
            LiquidationMode::DutchAuction { start_premium, .. } => *start_premium,
            _ => 1.0,
        };
        let auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if !curve.needs_reset(auc.top, self.t_s - auc.tic) {
            return Err("no_redo_needed");
        }
        let a = &mut self.auctions[aid.index()];
        a.top = self.prices[auc.asset] * buf;
        a.tic = self.t_s;
        let reward = Amount::from_whole(tip) + auc.tab().scale_floor(chip);
        self.pay_keeper(keeper, reward, ledger);
        self.event(
            "auction_redo",
            Some(auc.account),
            Some(keeper),
            reward,
            self.prices[auc.asset] * buf,
            format!("auction {aid}"),
        );
        Ok(Outcome::default())
    }

    /// `slice` of auction `aid`'s lot sold for `paid` quote (a Dutch take, an English deal):
    /// the proceeds pay the debt first, then the penalty; the sale is recorded against the
    /// oracle price.
    fn sell_from_auction(&mut self, aid: AuctionId, slice: Amount, paid: Amount) {
        let auc = &self.auctions[aid.index()];
        let (asset, to_debt) = (auc.asset, paid.min(auc.debt));
        let to_pen = (paid - to_debt).min(auc.penalty);
        self.pool_cash += to_debt;
        self.book_fee(to_pen);
        let a = &mut self.auctions[aid.index()];
        a.debt -= to_debt;
        a.penalty -= to_pen;
        a.lot -= slice;
        let value = slice.to_whole() * self.prices[asset];
        let paid = paid.to_whole();
        let m = &mut self.metrics;
        m.auction_sales += 1;
        m.auction_sale_value += value;
        m.auction_sale_paid += paid;
        if paid < 0.01 * value {
            m.auction_near_zero += 1;
        }
    }

    /// The English auction parameters (`beg`, `ttl_s`, `tau_s`), or why not.
    fn english(&self) -> Result<(f64, f64, f64), Reason> {
        match &self.cfg.liquidation {
            LiquidationMode::EnglishAuction {
                beg, ttl_s, tau_s, ..
            } => Ok((*beg, *ttl_s, *tau_s)),
            _ => Err("not_english_auction"),
        }
    }

    /// An English auction that still takes bids now, or why not. One that reached its
    /// lifetime without a bid comes back restarted (Maker's `tick`, which a bid that lands
    /// commits: the copy's `end_s` is the new end; the stored auction is not touched here, so
    /// a bid that reverts leaves it as it was).
    fn english_open(&self, aid: AuctionId, tau_s: f64) -> Result<Auction, Reason> {
        let mut auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if auc.guy.is_none() && self.t_s >= auc.end_s {
            auc.end_s = self.t_s + tau_s;
            return Ok(auc);
        }
        if auc.english_over(self.t_s) {
            return Err("auction_over");
        }
        Ok(auc)
    }

    /// Pay `amount` into the vault as the new standing bid of `aid` and refund the bid it
    /// replaces (held by the vault, so the refund cannot fail).
    fn replace_bid(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        amount: Amount,
        ledger: &mut Ledger,
    ) -> Result<(), Reason> {
        let (_, ttl_s, _) = self.english()?;
        ledger
            .transfer(bidder, self.vault, TokenId::QUOTE, amount)
            .map_err(ledger_err)?;
        let (prev, prev_bid) = {
            let a = &self.auctions[aid.index()];
            (a.guy, a.bid)
        };
        if let Some(prev) = prev {
            let refunded = ledger.transfer(self.vault, prev, TokenId::QUOTE, prev_bid);
            debug_assert!(refunded.is_ok(), "the vault holds the standing bid");
        }
        let a = &mut self.auctions[aid.index()];
        a.bid = amount;
        a.guy = Some(bidder);
        a.bid_end_s = Some(self.t_s + ttl_s);
        Ok(())
    }

    /// Maker `tend`: bid `bid` quote for the whole lot.
    fn op_tend(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        bid: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let (beg, _, tau_s) = self.english()?;
        let auc = self.english_open(aid, tau_s)?;
        let tab = auc.tab();
        if auc.in_dent_phase() {
            return Err("tend_phase_over");
        }
        if !bid.is_positive() || bid <= auc.bid {
            return Err("bid_too_low");
        }
        if bid > tab {
            return Err("bid_above_tab");
        }
        if auc.guy.is_some() && bid != tab && bid < auction::min_next_bid(auc.bid, beg) {
            return Err("bid_below_increment");
        }
        self.replace_bid(bidder, aid, bid, ledger)?;
        self.auctions[aid.index()].end_s = auc.end_s;
        self.event(
            "auction_tend",
            Some(auc.account),
            Some(bidder),
            bid,
            bid.to_whole() / auc.lot.to_whole().max(1e-18),
            format!("auction {aid}, lot {}", auc.lot.to_whole()),
        );
        Ok(Outcome::default())
    }

    /// Maker `dent`: pay the whole tab for only `lot` of the collateral; the collateral given
    /// up goes back to the account.
    fn op_dent(
        &mut self,
        bidder: HolderId,
        aid: AuctionId,
        lot: Amount,
        ledger: &mut Ledger,
    ) -> Result<Outcome, Reason> {
        let (beg, _, tau_s) = self.english()?;
        let auc = self.english_open(aid, tau_s)?;
        if !auc.in_dent_phase() {
            return Err("dent_phase_not_started");
        }
        if !lot.is_positive() || lot > auction::max_next_lot(auc.lot, beg) {
            return Err("lot_above_decrement");
        }
        self.replace_bid(bidder, aid, auc.bid, ledger)?;
        let back = auc.lot - lot;
        self.auctions[aid.index()].lot = lot;
        self.accounts[auc.account.index()].collateral[auc.asset] += back;
        self.event(
            "auction_dent",
            Some(auc.account),
            Some(bidder),
            lot,
            auc.bid.to_whole() / lot.to_whole(),
            format!("auction {aid}, {} returned", back.to_whole()),
        );
        self.reindex(auc.account);
        Ok(Outcome::default())
    }

    /// Maker `deal`: an English auction that is over hands its lot to the winner; the bid
    /// pays the debt, then the penalty; debt it does not cover is bad debt.
    fn op_deal(&mut self, aid: AuctionId, ledger: &mut Ledger) -> Result<Outcome, Reason> {
        self.english()?;
        let auc = self.auctions.get(aid.index()).ok_or("no_auction")?.clone();
        if !auc.active {
            return Err("auction_over");
        }
        let Some(winner) = auc.guy else {
            return Err("no_bid");
        };
        if !auc.english_over(self.t_s) {
            return Err("auction_live");
        }
        let token = TokenId(auc.asset as u16 + 1);
        ledger
            .transfer(self.vault, winner, token, auc.lot)
            .map_err(ledger_err)?;
        self.sell_from_auction(aid, auc.lot, auc.bid);
        self.auctions[aid.index()].bid = Amount::ZERO;
        self.event(
            "auction_deal",
            Some(auc.account),
            Some(winner),
            auc.bid,
            auc.bid.to_whole() / auc.lot.to_whole().max(1e-18),
            format!("auction {aid}, lot {}", auc.lot.to_whole()),
        );
        self.finish_auction(aid);
        Ok(Outcome {
            liquidation: true,
            ..Outcome::default()
        })
    }

    /// Quote `holder` has standing as English-auction bids (held by the vault, refunded if
    /// outbid): part of its wealth while the auctions run.
    pub fn escrowed_bids(&self, holder: HolderId) -> Amount {
        if self.english().is_err() {
            return Amount::ZERO;
        }
        self.auctions
            .iter()
            .filter(|a| a.active && a.guy == Some(holder))
            .fold(Amount::ZERO, |s, a| s + a.bid)
    }

    // ----- checks and the end of a run -----

    /// The engine's claims add up exactly to the vault's balance of every token.
    pub fn check_invariants(&self, ledger: &Ledger) -> Result<(), String> {
        let mut quote = self.pool_cash + self.insurance;
        for acc in &self.accounts {
            quote += acc.quote;
        }
        for auc in &self.auctions {
            if auc.bid.is_negative() || (!auc.active && !auc.bid.is_zero()) {
                return Err("an auction holds a negative bid, or a finished one a bid".into());
            }
            quote += auc.bid;
        }
        let held = ledger.balance(self.vault, TokenId::QUOTE);
        if quote != held {
            return Err(format!(
                "engine quote claims {} != vault balance {}",
                quote.raw(),
                held.raw()
            ));
        }
        for a in 0..self.n_assets {
            let mut total = self.pool_base[a];
            for acc in &self.accounts {
                if acc.collateral[a].is_negative() {
                    return Err(format!("negative collateral of asset {a}"));
                }
                total += acc.collateral[a];
            }
            for auc in &self.auctions {
                if auc.asset == a {
                    total += auc.lot;
                }
            }
            let held = ledger.balance(self.vault, TokenId(a as u16 + 1));
            if total != held {
                return Err(format!(
                    "engine asset {a} claims {} != vault balance {}",
                    total.raw(),
                    held.raw()
                ));
            }
        }
        if self.insurance.is_negative() {
            return Err("negative insurance fund".into());
        }
        let m = &self.metrics;
        let accounted =
            m.insurance_paid_for_debt() + m.socialized_loss + m.adl_loss + m.uncovered_bad_debt;
        if (accounted - m.bad_debt).abs() > 1e-6 * (1.0 + m.bad_debt) {
            return Err(format!(
                "bad debt {} != covered + socialized + adl + uncovered {}",
                m.bad_debt, accounted
            ));
        }
        Ok(())
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

impl EngineMetrics {
    /// Insurance payments toward bad debt (keeper rewards excluded).
    pub fn insurance_paid_for_debt(&self) -> f64 {
        self.insurance_for_debt
    }
}
