//! Cross-chain collateral (`engine.cross_chain`): borrowers' collateral sits on a second chain
//! (its own block time, gas market and oracle) and the home engine, where the debt lives, can
//! liquidate it only through bridge messages. It exists so that what a bridge adds to a
//! liquidation (message latency, failed deliveries and their retries, rate limits on the
//! value that may cross, the remote chain's gas and oracle) is a mechanism whose cost shows
//! up as delay and bad debt, not an assumption.
//!
//! The model (docs/model.md, "Cross-chain collateral"), at the end of every home block, after
//! the engine's own check has flagged the liquidatable accounts (`Engine::end_block`):
//! 1. decision: every flagged account with collateral and debt and no remote liquidation in
//!    flight is planned by the engine's own fixed-bonus sizing at its oracle prices (repay
//!    `R`, seize `S`, fee `F`, pay `R + F`); the engine writes the plan at once (the account
//!    loses `S` and owes `R` less, counted as a liquidation from its first flag), the seized
//!    collateral leaves the vault for the bridge escrow, and a seize message is sent;
//! 2. remote chain: blocks at every multiple of `remote_block_time_s`; in each, the remote
//!    oracle observes the market price (push on a relative deviation or a heartbeat, visible
//!    `remote_oracle.latency_s` later), seize messages that have arrived are executed: the
//!    remote keeper buys `S` at the remote oracle less the same bonus (it pays
//!    `(R + F) * p_remote / p_decision * (1 - sale_discount)`), the remote gas of the seize and
//!    of the proceeds message is paid from the proceeds, and the proceeds leave through the
//!    rate limiter (a token bucket) as a proceeds message; the base fee follows EIP-1559;
//! 3. home landing: proceeds messages that have arrived land at the first home block end whose
//!    time reaches them: the pool receives up to `R`, then the fee, any surplus goes to the
//!    insurance fund, and a shortfall below `R` is bad debt through the waterfall
//!    (`bridge_bad_debt`).
//!
//! Messages: each attempt takes `latency_s` plus an exponential time of mean
//! `latency_jitter_s` and fails with probability `failure_prob`; a failed attempt is known at
//! its would-be arrival and retried `retry_delay_s` later, until delivered (nothing is lost).
//! Two uniforms per attempt from the `bridge` stream, drawn in send order.
//!
//! Exactness: with zero latency, no failures, no limits, no remote gas and the remote oracle
//! at the home oracle's price, a remote liquidation writes the account, the pool and the
//! insurance fund exactly as the same plan executed by a liquidator on the home chain (test
//! `remote_liquidation_matches_the_same_chain_plan`).

use crate::{Engine, LiqPlan};
use cascade_core::Check;
use cascade_core::clock::{check_delay, check_rate};
use cascade_core::{AccountId, Amount, HolderId, Ledger, SimRng, TokenId};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where borrowers' collateral lives (`engine.cross_chain`, tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CrossChainConfig {
    /// On the home chain, with the debt (every design before this one).
    #[default]
    Off,
    /// On a second chain, reached through bridge messages.
    Bridge(BridgeConfig),
}

