//! Options in the engine: exact cash settlement at expiry, liquidation of option books under
//! every liquidation mode (with accounts mixing options, perps and loans), the delta hedge as
//! forced flow, and the risk recomputation budget (unlimited = exact; one revaluation per
//! block leaves liquidatable accounts unseen).

mod common;

use cascade_core::tx::EngineOp;
use cascade_core::{AccountId, Amount, AssetId};
use cascade_engine::*;
use common::*;

const DAY: f64 = 86_400.0;

/// The options tests' engine: the shared configuration with the default waterfall
/// (insurance fund, then socialized) and the listed chain of [`options_chain`].
fn cfg(liquidation: LiquidationMode, om: OptionMargin) -> EngineConfig {
    let mut c = common::cfg(
        liquidation,
        vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
    );
    c.options = Some(options_chain());
    c.option_margin = om;
    c
}

/// Series index of (expiry index, strike index, put?) in the listed order.
fn series(e: usize, k: usize, put: bool) -> u32 {
    (e * 4 + k * 2 + put as usize) as u32
}

#[test]
fn listed_chain_and_marks() {
    let h = harness_no_venue(
        &cfg(
            LiquidationMode::Full { bonus: 0.05 },
            OptionMargin::Standard,
        ),
        1,
    );
    let s = h.engine.option_series();
    assert_eq!(s.len(), 8);
    assert_eq!(s[series(0, 0, true) as usize].strike, 1800.0);
    assert_eq!(s[series(1, 1, false) as usize].kind, OptKind::Call);
    // Mark of the 7-day ATM call at iv = 0.3 + 0.5 * 0.6 = 0.6.
    let want = black(OptKind::Call, 2000.0, 2000.0, 7.0 * DAY / SECONDS, 0.6).price;
    let got = h.engine.option_mark(series(1, 1, false) as usize).unwrap();
    assert!((got - want).abs() < 1e-9, "{got} {want}");
}

const SECONDS: f64 = cascade_market::SECONDS_PER_YEAR;

#[test]
fn expiry_settles_exactly_through_the_ledger() {
    let mut h = harness_no_venue(
        &cfg(
            LiquidationMode::Full { bonus: 0.05 },
            OptionMargin::Standard,
        ),
        2,
    );
    // Trader 0 sells 3 puts K 1800 expiring at 600 s; trader 1 buys 2 of them.
    let s = series(0, 0, true);
    let seller = h.trade(0, s, -3.0, 5_000.0).unwrap();
    let buyer = h.trade(1, s, 2.0, 0.0).unwrap();
    h.check();
    let q0 = h.engine.account(seller).unwrap().quote;
    let q1 = h.engine.account(buyer).unwrap().quote;
    let pool0 = h.engine.pool_cash();
    // The price falls to 1700 and the series expires at block 50 (t = 600 s).
    for _ in 0..50 {
        h.next_block(1700.0);
    }
    assert!(!h.engine.option_live(s as usize));
    let a0 = h.engine.account(seller).unwrap();
    let a1 = h.engine.account(buyer).unwrap();
    assert!(a0.options.iter().all(|q| q.is_zero()));
    // Payoff 100 per contract, exactly: the seller pays 300, the buyer receives 200, the
    // pool pays the difference.
    assert_eq!(a0.quote, q0 - Amount::from_whole(300.0));
    assert_eq!(a1.quote, q1 + Amount::from_whole(200.0));
    assert_eq!(h.engine.pool_cash(), pool0 + Amount::from_whole(100.0));
    h.check();
    // The accounts can close and withdraw everything.
    let (t0, t1) = (h.traders[0], h.traders[1]);
    h.op(t0, EngineOp::Close { account: seller }).unwrap();
    h.op(t1, EngineOp::Close { account: buyer }).unwrap();
    h.check();
}

#[test]
fn initial_margin_is_enforced() {
    let mut h = harness_no_venue(
        &cfg(
            LiquidationMode::Full { bonus: 0.05 },
            OptionMargin::Standard,
        ),
        1,
    );
    // Selling 10 ATM 7-day puts needs about 10 * (0.15 * 2000 + mark): 1,000 is too little.
    assert_eq!(
        h.trade(0, series(1, 1, true), -10.0, 1_000.0),
        Err("insufficient_margin")
    );
    h.check();
    assert!(h.trade(0, series(1, 1, true), -10.0, 6_000.0).is_ok());
    h.check();
}

