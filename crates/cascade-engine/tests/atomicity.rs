//! `Engine::apply` promises "atomic: on `Err` nothing changed". Random sequences of every
//! kind of `EngineOp`, valid and deliberately invalid (wrong owner, bad amounts, healthy
//! accounts, wrong auction phase, unprofitable `min_profit`, invalid venues, finished
//! auctions, a paused engine, an exhausted pool...), under every liquidation mode, cross and
//! isolated margin, with funding, circuit breakers and options, while prices and time move
//! between blocks. Before each operation the engine, the ledger and the venues are captured
//! (cloned: each case first checks that a clone's dump is the original's); after an `Err` the
//! engine's `state_dump()` (its whole state with the position of its random stream), the
//! ledger's `Debug` (every balance) and the venues' must equal the captured ones.
//!
//! A revert that changed something is a violation: it is recorded (operation kind, reason,
//! what changed), the captured state is put back so the rest of the case runs from a
//! consistent state, and the test fails at the end listing every distinct violation. The test
//! also fails unless every kind of operation (`liquidate` and `take` with and without a
//! flash sale on a venue counted apart) both succeeded and reverted, every liquidation mode
//! saw a liquidation land and operations revert, and the named revert reasons below were all
//! reached: a property about reverts is only as good as the reverts it saw.
//!
//! Deterministic tests after the helpers pin each violation the property found on the
//! engine before operations checked everything first (and two the random cases reach too
//! rarely), one path each, and the revert paths of auction takes and bids.

mod common;

use cascade_core::tx::EngineOp;
use cascade_core::{AccountId, Amount, AssetId, AuctionId, HolderId, Ledger, TokenId, VenueId};
use cascade_engine::*;
use cascade_market::venue::Venue;
use common::*;
use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

const MARKETS: [Market; 2] = [ETH, BTC];
/// Traders 0..5 hold 100,000 quote; trader 5 is left with 50 (a liquidator or bidder who
/// cannot pay); sender 6 is the liquidator (10,000,000 quote).
const N_TRADERS: usize = 6;
const POOR: usize = 5;

/// The configuration of one case.
#[derive(Debug, Clone)]
struct World {
    mode: usize,
    isolated: bool,
    /// A 60,000 lenders' pool instead of 10,000,000: borrows exhaust it, and perp profits
    /// it pays can take its cash below zero.
    small_pool: bool,
    /// Funding on (the perp marks differ from the oracle).
    funding: bool,
    /// The oracle-move breaker (12% in a block pauses 24 s, then 24 s of grace).
    oracle_move: bool,
    price_band: Option<f64>,
    liq_cap: Option<u32>,
    /// ADL with the random ranking (draws from the engine's stream) before the fund.
    random_adl: bool,
    /// Engine events recorded (an event pushed by a reverted operation is a change too).
    events: bool,
    /// The perp settlement rule (an index into `settlements()`); operations run against a
    /// market 2% below the oracle with 500 base units of depth per e-fold.
    settle: usize,
}

/// The coverage row of a settlement rule.
const SETTLE_ROWS: [&str; 4] = [
    "settle oracle",
    "settle market (account pays)",
    "settle market (liquidator pays)",
    "settle backstop",
];

fn world() -> impl Strategy<Value = World> {
    (
        0usize..6,
        any::<bool>(),
        prop::bool::weighted(0.3),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.4, 0.01f64..0.05),
        prop::option::weighted(0.3, 1u32..3),
        any::<bool>(),
        any::<bool>(),
        0usize..4,
    )
        .prop_map(
            |(
                mode,
                isolated,
                small_pool,
                funding,
                oracle_move,
                price_band,
                liq_cap,
                random_adl,
                events,
                settle,
            )| World {
                mode,
                isolated,
                small_pool,
                funding,
                oracle_move,
                price_band,
                liq_cap,
                random_adl,
                events,
                settle,
            },
        )
}

fn config(w: &World) -> EngineConfig {
    let mut wf = vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize];
    if w.random_adl {
        wf.insert(
            0,
            WaterfallStep::Adl {
                ranking: AdlRanking::Random,
            },
        );
    }
    let mut c = cfg(modes()[w.mode].clone(), wf);
    if w.isolated {
        c.margin_mode = MarginMode::Isolated;
    }
    if w.small_pool {
        c.pool_liquidity = 60_000.0;
    }
    if w.funding {
        c.funding_scale = 20.0;
        c.funding_cap = 2.0;
        c.funding_interval_s = 120.0;
    }
    if w.oracle_move {
        c.breakers.max_oracle_move = Some(0.12);
        c.breakers.pause_s = 24.0;
        c.breakers.grace_s = 24.0;
    }
    c.breakers.price_band = w.price_band;
    c.breakers.max_liquidations_per_block = w.liq_cap;
    c.options = Some(options_chain());
    (
        c.perp_settlement,
        c.market_slippage_payer,
        c.settlement_backstop,
    ) = settlements()[w.settle];
    c
}

