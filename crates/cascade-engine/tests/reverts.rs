//! Operations that revert change nothing: the engine's whole state (`Engine::state_dump`,
//! which includes every account's write stamp and the random stream's position), the ledger
//! and the venues are the same before and after. One case per path that used to write
//! before a check: the close of an underwater account (restored by hand, which advanced its
//! stamp), a liquidation whose sale fails its price band or its profit floor (the causal
//! snapshot was written first), and the takes and bids of the auctions.

use cascade_core::tx::EngineOp;
use cascade_core::{
    AccountId, AgentId, Amount, AssetId, AuctionId, HolderId, Ledger, TokenId, VenueId, rng,
};
use cascade_engine::*;
use cascade_market::venue::{Venue, VenueConfig};

struct H {
    ledger: Ledger,
    engine: Engine,
    venues: Vec<Venue>,
    trader: HolderId,
    liq: HolderId,
    poor: HolderId,
}

fn cfg(liquidation: LiquidationMode) -> EngineConfig {
    EngineConfig {
        margin: MarginModel::Fixed {
            initial: 0.2,
            maintenance: 0.1,
        },
        liquidation,
        waterfall: vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
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
        options: None,
        option_margin: Default::default(),
        risk_update_interval_blocks: 1,
        max_revaluations_per_block: None,
    }
}

fn harness(c: &EngineConfig) -> H {
    let mut ledger = Ledger::new(["USD", "ETH"]);
    let trader = ledger.add_holder("trader");
    ledger
        .mint_genesis(trader, TokenId::QUOTE, Amount::from_whole(100_000.0))
        .unwrap();
    ledger
        .mint_genesis(trader, TokenId(1), Amount::from_whole(100.0))
        .unwrap();
    let liq = ledger.add_holder("liq");
    ledger
        .mint_genesis(liq, TokenId::QUOTE, Amount::from_whole(10_000_000.0))
        .unwrap();
    let poor = ledger.add_holder("poor");
    ledger
        .mint_genesis(poor, TokenId::QUOTE, Amount::from_whole(1.0))
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
        trader,
        liq,
        poor,
    }
}