/// A premium seller (short puts) that also holds a long perp and a loan: liquidated in a
/// crash under every mode, with exact accounting and the delta hedge as forced selling.
#[test]
fn liquidating_mixed_books_under_every_mode() {
    let modes = vec![
        LiquidationMode::Full { bonus: 0.05 },
        LiquidationMode::CloseFactor {
            close_factor: 0.5,
            full_close_below: 0.95,
            bonus: 0.05,
            protocol_fee: 0.1,
        },
        LiquidationMode::Incremental {
            step: 0.5,
            exit_buffer: 0.02,
            bonus: 0.05,
            soft_threshold: 1.0,
        },
        LiquidationMode::DutchAuction {
            start_premium: 1.2,
            curve: AuctionCurve::Linear,
            step_s: 90.0,
            cut: 0.99,
            tau_s: None,
            tail_s: 3600.0,
            cusp: 0.4,
            tip: 10.0,
            chip: 0.0,
            chop: 0.1,
        },
        LiquidationMode::Backstop {
            bonus: 0.05,
            trigger: 0.5,
        },
    ];
    for om in [
        OptionMargin::Standard,
        OptionMargin::Portfolio {
            price_range: 0.16,
            price_buckets: 9,
            vol_up: 0.3,
            vol_down: 0.2,
            extended: vec![-0.5, 1.0],
            extended_fraction: 0.3,
            contingency_per_short: 0.01,
            im_factor: 1.25,
        },
        OptionMargin::DeltaGamma {
            price_range: 0.1,
            vol_shift: 0.2,
            im_factor: 1.0,
        },
    ] {
        for mode in &modes {
            let c = cfg(mode.clone(), om.clone());
            let mut h = harness_no_venue(&c, 1);
            let t = h.traders[0];
            h.op(
                t,
                EngineOp::Borrow {
                    asset: AssetId(0),
                    collateral: Amount::from_whole(2.0),
                    borrow: Amount::from_whole(1_000.0),
                },
            )
            .unwrap();
            h.op(
                t,
                EngineOp::PerpOpen {
                    asset: AssetId(0),
                    size: Amount::from_whole(1.0),
                    margin: Amount::from_whole(500.0),
                },
            )
            .unwrap();
            let id = h.trade(0, series(1, 1, true), -10.0, 6_000.0).unwrap();
            h.check();
            let mut p = 2000.0;
            let mut liquidated = false;
            for _ in 0..30 {
                p *= 0.98;
                h.next_block(p);
                if h.engine.flagged().contains_key(&id) {
                    if let Ok(out) = h.liquidate(id) {
                        liquidated = true;
                        // Short puts are long delta: unwinding their hedge sells.
                        let sold: f64 = out.offvenue_flow.iter().map(|(_, f)| f).sum();
                        assert!(sold < 0.0, "{mode:?} {om:?}: flow {sold}");
                    }
                    h.check();
                }
            }
            let m = h.engine.metrics();
            if matches!(mode, LiquidationMode::Backstop { .. }) {
                assert!(m.options_liquidations > 0, "{mode:?} {om:?}");
            } else {
                assert!(liquidated, "{mode:?} {om:?}");
                assert!(m.options_liquidations > 0 && m.hedge_flow > 0.0);
            }
            h.check();
        }
    }
}

/// Many premium sellers through a fall: the three margin models on the same path, and the
/// risk recomputation budget.
fn sellers_through_a_fall(c: &EngineConfig) -> (EngineMetrics, Vec<Vec<AccountId>>) {
    let mut h = harness_no_venue(c, 20);
    for i in 0..20 {
        let margin = 3_000.0 + 150.0 * i as f64;
        h.trade(i, series(1, 0, true), -10.0, margin).unwrap();
    }
    let mut flagged = Vec::new();
    let mut p = 2000.0;
    for _ in 0..40 {
        p *= 0.99;
        h.next_block(p);
        flagged.push(h.engine.flagged().keys().copied().collect());
    }
    (h.engine.metrics(), flagged)
}

#[test]
fn an_unlimited_budget_is_exact_and_a_budget_of_one_goes_stale() {
    let base = cfg(
        LiquidationMode::Full { bonus: 0.05 },
        OptionMargin::Standard,
    );
    let (m0, f0) = sellers_through_a_fall(&base);
    assert!(!f0.last().unwrap().is_empty(), "the fall must flag sellers");
    assert_eq!(m0.stale_risk_blocks, 0);
    let mut unlimited = base.clone();
    unlimited.max_revaluations_per_block = Some(1_000_000);
    let (m1, f1) = sellers_through_a_fall(&unlimited);
    assert_eq!(f0, f1);
    assert_eq!(m1.stale_risk_blocks, 0);
    let mut one = base.clone();
    one.max_revaluations_per_block = Some(1);
    let (m2, f2) = sellers_through_a_fall(&one);
    assert!(m2.stale_risk_blocks > 0, "{}", m2.stale_risk_blocks);
    assert_ne!(f0, f2);
    // A coarse refresh interval goes stale too.
    let mut slow = base.clone();
    slow.risk_update_interval_s = 10.0 * 12.0;
    let (m3, _) = sellers_through_a_fall(&slow);
    assert!(m3.stale_risk_blocks > 0);
}

#[test]
fn short_gamma_books_show_in_engine_gamma() {
    let c = cfg(
        LiquidationMode::Full { bonus: 0.05 },
        OptionMargin::Standard,
    );
    let (m, _) = sellers_through_a_fall(&c);
    assert!(m.engine_gamma < 0.0, "{}", m.engine_gamma);
}

