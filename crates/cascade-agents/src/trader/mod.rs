//! Leveraged traders: the accounts whose failures the engine must handle, deciding as
//! economic agents: every action is priced at the current gas (base fee plus tip) and, for a
//! trade, at the slippage of the current quotes.
//!
//! A trader without a position opens one at rate `open_per_hour` times a factor that falls
//! with the realized volatility and the drawdown it observes on the oracle (`watch.rs`), and
//! not at all for `reentry_cooldown_s` after being liquidated: either a borrowing position
//! (deposit collateral of the asset, borrow quote against it) or, with probability
//! `perp_share`, a perpetual (long with probability `long_prob`), and only when gas plus
//! slippage stay within `max_entry_cost` of the notional. Its leverage is drawn from a
//! mixture of uniform components (`dist.rs`; `[leverage_min, leverage_max]` is the one
//! component) and its notional is lognormal with mean `size_mean`. A borrower with leverage
//! `L` borrows `(1 - 1/L)` of its collateral's value; a perp trader posts `notional / L` of
//! margin, and its trades fill at the engine's `perp_trade_price` (the market's execution
//! price by default).
//!
//! Holding a position, in this order: a stop-loss (a personal distance from the entry
//! price, for a `stop_share` of traders) closes the position when the oracle crosses it; below
//! a personal deleveraging threshold the trader closes `delever_fraction` of a perp (or repays
//! that fraction of a loan) when the expected liquidation penalty it saves exceeds its gas,
//! slippage and fee (`risk.rs`); below `topup_threshold` it tops up `topup_fraction` of the
//! position value at rate `topup_per_hour` once `topup_delay_s` has passed, when the saving
//! exceeds the gas; otherwise it closes at rate `close_per_hour`.
//!
//! Random numbers: under the polled schedule the legacy stream `traders` gives six draws per
//! block, whatever the trader does, so one trader's choices never shift another's stream;
//! everything added since (the personal threshold and stop, the attention of deleveraging, the
//! leverage component) comes from the trader's own `trader_habits` stream. Under the event
//! schedule (`schedule`) the per-block trials are exponential clocks in time (open, close,
//! top-up, deleveraging attention) on the `trader_events` stream, which also gives an
//! opening's draws when its clock rings; a trader without a position and without a pending
//! transaction sleeps until its opening clock rings or its cooldown ends, its entry brake
//! thinning the opening clock. With `chain.holders_sleep`, a holder in which no condition
//! holds sleeps too (`nap`): until its close clock, and until its account is written, its
//! asset's maintenance ratio leaves a band, or the price leaves the band where its conditions
//! stay as they are (`wake_band`, from the engine's linear health form); so does a holder
//! below its top-up threshold, until its top-up clock can ring, and a trader with a
//! transaction pending, until it leaves the mempool (`Agent::wakes_when_settled`). The market
//! watch is shared by the traders of an asset and observed once per block by the World
//! (`View::watches`).

mod config;
pub mod dist;
mod nap;
use nap::ratio_band;
pub mod risk;
pub mod watch;

pub use config::{Habits, TraderConfig};
pub(crate) use config::{check_asset, check_leverage, check_position_habits, reject_legacy_habits};

use crate::config::{BuildCtx, WatchSpec};
use crate::schedule::{Clock, HolderWatch, Schedule, TRADER_EVENTS};
use crate::view::{View, gwei};
use crate::{Agent, Role, Submission};
use cascade_core::StreamSeed;
use cascade_core::rng::ParkedStream;
use cascade_core::tx::{EngineOp, GasKind};
use cascade_core::{AccountId, Action, AgentId, Amount, AssetId, HolderId, TokenId};
use cascade_engine::{HealthMemo, Memoized};
use dist::Leverage;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use risk::RiskCtx;
use std::sync::Arc;
use watch::entry_factor;

/// The stream of everything a trader draws beyond its six legacy draws per block.
pub const HABITS_STREAM: &str = "trader_habits";