/// The remote chain and the bridge (`engine.cross_chain = { kind = "bridge", ... }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// The remote chain's block time, seconds: a message is executed in the first remote
    /// block at or after its arrival.
    pub remote_block_time_s: f64,
    /// Fixed part of a message's one-way latency, seconds (finality wait and relaying).
    pub latency_s: f64,
    /// Mean of the exponential extra latency of each attempt, seconds (0: none).
    #[serde(default)]
    pub latency_jitter_s: f64,
    /// Probability that one delivery attempt fails (retried, never lost).
    #[serde(default)]
    pub failure_prob: f64,
    /// Seconds from a failed attempt's would-be arrival to its retry.
    #[serde(default)]
    pub retry_delay_s: f64,
    /// Rate limiter on the proceeds crossing back: bucket capacity, quote (absent: no
    /// limit). A message larger than the capacity waits for a full bucket and empties it.
    #[serde(default)]
    pub rate_limit_capacity: Option<f64>,
    /// The bucket's refill, quote per hour (required with a capacity).
    #[serde(default)]
    pub rate_limit_refill_per_hour: f64,
    /// The remote chain's initial base fee, gwei.
    #[serde(default)]
    pub remote_base_fee_gwei: f64,
    /// Gas target of a remote block (EIP-1559), gas units.
    #[serde(default = "d_gas_target")]
    pub remote_gas_target: f64,
    /// Background gas used per remote block over the target (1: the base fee only moves
    /// with the bridge's own messages), in [0, 2].
    #[serde(default = "d_one")]
    pub remote_utilization: f64,
    /// Remote gas of one message's execution (the seize and sale, or the proceeds send).
    #[serde(default)]
    pub gas_per_message: f64,
    /// The remote keeper's discount beyond the liquidation bonus, in [0, 1).
    #[serde(default)]
    pub sale_discount: f64,
    /// Quote the remote keepers hold (minted at genesis), the most the remote side can pay.
    #[serde(default = "d_liquidity")]
    pub remote_market_liquidity: f64,
    /// The remote chain's price feed.
    #[serde(default)]
    pub remote_oracle: RemoteOracle,
}

/// A push feed on the remote chain (its own rule, not the home oracle's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteOracle {
    /// Publish when the price has moved this fraction from the last publication.
    #[serde(default)]
    pub deviation: f64,
    /// Publish at least every this many seconds (0: every remote block).
    #[serde(default)]
    pub heartbeat_s: f64,
    /// Seconds from an observation to its publication being readable on the remote chain.
    #[serde(default)]
    pub latency_s: f64,
}

impl Default for RemoteOracle {
    fn default() -> Self {
        RemoteOracle {
            deviation: 0.0,
            heartbeat_s: 0.0,
            latency_s: 0.0,
        }
    }
}

fn d_gas_target() -> f64 {
    15_000_000.0
}
fn d_one() -> f64 {
    1.0
}
fn d_liquidity() -> f64 {
    1e9
}

impl CrossChainConfig {
    pub fn is_off(&self) -> bool {
        matches!(self, CrossChainConfig::Off)
    }

    /// Record every broken rule (under `engine.cross_chain`).
    pub fn validate(&self, c: &mut Check) {
        let CrossChainConfig::Bridge(b) = self else {
            return;
        };
        c.positive("remote_block_time_s", b.remote_block_time_s);
        check_delay(c, "latency_s", b.latency_s);
        check_delay(c, "latency_jitter_s", b.latency_jitter_s);
        c.range_open_hi("failure_prob", b.failure_prob, 0.0, 1.0);
        check_delay(c, "retry_delay_s", b.retry_delay_s);
        if let Some(cap) = b.rate_limit_capacity {
            c.positive("rate_limit_capacity", cap);
            check_rate(
                c,
                "rate_limit_refill_per_hour",
                b.rate_limit_refill_per_hour,
            );
            if b.rate_limit_refill_per_hour.is_nan() || b.rate_limit_refill_per_hour <= 0.0 {
                c.fail(
                    "rate_limit_refill_per_hour",
                    "must be > 0 quote per hour when rate_limit_capacity is set (a bucket that never refills would strand the proceeds)",
                );
            }
        }
        c.non_negative("remote_base_fee_gwei", b.remote_base_fee_gwei);
        c.positive("remote_gas_target", b.remote_gas_target);
        c.range("remote_utilization", b.remote_utilization, 0.0, 2.0);
        c.non_negative("gas_per_message", b.gas_per_message);
        c.range_open_hi("sale_discount", b.sale_discount, 0.0, 1.0);
        c.positive("remote_market_liquidity", b.remote_market_liquidity);
        let mut o = c.at("remote_oracle");
        o.range_open_hi("deviation", b.remote_oracle.deviation, 0.0, 1.0);
        check_delay(&mut o, "heartbeat_s", b.remote_oracle.heartbeat_s);
        check_delay(&mut o, "latency_s", b.remote_oracle.latency_s);
    }
}

/// A seize message on its way to the remote chain.
#[derive(Debug, Clone, PartialEq)]
struct Seize {
    seq: u64,
    account: AccountId,
    asset: usize,
    seize: Amount,
    repay: Amount,
    fee: Amount,
    /// The home oracle price the plan was made at.
    p_decision: f64,
    decided_t: f64,
    arrive_t: f64,
}

