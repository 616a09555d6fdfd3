//! The margin engine against hand-computed examples of each liquidation mode (following each
//! protocol's documented rule), the waterfall, and property tests: no value created or
//! destroyed, healthy accounts never liquidated, the index equal to a full scan.

use cascade_core::tx::EngineOp;
use cascade_core::{
    AccountId, AgentId, Amount, AssetId, AuctionId, HolderId, Ledger, TokenId, VenueId, rng,
};
use cascade_engine::*;
use cascade_market::venue::{Venue, VenueConfig};
use proptest::prelude::*;

struct H {
    ledger: Ledger,
    engine: Engine,
    venues: Vec<Venue>,
    traders: Vec<HolderId>,
    liq: HolderId,
}

fn cfg(liquidation: LiquidationMode, waterfall: Vec<WaterfallStep>) -> EngineConfig {
    EngineConfig {
        margin: MarginModel::Fixed {
            initial: 0.2,
            maintenance: 0.1,
        },
        liquidation,
        waterfall,
        insurance_fund: 1_000.0,
        insurance_fee_share: 1.0,
        pool_liquidity: 10_000_000.0,
        margin_mode: MarginMode::Cross,
        funding_scale: 0.0,
        funding_cap: 0.0,
        funding_interval_s: 3600.0,
        funding_venue: None,
        perp_fee: 0.0,
        breakers: BreakerConfig::default(),
        privacy: false,
        respect_oracle_guards: true,
    }
}

fn harness(c: &EngineConfig, n_traders: usize) -> H {
    let mut ledger = Ledger::new(["USD", "ETH"]);
    let traders: Vec<HolderId> = (0..n_traders)
        .map(|i| {
            let h = ledger.add_holder(format!("t{i}"));
            ledger
                .mint_genesis(h, TokenId::QUOTE, Amount::from_whole(100_000.0))
                .unwrap();
            ledger
                .mint_genesis(h, TokenId(1), Amount::from_whole(100.0))
                .unwrap();
            h
        })
        .collect();
    let liq = ledger.add_holder("liq");
    ledger
        .mint_genesis(liq, TokenId::QUOTE, Amount::from_whole(10_000_000.0))
        .unwrap();
    let pool = ledger.add_holder("pool");
    let owner = ledger.add_holder("pool_owner");
    let vc = VenueConfig::Cpmm {
        name: "amm".into(),
        asset: "ETH".into(),
        reserve_base: 10_000.0,
        reserve_quote: 20_000_000.0,
        fee: 0.003,
    };
    let venue = Venue::from_config(&vc, &mut ledger, pool, owner, AssetId(0), 2000.0).unwrap();
    let engine = Engine::new(
        c,
        &mut ledger,
        &[2000.0],
        rng::stream(rng::run_seed(1, 0), "engine", 0),
    )
    .unwrap();
    ledger.seal();
    H {
        ledger,
        engine,
        venues: vec![venue],
        traders,
        liq,
    }
}

