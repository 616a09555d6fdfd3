//! The ledger conserves every token after every block of full runs, and pools' reserves always
//! equal their ledger balances.

mod common;

use cascade_sim::World;

#[test]
fn every_block_conserves_every_token() {
    let s = common::from_text(common::SMALL).unwrap();
    for run in 0..3 {
        let mut w = World::new(&s, 99, run).unwrap();
        w.enable_ledger_checks();
        let row = w.run().unwrap_or_else(|e| panic!("run {run}: {e}"));
        // The run did something: transactions were included.
        assert!(row.get("txs_included").unwrap() > 100.0);
    }
}

#[test]
fn every_shipped_scenario_conserves() {
    // Every file in configs/scenarios/, in name order, so that a new scenario is covered
    // without editing this test.
    let dir = common::repo().join("configs/scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    assert!(files.iter().any(|f| f == "twap_manipulation.toml"));
    for f in files {
        let rel = format!("configs/scenarios/{f}");
        // large_book ships 10^6 accounts; its ledger is checked with 10,000 of them (the
        // golden test and the smoke script reduce it too).
        let sets: &[&str] = if f == "large_book.toml" {
            &["chain.duration_s=7200", "agents.4.count=10000"]
        } else {
            &["chain.duration_s=7200"]
        };
        let s = common::scenario(&rel, sets);
        let mut w = World::new(&s, 1, 0).unwrap();
        w.enable_ledger_checks();
        w.run().unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
}