/// One step of a case. Fields are raw draws; what they mean is resolved against the state
/// when the step runs (which accounts and auctions exist, their owners, lots and tabs).
/// `who` is a sender: traders 0..6, 6 the liquidator. `var` picks a variant, most of them
/// plausible, some deliberately invalid.
#[derive(Debug, Clone)]
enum Step {
    Borrow {
        who: usize,
        asset: usize,
        coll: f64,
        ltv: f64,
        var: u8,
    },
    Perp {
        who: usize,
        asset: usize,
        size: f64,
        margin: f64,
        var: u8,
    },
    Deposit {
        who: usize,
        acc: usize,
        token: usize,
        amount: f64,
        var: u8,
    },
    Close {
        who: usize,
        acc: usize,
        var: u8,
    },
    Liquidate {
        who: usize,
        acc: usize,
        venue: u8,
        greedy: bool,
    },
    Take {
        who: usize,
        auc: usize,
        lot: f64,
        cheap: bool,
        venue: u8,
    },
    Redo {
        who: usize,
        auc: usize,
    },
    Tend {
        who: usize,
        auc: usize,
        frac: f64,
    },
    Dent {
        who: usize,
        auc: usize,
        frac: f64,
    },
    Deal {
        who: usize,
        auc: usize,
    },
    OptionTrade {
        who: usize,
        series: usize,
        size: f64,
        margin: f64,
        var: u8,
    },
    OptionQuote {
        who: usize,
        asset: usize,
        half_spread: f64,
        size: f64,
        margin: f64,
        var: u8,
    },
    /// A block: each price multiplied by its move, `dt` seconds later, the oracle guard
    /// passing or not, the perp marks `premium` away from the oracle.
    Block {
        moves: [f64; 2],
        dt: f64,
        guard_ok: bool,
        premium: f64,
    },
}

fn price_move() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => 0.97f64..1.03,
        2 => 0.85f64..1.15,
        2 => 0.55f64..0.85,
    ]
}

/// The steps of a case under liquidation mode `mode`: the auction operations of the other
/// auction kind (and of none, outside auction modes) are drawn rarely; they only revert.
fn step(mode: usize) -> impl Strategy<Value = Step> {
    let who = 0usize..7;
    let (dutch, english) = (mode == 4, mode == 5);
    let w = |on: bool, hi: u32| if on { hi } else { 1 };
    prop_oneof![
        4 => (who.clone(), 0usize..5, 0.1f64..20.0, 0.5f64..1.3, 0u8..10).prop_map(
            |(who, asset, coll, ltv, var)| Step::Borrow { who, asset, coll, ltv, var }
        ),
        4 => (who.clone(), 0usize..5, -30.0f64..30.0, 0.0f64..8_000.0, 0u8..10).prop_map(
            |(who, asset, size, margin, var)| Step::Perp { who, asset, size, margin, var }
        ),
        2 => (who.clone(), any::<usize>(), 0usize..4, -10.0f64..5_000.0, 0u8..10).prop_map(
            |(who, acc, token, amount, var)| Step::Deposit { who, acc, token, amount, var }
        ),
        2 => (who.clone(), any::<usize>(), 0u8..10)
            .prop_map(|(who, acc, var)| Step::Close { who, acc, var }),
        8 => (prop_oneof![4 => Just(6usize), 1 => Just(POOR), 1 => 0usize..5], any::<usize>(), 0u8..4, prop::bool::weighted(0.2))
            .prop_map(|(who, acc, venue, greedy)| Step::Liquidate { who, acc, venue, greedy }),
        w(dutch, 6) => (who.clone(), any::<usize>(), 0.0f64..1.3, prop::bool::weighted(0.2), 0u8..4).prop_map(
            |(who, auc, lot, cheap, venue)| Step::Take { who, auc, lot, cheap, venue }
        ),
        w(dutch, 3) => (who.clone(), any::<usize>()).prop_map(|(who, auc)| Step::Redo { who, auc }),
        w(english, 6) => (who.clone(), any::<usize>(), 0.0f64..1.3)
            .prop_map(|(who, auc, frac)| Step::Tend { who, auc, frac }),
        w(english, 4) => (who.clone(), any::<usize>(), 0.5f64..1.1)
            .prop_map(|(who, auc, frac)| Step::Dent { who, auc, frac }),
        w(english, 4) => (who.clone(), any::<usize>()).prop_map(|(who, auc)| Step::Deal { who, auc }),
        2 => (who.clone(), 0usize..9, -20.0f64..20.0, 0.0f64..10_000.0, 0u8..10).prop_map(
            |(who, series, size, margin, var)| Step::OptionTrade { who, series, size, margin, var }
        ),
        1 => (who, 0usize..4, 0.0f64..0.2, 0.0f64..20.0, 0.0f64..20_000.0, 0u8..10).prop_map(
            |(who, asset, half_spread, size, margin, var)| Step::OptionQuote { who, asset, half_spread, size, margin, var }
        ),
        // A crash of both prices in one 12-second block.
        2 => (0.5f64..0.8, 0.9f64..1.0).prop_map(|(m, k)| Step::Block {
            moves: [m, m * k],
            dt: 12.0,
            guard_ok: true,
            premium: 0.0,
        }),
        6 => (
            (price_move(), price_move()),
            prop_oneof![6 => Just(12.0f64), 2 => 12.0f64..700.0, 1 => 700.0f64..4_000.0],
            prop::bool::weighted(0.9),
            -0.02f64..0.02,
        )
            .prop_map(|((m0, m1), dt, guard_ok, premium)| Step::Block { moves: [m0, m1], dt, guard_ok, premium }),
    ]
}

/// Everything an operation may touch, captured before it runs.
struct Captured {
    engine: Engine,
    ledger: Ledger,
    venues: Vec<Venue>,
}