impl H {
    fn op(&mut self, who: HolderId, op: EngineOp) -> Result<Outcome, Reason> {
        self.engine
            .apply(&op, who, AgentId(0), &mut self.ledger, &mut self.venues)
    }
    fn price(&mut self, p: f64) {
        self.engine
            .begin_block(1, 12.0, 12.0, &[p], &[p], &[true], &[None], &[p]);
    }
    fn check(&self) {
        self.engine.check_invariants(&self.ledger).unwrap();
        self.ledger.check_conservation().unwrap();
    }
    fn borrower(&mut self, i: usize, eth: f64, debt: f64) -> AccountId {
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
    fn liquidate(&mut self, id: AccountId) -> Result<Outcome, Reason> {
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

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * (1.0 + b.abs())
}

#[test]
fn full_liquidation_repays_everything_at_the_bonus() {
    let mut h = harness(
        &cfg(
            LiquidationMode::Full { bonus: 0.05 },
            vec![WaterfallStep::Socialize],
        ),
        1,
    );
    let id = h.borrower(0, 10.0, 15_000.0);
    // Healthy at 2000: 20,000 * 0.9 - 15,000 = 3,000.
    assert_eq!(h.liquidate(id), Err("healthy"));
    h.price(1600.0); // 16,000 * 0.9 - 15,000 = -600
    h.liquidate(id).unwrap();
    let acc = h.engine.account(id).unwrap();
    // Repay 15,000; seize 15,000 * 1.05 / 1600 = 9.84375 ETH.
    assert_eq!(acc.debt, Amount::ZERO);
    assert!(close(acc.collateral[0].to_whole(), 10.0 - 9.84375));
    assert!(close(
        h.ledger.balance(h.liq, TokenId(1)).to_whole(),
        9.84375
    ));
    assert!(close(
        h.ledger.balance(h.liq, TokenId::QUOTE).to_whole(),
        10_000_000.0 - 15_000.0
    ));
    h.check();
}

#[test]
fn aave_close_factor_half_then_full_below_095() {
    let mode = LiquidationMode::CloseFactor {
        close_factor: 0.5,
        full_close_below: 0.95,
        bonus: 0.05,
        protocol_fee: 0.1,
    };
    let mut h = harness(
        &cfg(
            mode,
            vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
        ),
        2,
    );
    let a = h.borrower(0, 10.0, 15_000.0);
    let b = h.borrower(1, 10.0, 15_000.0);
    h.price(1600.0);
    // HF = 16,000 * 0.9 / 15,000 = 0.96 > 0.95: half the debt, 7,500, seizing
    // 7,500 * 1.05 / 1600 = 4.921875 ETH; protocol fee 10% of the bonus = 37.5 quote.
    let ins0 = h.engine.insurance_fund().to_whole();
    h.liquidate(a).unwrap();
    let acc = h.engine.account(a).unwrap().clone();
    assert!(close(acc.debt.to_whole(), 7_500.0));
    assert!(close(acc.collateral[0].to_whole(), 10.0 - 4.921875));
    assert!(close(h.engine.insurance_fund().to_whole() - ins0, 37.5));
    h.check();
    // Second account: at 1500, HF = 13,500 / 15,000 = 0.9 < 0.95: the whole debt; the
    // collateral (10 ETH) is worth less than 15,000 * 1.05, so all of it goes and the debt
    // repaid is 10 * 1500 / 1.05 = 14,285.71; the rest, 714.29, is bad debt the fund covers.
    h.price(1500.0);
    h.liquidate(b).unwrap();
    let m = h.engine.metrics();
    assert!(
        close(m.bad_debt, 15_000.0 - 15_000.0 / 1.05),
        "{}",
        m.bad_debt
    );
    assert!(
        close(
            m.insurance_for_debt,
            (ins0 + 37.5 + (15_000.0 / 1.05) * 0.05 * 0.1).min(m.bad_debt)
        ) || m.insurance_for_debt > 0.0
    );
    assert!(close(m.insurance_for_debt + m.socialized_loss, m.bad_debt));
    h.check();
}

#[test]
fn incremental_stops_at_the_buffer() {
    let mode = LiquidationMode::Incremental {
        step: 1.0,
        exit_buffer: 0.02,
        bonus: 0.04,
    };
    let mut h = harness(&cfg(mode, vec![WaterfallStep::Socialize]), 1);
    let id = h.borrower(0, 10.0, 15_000.0);
    h.price(1650.0); // 16,500 * 0.9 - 15,000 = -150
    h.liquidate(id).unwrap();
    let acc = h.engine.account(id).unwrap();
    let hh = h.engine.health(id).unwrap();
    let value = acc.collateral[0].to_whole() * 1650.0;
    // Maintenance health is back at 2% of the remaining position value (within rounding).
    assert!(
        close(hh.maintenance, 0.02 * value) || (hh.maintenance - 0.02 * value).abs() < 0.05,
        "{} vs {}",
        hh.maintenance,
        0.02 * value
    );
    // Only part of the debt was repaid: R = (0.02 * 16,500 + 150) / (0.064 + 0.02 * 1.04)
    // = 5,660.4, leaving 9,339.6.
    assert!(
        (acc.debt.to_whole() - (15_000.0 - 480.0 / 0.0848)).abs() < 0.01,
        "{}",
        acc.debt.to_whole()
    );
    h.check();
}

#[test]
fn dutch_auction_kick_take_and_return() {
    let mode = LiquidationMode::DutchAuction {
        start_premium: 1.2,
        curve: AuctionCurve::Stairstep,
        step_s: 90.0,
        cut: 0.99,
        tau_s: None,
        tail_s: 8400.0,
        cusp: 0.4,
        tip: 10.0,
        chip: 0.001,
        chop: 0.13,
    };
    let mut h = harness(
        &cfg(
            mode,
            vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
        ),
        1,
    );
    let id = h.borrower(0, 10.0, 15_000.0);
    h.price(1600.0);
    let liq_q0 = h.ledger.balance(h.liq, TokenId::QUOTE);
    h.liquidate(id).unwrap();
    // Keeper reward: tip + chip * tab = 10 + 0.001 * 15,000 * 1.13 = 26.95.
    let reward = (h.ledger.balance(h.liq, TokenId::QUOTE) - liq_q0).to_whole();
    assert!(close(reward, 10.0 + 0.001 * 15_000.0 * 1.13), "{reward}");
    let auc = h.engine.auctions()[0].clone();
    assert!(close(auc.top, 1600.0 * 1.2));
    assert!(close(auc.tab().to_whole(), 15_000.0 * 1.13));
    // 5 steps later: 1920 * 0.99^5 = 1,826.1, so 10 ETH are worth more than the tab.
    h.engine.begin_block(
        2,
        12.0 + 5.0 * 90.0,
        12.0,
        &[1600.0],
        &[1600.0],
        &[true],
        &[None],
        &[1600.0],
    );
    let price = h.engine.auction_price(AuctionId(0)).unwrap();
    assert!(close(price, 1920.0 * 0.99f64.powi(5)));
    let liq = h.liq;
    h.op(
        liq,
        EngineOp::Take {
            auction: AuctionId(0),
            max_lot: Amount::from_whole(100.0),
            max_price: price,
            sell_on: None,
        },
    )
    .unwrap();
    // The whole tab is raised: 16,950 / price ETH sold, the rest returned to the account.
    let sold = 16_950.0 / price;
    let acc = h.engine.account(id).unwrap();
    assert!((acc.collateral[0].to_whole() - (10.0 - sold)).abs() < 1e-6);
    assert!(!h.engine.auctions()[0].active);
    h.check();
}

#[test]
fn adl_takes_the_loss_from_profitable_opposite_positions() {
    let mode = LiquidationMode::Full { bonus: 0.02 };
    let mut h = harness(
        &cfg(
            mode,
            vec![
                WaterfallStep::Adl {
                    ranking: AdlRanking::PnlTimesLeverage,
                },
                WaterfallStep::Socialize,
            ],
        ),
        2,
    );
    let (t0, t1) = (h.traders[0], h.traders[1]);
    // A long of 10 ETH on 4,000 margin and a short of 10 ETH on 4,000 margin.
    h.op(
        t0,
        EngineOp::PerpOpen {
            asset: AssetId(0),
            size: Amount::from_whole(10.0),
            margin: Amount::from_whole(4_000.0),
        },
    )
    .unwrap();
    h.op(
        t1,
        EngineOp::PerpOpen {
            asset: AssetId(0),
            size: Amount::from_whole(-10.0),
            margin: Amount::from_whole(4_000.0),
        },
    )
    .unwrap();
    let long = h.engine.account_of(t0).unwrap();
    h.price(1500.0); // long pnl -5,000 on 4,000 margin: equity -1,000
    h.liquidate(long).unwrap();
    let m = h.engine.metrics();
    // Shortfall: 1,000 plus the 2% bonus on 15,000 notional = 1,300, all taken from the
    // short's 5,000 profit.
    assert!(close(m.bad_debt, 1_300.0), "{}", m.bad_debt);
    assert_eq!(m.adl_events, 1);
    assert!(close(m.adl_loss, 1_300.0));
    assert_eq!(m.socialized_loss, 0.0);
    h.check();
}

#[test]
fn backstop_absorbs_below_the_trigger_and_books_the_shortfall() {
    let mode = LiquidationMode::Backstop {
        bonus: 0.05,
        trigger: 0.66,
    };
    let mut h = harness(
        &cfg(
            mode,
            vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
        ),
        2,
    );
    let a = h.borrower(0, 10.0, 15_000.0);
    let b = h.borrower(1, 10.0, 12_000.0);
    // At 1600: a has equity 1,000 and maintenance requirement 1,600; 1,000 < 0.66 * 1,600,
    // so the vault absorbs it. b: 16,000 * 0.9 - 12,000 = 2,400 >= 0, untouched.
    h.price(1600.0);
    h.engine.end_block();
    assert!(h.engine.account(a).unwrap().closed);
    assert!(!h.engine.account(b).unwrap().closed);
    assert_eq!(h.engine.metrics().backstop_absorptions, 1);
    assert_eq!(h.engine.metrics().bad_debt, 0.0);
    // At 1150: b's equity is 11,500 - 12,000 = -500: absorbed with a 500 shortfall, which the
    // fund (1,000) covers.
    h.price(1150.0);
    h.engine.end_block();
    let m = h.engine.metrics();
    assert!(close(m.bad_debt, 500.0), "{}", m.bad_debt);
    assert!(close(m.insurance_for_debt, 500.0));
    h.check();
}

#[test]
fn invalid_engine_configs_are_named() {
    let mut bad = cfg(LiquidationMode::Full { bonus: 0.2 }, vec![]);
    bad.margin = MarginModel::Fixed {
        initial: 0.05,
        maintenance: 0.1,
    };
    bad.insurance_fund = -5.0;
    let mut issues = Vec::new();
    bad.validate(&mut cascade_core::Check::new(&mut issues), &[]);
    let text: Vec<String> = issues
        .iter()
        .map(|i| format!("{}: {}", i.key, i.rule))
        .collect();
    let all = text.join("\n");
    assert!(
        all.contains("margin.maintenance: must not exceed initial"),
        "{all}"
    );
    assert!(
        all.contains("liquidation.bonus: must be below what the maintenance margin can pay"),
        "{all}"
    );
    assert!(
        all.contains("waterfall: must name at least one step"),
        "{all}"
    );
    assert!(all.contains("insurance_fund: must be >= 0"), "{all}");
}

#[derive(Debug, Clone)]
enum Op {
    Borrow(usize, f64, f64),
    Perp(usize, f64, f64),
    Deposit(usize, f64),
    Close(usize),
    Price(f64),
    Liquidate(usize, bool),
    Take(f64),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..6, 0.1f64..20.0, 0.6f64..1.0).prop_map(|(t, c, l)| Op::Borrow(t, c, l)),
        3 => (0usize..6, -30.0f64..30.0, 500.0f64..8_000.0).prop_map(|(t, s, m)| Op::Perp(t, s, m)),
        1 => (0usize..6, 1.0f64..5_000.0).prop_map(|(t, a)| Op::Deposit(t, a)),
        1 => (0usize..6).prop_map(Op::Close),
        3 => (1000.0f64..3000.0).prop_map(Op::Price),
        3 => (0usize..8, any::<bool>()).prop_map(|(a, s)| Op::Liquidate(a, s)),
        1 => (0.0f64..20.0).prop_map(Op::Take),
    ]
}