/// The standard and portfolio rules used by the skip tests.
fn pm() -> OptionMargin {
    OptionMargin::Portfolio {
        price_range: 0.16,
        price_buckets: 9,
        vol_up: 0.3,
        vol_down: 0.2,
        extended: vec![-0.66, -0.33, 0.5, 1.0],
        extended_fraction: 0.3,
        contingency_per_short: 0.01,
        im_factor: 1.25,
    }
}

#[test]
fn market_maker_quotes_take_trades_and_liquidation_buy_backs_with_exact_accounting() {
    let c = cfg(LiquidationMode::Full { bonus: 0.05 }, pm());
    let mut h = harness_no_venue(&c, 3);
    h.next_block(2000.0);
    let mm = h.traders[2];
    let quote = |hs: f64, size: f64, margin: f64| EngineOp::OptionQuote {
        asset: AssetId(0),
        half_spread: hs,
        bid_size: Amount::from_whole(size),
        ask_size: Amount::from_whole(size),
        margin: Amount::from_whole(margin),
    };
    h.op(mm, quote(0.05, 20.0, 90_000.0)).unwrap();
    let mm_acc = h.engine.maker_quote(mm).unwrap().account;
    let s = series(1, 0, true) as usize;
    let mark = h.engine.option_mark(s).unwrap();
    // A quote request sees the maker's bid; the sale fills against it, not the pool.
    let bid = h.engine.option_price(s, Amount::from_whole(-10.0)).unwrap();
    assert!((bid - mark * 0.95).abs() < 1e-9);
    let q0 = h.engine.account(mm_acc).unwrap().quote;
    let seller = h.trade(0, s as u32, -10.0, 6_000.0).unwrap();
    let maker = h.engine.account(mm_acc).unwrap();
    assert_eq!(maker.options[s], Amount::from_whole(10.0));
    let paid = Amount::from_whole(10.0).value_floor(mark * 0.95);
    assert_eq!(q0 - maker.quote, paid);
    assert_eq!(
        h.engine.maker_quote(mm).unwrap().bid_left,
        Amount::from_whole(10.0)
    );
    h.check();
    // Past its size the pool takes the trade.
    let before = h.engine.account(mm_acc).unwrap().options[s];
    h.trade(1, s as u32, -15.0, 30_000.0).unwrap();
    assert_eq!(h.engine.account(mm_acc).unwrap().options[s], before);
    // A crash: the seller is liquidated and buys its puts back from the maker at its ask.
    let mut p = 2000.0;
    while !h.engine.is_liquidatable(seller) {
        p *= 0.97;
        h.next_block(p);
    }
    let ask_before = h.engine.maker_quote(mm).unwrap().ask_left;
    h.liquidate(seller).unwrap();
    h.check();
    assert!(h.engine.account(seller).unwrap().options[s].is_zero());
    assert_eq!(h.engine.account(mm_acc).unwrap().options[s], Amount::ZERO);
    assert_eq!(
        ask_before - h.engine.maker_quote(mm).unwrap().ask_left,
        Amount::from_whole(10.0)
    );
    // Pulled quotes (zero sizes) take nothing.
    h.op(mm, quote(0.05, 0.0, 0.0)).unwrap();
    h.trade(1, s as u32, -1.0, 0.0).unwrap();
    assert_eq!(h.engine.account(mm_acc).unwrap().options[s], Amount::ZERO);
    h.check();
}

mod skip {
    use super::*;
    use proptest::prelude::*;

    /// Sellers and buyers of every series at several leverages, then a random path of
    /// prices: after every block the per-block check (which skips guarded accounts) finds
    /// exactly the accounts a full revaluation of every account finds.
    fn run(om: OptionMargin, moves: &[f64]) -> usize {
        let c = cfg(LiquidationMode::Full { bonus: 0.05 }, om);
        let mut h = harness_no_venue(&c, 24);
        h.next_block(2000.0);
        for i in 0..24 {
            let s = (i % 8) as u32;
            let size = if i % 3 == 0 {
                2.0
            } else {
                -(1.0 + (i % 5) as f64)
            };
            let margin = 250.0 + 150.0 * (i % 7) as f64;
            let _ = h.trade(i, s, size, margin);
        }
        let mut p = 2000.0;
        let mut skipped = 0;
        for m in moves {
            p *= 1.0 + m;
            h.next_block(p);
            assert_eq!(h.engine.liquidatable_now(), h.engine.liquidatable_scan());
            skipped += h.engine.option_guard_counts().1;
            // Liquidate what is found, so positions change and guards are recomputed.
            for id in h.engine.liquidatable_now() {
                let _ = h.liquidate(id);
            }
        }
        skipped
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn the_skip_is_exact(
            moves in proptest::collection::vec(-0.03f64..0.03, 20..60),
            portfolio in any::<bool>(),
        ) {
            let om = if portfolio { pm() } else { OptionMargin::Standard };
            run(om, &moves);
        }
    }

    #[test]
    fn calm_blocks_skip_most_accounts() {
        let moves = vec![0.0005; 40];
        let n = run(pm(), &moves) + run(OptionMargin::Standard, &moves);
        assert!(n > 0, "no account was ever skipped");
    }
}