/// A trader, kept small (a book may hold a million of them, most asleep): what its population
/// shares sits behind one `Arc`, optional figures are `f64` with NaN for "none", and what only
/// a position needs (`Holding`) is boxed and dropped when the trader is flat.
pub struct Trader {
    /// Its streams, parked between the blocks in which it acts under the event schedule
    /// (`ParkedStream`: 24 bytes each instead of a 304-byte generator, the run seed kept once
    /// in the population; the same draws).
    rng: ParkedStream,
    habits: ParkedStream,
    /// What its population shares: configuration, leverage mixture, asset, tip, watch.
    pop: Arc<Population>,
    /// Its position's state, from the opening it sends until it is flat again.
    holding: Option<Box<Holding>>,
    /// Under the event schedule, its clocks (stopped, never consulted, when polled).
    clocks: Clocks,
    /// Under the event schedule, when it sleeps until (set by `act`); NaN: awake.
    wake: f64,
    /// Personal deleveraging threshold (maintenance health over exposure).
    delever_at: f64,
    /// Personal stop distance (a fraction of the entry price); NaN if the trader uses no stop.
    stop: f64,
    /// No opening before this time (after a liquidation).
    cooldown_until: f64,
    holder: HolderId,
    /// Its number among the traders (its label is `trader-{index}`, made when asked).
    index: u32,
    /// Which clocks this block consulted (`OPEN | CLOSE | TOPUP | DELEVER`): the others stop.
    used: u8,
    /// It held a live position at its last look.
    had_position: bool,
    /// It sent a full close since it last saw its position live.
    closing: bool,
    /// That close was its stop-loss.
    stopped: bool,
    /// It sleeps until its pending transaction leaves the mempool (with `holder_naps`).
    awaits: bool,
}

/// What the traders of one population share.
struct Population {
    /// The run seed of its members' streams.
    seed: StreamSeed,
    cfg: TraderConfig,
    leverage: Leverage,
    tip: u128,
    asset: AssetId,
    /// Its market watch (index into `View::watches`).
    watch: usize,
    /// Under the event schedule (the traders' clocks run).
    event: bool,
    /// Under the event schedule, traders sleep while holding a position (`chain.holders_sleep`).
    holder_naps: bool,
}

/// A trader's state while it holds (or opens) a position (NaN: none).
#[derive(Debug, Clone, Copy)]
struct Holding {
    /// Its account's health as last computed (recomputed only when the account, the prices
    /// or the margin ratios change; a cache: dropping it changes no answer).
    memo: HealthMemo,
    /// Oracle price and side (long) of the position it opened.
    entry_price: f64,
    long: bool,
    /// Time (s) at which the trader first saw its health below the top-up threshold.
    low_since: f64,
    /// While it sleeps holding a position: its account, the price band, the funding-index
    /// band and the maintenance ratio `nap_r0` its ratio band is centred on and its
    /// half-width `nap_dr` (`ratio_band`; NaN: ratios that never move) outside which it
    /// wakes, besides its time (set by `act`; `nap_lo` NaN: none), and whether it sleeps below
    /// its top-up threshold (`nap_low`).
    nap_account: u32,
    nap_low: bool,
    nap_lo: f64,
    nap_hi: f64,
    nap_f_lo: f64,
    nap_f_hi: f64,
    nap_r0: f64,
    nap_dr: f64,
}

impl Default for Holding {
    fn default() -> Holding {
        Holding {
            memo: HealthMemo::default(),
            entry_price: f64::NAN,
            long: false,
            low_since: f64::NAN,
            nap_account: 0,
            nap_low: false,
            nap_lo: f64::NAN,
            nap_hi: f64::NAN,
            nap_f_lo: f64::NAN,
            nap_f_hi: f64::NAN,
            nap_r0: f64::NAN,
            nap_dr: f64::NAN,
        }
    }
}

impl Holding {
    /// What wakes it besides its time while it naps (asset `asset`, its population's).
    fn nap(&self, asset: AssetId) -> Option<HolderWatch> {
        let (r_lo, r_hi) = ratio_band(self.nap_r0, self.nap_dr, self.nap_low);
        (!self.nap_lo.is_nan()).then_some(HolderWatch {
            account: AccountId(self.nap_account),
            asset,
            lo: self.nap_lo,
            hi: self.nap_hi,
            f_lo: self.nap_f_lo,
            f_hi: self.nap_f_hi,
            r_lo,
            r_hi,
        })
    }
}