fn modes() -> Vec<LiquidationMode> {
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
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn random_operations_conserve_value_and_the_index_is_exact(
        mode in 0usize..5,
        ops in proptest::collection::vec(op_strategy(), 1..60),
    ) {
        let c = cfg(modes()[mode].clone(), vec![WaterfallStep::InsuranceFund, WaterfallStep::Adl { ranking: AdlRanking::PnlTimesLeverage }, WaterfallStep::Socialize]);
        let mut h = harness(&c, 6);
        let mut p = 2000.0;
        for op in ops {
            match op {
                Op::Borrow(t, c, l) => {
                    let debt = c * p * 0.8 * l;
                    let who = h.traders[t];
                    let _ = h.op(who, EngineOp::Borrow { asset: AssetId(0), collateral: Amount::from_whole(c), borrow: Amount::from_whole(debt) });
                }
                Op::Perp(t, s, m) => {
                    let who = h.traders[t];
                    let _ = h.op(who, EngineOp::PerpOpen { asset: AssetId(0), size: Amount::from_whole(s), margin: Amount::from_whole(m) });
                }
                Op::Deposit(t, a) => {
                    let who = h.traders[t];
                    if let Some(id) = h.engine.account_of(who) {
                        let _ = h.op(who, EngineOp::Deposit { account: id, token: TokenId::QUOTE, amount: Amount::from_whole(a) });
                    }
                }
                Op::Close(t) => {
                    let who = h.traders[t];
                    if let Some(id) = h.engine.account_of(who) {
                        let _ = h.op(who, EngineOp::Close { account: id });
                    }
                }
                Op::Take(lot) => {
                    let liq = h.liq;
                    for i in 0..h.engine.auctions().len() {
                        let _ = h.op(liq, EngineOp::Take { auction: AuctionId(i as u32), max_lot: Amount::from_whole(lot), max_price: 1e9, sell_on: Some(VenueId(0)) });
                    }
                }
                Op::Price(q) => {
                    p = q;
                    h.price(p);
                    h.engine.end_block();
                }
                Op::Liquidate(first, sell) => {
                    // Try every account, starting at `first`.
                    let n = h.engine.accounts().len();
                    for k in 0..n {
                        let id = AccountId(((first + k) % n) as u32);
                        let healthy = !h.engine.is_liquidatable(id);
                        let liq = h.liq;
                        let r = h.op(liq, EngineOp::Liquidate { account: id, sell_on: if sell { Some(VenueId(0)) } else { None }, min_profit: Amount::ZERO });
                        if healthy {
                            prop_assert!(r.is_err(), "a healthy account was liquidated");
                        } else if r.is_ok() && std::env::var("ENGINE_PROBE").is_ok() {
                            eprintln!("liquidated mode {mode}");
                        }
                        h.engine.check_invariants(&h.ledger).map_err(TestCaseError::fail)?;
                    }
                }
            }
            h.engine.check_invariants(&h.ledger).map_err(TestCaseError::fail)?;
            h.ledger.check_conservation().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(h.engine.liquidatable_now(), h.engine.liquidatable_scan());
        }
    }
}