impl H {
    fn op(&mut self, who: HolderId, op: EngineOp) -> Result<Outcome, Reason> {
        self.engine
            .apply(&op, who, AgentId(0), &mut self.ledger, &mut self.venues)
    }
    fn price(&mut self, block: u64, p: f64) {
        self.engine.begin_block(
            block,
            12.0 * block as f64,
            12.0,
            &[p],
            &[p],
            &[true],
            &[None],
            &[p],
        );
    }
    fn state(&self) -> String {
        format!(
            "{}\n{:?}\n{:?}",
            self.engine.state_dump(),
            self.ledger,
            self.venues
        )
    }
    /// `op` by `who` reverts with `why` and leaves everything as it was.
    fn reverts(&mut self, who: HolderId, op: EngineOp, why: Reason) {
        let before = self.state();
        assert_eq!(self.op(who, op.clone()), Err(why), "{op:?}");
        assert!(self.state() == before, "{op:?} reverted with changes");
    }
    fn borrower(&mut self, eth: f64, debt: f64) -> AccountId {
        let t = self.trader;
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
}

#[test]
fn closing_an_underwater_account_changes_nothing() {
    let mut h = harness(&cfg(LiquidationMode::Full { bonus: 0.05 }));
    let t = h.trader;
    h.engine.enable_events();
    h.op(
        t,
        EngineOp::PerpOpen {
            asset: AssetId(0),
            size: Amount::from_whole(5.0),
            margin: Amount::from_whole(2_500.0),
        },
    )
    .unwrap();
    let id = h.engine.account_of(t).unwrap();
    // At 1,400 the long has lost 3,000 of its 2,500 margin.
    h.price(1, 1_400.0);
    h.reverts(t, EngineOp::Close { account: id }, "insufficient_margin");
}

#[test]
fn liquidations_that_fail_their_sale_change_nothing() {
    let mut c = cfg(LiquidationMode::Full { bonus: 0.05 });
    c.breakers.price_band = Some(0.2);
    let mut h = harness(&c);
    h.engine.enable_events();
    let id = h.borrower(10.0, 15_000.0);
    // The pool buys at about 1,991, 20.7% from the oracle's 1,650 (see the engine tests).
    h.price(1, 1_650.0);
    let liq = h.liq;
    let liquidate = |sell_on, min_profit| EngineOp::Liquidate {
        account: id,
        sell_on,
        min_profit,
    };
    h.reverts(liq, liquidate(Some(VenueId(0)), Amount::ZERO), "price_band");
    h.reverts(
        liq,
        liquidate(Some(VenueId(1)), Amount::ZERO),
        "invalid_venue",
    );
    let huge = Amount::from_whole(1e9);
    h.reverts(liq, liquidate(None, huge), "unprofitable");
    let poor = h.poor;
    h.reverts(poor, liquidate(None, Amount::ZERO), "insufficient_funds");
    // Without the band, the flash sale lands.
    let mut c = cfg(LiquidationMode::Full { bonus: 0.05 });
    c.breakers.price_band = None;
    let mut h = harness(&c);
    let id = h.borrower(10.0, 15_000.0);
    h.price(1, 1_650.0);
    let liq = h.liq;
    let op = EngineOp::Liquidate {
        account: id,
        sell_on: Some(VenueId(0)),
        min_profit: Amount::from_whole(1e9),
    };
    h.reverts(liq, op, "unprofitable");
    let op = EngineOp::Liquidate {
        account: id,
        sell_on: Some(VenueId(0)),
        min_profit: Amount::ZERO,
    };
    assert!(h.op(liq, op).unwrap().liquidation);
    h.engine.check_invariants(&h.ledger).unwrap();
}

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
    let mut h = harness(&cfg(dutch));
    h.engine.enable_events();
    let id = h.borrower(10.0, 15_000.0);
    h.price(1, 1_600.0);
    let liq = h.liq;
    let kick = EngineOp::Liquidate {
        account: id,
        sell_on: None,
        min_profit: Amount::ZERO,
    };
    h.op(liq, kick).unwrap();
    let poor = h.poor;
    let take = |sell_on| EngineOp::Take {
        auction: AuctionId(0),
        max_lot: Amount::from_whole(1.0),
        max_price: 1e9,
        sell_on,
    };
    h.reverts(poor, take(None), "insufficient_funds");
    h.reverts(poor, take(Some(VenueId(1))), "invalid_venue");
    h.reverts(
        liq,
        EngineOp::Tend {
            auction: AuctionId(0),
            bid: Amount::ONE_UNIT,
        },
        "not_english_auction",
    );
    h.reverts(
        liq,
        EngineOp::Redo {
            auction: AuctionId(0),
        },
        "no_redo_needed",
    );

    let english = LiquidationMode::EnglishAuction {
        beg: 0.03,
        ttl_s: 600.0,
        tau_s: 3600.0,
        chop: 0.13,
    };
    let mut h = harness(&cfg(english));
    h.engine.enable_events();
    let id = h.borrower(10.0, 15_000.0);
    h.price(1, 1_600.0);
    let liq = h.liq;
    let kick = EngineOp::Liquidate {
        account: id,
        sell_on: None,
        min_profit: Amount::ZERO,
    };
    h.op(liq, kick).unwrap();
    let tend = |bid: f64| EngineOp::Tend {
        auction: AuctionId(0),
        bid: Amount::from_whole(bid),
    };
    h.op(liq, tend(100.0)).unwrap();
    let poor = h.poor;
    h.reverts(poor, tend(1_000.0), "insufficient_funds");
    h.reverts(poor, tend(101.0), "bid_below_increment");
    h.reverts(
        liq,
        EngineOp::Deal {
            auction: AuctionId(0),
        },
        "auction_live",
    );
    h.engine.check_invariants(&h.ledger).unwrap();
}
