//! Tests of the limit order book: matching, quotes against execution, post-only quoting and
//! the book never crossing (property tests), exact conservation of every token.

use super::*;
use proptest::prelude::*;

const W: i128 = 1_000_000_000;
const BOOK: HolderId = HolderId(0);

/// A sealed ledger: the book (holder 0) and `n` traders holding `usd` and `eth` whole
/// tokens each.
fn setup(n: u32, usd: i128, eth: i128, tick: f64, fee: f64) -> (Ledger, Clob) {
    let mut l = Ledger::new(["USD", "ETH"]);
    l.add_holder("book");
    for i in 0..n {
        let h = l.add_holder(format!("h{}", i + 1));
        l.mint_genesis(h, TokenId::QUOTE, Amount(usd * W)).unwrap();
        l.mint_genesis(h, AssetId(0).token(), Amount(eth * W))
            .unwrap();
    }
    l.seal();
    let c = Clob::new(BOOK, AssetId(0), tick, fee, 2000.0).unwrap();
    (l, c)
}

fn usd(l: &Ledger, h: u32) -> Amount {
    l.balance(HolderId(h), TokenId::QUOTE)
}

fn eth(l: &Ledger, h: u32) -> Amount {
    l.balance(HolderId(h), AssetId(0).token())
}

fn balances(l: &Ledger) -> Vec<Amount> {
    (0..l.n_holders())
        .flat_map(|h| (0..l.n_tokens()).map(move |t| (h, t)))
        .map(|(h, t)| l.balance(HolderId(h as u32), TokenId(t as u16)))
        .collect()
}

/// Everything the book promises about itself and the ledger.
fn check_invariants(l: &Ledger, c: &Clob) -> Result<(), TestCaseError> {
    if let (Some(b), Some(a)) = (c.best_bid(), c.best_ask()) {
        prop_assert!(b < a, "crossed book: bid {} ask {}", b, a);
    }
    for (side, book) in [(Side::Buy, &c.bids), (Side::Sell, &c.asks)] {
        for (t, level) in book {
            prop_assert!(!level.is_empty());
            for o in level {
                prop_assert_eq!(o.side, side);
                prop_assert_eq!(o.ticks, *t);
                prop_assert!(o.remaining.is_positive());
                match side {
                    Side::Sell => prop_assert_eq!(o.escrow, o.remaining),
                    Side::Buy => prop_assert!(
                        o.escrow >= quote_ceil(c.tick_raw, o.remaining, o.ticks).unwrap()
                    ),
                }
            }
        }
    }
    let (eq, eb) = c.escrow_held();
    prop_assert_eq!(usd(l, 0), eq + c.fees_collected());
    prop_assert_eq!(eth(l, 0), eb);
    prop_assert!(l.check_conservation().is_ok());
    Ok(())
}

#[test]
fn price_time_priority_and_partial_fills() {
    let (mut l, mut c) = setup(4, 1_000_000, 1000, 1.0, 0.0);
    let a = c
        .place(&mut l, HolderId(1), Side::Buy, 100, Amount(10 * W))
        .unwrap();
    let b = c
        .place(&mut l, HolderId(2), Side::Buy, 100, Amount(10 * W))
        .unwrap();
    c.place(&mut l, HolderId(3), Side::Buy, 99, Amount(10 * W))
        .unwrap();
    assert_eq!(usd(&l, 1), Amount((1_000_000 - 1000) * W));
    let q = c.quote(Side::Sell, Amount(15 * W));
    let f = c
        .execute(
            &mut l,
            HolderId(4),
            Side::Sell,
            Amount(15 * W),
            Amount::ZERO,
        )
        .unwrap();
    assert_eq!(q, f);
    // 15 ETH at 100: A (first in time) is filled, B half, C (lower price) untouched.
    assert_eq!(f.amount_in, Amount(15 * W));
    assert_eq!(f.amount_out, Amount(1500 * W));
    assert_eq!(f.avg_price, 100.0);
    assert!(f.filled_all);
    assert_eq!(c.order(a.unwrap()), None);
    assert_eq!(c.order(b.unwrap()).unwrap().remaining, Amount(5 * W));
    assert_eq!(c.order(b.unwrap()).unwrap().escrow, Amount(500 * W));
    assert_eq!(eth(&l, 1), Amount(1010 * W));
    assert_eq!(eth(&l, 2), Amount(1005 * W));
    assert_eq!(eth(&l, 3), Amount(1000 * W));
    assert_eq!(usd(&l, 4), Amount((1_000_000 + 1500) * W));
    assert_eq!(c.best_bid(), Some(100));
    assert_eq!(c.depth(Side::Buy, 0), Amount(5 * W));
    assert_eq!(c.depth(Side::Buy, 1), Amount(15 * W));
    assert_eq!(c.last_price(), 100.0);
    // Only bids: the price is the best bid.
    assert_eq!(f.price_after, 100.0);
    check_invariants(&l, &c).unwrap();
}

