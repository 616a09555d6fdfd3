//! Bots see only what is public: through the [`View`], a hidden account's health is
//! unreadable under `engine.privacy` until the protocol flags it (the legacy flag) or its
//! insolvency is proven (zk proofs), and the searchers' code reads other accounts' health
//! through the View alone.

use cascade_agents::View;
use cascade_core::tx::EngineOp;
use cascade_core::{AccountId, AgentId, Amount, AssetId, HolderId, Ledger, TokenId, rng};
use cascade_engine::{Engine, EngineConfig, LiquidationMode, MissedProof, Privacy, ZkProofs};
use cascade_market::gas::GasCosts;
use cascade_market::mempool::Mempool;
use cascade_market::oracle::Oracles;

fn cfg(privacy: Privacy) -> EngineConfig {
    EngineConfig {
        insurance_fund: 10_000.0,
        privacy,
        ..EngineConfig::plain(0.2, 0.1, LiquidationMode::Full { bonus: 0.05 })
    }
}

/// An engine with one borrower (10 ETH against 15,000), the ledger and a sink.
fn setup(privacy: Privacy) -> (Engine, Ledger, HolderId, AccountId) {
    let mut ledger = Ledger::new(["USD", "ETH"]);
    let t = ledger.add_holder("trader");
    let sink = ledger.add_holder("sink");
    ledger
        .mint_genesis(t, TokenId::QUOTE, Amount::from_whole(1_000.0))
        .unwrap();
    ledger
        .mint_genesis(t, TokenId(1), Amount::from_whole(10.0))
        .unwrap();
    let mut engine = Engine::new(
        &cfg(privacy),
        &mut ledger,
        &[2000.0],
        rng::stream(rng::run_seed(1, 0), "engine", 0),
    )
    .unwrap();
    ledger.seal();
    engine
        .apply(
            &EngineOp::Borrow {
                asset: AssetId(0),
                collateral: Amount::from_whole(10.0),
                borrow: Amount::from_whole(15_000.0),
            },
            t,
            AgentId(0),
            &mut ledger,
            &mut [],
        )
        .unwrap();
    let id = engine.account_of(t).unwrap();
    (engine, ledger, sink, id)
}

/// End block `b` at 12 b seconds with the oracle at `p`, as the World does.
fn block(engine: &mut Engine, ledger: &mut Ledger, sink: HolderId, b: u64, p: f64) {
    let t = 12.0 * b as f64;
    engine.begin_block(b, t, 12.0, &[p], &[p], &[true], &[None], &[p]);
    engine.prove_solvency(ledger, 20_000_000_000, p, sink);
    engine.end_block();
    engine.settle_proofs(ledger, sink);
    engine.check_invariants(ledger).unwrap();
}

/// What the public View shows of account `id`: its health now, at a crash price, and
/// whether it is listed as liquidatable.
fn seen(engine: &Engine, ledger: &Ledger, id: AccountId) -> (bool, bool, bool) {
    let costs = GasCosts::default();
    let mempool = Mempool::new(600.0);
    let oracles = Oracles::new(&[], &[], &[]).unwrap();
    let view = View {
        block: 10,
        t_s: 120.0,
        block_time_s: 12.0,
        dt_s: 12.0,
        base_fee: 20_000_000_000,
        native_price: 2000.0,
        gas_costs: &costs,
        p_ref: &[2000.0],
        oracle: &[2000.0],
        venues: &[],
        ledger,
        mempool: &mempool,
        receipts: &[],
        watcher: true,
        engine: Some(engine),
        oracles: &oracles,
        twap_oracles: &[None],
        prices: None,
        watches: &[],
    };
    (
        view.public_health(id).is_some(),
        view.public_health_at(id, &[1000.0]).is_some(),
        view.public_liquidatable().contains(&id),
    )
}

fn zk(latency: f64) -> Privacy {
    Privacy::ZkProofs(ZkProofs {
        proof_interval_s: 600.0,
        proof_latency_s: latency,
        verify_gas: 250_000,
        on_missed_proof: MissedProof::Public,
    })
}

#[test]
fn without_privacy_everything_is_public() {
    let (mut e, mut l, sink, id) = setup(Privacy::Off);
    assert_eq!(seen(&e, &l, id), (true, true, false));
    block(&mut e, &mut l, sink, 1, 1600.0);
    assert_eq!(seen(&e, &l, id), (true, true, true));
}

#[test]
fn a_bot_cannot_see_a_hidden_accounts_health() {
    for privacy in [Privacy::HiddenHealth, zk(60.0)] {
        let (mut e, mut l, sink, id) = setup(privacy);
        // Healthy and hidden: nothing readable, not even at a crash price (what a backrun of
        // a pending oracle update would compute).
        block(&mut e, &mut l, sink, 1, 2000.0);
        assert_eq!(seen(&e, &l, id), (false, false, false), "{privacy:?}");
        // Insolvent: under the flag public at once; under proofs only after 60 s.
        block(&mut e, &mut l, sink, 2, 1600.0);
        let zk = privacy.zk().is_some();
        let open = !zk;
        assert_eq!(seen(&e, &l, id), (open, open, open), "{privacy:?}");
        for b in 3..=7 {
            block(&mut e, &mut l, sink, b, 1600.0);
        }
        // t = 84 = 24 + 60: the proof of insolvency is verified, the account public.
        assert_eq!(seen(&e, &l, id), (true, true, true), "{privacy:?}");
    }
}

/// The searchers' code (MEV bots, OEV bidders, liquidators, the manipulation planner) never
/// reads another account's health from the engine directly: only through the View's
/// `public_*` methods, which apply `engine.privacy`.
#[test]
fn searchers_read_health_only_through_the_public_view() {
    let sources = [
        ("mev/mod.rs", include_str!("../src/mev/mod.rs")),
        (
            "mev/manipulate.rs",
            include_str!("../src/mev/manipulate.rs"),
        ),
        ("mev/sandwich.rs", include_str!("../src/mev/sandwich.rs")),
        ("oev.rs", include_str!("../src/oev.rs")),
        ("liquidator.rs", include_str!("../src/liquidator.rs")),
        ("manipulation.rs", include_str!("../src/manipulation.rs")),
    ];
    for (name, text) in sources {
        let code = text.split("#[cfg(test)]").next().unwrap();
        for bad in [
            ".health(",
            ".health_at(",
            ".liquidatable_now(",
            ".health_of(",
        ] {
            assert!(
                !code.contains(bad),
                "{name} calls {bad}: read health through the View"
            );
        }
    }
}