/// The top-level fields (`name: ...` lines at `indent` spaces) of a pretty `Debug` text.
fn fields(text: &str, indent: usize) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let lead = line.len() - line.trim_start().len();
        let rest = line.trim_start();
        let is_field = lead == indent
            && rest
                .split_once(": ")
                .or_else(|| rest.strip_suffix(':').map(|r| (r, "")))
                .is_some_and(|(name, _)| {
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                });
        if is_field {
            let name = rest.split(':').next().unwrap_or(rest).to_string();
            out.insert(name.clone(), String::new());
            current = Some(name);
        }
        if lead >= indent
            && let Some(name) = &current
        {
            let body = out.get_mut(name).expect("field");
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// The engine fields (one level into structs) whose pretty `Debug` differs.
fn engine_fields_changed(before: &Engine, after: &Engine) -> Vec<String> {
    let (a, b) = (format!("{before:#?}"), format!("{after:#?}"));
    let (fa, fb) = (fields(&a, 4), fields(&b, 4));
    let names: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (x, y) = (fa.get(name), fb.get(name));
        if x == y {
            continue;
        }
        let (sx, sy) = (
            fields(x.map_or("", |s| s), 8),
            fields(y.map_or("", |s| s), 8),
        );
        let subs: BTreeSet<&String> = sx.keys().chain(sy.keys()).collect();
        let changed: Vec<String> = subs
            .into_iter()
            .filter(|s| sx.get(*s) != sy.get(*s))
            .map(|s| format!("{name}.{s}"))
            .collect();
        if changed.is_empty() {
            out.push(name.clone());
        } else {
            out.extend(changed);
        }
    }
    let rng = |e: &Engine| e.state_dump().lines().last().unwrap_or("").to_string();
    if rng(before) != rng(after) {
        out.push("rng position".into());
    }
    out
}

/// What a reverted operation changed: engine fields, balances (holder role and token, with
/// the amount for the detail) and venues. Empty when the revert was clean.
fn changes(before: &Captured, h: &H, sender: HolderId) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if before.engine.state_dump() != h.engine.state_dump() {
        let mut f = engine_fields_changed(&before.engine, &h.engine);
        if f.is_empty() {
            f.push("state_dump".into());
        }
        out.extend(
            f.into_iter()
                .map(|f| (format!("engine.{f}"), String::new())),
        );
    }
    if format!("{:?}", before.ledger) != format!("{:?}", h.ledger) {
        let mut any = false;
        for i in 0..h.ledger.n_holders() {
            let holder = HolderId(i as u32);
            for t in 0..h.ledger.n_tokens() {
                let token = TokenId(t as u16);
                let (x, y) = (
                    before.ledger.balance(holder, token),
                    h.ledger.balance(holder, token),
                );
                if x != y {
                    any = true;
                    let name = h.ledger.holder_name(holder);
                    let role = if holder == sender {
                        "sender"
                    } else if name == "engine:vault" {
                        "vault"
                    } else if name.starts_with("pool") {
                        "pool"
                    } else {
                        "other"
                    };
                    out.push((
                        format!("ledger.{role}.{}", h.ledger.token_name(token)),
                        format!("{name} {:+}", (y - x).to_whole()),
                    ));
                }
            }
        }
        if !any {
            out.push(("ledger".into(), String::new()));
        }
    }
    if format!("{:?}", before.venues) != format!("{:?}", h.venues) {
        let n = out.len();
        for (i, (x, y)) in before.venues.iter().zip(&h.venues).enumerate() {
            if format!("{x:?}") != format!("{y:?}") {
                out.push((format!("venue{i}"), String::new()));
            }
        }
        if out.len() == n {
            out.push(("venues".into(), String::new()));
        }
    }
    out
}

/// The label of an operation in the coverage table: its name, `_sell` added for a
/// liquidation or take with a flash sale on a venue.
fn kind(op: &EngineOp) -> String {
    match op {
        EngineOp::Liquidate {
            sell_on: Some(_), ..
        }
        | EngineOp::Take {
            sell_on: Some(_), ..
        } => format!("{}_sell", op.name()),
        _ => op.name().to_string(),
    }
}

const KINDS: [&str; 14] = [
    "borrow",
    "perp_open",
    "deposit",
    "close",
    "liquidate",
    "liquidate_sell",
    "take",
    "take_sell",
    "redo",
    "tend",
    "dent",
    "deal",
    "option_trade",
    "option_quote",
];

/// Reverts the cases must reach, by kind: the invalid operations the property is about.
const REQUIRED_REVERTS: [(&str, &str); 39] = [
    ("borrow", "invalid_amount"),
    ("borrow", "invalid_asset"),
    ("borrow", "insufficient_margin"),
    ("borrow", "insufficient_funds"),
    ("borrow", "pool_exhausted"),
    ("borrow", "paused"),
    ("perp_open", "invalid_amount"),
    ("perp_open", "insufficient_margin"),
    ("perp_open", "paused"),
    ("deposit", "not_owner"),
    ("deposit", "invalid_amount"),
    ("deposit", "no_account"),
    ("close", "not_owner"),
    ("close", "account_closed"),
    ("close", "in_auction"),
    ("close", "insufficient_margin"),
    ("liquidate", "healthy"),
    ("liquidate", "paused"),
    ("liquidate", "oracle_guard"),
    ("liquidate", "block_cap"),
    ("liquidate", "unprofitable"),
    ("liquidate", "insufficient_funds"),
    ("liquidate_sell", "invalid_venue"),
    ("liquidate_sell", "price_band"),
    ("liquidate_sell", "unprofitable"),
    ("take", "too_expensive"),
    ("take", "needs_redo"),
    ("take", "auction_over"),
    ("take_sell", "invalid_venue"),
    ("redo", "no_redo_needed"),
    ("tend", "bid_too_low"),
    ("tend", "bid_above_tab"),
    ("tend", "tend_phase_over"),
    ("dent", "dent_phase_not_started"),
    ("dent", "lot_above_decrement"),
    ("deal", "auction_live"),
    ("deal", "no_bid"),
    ("option_trade", "invalid_series"),
    ("option_quote", "invalid_amount"),
];

