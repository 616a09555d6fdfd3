//! Voluntary perp trades at the market (`engine.perp_trade_price`): an open fills at the
//! market's execution price for its size (the trader pays the slippage, the trade is flow on
//! the market), a close realizes at the execution price of the closing flow, and a
//! reduce-only trade stays open to an account below initial margin.

mod common;

use cascade_core::tx::EngineOp;
use cascade_core::{AccountId, Amount, AssetId, TokenId};
use cascade_engine::*;
use common::*;

fn open(size: f64, margin: f64) -> EngineOp {
    EngineOp::PerpOpen {
        asset: AssetId(0),
        size: Amount::from_whole(size),
        margin: Amount::from_whole(margin),
    }
}

fn config(rule: PerpTradePrice) -> EngineConfig {
    let mut c = cfg(
        LiquidationMode::Full { bonus: 0.02 },
        vec![WaterfallStep::Socialize],
    );
    c.perp_trade_price = rule;
    c
}

/// A long of 10 ETH on a market at p_ref = 2,000 with 500 ETH of depth per e-fold fills at
/// m = 2,000 exp(10 / 500): the entry notional is 10 m (the trader pays 10 (m - 2,000) of
/// slippage, in its perp's entry) and the outcome carries +10 ETH of market flow; under the
/// oracle rule it fills at the oracle with no flow. Closing it realizes at the execution
/// price of selling 10 ETH, with -10 ETH of flow.
#[test]
fn a_perp_open_at_market_pays_the_slippage_and_is_market_flow() {
    let market = TestMarket {
        p_ref: vec![2_000.0],
        depth: 500.0,
    };
    let m_buy = 2_000.0 * (10.0f64 / 500.0).exp();
    let m_sell = 2_000.0 * (-10.0f64 / 500.0).exp();
    let mut entries = Vec::new();
    for rule in [PerpTradePrice::Market, PerpTradePrice::Oracle] {
        let mut h = harness(&config(rule), 1);
        h.price(2_000.0);
        let t = h.traders[0];
        let q0 = h.ledger.balance(t, TokenId::QUOTE).to_whole();
        let out = h.op_at(t, open(10.0, 6_000.0), &market).unwrap();
        h.check();
        let acc = h.engine.account(AccountId(0)).unwrap();
        let entry = -acc.perps[0].quote.to_whole();
        entries.push(entry);
        let close_out = h
            .op_at(
                t,
                EngineOp::Close {
                    account: AccountId(0),
                },
                &market,
            )
            .unwrap();
        h.check();
        let got = h.ledger.balance(t, TokenId::QUOTE).to_whole() - q0;
        match rule {
            PerpTradePrice::Market => {
                assert!((entry - 10.0 * m_buy).abs() < 1e-6, "{entry}");
                assert_eq!(out.offvenue_flow, vec![(0, 10.0)]);
                assert_eq!(close_out.offvenue_flow, vec![(0, -10.0)]);
                // Round trip: the trader loses both slippages (no fee configured).
                let want = 10.0 * (m_sell - m_buy);
                assert!((got - want).abs() < 1e-6, "{got} vs {want}");
            }
            PerpTradePrice::Oracle => {
                assert!((entry - 20_000.0).abs() < 1e-6, "{entry}");
                assert!(out.offvenue_flow.is_empty());
                assert!(close_out.offvenue_flow.is_empty());
                assert!(got.abs() < 1e-6, "{got}");
            }
        }
    }
    assert!(
        entries[0] > entries[1],
        "market entry above the oracle's for a long"
    );
}

/// Without a market the oracle stands in for it: the market rule then fills at the oracle.
#[test]
fn without_a_market_a_perp_trade_fills_at_the_oracle() {
    let mut h = harness(&config(PerpTradePrice::Market), 1);
    h.price(2_000.0);
    let out = h.perp(0, -5.0, 3_000.0).unwrap();
    let acc = h.engine.account(AccountId(0)).unwrap();
    assert!((acc.perps[0].quote.to_whole() - 10_000.0).abs() < 1e-6);
    assert!(out.offvenue_flow.is_empty());
    h.check();
}

/// An account below initial margin may still reduce its perp (reduce-only), but not add to
/// it; a reduce that would leave it liquidatable is refused.
#[test]
fn a_reduce_only_trade_needs_maintenance_not_initial_margin() {
    let mut h = harness(&config(PerpTradePrice::Oracle), 1);
    h.price(2_000.0);
    // 10 ETH long on 4,000: initial 0.2 needs 4,000 at 2,000.
    h.perp(0, 10.0, 4_000.0).unwrap();
    // At 1,850: equity 2,500, maintenance requirement 1,850, initial 3,700.
    h.price(1_850.0);
    let id = AccountId(0);
    let hl = h.engine.health(id).unwrap();
    assert!(hl.initial < 0.0 && hl.maintenance > 0.0, "{hl:?}");
    assert_eq!(h.perp(0, 1.0, 0.0).unwrap_err(), "insufficient_margin");
    h.perp(0, -5.0, 0.0).unwrap();
    assert!((h.engine.account(id).unwrap().perps[0].size.to_whole() - 5.0).abs() < 1e-9);
    h.check();
    // At 1,420 the remaining 5 ETH leave equity 350 against a requirement of 710: below
    // maintenance, so no reduce either.
    h.price(1_420.0);
    let hl = h.engine.health(id).unwrap();
    assert!(hl.maintenance < 0.0, "{hl:?}");
    assert_eq!(h.perp(0, -1.0, 0.0).unwrap_err(), "insufficient_margin");
    h.check();
}