#[test]
fn hand_computed_walk_across_two_levels() {
    let (mut l, mut c) = setup(4, 1_000_000, 1000, 1.0, 0.0);
    c.place(&mut l, HolderId(1), Side::Sell, 2000, Amount(W))
        .unwrap();
    c.place(&mut l, HolderId(2), Side::Sell, 2001, Amount(2 * W))
        .unwrap();
    c.place(&mut l, HolderId(3), Side::Buy, 1999, Amount(W))
        .unwrap();
    // Buy with 3000 USD: 1 ETH at 2000 costs 2000 USD; the remaining 1000 USD buys
    // floor(1000e9 / 2001) = 499750124 base units at 2001, costing
    // ceil(499750124 * 2001) = 999999998124 quote units; 1876 units stay with the taker.
    let q = c.quote(Side::Buy, Amount(3000 * W));
    let f = c
        .execute(
            &mut l,
            HolderId(4),
            Side::Buy,
            Amount(3000 * W),
            Amount::ZERO,
        )
        .unwrap();
    assert_eq!(q, f);
    assert_eq!(f.amount_out, Amount(W + 499_750_124));
    assert_eq!(f.amount_in, Amount(2000 * W + 999_999_998_124));
    assert!(f.filled_all);
    assert_eq!(usd(&l, 4), Amount(1_000_000 * W) - f.amount_in);
    assert_eq!(eth(&l, 4), Amount(1000 * W) + f.amount_out);
    assert_eq!(usd(&l, 1), Amount(1_002_000 * W));
    assert_eq!(usd(&l, 2), Amount(1_000_000 * W + 999_999_998_124));
    // Bid 1999, ask 2001 (partly filled): mid 2000.
    assert_eq!(f.price_after, 2000.0);
    assert_eq!(c.last_price(), 2001.0);
    assert_eq!(c.depth(Side::Sell, 10), Amount(2 * W - 499_750_124));
    check_invariants(&l, &c).unwrap();
    // Buying more than the book holds takes it all and reports a partial fill.
    let f = c
        .execute(
            &mut l,
            HolderId(4),
            Side::Buy,
            Amount(10_000 * W),
            Amount::ZERO,
        )
        .unwrap();
    assert_eq!(f.amount_out, Amount(2 * W - 499_750_124));
    assert!(!f.filled_all);
    assert_eq!(c.best_ask(), None);
    assert_eq!(f.price_after, 1999.0);
    assert_eq!(
        c.execute(&mut l, HolderId(4), Side::Buy, Amount(W), Amount::ZERO),
        Err(VenueError::NoLiquidity)
    );
    check_invariants(&l, &c).unwrap();
}

