//! The harness the engine's integration tests share: a ledger with funded traders and a
//! liquidator, one constant-product pool per asset (optional), the engine, and helpers to
//! run operations, move blocks and check the engine's invariants; the engine configurations
//! the tests start from; a deterministic proptest runner and a coverage table, so that
//! property tests assert (instead of printing) which mechanisms their random cases reached.
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

use cascade_core::tx::EngineOp;
use cascade_core::{AccountId, AgentId, Amount, AssetId, HolderId, Ledger, TokenId, rng};
use cascade_engine::*;
use cascade_market::venue::{Venue, VenueConfig};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};
use std::collections::BTreeMap;

/// A risky asset of the harness: its genesis oracle price, what every trader holds of it,
/// and the base reserve of its pool (the quote reserve is `reserve_base * price`).
#[derive(Debug, Clone, Copy)]
pub struct Market {
    pub name: &'static str,
    pub price: f64,
    pub wallet: f64,
    pub reserve_base: f64,
}

pub const ETH: Market = Market {
    name: "ETH",
    price: 2000.0,
    wallet: 100.0,
    reserve_base: 10_000.0,
};

/// A second asset, priced far from the first (so a price or a size read from the wrong
/// asset shows).
pub const BTC: Market = Market {
    name: "BTC",
    price: 30_000.0,
    wallet: 10.0,
    reserve_base: 1_000.0,
};

pub struct H {
    pub ledger: Ledger,
    pub engine: Engine,
    pub venues: Vec<Venue>,
    pub traders: Vec<HolderId>,
    pub liq: HolderId,
    /// The last block started by [`H::next_block`] / [`H::step`].
    pub block: u64,
    /// Its time, seconds (kept by [`H::step`]).
    pub t_s: f64,
}

/// An engine configuration: fixed margins 20% / 10%, a 1,000 insurance fund, a 10,000,000
/// pool, cross margin, no funding, fees, breakers or options.
pub fn cfg(liquidation: LiquidationMode, waterfall: Vec<WaterfallStep>) -> EngineConfig {
    EngineConfig {
        waterfall,
        insurance_fund: 1_000.0,
        ..EngineConfig::plain(0.2, 0.1, liquidation)
    }
}

/// The listed chain of the options tests, on asset 0: strikes at -10% and at the money,
/// expiries after 600 s and 7 days, calls and puts (8 series), a 1% spread.
pub fn options_chain() -> OptionsConfig {
    toml::from_str(
        r#"
        strikes = [-0.1, 0.0]
        expiries_s = [600.0, 604800.0]
        spread = 0.01
        iv = { base = 0.3, beta_rv = 0.5, skew = -0.3, floor = 0.2, cap = 2.0, half_life_s = 600.0, initial_vol = 0.6 }
        "#,
    )
    .unwrap()
}

/// `n_traders` traders with ETH and a pool, the engine's stream from seed 1.
pub fn harness(c: &EngineConfig, n_traders: usize) -> H {
    build(c, n_traders, 1, &[ETH], true)
}

/// The harness with the engine's random stream (ADL `random` ranking) drawn from `seed`.
pub fn harness_seeded(c: &EngineConfig, n_traders: usize, seed: u64) -> H {
    build(c, n_traders, seed, &[ETH], true)
}

/// The harness without venues (the options tests: nothing is sold on a venue).
pub fn harness_no_venue(c: &EngineConfig, n_traders: usize) -> H {
    build(c, n_traders, 1, &[ETH], false)
}

/// The general harness: a ledger with quote and one token per market, `n_traders` traders
/// holding 100,000 quote and each market's `wallet`, a liquidator holding 10,000,000 quote,
/// with `venues` a constant-product pool per market (0.3% fee), and the engine at the
/// markets' prices with its random stream from `seed`.
pub fn build(c: &EngineConfig, n_traders: usize, seed: u64, markets: &[Market], venues: bool) -> H {
    let mut names = vec!["USD"];
    names.extend(markets.iter().map(|m| m.name));
    let mut ledger = Ledger::new(names);
    let traders: Vec<HolderId> = (0..n_traders)
        .map(|i| {
            let h = ledger.add_holder(format!("t{i}"));
            ledger
                .mint_genesis(h, TokenId::QUOTE, Amount::from_whole(100_000.0))
                .unwrap();
            for (a, m) in markets.iter().enumerate() {
                ledger
                    .mint_genesis(h, TokenId(a as u16 + 1), Amount::from_whole(m.wallet))
                    .unwrap();
            }
            h
        })
        .collect();
    let liq = ledger.add_holder("liq");
    ledger
        .mint_genesis(liq, TokenId::QUOTE, Amount::from_whole(10_000_000.0))
        .unwrap();
    let mut pools = Vec::new();
    if venues {
        for (a, m) in markets.iter().enumerate() {
            let suffix = if a == 0 { String::new() } else { a.to_string() };
            let pool = ledger.add_holder(format!("pool{suffix}"));
            let owner = ledger.add_holder(format!("pool_owner{suffix}"));
            let vc = VenueConfig::Cpmm {
                name: format!("amm{suffix}"),
                asset: m.name.into(),
                reserve_base: m.reserve_base,
                reserve_quote: m.reserve_base * m.price,
                fee: 0.003,
                withdraw: None,
            };
            let venue =
                Venue::from_config(&vc, &mut ledger, pool, owner, AssetId(a as u16), m.price)
                    .unwrap();
            pools.push(venue);
        }
    }
    let prices: Vec<f64> = markets.iter().map(|m| m.price).collect();
    let engine = Engine::new(
        c,
        &mut ledger,
        &prices,
        rng::stream(rng::run_seed(seed, 0), "engine", 0),
    )
    .unwrap();
    ledger.seal();
    H {
        ledger,
        engine,
        venues: pools,
        traders,
        liq,
        block: 0,
        t_s: 0.0,
    }
}