/// A trader's clocks under the event schedule; a clock not consulted in a block stops (a
/// clock must be consulted in every block in which it may ring).
#[derive(Debug, Clone, Copy, Default)]
struct Clocks {
    open: Clock,
    close: Clock,
    topup: Clock,
    delever: Clock,
}

const OPEN: u8 = 1;
const CLOSE: u8 = 2;
const TOPUP: u8 = 4;
const DELEVER: u8 = 8;

impl Clocks {
    fn stop_unused(&mut self, used: u8) {
        for (bit, c) in [
            (OPEN, &mut self.open),
            (CLOSE, &mut self.close),
            (TOPUP, &mut self.topup),
            (DELEVER, &mut self.delever),
        ] {
            if used & bit == 0 {
                c.stop();
            }
        }
    }
}

/// `Some(x)` unless `x` is NaN (the sentinel of the trader's optional figures).
fn some(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

/// This block's chances: the polled schedule's fixed draws, or the event schedule's clocks.
#[derive(Debug, Clone, Copy)]
enum Draws {
    Polled {
        /// Opening: whether, kind, side, leverage.
        u: [f64; 4],
        z: f64,
        u_act: f64,
        u_attn: f64,
    },
    Event,
}
impl Trader {
    pub fn build(cfg: &TraderConfig, ctx: &mut BuildCtx<'_>) -> Vec<Box<dyn Agent>> {
        let asset = cfg
            .asset
            .as_ref()
            .and_then(|n| ctx.asset_id(n))
            .unwrap_or(AssetId(0));
        let event = ctx.schedule == Schedule::Event;
        let stream = if event {
            TRADER_EVENTS
        } else {
            cascade_core::rng::streams::TRADERS
        };
        let watch = ctx.watch(WatchSpec {
            asset,
            half_life_s: cfg.vol_half_life_s,
            window_s: cfg.drawdown_window_s,
        });
        let pop = Arc::new(Population {
            seed: ctx.seed,
            cfg: cfg.clone(),
            leverage: Leverage::new(cfg.leverage_components()),
            tip: gwei(cfg.tip_gwei),
            asset,
            watch,
            event,
            holder_naps: event && ctx.holders_sleep,
        });
        (0..cfg.count)
            .map(|_| {
                let (i, rng) = ctx.next_parked(stream);
                let (_, mut habits) = ctx.next_parked(HABITS_STREAM);
                let h = habits.live(&pop.seed);
                let holder =
                    ctx.wallet(&format!("trader-{i}"), cfg.capital, cfg.inventory, &[asset]);
                let u_del: f64 = h.random();
                let u_has_stop: f64 = h.random();
                let u_stop: f64 = h.random();
                habits.park();
                Box::new(Trader {
                    rng,
                    habits,
                    pop: pop.clone(),
                    holding: None,
                    clocks: Clocks::default(),
                    wake: f64::NAN,
                    delever_at: cfg.delever_threshold.at(u_del),
                    stop: if u_has_stop < cfg.stop_share {
                        cfg.stop_distance.at(u_stop)
                    } else {
                        f64::NAN
                    },
                    cooldown_until: f64::NEG_INFINITY,
                    holder,
                    index: i,
                    used: 0,
                    had_position: false,
                    closing: false,
                    stopped: false,
                    awaits: false,
                }) as Box<dyn Agent>
            })
            .collect()
    }

    fn submit(&self, view: &View<'_>, op: EngineOp, out: &mut Vec<Submission>) {
        out.push(Submission::Tx(view.request(
            Action::Engine(op),
            self.pop.tip,
            None,
            false,
        )));
    }

    /// The slippage of a flow of `signed_base` whole units against `p_ref` at the current
    /// quotes (0 where trades do not fill at the market).
    fn slippage(&self, view: &View<'_>, signed_base: f64) -> f64 {
        let a = self.pop.asset.index();
        let at_market = view.engine.is_some_and(|e| {
            e.config().perp_trade_price == cascade_engine::config::PerpTradePrice::Market
        });
        match view.prices {
            Some(pm) if at_market && signed_base != 0.0 => {
                signed_base * (pm.quote_flow(a, signed_base) - view.p_ref[a])
            }
            _ => 0.0,
        }
    }

    /// The risk context of a decision now.
    fn risk(&self, view: &View<'_>) -> RiskCtx {
        RiskCtx {
            penalty: view.engine.map_or(0.0, |e| e.mechanism().penalty()),
            sigma: view.watches[self.pop.watch].rv().max(self.pop.cfg.vol_ref),
            horizon_s: self.pop.cfg.risk_horizon_s,
        }
    }

    /// Without a position: the cooldown, the entry rate, the draw of the position.
    fn economic(&self) -> bool {
        self.pop.cfg.habits == Habits::Economic
    }

    /// The time of a clock's next event under the event schedule (`None` when polled).
    fn clock_next(&self, c: Clock) -> Option<f64> {
        if self.pop.event { c.next() } else { None }
    }

    /// Entry price and side of the position it opened, if any.
    fn entry(&self) -> Option<(f64, bool)> {
        self.holding
            .as_ref()
            .and_then(|h| some(h.entry_price).map(|p| (p, h.long)))
    }

    /// Its holding state, made when first needed.
    fn holding_mut(&mut self) -> &mut Holding {
        self.holding.get_or_insert_default()
    }

    /// Whether the clock `bit` (rate `rate`, events kept with probability `keep`) rings this
    /// block: the polled draw `u` against the block's chance, or the event clock.
    fn rings(&mut self, bit: u8, u: f64, rate: f64, keep: f64, view: &View<'_>) -> bool {
        if !self.pop.event {
            return u < view.chance(rate * keep);
        }
        self.used |= bit;
        let c = &mut self.clocks;
        let clock = match bit {
            OPEN => &mut c.open,
            CLOSE => &mut c.close,
            TOPUP => &mut c.topup,
            _ => &mut c.delever,
        };
        // A clock that cannot ring draws nothing: its stream stays parked (reviving it costs
        // more than the rest of a woken holder's visit).
        if !clock.may_ring(view.t_s) {
            return false;
        }
        clock.rings_thinned(
            self.rng.live(&self.pop.seed),
            rate,
            keep,
            view.t_s,
            view.dt_s,
        )
    }

    fn consider_opening(&mut self, view: &View<'_>, p: f64, d: Draws, out: &mut Vec<Submission>) {
        if self.economic() && self.had_position && (!self.closing || self.stopped) {
            // The position went without our close (it was liquidated) or through our stop:
            // a forced exit in a falling market; wait before re-entering.
            self.cooldown_until = view.t_s + self.pop.cfg.reentry_cooldown_s;
        }
        self.had_position = false;
        self.closing = false;
        self.stopped = false;
        // Flat: no entry, no low health, no nap; the memo is a cache. Its holding goes.
        self.holding = None;
        if view.t_s < self.cooldown_until {
            self.wake = self.cooldown_until;
            return;
        }
        let watch = &view.watches[self.pop.watch];
        let factor = if self.economic() {
            entry_factor(
                watch.rv(),
                watch.drawdown(),
                self.pop.cfg.vol_ref,
                self.pop.cfg.entry_vol_k,
                self.pop.cfg.entry_drawdown_k,
            )
        } else {
            1.0
        };
        let u_open = match d {
            Draws::Polled { u, .. } => u[0],
            Draws::Event => 0.0,
        };
        let opens = self.rings(OPEN, u_open, self.pop.cfg.open_per_hour, factor, view);
        self.wake = self.clock_next(self.clocks.open).unwrap_or(f64::NAN);
        if !opens {
            return;
        }
        let ([_, u_kind, u_side, u_lev], z) = match d {
            Draws::Polled { u, z, .. } => (u, z),
            Draws::Event => {
                let r = self.rng.live(&self.pop.seed);
                let u = [0.0, r.random(), r.random(), r.random()];
                (u, StandardNormal.sample(r))
            }
        };
        let s = self.pop.cfg.size_sigma;
        let notional = self.pop.cfg.size_mean * (s * z - 0.5 * s * s).exp();
        let k = if self.pop.leverage.is_mixture() {
            self.pop
                .leverage
                .component(self.habits.live(&self.pop.seed).random())
        } else {
            0
        };
        let lev = self.pop.leverage.sample(k, u_lev);
        let fee = view.fee_estimate(GasKind::Open, self.pop.tip);
        let quote = view.balance(self.holder, TokenId::QUOTE) - fee;
        let (op, long, slippage) = if u_kind < self.pop.cfg.perp_share {
            let margin = Amount::from_whole(notional / lev).min(quote);
            if !margin.is_positive() {
                return;
            }
            let base = Amount::from_whole(margin.to_whole() * lev / p);
            let long = u_side < self.pop.cfg.long_prob;
            let size = if long { base } else { -base };
            let slip = self.slippage(view, size.to_whole());
            let op = EngineOp::PerpOpen {
                asset: self.pop.asset,
                size,
                margin,
            };
            (op, long, slip)
        } else {
            let have = view.balance(self.holder, self.pop.asset.token());
            let collateral = Amount::from_whole(notional / p).min(have);
            if !collateral.is_positive() || quote.is_negative() {
                return;
            }
            let borrow = collateral.value_floor(p).scale_floor(1.0 - 1.0 / lev);
            let op = EngineOp::Borrow {
                asset: self.pop.asset,
                collateral,
                borrow,
            };
            (op, true, 0.0)
        };
        if self.economic() && fee.to_whole() + slippage > self.pop.cfg.max_entry_cost * notional {
            return;
        }
        let h = self.holding_mut();
        h.entry_price = p;
        h.long = long;
        self.submit(view, op, out);
    }

    /// Holding a position: stop, deleverage, top up, close.
    #[allow(clippy::too_many_arguments)]
    fn manage(
        &mut self,
        view: &View<'_>,
        id: AccountId,
        m: Memoized,
        p: f64,
        d: Draws,
        out: &mut Vec<Submission>,
    ) {
        let (u_act, u_attn) = match d {
            Draws::Polled { u_act, u_attn, .. } => (u_act, u_attn),
            Draws::Event => (0.0, 0.0),
        };
        self.had_position = true;
        self.closing = false;
        self.stopped = false;
        let Some(engine) = view.engine else { return };
        let Some(acc) = engine.account(id) else {
            return;
        };
        let a = self.pop.asset.index();
        let perp = acc.perps[a].size;
        let h = m.health;
        let value = m.exposure.max(1e-9);
        let close_fee = view.fee_estimate(GasKind::Close, self.pop.tip);
        let holder = self.holder;
        let can_close = |debt: Amount| view.balance(holder, TokenId::QUOTE) - close_fee >= debt;
        let economic = self.economic();
        // A stop-loss: a standing order, it closes on crossing whatever it costs.
        let mut crossed = false;
        if let (true, Some(stop), Some((entry, long))) = (economic, some(self.stop), self.entry()) {
            crossed = if long {
                p <= entry * (1.0 - stop)
            } else {
                p >= entry * (1.0 + stop)
            };
            if crossed
                && h.equity > self.slippage(view, -perp.to_whole()).max(0.0)
                && can_close(acc.debt)
            {
                self.closing = true;
                self.stopped = true;
                self.submit(view, EngineOp::Close { account: id }, out);
                return;
            }
        }
        let risk = self.risk(view);
        let delevers = economic && self.pop.cfg.delever_fraction > 0.0;
        let low = delevers && h.maintenance < self.delever_at * value;
        if low
            && self.rings(DELEVER, u_attn, self.pop.cfg.delever_per_hour, 1.0, view)
            && let Some(op) = self.delever(view, id, m, perp, acc.debt, &risk)
        {
            self.submit(view, op, out);
            return;
        }
        if h.maintenance < self.pop.cfg.topup_threshold * value {
            let hold = self.holding_mut();
            if hold.low_since.is_nan() {
                hold.low_since = view.t_s;
            }
            // The first time its top-up may be sent.
            let ready = hold.low_since + self.pop.cfg.topup_delay_s;
            if view.t_s >= ready && self.rings(TOPUP, u_act, self.pop.cfg.topup_per_hour, 1.0, view)
            {
                // Top up with quote (perps, or borrowers who kept the loan), when the penalty
                // it is expected to avert is worth more than its gas.
                let fee = view.fee_estimate(GasKind::Deposit, self.pop.tip);
                let amount = Amount::from_whole(self.pop.cfg.topup_fraction * value)
                    .min(view.balance(self.holder, TokenId::QUOTE) - fee);
                if amount.is_positive()
                    && (!economic
                        || risk.topup_saving(h.maintenance, value, amount.to_whole())
                            > fee.to_whole())
                {
                    self.holding_mut().low_since = f64::NAN;
                    let op = EngineOp::Deposit {
                        account: id,
                        token: TokenId::QUOTE,
                        amount,
                    };
                    self.submit(view, op, out);
                    return;
                }
            }
            if self.pop.holder_naps && !crossed && !low {
                // Below the top-up threshold, nothing sent: sleep until the top-up clock can
                // ring (its delay, then its next event) or the price leaves the band where
                // the threshold stays crossed and no other condition holds.
                let wake = if view.t_s < ready {
                    Some(ready)
                } else {
                    self.clock_next(self.clocks.topup)
                };
                if let Some(wake) = wake {
                    self.nap(view, id, p, delevers, wake, true);
                }
            }
            return;
        }
        self.holding_mut().low_since = f64::NAN;
        if self.rings(CLOSE, u_act, self.pop.cfg.close_per_hour, 1.0, view)
            && h.equity > 0.0
            && can_close(acc.debt)
        {
            self.closing = true;
            self.submit(view, EngineOp::Close { account: id }, out);
            return;
        }
        if self.pop.holder_naps && !crossed && !low {
            let close = self.clock_next(self.clocks.close).unwrap_or(view.t_s);
            self.nap(view, id, p, delevers, close, false);
        }
    }

    /// A deleverage worth its cost, if any: a perp reduced by `delever_fraction` at the
    /// market (gas, slippage and fee against the penalty it saves), or that fraction of a loan
    /// repaid from the wallet (a quote deposit, which the health counts against the debt one
    /// for one; no trade, so gas only).
    fn delever(
        &self,
        view: &View<'_>,
        id: AccountId,
        m: Memoized,
        perp: Amount,
        debt: Amount,
        risk: &RiskCtx,
    ) -> Option<EngineOp> {
        let f = self.pop.cfg.delever_fraction;
        let h = m.health;
        let value = m.exposure.max(1e-9);
        if !perp.is_zero() {
            let cut = -perp.scale_floor(f);
            if cut.is_zero() {
                return None;
            }
            let gas = view.fee_estimate(GasKind::Open, self.pop.tip).to_whole();
            let engine = view.engine?;
            let p = engine.prices()[self.pop.asset.index()];
            let fee = cut.abs().to_whole() * p * engine.config().perp_fee;
            let slip = self.slippage(view, cut.to_whole()).max(0.0);
            let saving = risk.reduce_saving(h.maintenance, h.equity, value, f, slip + fee);
            return (saving > gas + slip + fee).then_some(EngineOp::PerpOpen {
                asset: self.pop.asset,
                size: cut,
                margin: Amount::ZERO,
            });
        }
        if debt.is_positive() {
            let gas = view.fee_estimate(GasKind::Deposit, self.pop.tip);
            let amount = debt
                .scale_floor(f)
                .min(view.balance(self.holder, TokenId::QUOTE) - gas);
            if amount.is_positive()
                && risk.topup_saving(h.maintenance, value, amount.to_whole()) > gas.to_whole()
            {
                return Some(EngineOp::Deposit {
                    account: id,
                    token: TokenId::QUOTE,
                    amount,
                });
            }
        }
        None
    }
}

impl Agent for Trader {
    fn role(&self) -> Role {
        Role::Trader
    }
    fn holder(&self) -> HolderId {
        self.holder
    }
    fn label(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Owned(format!("trader-{}", self.index))
    }

    fn next_wake(&self) -> Option<f64> {
        if self.pop.event {
            some(self.wake)
        } else {
            None
        }
    }

    fn holder_watch(&self) -> Option<HolderWatch> {
        some(self.wake).and(self.holding.as_ref().and_then(|h| h.nap(self.pop.asset)))
    }

    fn wakes_when_settled(&self) -> bool {
        self.awaits
    }

    fn prefetch(&self, engine: Option<&cascade_engine::Engine>) {
        if let Some(h) = self.holding.as_deref() {
            cascade_core::prefetch::prefetch(h);
        }
        if let Some(acc) =
            engine.and_then(|e| e.account_of(self.holder).and_then(|id| e.account(id)))
        {
            cascade_core::prefetch::prefetch(acc);
        }
    }

    fn act(&mut self, view: &View<'_>, me: AgentId, out: &mut Vec<Submission>) {
        self.wake = f64::NAN;
        self.awaits = false;
        if let Some(h) = self.holding.as_mut() {
            h.nap_lo = f64::NAN;
        }
        let d = match self.pop.event {
            true => {
                self.used = 0;
                Draws::Event
            }
            false => {
                let r = self.rng.live(&self.pop.seed);
                let u_open: f64 = r.random();
                let u_kind: f64 = r.random();
                let u_side: f64 = r.random();
                let u_lev: f64 = r.random();
                let u_act: f64 = r.random();
                let z: f64 = StandardNormal.sample(r);
                let u_attn: f64 = self.habits.live(&self.pop.seed).random();
                Draws::Polled {
                    u: [u_open, u_kind, u_side, u_lev],
                    z,
                    u_act,
                    u_attn,
                }
            }
        };
        let n0 = out.len();
        self.decide(view, me, d, out);
        if out.len() > n0 {
            // Awake until it sees what became of its transaction.
            self.wake = f64::NAN;
        }
        if self.pop.event {
            self.clocks.stop_unused(self.used);
            // Asleep until its next event: keep the streams' positions only. (Awake, or
            // polled, it may draw next block, and its generators stay live.)
            if !self.wake.is_nan() {
                self.rng.park();
                self.habits.park();
            }
        }
    }
}

impl Trader {
    /// One block's decision, after the draws (the watch is the World's, observed already).
    fn decide(&mut self, view: &View<'_>, me: AgentId, d: Draws, out: &mut Vec<Submission>) {
        let Some(engine) = view.engine else { return };
        let a = self.pop.asset.index();
        let p = view.oracle[a];
        if p.is_nan() || p <= 0.0 {
            return;
        }
        if view.has_pending(me) {
            // Nothing to decide until it leaves the mempool: with sleeping holders, sleep
            // until then (the World wakes it in the block after), its clocks stopped as they
            // would be by a visit in every block.
            if self.pop.holder_naps {
                self.wake = f64::INFINITY;
                self.awaits = true;
            }
            return;
        }
        // The memo answers without touching the account when nothing changed.
        // A flat trader has no holding and computes into a memo of its own (a cache either
        // way); a live position gets its holding, memo included.
        let account = engine.account_of(self.holder).and_then(|id| {
            let m = match self.holding.as_mut() {
                Some(h) => engine.health_memo(id, &mut h.memo),
                None => {
                    let mut memo = HealthMemo::default();
                    let m = engine.health_memo(id, &mut memo);
                    if m.is_some_and(|m| m.live) {
                        self.holding = Some(Box::new(Holding {
                            memo,
                            ..Holding::default()
                        }));
                    }
                    m
                }
            };
            m.filter(|m| m.live).map(|m| (id, m))
        });
        match account {
            None => self.consider_opening(view, p, d, out),
            Some((id, m)) => self.manage(view, id, m, p, d, out),
        }
    }
}

#[cfg(test)]
mod tests;