#[test]
fn roundings_favour_the_maker_and_refund_leftover_escrow() {
    // Tick 0.001: 500 ticks is 0.5 USD per ETH. A bid of 3 base units escrows ceil(1.5) = 2.
    let (mut l, mut c) = setup(2, 1000, 1000, 0.001, 0.0);
    let id = c
        .place(&mut l, HolderId(1), Side::Buy, 500, Amount(3))
        .unwrap()
        .unwrap();
    assert_eq!(c.order(id).unwrap().escrow, Amount(2));
    // Selling 1 unit would yield floor(0.5) = 0: refused, nothing changes.
    let before = balances(&l);
    assert_eq!(
        c.execute(&mut l, HolderId(2), Side::Sell, Amount(1), Amount::ZERO),
        Err(VenueError::TooSmall)
    );
    assert_eq!(balances(&l), before);
    // Selling 3 units yields floor(1.5) = 1; the order fills and its leftover 1 returns.
    let f = c
        .execute(&mut l, HolderId(2), Side::Sell, Amount(3), Amount::ZERO)
        .unwrap();
    assert_eq!(f.amount_out, Amount(1));
    assert_eq!(usd(&l, 1), Amount(1000 * W - 1));
    assert_eq!(eth(&l, 1), Amount(1000 * W + 3));
    assert_eq!(c.n_orders(), 0);
    assert_eq!(usd(&l, 0), Amount::ZERO);
    check_invariants(&l, &c).unwrap();
}

#[test]
fn post_only_refuses_crossing_orders() {
    let (mut l, mut c) = setup(2, 1_000_000, 1000, 1.0, 0.0);
    c.place(&mut l, HolderId(1), Side::Sell, 100, Amount(W))
        .unwrap()
        .unwrap();
    let before = (balances(&l), c.clone());
    assert_eq!(
        c.place(&mut l, HolderId(2), Side::Buy, 100, Amount(W)),
        Ok(None)
    );
    assert_eq!(
        c.place(&mut l, HolderId(2), Side::Buy, 150, Amount(W)),
        Ok(None)
    );
    assert_eq!((balances(&l), c.clone()), before);
    assert!(
        c.place(&mut l, HolderId(2), Side::Buy, 99, Amount(W))
            .unwrap()
            .is_some()
    );
    assert_eq!(
        c.place(&mut l, HolderId(1), Side::Sell, 99, Amount(W)),
        Ok(None)
    );
    assert_eq!(c.spread(), Some(1));
    assert_eq!(c.mid(), Some(99.5));
    assert_eq!(
        c.place(&mut l, HolderId(1), Side::Sell, 0, Amount(W)),
        Err(VenueError::InvalidPrice(0))
    );
    assert_eq!(
        c.place(&mut l, HolderId(1), Side::Sell, 120, Amount::ZERO),
        Err(VenueError::ZeroAmount)
    );
    assert!(matches!(
        c.place(&mut l, HolderId(1), Side::Sell, 120, Amount(1001 * W)),
        Err(VenueError::Ledger(LedgerError::Insufficient { .. }))
    ));
    assert_eq!(
        c.place(&mut l, BOOK, Side::Sell, 120, Amount(W)),
        Err(VenueError::VenueHolder)
    );
    check_invariants(&l, &c).unwrap();
}