/// Proceeds on their way home.
#[derive(Debug, Clone, PartialEq)]
struct Proceeds {
    seq: u64,
    account: AccountId,
    repay: Amount,
    fee: Amount,
    net: Amount,
    decided_t: f64,
    arrive_t: f64,
}

/// One asset's remote feed: the readable price and publications not yet readable.
#[derive(Debug, Clone, PartialEq)]
struct Feed {
    readable: f64,
    last_pub: f64,
    last_pub_t: f64,
    pending: Vec<(f64, f64)>,
}

/// The cross-chain metrics (docs/model.md, "Metrics table"); zero when off.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BridgeMetrics {
    /// Sum and count of the seconds from a remote liquidation's decision to the landing of
    /// its proceeds.
    pub delay_s_sum: f64,
    pub delay_count: u64,
    /// Shortfalls of landed proceeds below the debt they repay, quote.
    pub bad_debt: f64,
    /// Delivery attempts that failed (and were retried).
    pub messages_failed: u64,
    /// Remote gas paid from the proceeds, quote.
    pub fees: f64,
}

impl BridgeMetrics {
    /// The mean remote-liquidation delay, 0 without a landed liquidation.
    pub fn delay_s_mean(&self) -> f64 {
        if self.delay_count > 0 {
            self.delay_s_sum / self.delay_count as f64
        } else {
            0.0
        }
    }
}

/// The bridge and the remote chain of one run.
#[derive(Debug, Clone)]
pub struct Bridge {
    cfg: BridgeConfig,
    /// Tokens in flight: seized collateral before its sale, proceeds before their landing.
    escrow: HolderId,
    /// The remote keepers who buy seized collateral.
    market: HolderId,
    /// Whoever is paid the remote gas (the remote chain's validators).
    relayer: HolderId,
    rng: SimRng,
    /// Index of the next remote block to run.
    next_block: u64,
    base_fee_gwei: f64,
    feeds: Vec<Feed>,
    /// The market prices of the previous home block (what remote blocks before this home
    /// block's time see).
    prev_p: Vec<f64>,
    bucket: f64,
    bucket_t: f64,
    seq: u64,
    seizes: Vec<Seize>,
    proceeds: Vec<Proceeds>,
    /// Accounts with a remote liquidation in flight (decided, proceeds not landed).
    pending: BTreeSet<AccountId>,
    metrics: BridgeMetrics,
}

impl Bridge {
    /// The bridge of `cfg` (`None` when off): registers its holders on `ledger` (before it is
    /// sealed) and mints the remote keepers' quote. `prices` start the remote feeds.
    pub fn new(
        cfg: &CrossChainConfig,
        ledger: &mut Ledger,
        prices: &[f64],
    ) -> Result<Option<Box<Bridge>>, String> {
        let CrossChainConfig::Bridge(b) = cfg else {
            return Ok(None);
        };
        let escrow = ledger.add_holder("bridge:escrow");
        let market = ledger.add_holder("bridge:remote_keepers");
        let relayer = ledger.add_holder("bridge:remote_gas");
        ledger
            .mint_genesis(
                market,
                TokenId::QUOTE,
                Amount::from_whole(b.remote_market_liquidity),
            )
            .map_err(|e| e.to_string())?;
        Ok(Some(Box::new(Bridge {
            cfg: b.clone(),
            escrow,
            market,
            relayer,
            rng: {
                use rand::SeedableRng;
                SimRng::seed_from_u64(0)
            },
            next_block: 0,
            base_fee_gwei: b.remote_base_fee_gwei,
            feeds: prices
                .iter()
                .map(|&p| Feed {
                    readable: p,
                    last_pub: p,
                    last_pub_t: 0.0,
                    pending: Vec::new(),
                })
                .collect(),
            prev_p: prices.to_vec(),
            bucket: b.rate_limit_capacity.unwrap_or(0.0),
            bucket_t: 0.0,
            seq: 0,
            seizes: Vec::new(),
            proceeds: Vec::new(),
            pending: BTreeSet::new(),
            metrics: BridgeMetrics::default(),
        })))
    }

