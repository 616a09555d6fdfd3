//! The agents that exploit the engine's oracle, on their shipped scenarios: the manipulator
//! (configs/scenarios/mango_manipulation.toml) attacks when the thin pool makes the loan worth
//! more than its collateral and the pushes, and leaves bad debt; on a deep pool, a long TWAP
//! window or a high initial margin it never borrows and nothing is lost. The oracle
//! arbitrageur (configs/scenarios/oracle_arbitrage.toml) trades the gap of a one-hour OSM
//! against the market when it beats fees and gas, and never when the fee eats it. The ledger is
//! conserved after every block of every run.

mod common;

use cascade_core::{HolderId, TokenId};
use cascade_sim::World;
use cascade_sim::metrics::MetricRow;

const MANGO: &str = "configs/scenarios/mango_manipulation.toml";
const ORACLE_ARB: &str = "configs/scenarios/oracle_arbitrage.toml";

/// What one run leaves: the metrics, the agent's gain (wallet quote plus its asset holdings at
/// the market plus its account's equity at the engine's prices, floored at zero since a
/// borrower can walk away from an account, less what it started with)
/// and whether it ever borrowed or traded on the engine.
struct Outcome {
    row: MetricRow,
    gain: f64,
    used_engine: bool,
}

fn run(file: &str, seed: u64, label: &str, sets: &[&str]) -> Outcome {
    run_n(file, seed, 0, label, sets)
}

fn run_n(file: &str, seed: u64, run: u64, label: &str, sets: &[&str]) -> Outcome {
    let s = common::scenario(file, sets);
    let mut w = World::new(&s, seed, run).unwrap();
    w.enable_ledger_checks();
    let holder: HolderId = w
        .actors()
        .iter()
        .find(|a| a.label == label)
        .unwrap_or_else(|| panic!("the scenario has {label}"))
        .holder;
    let value = |w: &World| {
        let p = w.prices().p_ref(0);
        let wallet = w.ledger().balance(holder, TokenId::QUOTE).to_whole()
            + w.ledger().balance(holder, TokenId(1)).to_whole() * p;
        let e = w.engine().unwrap();
        let equity = e
            .account_of(holder)
            .and_then(|id| e.health_at(id, e.prices()))
            .map_or(0.0, |h| h.equity.max(0.0));
        (wallet, equity)
    };
    let (start, _) = value(&w);
    let mut used_engine = false;
    while w.running() {
        w.step().unwrap_or_else(|e| panic!("{e}"));
        let e = w.engine().unwrap();
        used_engine |= e.account_of(holder).is_some();
    }
    let (wallet, equity) = value(&w);
    Outcome {
        row: w.metrics(),
        gain: wallet + equity - start,
        used_engine,
    }
}

fn get(row: &MetricRow, k: &str) -> f64 {
    row.get(k).unwrap_or_else(|| panic!("metric {k}"))
}

#[test]
fn the_manipulator_attacks_a_thin_pool_and_leaves_bad_debt() {
    let o = run(MANGO, 2022, "manipulator-0", &[]);
    let bad = get(&o.row, "bad_debt");
    println!(
        "mango_manipulation run 0: manipulator gain {:.0}, bad debt {:.0}",
        o.gain, bad
    );
    assert!(o.used_engine, "it borrowed");
    assert!(o.gain > 1_000_000.0, "the attack pays: {}", o.gain);
    assert!(bad > 1_000_000.0, "the walk-away leaves bad debt: {bad}");
}

#[test]
fn the_manipulator_leaves_alone_what_does_not_pay() {
    for sets in [
        // A pool two hundred times deeper: every push costs more than the loan can gain.
        &[
            "venues.0.reserve_base=100000000",
            "venues.0.reserve_quote=100000000",
        ][..],
        // An hour-long TWAP: ten blocks of pushing move it too little.
        &["oracles.0.feed.window_s=3600"][..],
        // 60% initial margin: the pump must more than double the price to pay.
        &[
            "engine.margin.initial=0.6",
            "engine.margin.maintenance=0.5",
            "agents.3.max_push=1.0",
        ][..],
    ] {
        let o = run(MANGO, 2022, "manipulator-0", sets);
        let bad = get(&o.row, "bad_debt");
        println!(
            "mango_manipulation {sets:?}: gain {:.0}, bad debt {bad:.0}",
            o.gain
        );
        assert!(!o.used_engine, "{sets:?}: it never borrows");
        assert_eq!(bad, 0.0, "{sets:?}");
    }
}