#[test]
fn cancel_refunds_escrow() {
    let (mut l, mut c) = setup(3, 1_000_000, 1000, 0.01, 0.0);
    // 2.5 ETH at 1999.99 USD escrows exactly 4999.975 USD.
    let id = c
        .place(
            &mut l,
            HolderId(1),
            Side::Buy,
            199_999,
            Amount(2_500_000_000),
        )
        .unwrap()
        .unwrap();
    assert_eq!(usd(&l, 1), Amount(1_000_000 * W - 4_999_975_000_000));
    assert_eq!(usd(&l, 0), Amount(4_999_975_000_000));
    // Someone else cannot cancel it.
    assert_eq!(c.cancel(&mut l, HolderId(2), id), Ok(false));
    // A partial fill, then a cancel: the owner ends with the ETH bought plus every unspent
    // quote unit.
    c.execute(&mut l, HolderId(2), Side::Sell, Amount(W), Amount::ZERO)
        .unwrap();
    assert_eq!(c.cancel(&mut l, HolderId(1), id), Ok(true));
    assert_eq!(c.cancel(&mut l, HolderId(1), id), Ok(false));
    assert_eq!(usd(&l, 1), Amount((1_000_000 - 1999) * W - 990_000_000));
    assert_eq!(eth(&l, 1), Amount(1001 * W));
    assert_eq!(usd(&l, 0), Amount::ZERO);
    assert_eq!(c.n_orders(), 0);
    // cancel_all over both sides.
    c.place(&mut l, HolderId(1), Side::Buy, 100, Amount(W))
        .unwrap();
    c.place(&mut l, HolderId(1), Side::Sell, 300_000, Amount(W))
        .unwrap();
    c.place(&mut l, HolderId(2), Side::Sell, 300_000, Amount(W))
        .unwrap();
    assert_eq!(c.cancel_all(&mut l, HolderId(1)), Ok(2));
    assert_eq!(c.orders_of(HolderId(1)).count(), 0);
    assert_eq!(c.orders_of(HolderId(2)).count(), 1);
    assert_eq!(eth(&l, 1), Amount(1001 * W));
    check_invariants(&l, &c).unwrap();
}

#[test]
fn taker_fee_hand_computed() {
    let (mut l, mut c) = setup(3, 1_000_000, 1000, 1.0, 0.001);
    c.place(&mut l, HolderId(1), Side::Sell, 2000, Amount(W))
        .unwrap();
    c.place(&mut l, HolderId(1), Side::Buy, 1000, Amount(W))
        .unwrap();
    // Buy with 1000 USD at a 0.1% fee: gross budget floor(1000e9 / 1.001) = 999000999000;
    // base floor(999000999000 / 2000) = 499500499; cost 999000998000; fee
    // ceil(999000998000 * 0.001) = 999000998; paid 999999998998.
    let f = c
        .execute(
            &mut l,
            HolderId(2),
            Side::Buy,
            Amount(1000 * W),
            Amount::ZERO,
        )
        .unwrap();
    assert_eq!(f.amount_out, Amount(499_500_499));
    assert_eq!(f.amount_in, Amount(999_999_998_998));
    assert_eq!(c.fees_collected(), Amount(999_000_998));
    // Sell 0.5 ETH into the 1000 bid: gross 500 USD, fee 0.5 USD.
    let f = c
        .execute(&mut l, HolderId(3), Side::Sell, Amount(W / 2), Amount::ZERO)
        .unwrap();
    assert_eq!(f.amount_out, Amount(499_500_000_000));
    assert_eq!(c.fees_collected(), Amount(999_000_998 + 500_000_000));
    check_invariants(&l, &c).unwrap();
}

#[test]
fn slippage_and_funds_revert() {
    let (mut l, mut c) = setup(3, 1000, 10, 1.0, 0.0);
    c.place(&mut l, HolderId(1), Side::Buy, 50, Amount(5 * W))
        .unwrap();
    let snap = (balances(&l), c.clone());
    assert_eq!(
        c.execute(&mut l, HolderId(2), Side::Sell, Amount(W), Amount(51 * W)),
        Err(VenueError::Slippage {
            min_out: Amount(51 * W),
            out: Amount(50 * W)
        })
    );
    assert!(matches!(
        c.execute(
            &mut l,
            HolderId(2),
            Side::Sell,
            Amount(11 * W),
            Amount::ZERO
        ),
        Err(VenueError::Ledger(LedgerError::Insufficient { .. }))
    ));
    assert_eq!(
        c.execute(&mut l, HolderId(2), Side::Buy, Amount(W), Amount::ZERO),
        Err(VenueError::NoLiquidity)
    );
    assert_eq!(
        c.execute(&mut l, BOOK, Side::Sell, Amount(W), Amount::ZERO),
        Err(VenueError::VenueHolder)
    );
    assert!(c.quote(Side::Buy, Amount(W)).is_empty());
    assert_eq!((balances(&l), c.clone()), snap);
}