    pub fn metrics(&self) -> BridgeMetrics {
        self.metrics
    }

    /// The escrow holder (tokens in flight).
    pub fn escrow(&self) -> HolderId {
        self.escrow
    }

    /// The arrival time of a message sent at `t0`: attempts until one is delivered, two
    /// uniforms each (failure, jitter).
    fn deliver(&mut self, t0: f64) -> f64 {
        let mut t = t0;
        loop {
            let fail: f64 = self.rng.random();
            let jit: f64 = self.rng.random();
            let arrive = t + self.cfg.latency_s - self.cfg.latency_jitter_s * (-jit).ln_1p();
            if fail >= self.cfg.failure_prob {
                return arrive;
            }
            self.metrics.messages_failed += 1;
            t = arrive + self.cfg.retry_delay_s;
        }
    }

    /// When a proceeds message of `value` quote ready at `t` may leave (first in, first out
    /// through the token bucket), and the bucket after it.
    fn rate_limit(&mut self, t: f64, value: f64) -> f64 {
        let Some(cap) = self.cfg.rate_limit_capacity else {
            return t;
        };
        let rate = self.cfg.rate_limit_refill_per_hour / 3600.0;
        let need = value.min(cap);
        let start = t.max(self.bucket_t);
        let avail = (self.bucket + rate * (start - self.bucket_t)).min(cap);
        let send = if avail >= need {
            start
        } else {
            start + (need - avail) / rate
        };
        let at_send = (avail + rate * (send - start)).min(cap);
        self.bucket = at_send - need;
        self.bucket_t = send;
        send
    }

    /// The remote feeds observe `p_ref` at remote block time `tau`.
    fn observe(&mut self, tau: f64, p_ref: &[f64]) {
        let o = self.cfg.remote_oracle;
        for (f, &p) in self.feeds.iter_mut().zip(p_ref) {
            let moved = (p - f.last_pub).abs() > o.deviation * f.last_pub;
            if moved || tau - f.last_pub_t >= o.heartbeat_s {
                f.last_pub = p;
                f.last_pub_t = tau;
                f.pending.push((tau + o.latency_s, p));
            }
            // Publications become readable in order.
            let mut keep = Vec::new();
            for &(at, px) in &f.pending {
                if at <= tau {
                    f.readable = px;
                } else {
                    keep.push((at, px));
                }
            }
            f.pending = keep;
        }
    }
}

/// The order messages are handled in: arrival time, then send order.
fn by_arrival<T>(v: &mut [T], key: impl Fn(&T) -> (f64, u64)) {
    v.sort_by(|a, b| {
        let (ta, sa) = key(a);
        let (tb, sb) = key(b);
        ta.total_cmp(&tb).then(sa.cmp(&sb))
    });
}

impl Engine {
    /// Whether account `id`'s liquidation must go through the bridge (its collateral is
    /// remote): public liquidations of it revert.
    pub(crate) fn collateral_is_remote(&self, id: AccountId) -> bool {
        self.bridge.is_some()
            && self.accounts.get(id.index()).is_some_and(|a| {
                a.debt.is_positive() && a.collateral.iter().any(|c| c.is_positive())
            })
    }

