//! Asynchronous settlement (`engine.sequencer = { kind = "async" }`) end to end: the ledger
//! and the engine's claims are conserved after every block with the off-chain engine on; with
//! both intervals at the block time and no latency it is the on-chain engine exactly; a
//! scripted sequencer outage delays the first liquidation by the outage's length.

mod common;

use cascade_sim::World;

const EQUAL: &str = "engine.sequencer={kind=\"async\", risk_interval_s=12.0, settlement_interval_s=12.0, latency_s=0.0}";

#[test]
fn every_block_conserves_with_the_off_chain_engine() {
    let s = common::scenario(
        "configs/scenarios/gen3_async.toml",
        &["chain.duration_s=10800"],
    );
    for run in 0..2 {
        let mut w = World::new(&s, 7, run).unwrap();
        w.enable_ledger_checks();
        let row = w.run().unwrap_or_else(|e| panic!("run {run}: {e}"));
        assert!(
            row.get("liquidations").unwrap() > 0.0,
            "run {run}: no liquidation"
        );
        assert!(row.get("settlement_lag_s_mean").unwrap() > 0.0);
        assert!(row.get("unsettled_exposure_max").unwrap() > 0.0);
    }
}

/// Both intervals equal to the block time and latency 0: every account the engine flags at a
/// block end is allowed at that block end, so the gen3 populations (whose liquidators act only
/// on flagged accounts) see the on-chain engine; the whole row, the three new metrics
/// included (0 under both), is the same bits.
#[test]
fn equal_intervals_and_no_latency_are_the_on_chain_engine() {
    let on = common::scenario("configs/scenarios/gen3.toml", &[]);
    let off = common::scenario("configs/scenarios/gen3.toml", &[EQUAL]);
    for run in 0..3 {
        let a = World::new(&on, 2024, run).unwrap().run().unwrap();
        let b = World::new(&off, 2024, run).unwrap().run().unwrap();
        assert!(a.get("liquidations").unwrap() > 0.0);
        assert_eq!(a, b, "run {run}");
        assert_eq!(b.get("settlement_lag_s_mean"), Some(0.0));
        assert_eq!(b.get("divergence_loss"), Some(0.0));
        assert_eq!(b.get("unsettled_exposure_max"), Some(0.0));
    }
}

/// Step `w` to its end; the time of the first block end with a flagged account and of the
/// first block with a liquidation.
fn first_flag_and_liquidation(w: &mut World) -> (f64, f64) {
    let (mut flag, mut liq) = (None, None);
    while w.running() && liq.is_none() {
        w.step().unwrap();
        let e = w.engine().unwrap();
        if flag.is_none() && !e.flagged().is_empty() {
            flag = Some(w.time_s());
        }
        if e.metrics().liquidations > 0 {
            liq = Some(w.time_s());
        }
    }
    (flag.expect("a flag"), liq.expect("a liquidation"))
}

/// A hand-built outage: the sequencer is down from the first flag for 600 s. Nothing differs
/// before the first liquidation would happen, the account stays flagged through the outage,
/// so the decision lands at the outage's end and the first liquidation comes exactly 600 s
/// later than with the sequencer up.
#[test]
fn an_outage_delays_the_first_liquidation_by_its_length() {
    let s = common::scenario("configs/scenarios/gen3.toml", &[EQUAL]);
    let mut w = World::new(&s, 2024, 0).unwrap();
    let (tf, t0) = first_flag_and_liquidation(&mut w);
    let outage = format!(
        "engine.sequencer={{kind=\"async\", risk_interval_s=12.0, settlement_interval_s=12.0, latency_s=0.0, outages=[[{tf}, {}]]}}",
        tf + 600.0
    );
    let s = common::scenario("configs/scenarios/gen3.toml", &[&outage]);
    let mut w = World::new(&s, 2024, 0).unwrap();
    let (tf2, t1) = first_flag_and_liquidation(&mut w);
    assert_eq!(tf2, tf, "the first flag does not depend on the sequencer");
    assert_eq!(
        t1 - t0,
        600.0,
        "first liquidation at {t0} s without, {t1} s with the outage"
    );
}

/// Bad `engine.sequencer` values are configuration errors naming the file, the key and the
/// rule.
#[test]
fn bad_sequencer_values_name_their_key_and_rule() {
    use cascade_sim::load::{apply_overrides, scenario_from_tree};
    use std::path::Path;
    let file = "configs/scenarios/gen3_async.toml";
    let text = std::fs::read_to_string(common::repo().join(file)).unwrap();
    let cases = [
        (
            "batch_capacity=0",
            "engine.sequencer.batch_capacity",
            "must be >= 1",
        ),
        ("latency_s=-1.0", "engine.sequencer.latency_s", ">= 0"),
        (
            "settlement_interval_s=0.0",
            "engine.sequencer.settlement_interval_s",
            "> 0",
        ),
        (
            "outage_per_hour=0.5",
            "engine.sequencer.outage_mean_s",
            "must be > 0 seconds when outage_per_hour > 0",
        ),
        (
            "outages=[[600.0, 900.0], [100.0, 200.0]]",
            "engine.sequencer.outages[1]",
            "after the previous window",
        ),
        ("latency_blocks=3", "engine.sequencer", "latency_blocks"),
    ];
    for (extra, key, rule) in cases {
        let mut fields = vec![
            "kind=\"async\"".to_string(),
            "risk_interval_s=12.0".into(),
            "settlement_interval_s=120.0".into(),
            "latency_s=60.0".into(),
        ];
        let name = extra.split('=').next().unwrap();
        fields.retain(|f| !f.starts_with(&format!("{name}=")));
        fields.push(extra.to_string());
        let edit = format!("engine.sequencer={{{}}}", fields.join(", "));
        let mut tree: toml::Table = text.parse().unwrap();
        apply_overrides(Path::new(file), &mut tree, std::slice::from_ref(&edit)).unwrap();
        let msg = match scenario_from_tree(Path::new(file), tree) {
            Ok(_) => panic!("{edit}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(msg.starts_with(file), "{edit}: names the file: {msg}");
        assert!(
            msg.contains(&format!("key `{key}")),
            "{edit}: no key {key}: {msg}"
        );
        assert!(msg.contains(rule), "{edit}: no rule {rule:?}: {msg}");
    }
}