#[test]
fn replace_quotes_reports_what_it_did() {
    let (mut l, mut c) = setup(3, 1000, 10, 1.0, 0.0);
    c.place(&mut l, HolderId(2), Side::Sell, 105, Amount(W))
        .unwrap();
    c.place(&mut l, HolderId(1), Side::Buy, 90, Amount(W))
        .unwrap();
    let lv = |ticks, size| Level {
        ticks,
        size: Amount(size),
    };
    let r = c
        .replace_quotes(
            &mut l,
            HolderId(1),
            &[lv(100, W), lv(105, W), lv(99, 100 * W), lv(0, W), lv(98, 0)],
            &[lv(100, W), lv(101, 9 * W), lv(102, 2 * W)],
        )
        .unwrap();
    assert_eq!(
        r,
        QuoteReport {
            cancelled: 1,
            placed: 2,
            skipped_crossing: 2,
            skipped_unfunded: 2,
            skipped_invalid: 2,
        }
    );
    assert_eq!(r.skipped(), 6);
    assert_eq!(usd(&l, 1), Amount(900 * W));
    assert_eq!(eth(&l, 1), Amount(W));
    assert_eq!(c.best_bid(), Some(100));
    assert_eq!(c.best_ask(), Some(101));
    let mine: Vec<(Side, u64)> = c
        .orders_of(HolderId(1))
        .map(|o| (o.side, o.ticks))
        .collect();
    assert_eq!(mine, [(Side::Buy, 100), (Side::Sell, 101)]);
    assert_eq!(
        c.replace_quotes(&mut l, BOOK, &[], &[]),
        Err(VenueError::VenueHolder)
    );
    check_invariants(&l, &c).unwrap();
}

#[test]
fn genesis_ladder() {
    let mut l = Ledger::new(["USD", "ETH"]);
    let book = l.add_holder("book");
    let maker = l.add_holder("maker");
    let p = ClobParams {
        tick: 0.01,
        levels: 3,
        level_size: 1.0,
        spread_bp: 10.0,
        level_spacing_bp: 10.0,
        taker_fee: 0.0,
    };
    let c = Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &p).unwrap();
    let bids: Vec<u64> = c.bid_levels().map(|(t, _)| t).collect();
    let asks: Vec<u64> = c.ask_levels().map(|(t, _)| t).collect();
    assert_eq!(bids, [199_800, 199_600, 199_400]);
    assert_eq!(asks, [200_200, 200_400, 200_600]);
    // Escrow: 1998 + 1996 + 1994 USD and 3 ETH, minted into the book.
    assert_eq!(usd(&l, 0), Amount(5988 * W));
    assert_eq!(eth(&l, 0), Amount(3 * W));
    assert_eq!(usd(&l, 1), Amount::ZERO);
    assert!(
        c.orders()
            .all(|o| o.owner == maker && o.remaining == Amount(W))
    );
    assert_eq!(c.price(), 2000.0);
    l.seal();
    check_invariants(&l, &c).unwrap();

    // Zero spread and spacing on an exact tick: levels one tick apart, never crossing.
    let mut l = Ledger::new(["USD", "ETH"]);
    let book = l.add_holder("book");
    let maker = l.add_holder("maker");
    let p0 = ClobParams {
        spread_bp: 0.0,
        level_spacing_bp: 0.0,
        ..p
    };
    let c = Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &p0).unwrap();
    let bids: Vec<u64> = c.bid_levels().map(|(t, _)| t).collect();
    let asks: Vec<u64> = c.ask_levels().map(|(t, _)| t).collect();
    assert_eq!(bids, [200_000, 199_999, 199_998]);
    assert_eq!(asks, [200_001, 200_002, 200_003]);

    // A price of 2 ticks: the second bid level would be at zero ticks and is dropped.
    let mut l = Ledger::new(["USD", "ETH"]);
    let book = l.add_holder("book");
    let maker = l.add_holder("maker");
    let c = Clob::genesis(&mut l, book, maker, AssetId(0), 0.02, &p0).unwrap();
    let bids: Vec<u64> = c.bid_levels().map(|(t, _)| t).collect();
    assert_eq!(bids, [2, 1]);
    assert_eq!(c.ask_levels().count(), 3);

    // Bad inputs.
    let bad = ClobParams { levels: 0, ..p };
    assert_eq!(
        Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &bad),
        Err(VenueError::NoLiquidity)
    );
    assert!(matches!(
        Clob::genesis(&mut l, book, maker, AssetId(0), 2000.0, &p),
        Err(VenueError::BadParameter(_))
    ));
    assert!(matches!(
        Clob::genesis(&mut l, book, maker, AssetId(0), f64::NAN, &p),
        Err(VenueError::BadParameter(_))
    ));
    assert_eq!(
        Clob::genesis(&mut l, book, book, AssetId(0), 2000.0, &p),
        Err(VenueError::VenueHolder)
    );
}