#[test]
fn the_oracle_arbitrageur_trades_the_stale_oracle_only_when_it_pays() {
    let mut total = 0.0;
    for r in 0..3 {
        let o = run_n(ORACLE_ARB, 17, r, "oracle-arbitrageur-0", &[]);
        println!(
            "oracle_arbitrage run {r}: arbitrageur gain {:.0}, bad debt {:.0}",
            o.gain,
            get(&o.row, "bad_debt")
        );
        assert!(o.used_engine, "run {r}: it traded");
        total += o.gain;
    }
    assert!(
        total > 0.0,
        "the stale oracle pays it over three runs: {total}"
    );
    // A 5% perp fee each way is more than any gap the OSM leaves here.
    let none = run(
        ORACLE_ARB,
        17,
        "oracle-arbitrageur-0",
        &["engine.perp_fee=0.05"],
    );
    assert!(!none.used_engine, "with a 5% fee it never trades");
    assert_eq!(none.gain, 0.0);
}

/// Each broken new key (the manipulator's, the oracle arbitrageur's, the liquidator's sale
/// policy) gets an error naming the full key and the rule.
#[test]
fn the_new_keys_name_their_key_and_rule() {
    use cascade_sim::load::{apply_overrides, scenario_from_tree};
    use std::path::Path;
    let broken = |file: &str, edits: &[&str]| -> String {
        let text = std::fs::read_to_string(common::repo().join(file)).unwrap();
        let mut tree: toml::Table = text.parse().unwrap();
        let edits: Vec<String> = edits.iter().map(|e| e.to_string()).collect();
        apply_overrides(Path::new(file), &mut tree, &edits).unwrap();
        match scenario_from_tree(Path::new(file), tree) {
            Ok(_) => panic!("{edits:?}: accepted"),
            Err(e) => e.to_string(),
        }
    };
    let cases: [(&str, &[&str], &str, &str); 11] = [
        (
            MANGO,
            &["agents.3.asset=DOGE"],
            "agents[3].asset",
            "no configured asset",
        ),
        (
            MANGO,
            &["agents.3.ltv_share=1.5"],
            "agents[3].ltv_share",
            "(0, 1]",
        ),
        (
            MANGO,
            &["agents.3.max_push_blocks=0"],
            "agents[3].max_push_blocks",
            "",
        ),
        (
            MANGO,
            &["oracles.0.feed={ kind = \"push\" }"],
            "agents[3].asset",
            "twap",
        ),
        (
            ORACLE_ARB,
            &["agents.4.leverage=0.5"],
            "agents[4].leverage",
            "at least 1",
        ),
        (
            ORACLE_ARB,
            &["agents.4.assets=[\"BTC\"]"],
            "agents[4].assets[0]",
            "no configured asset",
        ),
        (
            MANGO,
            &["agents.2.sale={ kind = \"twap\", duration_s = 0.0 }"],
            "agents[2].sale.duration_s",
            "> 0",
        ),
        (
            MANGO,
            &["agents.2.sale={ kind = \"twap\", blocks = 10 }"],
            "agents[2].sale.blocks",
            "replaced by `duration_s` (seconds): at 12 s blocks, 10 blocks is 10 * 12 = 120 s",
        ),
        (
            MANGO,
            &[
                "agents.2.sale={ kind = \"immediate\" }",
                "agents.2.flash=true",
            ],
            "agents[2].flash",
            "legacy",
        ),
        (
            MANGO,
            &["agents.2.sale={ kind = \"hold\", blocks = 3 }"],
            "agents[2].sale.blocks",
            "not a known key",
        ),
        (
            MANGO,
            &["agents.2.sale={ kind = \"dump\" }"],
            "agents[2].sale.kind",
            "not one of the allowed values: hold, immediate, twap",
        ),
    ];
    for (file, edits, key, rule) in cases {
        let msg = broken(file, edits);
        assert!(msg.contains(key), "{edits:?}: {msg}");
        assert!(msg.contains(rule), "{edits:?}: {msg}");
    }
}