impl H {
    pub fn op(&mut self, who: HolderId, op: EngineOp) -> Result<Outcome, Reason> {
        self.engine
            .apply(&op, who, AgentId(0), &mut self.ledger, &mut self.venues)
    }

    /// `op` with `market` as the market where the price forms (settlement at market).
    pub fn op_at(
        &mut self,
        who: HolderId,
        op: EngineOp,
        market: &dyn SettlementMarket,
    ) -> Result<Outcome, Reason> {
        self.engine.apply_at_market(
            &op,
            who,
            AgentId(0),
            &mut self.ledger,
            &mut self.venues,
            market,
        )
    }

    /// Block 1 at t = 12 s with every price of a one-asset harness at `p`.
    pub fn price(&mut self, p: f64) {
        self.engine
            .begin_block(1, 12.0, 12.0, &[p], &[p], &[true], &[None], &[p]);
    }

    /// Start `block` at `t_s` (one asset at `p`, 12 s since the last block) with the oracle
    /// guard passing or not and a TWAP divergence.
    pub fn block(&mut self, block: u64, t_s: f64, p: f64, guard_ok: bool, twap_div: Option<f64>) {
        self.engine
            .begin_block(block, t_s, 12.0, &[p], &[p], &[guard_ok], &[twap_div], &[p]);
    }

    /// The next 12-second block of a one-asset harness at `p`, begun and ended, then the
    /// invariants checked.
    pub fn next_block(&mut self, p: f64) {
        self.block += 1;
        let t = 12.0 * self.block as f64;
        self.engine
            .begin_block(self.block, t, 12.0, &[p], &[p], &[true], &[None], &[p]);
        self.engine.end_block();
        self.check();
    }

    /// Begin the next block `dt_s` seconds after the last one at oracle `prices` (also the
    /// counterfactual prices), perp `marks`, every oracle guard `guard_ok` and every TWAP
    /// divergence `twap_div` (the caller ends it).
    pub fn step(
        &mut self,
        dt_s: f64,
        prices: &[f64],
        marks: &[f64],
        guard_ok: bool,
        twap_div: Option<f64>,
    ) {
        self.block += 1;
        self.t_s += dt_s;
        let n = prices.len();
        self.engine.begin_block(
            self.block,
            self.t_s,
            dt_s,
            prices,
            prices,
            &vec![guard_ok; n],
            &vec![twap_div; n],
            marks,
        );
    }

    pub fn check(&self) {
        self.engine.check_invariants(&self.ledger).unwrap();
        self.ledger.check_conservation().unwrap();
    }

    /// Trader `i` deposits `eth` and borrows `debt`; its (cross-margin) account.
    pub fn borrower(&mut self, i: usize, eth: f64, debt: f64) -> AccountId {
        let t = self.traders[i];
        self.op(
            t,
            EngineOp::Borrow {
                asset: AssetId(0),
                collateral: Amount::from_whole(eth),
                borrow: Amount::from_whole(debt),
            },
        )
        .unwrap();
        self.engine.account_of(t).unwrap()
    }

    /// Trader `i` opens a perp of `size` ETH on `margin` quote.
    pub fn perp(&mut self, i: usize, size: f64, margin: f64) -> Result<Outcome, Reason> {
        let t = self.traders[i];
        self.op(
            t,
            EngineOp::PerpOpen {
                asset: AssetId(0),
                size: Amount::from_whole(size),
                margin: Amount::from_whole(margin),
            },
        )
    }

    /// Trader `i` trades `size` contracts of option series `s` on `margin`; its account.
    pub fn trade(&mut self, i: usize, s: u32, size: f64, margin: f64) -> Result<AccountId, Reason> {
        let t = self.traders[i];
        self.op(
            t,
            EngineOp::OptionTrade {
                series: s,
                size: Amount::from_whole(size),
                margin: Amount::from_whole(margin),
            },
        )?;
        Ok(self.engine.account_of(t).unwrap())
    }