#[test]
fn extreme_inputs_never_panic() {
    let (mut l, mut c) = setup(2, 1000, 10, 1e-9, 0.5);
    c.place(&mut l, HolderId(1), Side::Sell, u64::MAX, Amount(W))
        .unwrap();
    c.place(&mut l, HolderId(1), Side::Buy, 1, Amount(W))
        .unwrap();
    assert!(matches!(
        c.place(&mut l, HolderId(2), Side::Buy, u64::MAX - 1, Amount::MAX),
        Err(VenueError::Overflow)
    ));
    for side in [Side::Buy, Side::Sell] {
        for a in [Amount::MAX, Amount(i128::MIN), Amount(1)] {
            let _ = c.quote(side, a);
            assert!(
                c.execute(&mut l, HolderId(2), side, a, Amount::ZERO)
                    .is_err()
            );
        }
    }
    let _ = c.ticks_at_or_above(1e300);
    let _ = c.ticks_at_or_below(f64::NAN);
    check_invariants(&l, &c).unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Place {
        who: u32,
        buy: bool,
        ticks: u64,
        size: i128,
    },
    Cancel {
        who: u32,
        nth: usize,
    },
    CancelAll {
        who: u32,
    },
    Replace {
        who: u32,
        bids: Vec<(u64, i128)>,
        asks: Vec<(u64, i128)>,
    },
    Take {
        who: u32,
        buy: bool,
        amount: i128,
        min_mode: u8,
    },
}

fn size() -> impl Strategy<Value = i128> {
    (0i128..1000, 0u32..11).prop_map(|(m, e)| m * 10i128.pow(e))
}

fn op() -> impl Strategy<Value = Op> {
    let who = 1u32..5;
    let ticks = 90u64..130;
    prop_oneof![
        4 => (who.clone(), any::<bool>(), ticks.clone(), size())
            .prop_map(|(who, buy, ticks, size)| Op::Place { who, buy, ticks, size }),
        1 => (who.clone(), 0usize..8).prop_map(|(who, nth)| Op::Cancel { who, nth }),
        1 => who.clone().prop_map(|who| Op::CancelAll { who }),
        2 => (
            who.clone(),
            prop::collection::vec((ticks.clone(), size()), 0..4),
            prop::collection::vec((ticks, size()), 0..4)
        )
            .prop_map(|(who, bids, asks)| Op::Replace { who, bids, asks }),
        4 => (who, any::<bool>(), size(), 0u8..3)
            .prop_map(|(who, buy, amount, min_mode)| Op::Take { who, buy, amount, min_mode }),
    ]
}