    /// Steps 1-3 of the module doc at the end of the home block (after `end_block`).
    /// `p_ref` is the market price of every asset (what the remote chain trades at, and what
    /// liquidated notional is valued at); `native_price` prices remote gas in quote (0
    /// without a native asset). Nothing when off.
    pub fn bridge_block_end(&mut self, ledger: &mut Ledger, p_ref: &[f64], native_price: f64) {
        let Some(mut br) = self.bridge.take() else {
            return;
        };
        let t = self.t_s;
        // 1. Decisions, in account order.
        let ids: Vec<AccountId> = self.flagged.keys().copied().collect();
        for id in ids {
            if br.pending.contains(&id) {
                continue;
            }
            let Ok(plan) = self.plan_at_bonus(id, &self.prices, self.bonus()) else {
                continue;
            };
            let (Some(a), true) = (plan.asset, plan.seize.is_positive()) else {
                continue;
            };
            if ledger
                .transfer(self.vault, br.escrow, TokenId(a as u16 + 1), plan.seize)
                .is_err()
            {
                continue;
            }
            self.decide_remote(id, a, &plan, p_ref, br.escrow);
            let arrive_t = br.deliver(t);
            br.seq += 1;
            br.seizes.push(Seize {
                seq: br.seq,
                account: id,
                asset: a,
                seize: plan.seize,
                repay: plan.repay,
                fee: plan.fee,
                p_decision: self.prices[a],
                decided_t: t,
                arrive_t,
            });
            br.pending.insert(id);
        }
        // 2. The remote blocks up to now.
        let rb = br.cfg.remote_block_time_s;
        loop {
            let tau = br.next_block as f64 * rb;
            if tau > t {
                break;
            }
            br.next_block += 1;
            // A remote block before this home block's time sees the previous market price.
            let seen = if tau < t {
                br.prev_p.clone()
            } else {
                p_ref.to_vec()
            };
            br.observe(tau, &seen);
            let mut due: Vec<Seize> = Vec::new();
            br.seizes.retain(|s| {
                if s.arrive_t <= tau {
                    due.push(s.clone());
                    false
                } else {
                    true
                }
            });
            by_arrival(&mut due, |s| (s.arrive_t, s.seq));
            let mut gas_used = 0.0;
            for s in due {
                let p_r = br.feeds[s.asset].readable;
                let ratio = p_r / s.p_decision * (1.0 - br.cfg.sale_discount);
                let pay = s.repay + s.fee;
                let keepers = ledger.balance(br.market, TokenId::QUOTE);
                let gross = pay.scale_floor(ratio).min(keepers).max(Amount::ZERO);
                let gas = 2.0 * br.cfg.gas_per_message;
                gas_used += gas;
                let fee_q = Amount::from_whole_ceil(gas * br.base_fee_gwei * 1e-9 * native_price)
                    .min(gross)
                    .max(Amount::ZERO);
                let token = TokenId(s.asset as u16 + 1);
                let moved = ledger
                    .transfer(br.escrow, br.market, token, s.seize)
                    .and_then(|_| ledger.transfer(br.market, br.escrow, TokenId::QUOTE, gross))
                    .and_then(|_| ledger.transfer(br.escrow, br.relayer, TokenId::QUOTE, fee_q));
                debug_assert!(moved.is_ok(), "bridge sale: {moved:?}");
                br.metrics.fees += fee_q.to_whole();
                // The remote keepers sell what they bought on the wider market.
                self.pending_flow.push((s.asset, -s.seize.to_whole()));
                let net = gross - fee_q;
                let send = br.rate_limit(tau, net.to_whole());
                let arrive_t = br.deliver(send);
                br.proceeds.push(Proceeds {
                    seq: s.seq,
                    account: s.account,
                    repay: s.repay,
                    fee: s.fee,
                    net,
                    decided_t: s.decided_t,
                    arrive_t,
                });
            }
            // EIP-1559 on the remote chain: the background plus the bridge's own gas.
            let u = (br.cfg.remote_utilization + gas_used / br.cfg.remote_gas_target).min(2.0);
            br.base_fee_gwei *= 1.0 + (u - 1.0) / 8.0;
        }
        br.prev_p.clear();
        br.prev_p.extend_from_slice(p_ref);
        // 3. Proceeds landing at this home block end.
        let mut landed: Vec<Proceeds> = Vec::new();
        br.proceeds.retain(|p| {
            if p.arrive_t <= t {
                landed.push(p.clone());
                false
            } else {
                true
            }
        });
        by_arrival(&mut landed, |p| (p.arrive_t, p.seq));
        for p in landed {
            let moved = ledger.transfer(br.escrow, self.vault, TokenId::QUOTE, p.net);
            debug_assert!(moved.is_ok(), "bridge landing: {moved:?}");
            br.pending.remove(&p.account);
            br.metrics.delay_s_sum += t - p.decided_t;
            br.metrics.delay_count += 1;
            let shortfall = self.land_proceeds(p.account, p.repay, p.fee, p.net);
            br.metrics.bad_debt += shortfall;
        }
        self.bridge = Some(br);
    }

