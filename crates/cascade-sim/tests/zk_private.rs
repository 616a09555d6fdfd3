//! Private positions with proofs end to end (`configs/scenarios/zk_private.toml`): every
//! block conserves every token with the proofs paid on the ledger, liquidations wait at least
//! the proof latency, the legacy boolean and its table form are the same run, and a bad
//! value is named with its key and rule.

mod common;

use cascade_sim::World;
use std::path::Path;

const FILE: &str = "configs/scenarios/zk_private.toml";

#[test]
fn zk_runs_conserve_every_block_and_pay_for_proofs() {
    let s = common::scenario(FILE, &["chain.duration_s=7200"]);
    for run in 0..2 {
        let mut w = World::new(&s, 7, run).unwrap();
        w.enable_ledger_checks();
        let row = w.run().unwrap_or_else(|e| panic!("run {run}: {e}"));
        let get = |m: &str| row.get(m).unwrap();
        assert!(get("proof_gas") > 0.0);
        assert!(get("liquidations") > 0.0, "the crash liquidates");
        // Every insolvency proof took the 60-second latency (it lands at the first block
        // end at or after it: 12-second blocks, so exactly 60).
        assert_eq!(get("proof_delay_s_mean"), 60.0);
        assert!(get("liquidation_delay_s_mean") >= 60.0);
    }
}

#[test]
fn the_boolean_and_its_table_are_the_same_run() {
    for (b, table) in [
        (
            "engine.privacy=true",
            "engine.privacy.kind=\"hidden_health\"",
        ),
        ("engine.privacy=false", "engine.privacy.kind=\"off\""),
    ] {
        let row = |set: &str| {
            let s = common::scenario(FILE, &["chain.duration_s=7200", set]);
            World::new(&s, 7, 0).unwrap().run().unwrap()
        };
        let (x, y) = (row(b), row(table));
        assert!(x == y, "{b} vs {table}");
        assert_eq!(x.get("proof_gas"), Some(0.0));
        assert_eq!(x.get("proof_delay_s_mean"), Some(0.0));
    }
}

#[test]
fn a_bad_proof_setting_names_its_key_and_rule() {
    let path = common::repo().join(FILE);
    for (set, key, rule) in [
        (
            "engine.privacy.proof_latency_s=600",
            "engine.privacy.proof_latency_s",
            "must be below proof_interval_s",
        ),
        (
            "engine.privacy.proof_interval_s=0",
            "engine.privacy.proof_interval_s",
            "> 0",
        ),
        (
            "engine.privacy.verify_gas=0",
            "engine.privacy.verify_gas",
            ">= 1",
        ),
    ] {
        let e = cascade_sim::load::load_scenario(&path, &[set.to_string()])
            .err()
            .unwrap_or_else(|| panic!("{set}: accepted"))
            .to_string();
        assert!(e.contains(key) && e.contains(rule), "{set}: {e}");
        assert!(e.contains("zk_private.toml"), "{e}");
    }
    let e = cascade_sim::load::load_scenario(
        Path::new(&path),
        &["engine.privacy.kind=\"zk\"".to_string()],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("privacy") && e.contains("zk_proofs"), "{e}");
}