/// A violation: (kind, reason, what changed) with its count and first example.
type Violations = BTreeMap<(String, Reason, String), (u64, String)>;

#[derive(Default)]
struct Tally {
    coverage: Coverage,
    violations: Violations,
    ops: u64,
}

fn sender(h: &H, who: usize) -> HolderId {
    if who < N_TRADERS {
        h.traders[who]
    } else {
        h.liq
    }
}

/// Pick an account: one of `owner`'s live accounts when it has any and `own`, else any
/// account, or (one time in `n + 1`) one that does not exist.
fn pick_account(h: &H, k: usize, owner: HolderId, own: bool) -> AccountId {
    let mine: Vec<usize> = h
        .engine
        .accounts()
        .iter()
        .enumerate()
        .filter(|(_, a)| a.owner == owner && !a.closed)
        .map(|(i, _)| i)
        .collect();
    if own && !mine.is_empty() {
        return AccountId(mine[k % mine.len()] as u32);
    }
    let n = h.engine.accounts().len();
    AccountId((k % (n + 1)) as u32)
}

/// Pick an auction: an active one three times in four when any is, else any, or one that
/// does not exist.
fn pick_auction(h: &H, k: usize) -> AuctionId {
    let active: Vec<usize> = (0..h.engine.auctions().len())
        .filter(|&i| h.engine.auctions()[i].active)
        .collect();
    if !active.is_empty() && !k.is_multiple_of(4) {
        return AuctionId(active[(k / 4) % active.len()] as u32);
    }
    AuctionId((k % (h.engine.auctions().len() + 1)) as u32)
}

/// A venue for a flash sale of `asset`: none, its own, another asset's, or one that does
/// not exist.
fn pick_venue(sel: u8, asset: usize) -> Option<VenueId> {
    match sel {
        0 => None,
        1 => Some(VenueId(asset as u16)),
        2 => Some(VenueId(1 - asset as u16)),
        _ => Some(VenueId(7)),
    }
}

fn asset_of(sel: usize) -> AssetId {
    match sel {
        0 | 1 => AssetId(0),
        2 | 3 => AssetId(1),
        _ => AssetId(7),
    }
}