proptest! {
    /// Random maker and taker operations by several holders: the book never crosses, the
    /// venue's holder holds exactly the resting escrow plus fees, tokens are conserved,
    /// failures change nothing and every trade equals its quote.
    #[test]
    fn random_operations_keep_the_invariants(
        fee_ppm in prop_oneof![Just(0u32), 0u32..5000],
        tick_milli in 1u64..2000,
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let tick = tick_milli as f64 / 1000.0;
        let (mut l, mut c) = setup(4, 5_000, 50, tick, fee_ppm as f64 / 1e6);
        for o in ops {
            let before = (balances(&l), c.clone());
            match o {
                Op::Place { who, buy, ticks, size } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    match c.place(&mut l, HolderId(who), side, ticks, Amount(size)) {
                        Ok(Some(id)) => prop_assert_eq!(c.order(id).unwrap().owner, HolderId(who)),
                        _ => prop_assert_eq!(&(balances(&l), c.clone()), &before),
                    }
                }
                Op::Cancel { who, nth } => {
                    let id = c.orders_of(HolderId(who)).nth(nth).map(|o| o.id);
                    let id = id.unwrap_or(OrderId(u64::MAX));
                    let held = c.order(id).map(|o| (o.side, o.escrow));
                    let done = c.cancel(&mut l, HolderId(who), id).unwrap();
                    prop_assert_eq!(done, held.is_some());
                    if let Some((side, escrow)) = held {
                        let (b0, _) = &before;
                        let tok = if side == Side::Buy { 0 } else { 1 };
                        let i = who as usize * 2 + tok;
                        prop_assert_eq!(balances(&l)[i], b0[i] + escrow);
                    }
                }
                Op::CancelAll { who } => {
                    let n = c.orders_of(HolderId(who)).count();
                    prop_assert_eq!(c.cancel_all(&mut l, HolderId(who)).unwrap(), n);
                    prop_assert_eq!(c.orders_of(HolderId(who)).count(), 0);
                }
                Op::Replace { who, bids, asks } => {
                    let lv = |v: &Vec<(u64, i128)>| v.iter().map(|&(ticks, s)| Level { ticks, size: Amount(s) }).collect::<Vec<_>>();
                    let r = c.replace_quotes(&mut l, HolderId(who), &lv(&bids), &lv(&asks)).unwrap();
                    prop_assert_eq!(r.placed + r.skipped(), bids.len() + asks.len());
                    prop_assert_eq!(c.orders_of(HolderId(who)).count(), r.placed);
                }
                Op::Take { who, buy, amount, min_mode } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let q = c.quote(side, Amount(amount));
                    let min_out = match min_mode {
                        0 => Amount::ZERO,
                        1 => q.amount_out,
                        _ => q.amount_out + Amount(1),
                    };
                    match c.execute(&mut l, HolderId(who), side, Amount(amount), min_out) {
                        Ok(f) => {
                            prop_assert_eq!(f, q);
                            prop_assert!(min_mode != 2);
                            prop_assert!(f.amount_in <= Amount(amount));
                            let (b0, c0) = &before;
                            // Unless it traded against its own orders, the taker's
                            // balances moved by exactly the fill.
                            let maker_side = if buy { Side::Sell } else { Side::Buy };
                            let self_trade = c0.orders_of(HolderId(who)).any(|o| o.side == maker_side);
                            let (tin, tout) = if buy { (0, 1) } else { (1, 0) };
                            let b1 = balances(&l);
                            let i = who as usize * 2;
                            if !self_trade {
                                prop_assert_eq!(b1[i + tin], b0[i + tin] - f.amount_in);
                                prop_assert_eq!(b1[i + tout], b0[i + tout] + f.amount_out);
                            }
                        }
                        Err(_) => prop_assert_eq!(&(balances(&l), c.clone()), &before),
                    }
                }
            }
            check_invariants(&l, &c)?;
        }
    }
}