    /// The liquidator liquidates `id` (no flash sale, no minimum profit).
    pub fn liquidate(&mut self, id: AccountId) -> Result<Outcome, Reason> {
        let liq = self.liq;
        self.op(
            liq,
            EngineOp::Liquidate {
                account: id,
                sell_on: None,
                min_profit: Amount::ZERO,
            },
        )
    }
}

/// A market for settlement tests: `p_ref` per asset, and a flow of `b` base units executes
/// on average at `p_ref * exp(b / depth)` (a sale below `p_ref`, a purchase above).
#[derive(Debug, Clone)]
pub struct TestMarket {
    pub p_ref: Vec<f64>,
    pub depth: f64,
}

impl SettlementMarket for TestMarket {
    fn quote(&self, asset: usize, signed_base: f64) -> f64 {
        self.p_ref[asset] * (signed_base / self.depth).exp()
    }
}

/// The settlement rules the property tests cover: oracle; market with the account or the
/// liquidator paying the slippage; a backstop provider (2% discount) whose capacity runs out.
pub fn settlements() -> Vec<(PerpSettlement, SlippagePayer, Option<SettlementBackstop>)> {
    vec![
        (PerpSettlement::Oracle, SlippagePayer::Account, None),
        (PerpSettlement::Market, SlippagePayer::Account, None),
        (PerpSettlement::Market, SlippagePayer::Liquidator, None),
        (
            PerpSettlement::Backstop,
            SlippagePayer::Account,
            Some(SettlementBackstop {
                discount: 0.02,
                capacity: 150_000.0,
            }),
        ),
    ]
}

/// Every liquidation mode, with parameters the property tests use.
pub fn modes() -> Vec<LiquidationMode> {
    vec![
        LiquidationMode::Full { bonus: 0.05 },
        LiquidationMode::CloseFactor {
            close_factor: 0.5,
            full_close_below: 0.95,
            bonus: 0.05,
            protocol_fee: 0.2,
        },
        LiquidationMode::Incremental {
            step: 0.3,
            exit_buffer: 0.03,
            bonus: 0.04,
            soft_threshold: 1.0,
        },
        LiquidationMode::Backstop {
            bonus: 0.05,
            trigger: 0.66,
        },
        LiquidationMode::DutchAuction {
            start_premium: 1.1,
            curve: AuctionCurve::Exponential,
            step_s: 90.0,
            cut: 0.9999,
            tau_s: None,
            tail_s: 3600.0,
            cusp: 0.5,
            tip: 5.0,
            chip: 0.001,
            chop: 0.1,
        },
        LiquidationMode::EnglishAuction {
            beg: 0.03,
            ttl_s: 600.0,
            tau_s: 3600.0,
            chop: 0.13,
        },
    ]
}

/// The configuration name of a liquidation mode (the rows of the coverage tables).
pub fn mode_name(m: &LiquidationMode) -> &'static str {
    match m {
        LiquidationMode::Full { .. } => "full",
        LiquidationMode::CloseFactor { .. } => "close_factor",
        LiquidationMode::Incremental { .. } => "incremental",
        LiquidationMode::Backstop { .. } => "backstop",
        LiquidationMode::DutchAuction { .. } => "dutch_auction",
        LiquidationMode::EnglishAuction { .. } => "english_auction",
    }
}

/// A proptest runner with a fixed seed and algorithm (the default config draws a random
/// seed): the same cases every run, so coverage asserted over them is stable in CI. No
/// failure persistence: a failing case is reported (shrunk) in the panic message.
pub fn deterministic_runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Counts of (row, column) events: which mechanisms a property test's random cases reached.
#[derive(Debug, Default, Clone)]
pub struct Coverage {
    counts: BTreeMap<(String, String), u64>,
}

impl Coverage {
    pub fn hit(&mut self, row: &str, col: &str) {
        *self
            .counts
            .entry((row.to_string(), col.to_string()))
            .or_default() += 1;
    }

    pub fn count(&self, row: &str, col: &str) -> u64 {
        self.counts
            .get(&(row.to_string(), col.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// The (row, column) pairs of `rows` x `cols` never hit.
    pub fn missing(&self, rows: &[&str], cols: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for r in rows {
            for c in cols {
                if self.count(r, c) == 0 {
                    out.push(format!("{r} x {c}"));
                }
            }
        }
        out
    }

    /// Every count, one `row x column: n` per line.
    pub fn table(&self) -> String {
        let mut s = String::new();
        for ((r, c), n) in &self.counts {
            s.push_str(&format!("  {r} x {c}: {n}\n"));
        }
        s
    }
}