/// The engine operation a step stands for now (`None`: a block).
fn resolve(h: &H, s: &Step) -> Option<(HolderId, EngineOp)> {
    let whole = Amount::from_whole;
    let price = |a: AssetId| h.engine.prices().get(a.index()).copied().unwrap_or(2000.0);
    // Sizes are drawn in ETH terms; another asset's are scaled to the same value.
    let scale = |a: AssetId| 2000.0 / price(a);
    Some(match *s {
        Step::Borrow {
            who,
            asset,
            coll,
            ltv,
            var,
        } => {
            let a = asset_of(asset);
            let c = coll * scale(a);
            let (collateral, borrow) = match var {
                // Most of the wallet as collateral, and as much of the pool's cash as its
                // initial margin allows: drains the pool (then the vault may hold less quote
                // than the pool's claim, when accounts owe the pool realized losses).
                4..=6 => {
                    let t = TokenId(a.0 + 1);
                    let c = h.ledger.balance(sender(h, who), t).scale_floor(0.9);
                    let most = c.value_floor(price(a) * 0.8 * 0.99);
                    (c, h.engine.pool_cash().min(most).max(Amount::ONE_UNIT))
                }
                7 => (Amount::ZERO, Amount::ZERO),
                8 => (whole(-c), whole(100.0)),
                9 if coll < 10.0 => (whole(c + 1e6), whole(100.0)),
                9 => (whole(c.min(5.0)), whole(1e9)),
                _ => (whole(c), whole(c * price(a) * 0.8 * ltv)),
            };
            (
                sender(h, who),
                EngineOp::Borrow {
                    asset: a,
                    collateral,
                    borrow,
                },
            )
        }
        Step::Perp {
            who,
            asset,
            size,
            margin,
            var,
        } => {
            let a = asset_of(asset);
            let (size, margin) = match var {
                // The opposite of the sender's position (cross margin): flattens it and
                // realizes its PnL into the account's quote, negative after a loss.
                5 => {
                    let open = h
                        .engine
                        .account_of(sender(h, who))
                        .and_then(|id| h.engine.account(id))
                        .and_then(|acc| acc.perps.get(a.index()))
                        .map_or(Amount::ZERO, |p| p.size);
                    let size = if open.is_zero() {
                        whole(size * scale(a))
                    } else {
                        -open
                    };
                    (size, Amount::ZERO)
                }
                // No margin: backed by the account's collateral, if any.
                6 => (whole(size * scale(a)), Amount::ZERO),
                7 => (Amount::ZERO, whole(margin)),
                8 => (whole(size * scale(a)), whole(-margin - 1.0)),
                9 => (whole(size * scale(a)), whole(margin + 1e7)),
                _ => (whole(size * scale(a)), whole(margin)),
            };
            (
                sender(h, who),
                EngineOp::PerpOpen {
                    asset: a,
                    size,
                    margin,
                },
            )
        }
        Step::Deposit {
            who,
            acc,
            token,
            amount,
            var,
        } => {
            let from = sender(h, who);
            let account = pick_account(h, acc, from, var < 7);
            let amount = if var == 9 { whole(1e9) } else { whole(amount) };
            (
                from,
                EngineOp::Deposit {
                    account,
                    token: TokenId(token as u16),
                    amount,
                },
            )
        }
        Step::Close { who, acc, var } => {
            let from = sender(h, who);
            let account = pick_account(h, acc, from, var < 7);
            (from, EngineOp::Close { account })
        }
        Step::Liquidate {
            who,
            acc,
            venue,
            greedy,
        } => {
            // Mostly an account the engine finds liquidatable (the interesting reverts come
            // after the health check); otherwise any account.
            let now = h.engine.liquidatable_now();
            let account = if !now.is_empty() && !acc.is_multiple_of(3) {
                now[(acc / 3) % now.len()]
            } else {
                AccountId((acc % (h.engine.accounts().len() + 1)) as u32)
            };
            let asset = h
                .engine
                .plan_liquidation(account)
                .ok()
                .and_then(|p| p.asset)
                .unwrap_or(0);
            (
                sender(h, who),
                EngineOp::Liquidate {
                    account,
                    sell_on: pick_venue(venue, asset),
                    min_profit: if greedy { whole(1e9) } else { Amount::ZERO },
                },
            )
        }
        Step::Take {
            who,
            auc,
            lot,
            cheap,
            venue,
        } => {
            let auction = pick_auction(h, auc);
            let a = h.engine.auctions().get(auction.index());
            let max_lot = a.map_or(whole(1.0), |a| a.lot.scale_floor(lot));
            let at = h.engine.auction_price(auction).unwrap_or(0.0);
            (
                sender(h, who),
                EngineOp::Take {
                    auction,
                    max_lot,
                    max_price: if cheap { at * 0.5 } else { 1e12 },
                    sell_on: pick_venue(venue, a.map_or(0, |a| a.asset)),
                },
            )
        }
        Step::Redo { who, auc } => (
            sender(h, who),
            EngineOp::Redo {
                auction: pick_auction(h, auc),
            },
        ),
        Step::Tend { who, auc, frac } => {
            let auction = pick_auction(h, auc);
            let tab = h
                .engine
                .auctions()
                .get(auction.index())
                .map_or(whole(1.0), |a| a.tab());
            let bid = if frac < 0.05 {
                Amount::ZERO
            } else if frac > 1.0 && frac < 1.1 {
                tab
            } else {
                tab.scale_floor(frac)
            };
            (sender(h, who), EngineOp::Tend { auction, bid })
        }
        Step::Dent { who, auc, frac } => {
            let auction = pick_auction(h, auc);
            let lot = h
                .engine
                .auctions()
                .get(auction.index())
                .map_or(whole(1.0), |a| a.lot.scale_floor(frac));
            (sender(h, who), EngineOp::Dent { auction, lot })
        }
        Step::Deal { who, auc } => (
            sender(h, who),
            EngineOp::Deal {
                auction: pick_auction(h, auc),
            },
        ),
        Step::OptionTrade {
            who,
            series,
            size,
            margin,
            var,
        } => {
            let (size, margin) = match var {
                7 => (Amount::ZERO, whole(margin)),
                8 => (whole(size), whole(-margin - 1.0)),
                9 => (whole(size), whole(margin + 1e7)),
                _ => (whole(size), whole(margin)),
            };
            (
                sender(h, who),
                EngineOp::OptionTrade {
                    series: if series == 8 { 99 } else { series as u32 },
                    size,
                    margin,
                },
            )
        }
        Step::OptionQuote {
            who,
            asset,
            half_spread,
            size,
            margin,
            var,
        } => {
            let (half_spread, margin) = match var {
                7 => (-half_spread - 0.01, whole(margin)),
                8 => (f64::NAN, whole(margin)),
                9 => (half_spread, whole(-margin - 1.0)),
                _ => (half_spread, whole(margin)),
            };
            (
                sender(h, who),
                EngineOp::OptionQuote {
                    asset: match asset {
                        0 | 1 => AssetId(0),
                        2 => AssetId(1),
                        _ => AssetId(7),
                    },
                    half_spread,
                    bid_size: whole(size),
                    ask_size: whole(size * 0.5),
                    margin,
                },
            )
        }
        Step::Block { .. } => return None,
    })
}