    /// Step 1 for one account: the plan written at once (the pool's share arrives with the
    /// proceeds), counted as a liquidation by `escrow`.
    fn decide_remote(
        &mut self,
        id: AccountId,
        a: usize,
        plan: &LiqPlan,
        p_ref: &[f64],
        escrow: HolderId,
    ) {
        let before = self.before_liquidation(id);
        let acc = &mut self.accounts[id.index()];
        acc.collateral[a] -= plan.seize;
        acc.debt -= plan.repay;
        self.liqs_this_block += 1;
        let notional = plan.seize.to_whole() * p_ref[a];
        self.record_liquidation(id, notional, before, escrow, p_ref);
        self.after_liquidation(id, &[]);
    }

    /// Step 3 for one landing: `net` quote pays the pool up to `repay`, then the fee; a
    /// surplus goes to the insurance fund; a shortfall below `repay` is bad debt through the
    /// waterfall (returned, quote).
    fn land_proceeds(&mut self, id: AccountId, repay: Amount, fee: Amount, net: Amount) -> f64 {
        let to_pool = net.min(repay);
        self.pool_cash += to_pool;
        let rest = net - to_pool;
        let to_fee = rest.min(fee);
        self.book_fee(to_fee);
        self.insurance += rest - to_fee;
        let shortfall = repay - to_pool;
        if shortfall.is_positive() {
            self.metrics.bad_debt += shortfall.to_whole();
            self.event(
                "bridge_bad_debt",
                Some(id),
                None,
                shortfall,
                0.0,
                String::new(),
            );
            self.waterfall(id, shortfall, &[]);
            shortfall.to_whole()
        } else {
            0.0
        }
    }

    /// What the pool is owed by remote liquidations in flight, marked at `p_ref`: per
    /// liquidation the debt and fee it repays, capped by the seized collateral's value before
    /// the sale and by the net proceeds after it (0 when off). Part of the protocol's
    /// position in `protocol_loss_at_market`, as an auction's claim on its lot is.
    pub(crate) fn bridge_in_flight_value(&self, p_ref: &[f64]) -> f64 {
        let Some(br) = &self.bridge else {
            return 0.0;
        };
        let seizes: f64 = br
            .seizes
            .iter()
            .map(|s| {
                (s.repay + s.fee)
                    .to_whole()
                    .min(s.seize.to_whole() * p_ref[s.asset])
            })
            .sum();
        let proceeds: f64 = br
            .proceeds
            .iter()
            .map(|p| (p.repay + p.fee).to_whole().min(p.net.to_whole()))
            .sum();
        seizes + proceeds
    }

    /// The cross-chain metrics (`None` when off).
    pub fn bridge_metrics(&self) -> Option<BridgeMetrics> {
        self.bridge.as_ref().map(|b| b.metrics())
    }

    /// The bridge escrow (`None` when off).
    pub fn bridge_escrow(&self) -> Option<HolderId> {
        self.bridge.as_ref().map(|b| b.escrow())
    }

    /// Replace the bridge's message stream (the World passes the run's `bridge` stream; the
    /// engine starts with a fixed-seed one, used by tests).
    pub fn seed_bridge(&mut self, rng: SimRng) {
        if let Some(b) = self.bridge.as_mut() {
            b.rng = rng;
        }
    }

    /// The escrow holds exactly the collateral of seize messages in flight and the proceeds
    /// in flight (and nothing else).
    pub(crate) fn check_bridge(&self, ledger: &Ledger) -> Result<(), String> {
        let Some(br) = &self.bridge else {
            return Ok(());
        };
        let mut want = vec![Amount::ZERO; self.n_assets + 1];
        for s in &br.seizes {
            want[s.asset + 1] += s.seize;
        }
        for p in &br.proceeds {
            want[0] += p.net;
        }
        for (tok, w) in want.iter().enumerate() {
            let held = ledger.balance(br.escrow, TokenId(tok as u16));
            if held != *w {
                return Err(format!(
                    "bridge escrow holds {} of token {tok}, in flight {}",
                    held.raw(),
                    w.raw()
                ));
            }
        }
        Ok(())
    }
}
