//! The liquidator's sale policy on black_thursday (configs/scenarios/black_thursday.toml),
//! whose keepers are agents 3 and 4: without `sale` (the legacy default) English winners keep
//! their lots and Dutch takers sell inside the take; with `sale` set the same policy governs
//! both auctions: `hold` keeps every lot, `immediate` sells what it holds in public swaps in
//! the next blocks, `twap` spreads the same sales over more, smaller swaps. The ledger is
//! conserved after every block.

mod common;

use cascade_core::event::Event;
use cascade_core::{HolderId, TokenId};
use cascade_sim::World;

const FILE: &str = "configs/scenarios/black_thursday.toml";
const DUTCH: &str = "engine.liquidation={ kind = \"dutch_auction\", start_premium = 1.2, curve = \"stairstep\", step_s = 90.0, cut = 0.99, tail_s = 8_400.0, cusp = 0.4, tip = 300.0, chip = 0.001, chop = 0.13 }";

/// Run 0: the keepers' ETH at the end, their swaps, and the collateral they acquired
/// (what they hold at the end plus what they sold).
fn run(sets: &[&str]) -> (f64, usize, f64) {
    let s = common::scenario(FILE, sets);
    let mut w = World::new(&s, s.config.run.seed, 0).unwrap();
    w.enable_ledger_checks();
    w.enable_events();
    let keepers: Vec<HolderId> = w
        .actors()
        .iter()
        .filter(|a| a.label.starts_with("liquidator-"))
        .map(|a| a.holder)
        .collect();
    assert_eq!(keepers.len(), 4);
    let (mut swaps, mut sold) = (0usize, 0.0);
    while w.running() {
        w.step().unwrap_or_else(|e| panic!("{e}"));
        for e in w.drain_events() {
            if let Event::Swap {
                trader, amount_in, ..
            } = e
                && keepers.contains(&trader)
            {
                swaps += 1;
                sold += amount_in.to_whole();
            }
        }
    }
    let held: f64 = keepers
        .iter()
        .map(|h| w.ledger().balance(*h, TokenId(1)).to_whole())
        .sum();
    (held, swaps, held + sold)
}

#[test]
fn one_sale_policy_for_english_and_dutch_auctions() {
    let immediate = [
        "agents.3.sale={ kind = \"immediate\" }",
        "agents.4.sale={ kind = \"immediate\" }",
    ];
    let hold = [
        "agents.3.sale={ kind = \"hold\" }",
        "agents.4.sale={ kind = \"hold\" }",
    ];
    let twap = [
        "agents.3.sale={ kind = \"twap\", duration_s = 120.0 }",
        "agents.4.sale={ kind = \"twap\", duration_s = 120.0 }",
    ];

    // Legacy: English winners never sell; Dutch takers sell everything inside the take.
    let (held, swaps, got) = run(&[]);
    println!("english legacy: held {held:.1} ETH, {swaps} swaps, acquired {got:.1}");
    assert!(held > 0.0 && swaps == 0, "English lots are kept");
    let (held, _, got) = run(&[DUTCH]);
    println!("dutch legacy: held {held:.1} ETH, acquired {got:.1}");
    assert_eq!(held, 0.0, "Dutch takes are flash-sold");

    for (name, engine) in [("english", None), ("dutch", Some(DUTCH))] {
        let with = |p: &[&str]| {
            let mut v: Vec<&str> = p.to_vec();
            v.extend(engine);
            run(&v)
        };
        let (h_hold, s_hold, g_hold) = with(&hold);
        let (h_imm, s_imm, g_imm) = with(&immediate);
        let (h_twap, s_twap, g_twap) = with(&twap);
        println!(
            "{name}: hold {h_hold:.1} ETH held / {s_hold} swaps / {g_hold:.1} acquired; \
             immediate {h_imm:.1} / {s_imm} / {g_imm:.1}; twap(10) {h_twap:.1} / {s_twap} / {g_twap:.1}"
        );
        assert!(
            g_hold > 0.0 && g_imm > 0.0 && g_twap > 0.0,
            "{name}: keepers acquire"
        );
        assert_eq!(s_hold, 0, "{name}: hold never sells");
        assert!(
            (h_hold - g_hold).abs() < 1e-9,
            "{name}: hold keeps everything"
        );
        assert!(s_imm > 0, "{name}: immediate sells");
        assert!(
            h_imm < 0.05 * g_imm,
            "{name}: immediate sells (nearly) all it acquires: {h_imm} of {g_imm}"
        );
        assert!(s_twap > s_imm, "{name}: twap sells in more, smaller swaps");
    }
}