/// Run one case; every revert is checked, every violation recorded in `tally`.
fn run_case(w: &World, steps: &[Step], tally: &mut Tally) -> Result<(), TestCaseError> {
    let c = config(w);
    let mut issues = Vec::new();
    c.validate(&mut cascade_core::Check::new(&mut issues), &[], 12.0);
    prop_assert!(issues.is_empty(), "{:?}", issues);
    let mut h = build(&c, N_TRADERS, 7, &MARKETS, true);
    if w.events {
        h.engine.enable_events();
    }
    // Trader 5 keeps 50 quote.
    let (poor, liq) = (h.traders[POOR], h.liq);
    let extra = h.ledger.balance(poor, TokenId::QUOTE) - Amount::from_whole(50.0);
    h.ledger
        .transfer(poor, liq, TokenId::QUOTE, extra)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // The capture is a clone: its dump must be the original's.
    prop_assert_eq!(h.engine.clone().state_dump(), h.engine.state_dump());
    let mut prices: Vec<f64> = MARKETS.iter().map(|m| m.price).collect();
    let mode = mode_name(&c.liquidation);
    for s in steps {
        let Some((from, op)) = resolve(&h, s) else {
            let Step::Block {
                moves,
                dt,
                guard_ok,
                premium,
            } = *s
            else {
                unreachable!()
            };
            // Each price stays within 5% and 300% of its genesis price.
            for ((p, m), g) in prices.iter_mut().zip(moves).zip(&MARKETS) {
                *p = (*p * m).clamp(0.05 * g.price, 3.0 * g.price);
            }
            let marks: Vec<f64> = prices.iter().map(|p| p * (1.0 + premium)).collect();
            h.step(dt, &prices, &marks, guard_ok, None);
            h.engine.end_block();
            h.engine.take_events();
            h.engine
                .check_invariants(&h.ledger)
                .map_err(TestCaseError::fail)?;
            continue;
        };
        let before = Captured {
            engine: h.engine.clone(),
            ledger: h.ledger.clone(),
            venues: h.venues.clone(),
        };
        let k = kind(&op);
        tally.ops += 1;
        let market = TestMarket {
            p_ref: prices.iter().map(|p| p * 0.98).collect(),
            depth: 500.0,
        };
        let adl0 = h.engine.metrics().adl_events;
        match h.op_at(from, op.clone(), &market) {
            Ok(_) => {
                tally.coverage.hit(&k, "ok");
                if k.starts_with("liquidate") {
                    tally.coverage.hit(mode, "liquidation landed");
                    tally
                        .coverage
                        .hit(SETTLE_ROWS[w.settle], "liquidation landed");
                }
                if h.engine.metrics().adl_events > adl0 {
                    tally.coverage.hit("adl", "in a landed operation");
                }
                h.engine.take_events();
            }
            Err(reason) => {
                if k.starts_with("liquidate") {
                    tally.coverage.hit(SETTLE_ROWS[w.settle], "reverted");
                }
                tally.coverage.hit(mode, "reverted");
                tally.coverage.hit(&k, "reverted");
                tally.coverage.hit(&k, reason);
                let changed = changes(&before, &h, from);
                if !changed.is_empty() {
                    let what: Vec<&str> = changed.iter().map(|(w, _)| w.as_str()).collect();
                    let key = (k.clone(), reason, what.join(", "));
                    let books = h.engine.check_invariants(&h.ledger).err();
                    let e = tally.violations.entry(key).or_insert_with(|| {
                        let mut detail: Vec<String> = changed
                            .iter()
                            .filter(|(_, d)| !d.is_empty())
                            .map(|(w, d)| format!("{w} {d}"))
                            .collect();
                        if let Some(b) = books {
                            detail.push(format!("and then check_invariants: {b}"));
                        }
                        (0, format!("mode {mode}, {op:?}; {}", detail.join("; ")))
                    });
                    e.0 += 1;
                    // Put the captured state back: the rest of the case runs as if the
                    // operation had been atomic.
                    h.engine = before.engine;
                    h.ledger = before.ledger;
                    h.venues = before.venues;
                }
            }
        }
        h.engine
            .check_invariants(&h.ledger)
            .map_err(TestCaseError::fail)?;
        h.ledger
            .check_conservation()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    Ok(())
}

/// Apply `op` for `who`: it must revert with `reason`. Returns what it changed (the engine's
/// dump, every balance, the venues: nothing, for an atomic revert), for the caller's message.
fn revert_changes(h: &mut H, who: HolderId, op: EngineOp, reason: Reason) -> Vec<String> {
    let before = Captured {
        engine: h.engine.clone(),
        ledger: h.ledger.clone(),
        venues: h.venues.clone(),
    };
    assert_eq!(h.op(who, op.clone()), Err(reason), "{op:?}");
    let mut changed: Vec<String> = changes(&before, h, who)
        .into_iter()
        .map(|(w, d)| format!("{w} {d}").trim_end().to_string())
        .collect();
    if !changed.is_empty()
        && let Err(e) = h.engine.check_invariants(&h.ledger)
    {
        // What a half-done operation leaves behind may break the engine's books too.
        changed.push(format!("and then check_invariants: {e}"));
    }
    changed
}

/// A liquidation of a liquidatable account that fails a later check (invalid venue, the
/// price band, `min_profit`, the liquidator's funds) reverts without a trace: 10 ETH
/// against 15,000 at an oracle price of 1,650, the pool still at 2,000.
#[test]
fn a_liquidation_failing_its_later_checks_changes_nothing() {
    let liquidate = |sell_on, min_profit: f64| EngineOp::Liquidate {
        account: AccountId(0),
        sell_on,
        min_profit: Amount::from_whole(min_profit),
    };
    let cases = [
        ("invalid_venue", Some(VenueId(7)), 0.0, false),
        // The pool buys at about 1,991 on average, 20.7% from the oracle.
        ("price_band", Some(VenueId(0)), 0.0, false),
        ("unprofitable", Some(VenueId(0)), 1e9, false),
        ("unprofitable", None, 1e9, false),
        // Trader 1 is left with 10 quote: it cannot pay the 15,000.
        ("insufficient_funds", None, 0.0, true),
    ];
    let mut dirty = Vec::new();
    for (reason, sell_on, min_profit, poor) in cases {
        let mut c = cfg(
            LiquidationMode::Full { bonus: 0.05 },
            vec![WaterfallStep::Socialize],
        );
        if reason == "price_band" {
            c.breakers.price_band = Some(0.2);
        }
        let mut h = harness(&c, 2);
        h.borrower(0, 10.0, 15_000.0);
        h.price(1650.0);
        let (t1, liq) = (h.traders[1], h.liq);
        let keep = Amount::from_whole(10.0);
        let give = h.ledger.balance(t1, TokenId::QUOTE) - keep;
        h.ledger.transfer(t1, liq, TokenId::QUOTE, give).unwrap();
        let who = if poor { t1 } else { liq };
        let changed = revert_changes(&mut h, who, liquidate(sell_on, min_profit), reason);
        if changed.is_empty() {
            h.check();
        } else {
            dirty.push(format!("{reason} (sell_on {sell_on:?}): {changed:?}"));
        }
    }
    assert!(
        dirty.is_empty(),
        "reverted liquidations changed state:\n{}",
        dirty.join("\n")
    );
}

/// Closing an account whose perp lost more than its margin reverts (it must be liquidated,
/// not closed) and leaves the account table as it was: a long of 10 on 4,000 at 1,500 is
/// 1,000 short.
#[test]
fn closing_an_underwater_account_changes_nothing() {
    let mut h = harness(
        &cfg(
            LiquidationMode::Full { bonus: 0.05 },
            vec![WaterfallStep::Socialize],
        ),
        1,
    );
    h.perp(0, 10.0, 4_000.0).unwrap();
    h.price(1500.0);
    let t = h.traders[0];
    let id = h.engine.account_of(t).unwrap();
    let changed = revert_changes(
        &mut h,
        t,
        EngineOp::Close { account: id },
        "insufficient_margin",
    );
    assert!(changed.is_empty(), "{changed:?}");
    h.check();
}

/// A close the vault cannot pay out reverts cleanly: a 100,000 pool lends 99,000, a short
/// of 30 on 13,000 gains 30,000 when the price halves; the pool owes it more than the vault
/// holds (its cash goes below zero), so the withdrawal fails.
#[test]
fn a_close_the_vault_cannot_pay_changes_nothing() {
    let mut c = cfg(
        LiquidationMode::Full { bonus: 0.05 },
        vec![WaterfallStep::InsuranceFund],
    );
    c.pool_liquidity = 100_000.0;
    let mut h = harness(&c, 2);
    h.borrower(0, 90.0, 99_000.0);
    h.perp(1, -30.0, 13_000.0).unwrap();
    h.price(1000.0);
    let t = h.traders[1];
    let id = h.engine.account_of(t).unwrap();
    let changed = revert_changes(
        &mut h,
        t,
        EngineOp::Close { account: id },
        "insufficient_funds",
    );
    assert!(changed.is_empty(), "{changed:?}");
    h.check();
}

/// A borrow the vault cannot fund reverts cleanly: an account that flattened a losing perp
/// owes the pool its 9,000 loss (negative quote), so the pool's cash exceeds the vault's
/// quote; borrowing all of the pool's cash fails after the collateral was taken.
#[test]
fn a_borrow_the_vault_cannot_fund_changes_nothing() {
    let mut c = cfg(
        LiquidationMode::Full { bonus: 0.05 },
        vec![WaterfallStep::InsuranceFund],
    );
    c.pool_liquidity = 100_000.0;
    let mut h = harness(&c, 2);
    h.borrower(1, 50.0, 1.0);
    h.perp(1, 30.0, 0.0).unwrap();
    h.price(1700.0);
    h.perp(1, -30.0, 0.0).unwrap();
    let t1 = h.traders[1];
    let acc = h.engine.account(h.engine.account_of(t1).unwrap()).unwrap();
    assert_eq!(acc.quote, Amount::from_whole(-9_000.0));
    let t0 = h.traders[0];
    let borrow = EngineOp::Borrow {
        asset: AssetId(0),
        collateral: Amount::from_whole(100.0),
        borrow: h.engine.pool_cash(),
    };
    let changed = revert_changes(&mut h, t0, borrow, "insufficient_funds");
    assert!(changed.is_empty(), "{changed:?}");
    h.check();
}

/// A liquidation whose bonus the vault cannot pay reverts cleanly. The pool is lent out
/// (its cash borrowed by trader 0); trader 1 has 50 ETH, a debt of 1 and a long perp of 30
/// on no margin, or 60 ETH, a debt of 1 and 30 short puts; the price falls (to 800, 900).
/// The lending part (repay 1, seize its collateral, with or without a flash sale) runs,
/// then the vault lacks the perp's 1,200 bonus, or the options' bonus.
#[test]
fn a_liquidation_whose_bonus_the_vault_cannot_pay_changes_nothing() {
    let mut dirty = Vec::new();
    for (case, sell_on) in [
        ("perp", None),
        ("perp, flash sale", Some(VenueId(0))),
        ("options", None),
    ] {
        let mut c = cfg(
            LiquidationMode::Full { bonus: 0.05 },
            vec![WaterfallStep::InsuranceFund],
        );
        c.pool_liquidity = 100_000.0;
        if case == "options" {
            c.options = Some(options_chain());
        }
        let mut h = harness(&c, 2);
        let id = if case == "options" {
            let id = h.borrower(1, 60.0, 1.0);
            // Series 5: the 7-day at-the-money put.
            h.trade(1, 5, -30.0, 0.0).unwrap();
            id
        } else {
            let id = h.borrower(1, 50.0, 1.0);
            h.perp(1, 30.0, 0.0).unwrap();
            id
        };
        let (t0, liq) = (h.traders[0], h.liq);
        let drain = EngineOp::Borrow {
            asset: AssetId(0),
            collateral: Amount::from_whole(100.0),
            borrow: h.engine.pool_cash(),
        };
        h.op(t0, drain).unwrap();
        h.price(if case == "options" { 900.0 } else { 800.0 });
        assert!(h.engine.is_liquidatable(id), "{case}");
        let op = EngineOp::Liquidate {
            account: id,
            sell_on,
            min_profit: Amount::ZERO,
        };
        let changed = revert_changes(&mut h, liq, op, "insufficient_funds");
        if changed.is_empty() {
            h.check();
        } else {
            dirty.push(format!("{case}: {changed:?}"));
        }
    }
    assert!(
        dirty.is_empty(),
        "reverted liquidations changed state:\n{}",
        dirty.join("\n")
    );
}

/// Every reverted operation of every kind, under every liquidation mode, leaves the engine
/// (`state_dump`, random stream included), the ledger and the venues exactly as they were.
#[test]
fn a_reverted_operation_changes_nothing() {
    let tally = RefCell::new(Tally::default());
    let mut runner = deterministic_runner(600, 0xA70A);
    let strategy = world().prop_flat_map(|w| {
        let steps = proptest::collection::vec(step(w.mode), 30..120);
        (Just(w), steps)
    });
    let result = runner.run(&strategy, |(w, steps)| {
        run_case(&w, &steps, &mut tally.borrow_mut())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = tally.into_inner();
    let mut problems = Vec::new();
    let missing_kinds = t.coverage.missing(&KINDS, &["ok", "reverted"]);
    if !missing_kinds.is_empty() {
        problems.push(format!("never reached: {}", missing_kinds.join(", ")));
    }
    let names: Vec<&str> = modes().iter().map(mode_name).collect();
    let missing_modes = t
        .coverage
        .missing(&names, &["liquidation landed", "reverted"]);
    if !missing_modes.is_empty() {
        problems.push(format!("never reached: {}", missing_modes.join(", ")));
    }
    let mut missing_settle = t
        .coverage
        .missing(&SETTLE_ROWS, &["liquidation landed", "reverted"]);
    missing_settle.extend(t.coverage.missing(&["adl"], &["in a landed operation"]));
    if !missing_settle.is_empty() {
        problems.push(format!("never reached: {}", missing_settle.join(", ")));
    }
    let missing_reasons: Vec<String> = REQUIRED_REVERTS
        .iter()
        .filter(|(k, r)| t.coverage.count(k, r) == 0)
        .map(|(k, r)| format!("{k} x {r}"))
        .collect();
    if !missing_reasons.is_empty() {
        problems.push(format!(
            "revert reasons never reached: {}",
            missing_reasons.join(", ")
        ));
    }
    if !t.violations.is_empty() {
        let mut s = format!(
            "{} distinct atomicity violations (operation kind, reason: what changed; count; first example):\n",
            t.violations.len()
        );
        for ((k, r, what), (n, example)) in &t.violations {
            s.push_str(&format!("  {k}, {r}: {what}; {n}x; {example}\n"));
        }
        problems.push(s);
    }
    eprintln!(
        "{} operations; coverage (kind x outcome or revert reason):\n{}",
        t.ops,
        t.coverage.table()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Takes and bids that their bidder cannot pay, or that come at the wrong time, revert
/// without a trace (engine events recorded, so an event pushed before the check would show):
/// a Dutch take by a bidder left with 1 quote, a take selling on a venue that does not exist,
/// a `tend` in a Dutch engine, a `redo` of a fresh auction; an English `tend` the bidder
/// cannot pay, one below the increment, a `deal` while the auction runs.
#[test]
fn takes_and_bids_the_bidder_cannot_pay_change_nothing() {
    let dutch = LiquidationMode::DutchAuction {
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
    let english = LiquidationMode::EnglishAuction {
        beg: 0.03,
        ttl_s: 600.0,
        tau_s: 3600.0,
        chop: 0.13,
    };
    let take = |sell_on| EngineOp::Take {
        auction: AuctionId(0),
        max_lot: Amount::from_whole(1.0),
        max_price: 1e9,
        sell_on,
    };
    let tend = |bid: Amount| EngineOp::Tend {
        auction: AuctionId(0),
        bid,
    };
    let auction = AuctionId(0);
    for (mode, english_mode) in [(dutch, false), (english, true)] {
        let mut h = harness(&cfg(mode, vec![WaterfallStep::Socialize]), 2);
        h.engine.enable_events();
        h.borrower(0, 10.0, 15_000.0);
        h.price(1_600.0);
        let (poor, liq) = (h.traders[1], h.liq);
        let give = h.ledger.balance(poor, TokenId::QUOTE) - Amount::from_whole(1.0);
        h.ledger.transfer(poor, liq, TokenId::QUOTE, give).unwrap();
        let kick = EngineOp::Liquidate {
            account: AccountId(0),
            sell_on: None,
            min_profit: Amount::ZERO,
        };
        h.op(liq, kick).unwrap();
        let mut cases = Vec::new();
        if english_mode {
            h.op(liq, tend(Amount::from_whole(100.0))).unwrap();
            cases.push((
                poor,
                tend(Amount::from_whole(1_000.0)),
                "insufficient_funds",
            ));
            cases.push((poor, tend(Amount::from_whole(101.0)), "bid_below_increment"));
            cases.push((liq, EngineOp::Deal { auction }, "auction_live"));
        } else {
            cases.push((poor, take(None), "insufficient_funds"));
            cases.push((poor, take(Some(VenueId(1))), "invalid_venue"));
            cases.push((liq, tend(Amount::ONE_UNIT), "not_english_auction"));
            cases.push((liq, EngineOp::Redo { auction }, "no_redo_needed"));
        }
        for (who, op, reason) in cases {
            let changed = revert_changes(&mut h, who, op.clone(), reason);
            assert!(changed.is_empty(), "{op:?}: {changed:?}");
        }
        h.check();
    }
}
