//! Sleeping holders change nothing but the cost (docs/model.md, "The agent schedule"): with
//! `chain.holders_sleep` on and off, the same seeds give bit-identical metric rows, per-block
//! traces and event logs on scenarios with borrowers and perps, stops, top-ups and
//! deleveraging, funding and a crash, while the holders on are visited far less often.

mod common;

use cascade_sim::{World, events, trace};
use sha2::{Digest, Sha256};

/// One run's fingerprint (metric bits, trace CSV, event CSV) and its agent visits per block.
fn run(rel: &str, extra: &[&str], sleep: bool, run: u64) -> (Vec<u8>, f64) {
    let set = format!("chain.holders_sleep={sleep}");
    let mut sets: Vec<&str> = extra.to_vec();
    sets.push(&set);
    let s = common::scenario(rel, &sets);
    let mut w = World::new(&s, s.config.run.seed, run).unwrap();
    w.enable_trace();
    w.enable_events();
    let mut h = Sha256::new();
    let mut buf = Vec::new();
    while w.running() {
        w.step().unwrap();
        let ev = w.drain_events();
        buf.clear();
        events::write_events(&mut buf, &w.event_labels(), &ev).unwrap();
        h.update(&buf);
    }
    for v in &w.metrics().0 {
        h.update(v.to_bits().to_le_bytes());
    }
    buf.clear();
    trace::write_run(&mut buf, run, &w.take_trace()).unwrap();
    h.update(&buf);
    let blocks = w.block().max(1) as f64;
    (h.finalize().to_vec(), w.agent_visits() as f64 / blocks)
}

fn check(rel: &str, runs: u64) {
    check_with(rel, &[], runs);
}

fn check_with(rel: &str, extra: &[&str], runs: u64) {
    for r in 0..runs {
        let (on, visits_on) = run(rel, extra, true, r);
        let (off, visits_off) = run(rel, extra, false, r);
        eprintln!(
            "{rel} run {r}: acting agents per block {visits_off:.1} awake, {visits_on:.1} asleep"
        );
        assert_eq!(on, off, "{rel} run {r}: holders asleep and awake differ");
        assert!(visits_on <= visits_off, "{rel} run {r}: more visits asleep");
    }
}

#[test]
fn gen1_is_identical_with_holders_asleep() {
    check("configs/scenarios/gen1.toml", 2);
}

#[test]
fn gen2_is_identical_with_holders_asleep() {
    check("configs/scenarios/gen2.toml", 2);
}

#[test]
fn gen3_is_identical_with_holders_asleep() {
    check("configs/scenarios/gen3.toml", 2);
}

/// Funding far heavier than any market's (up to 20,000% a year, settled every minute), so
/// that it moves the holders' health between settlements: holders with a perp sleep through
/// settlements on their funding band (settlements are not account writes) and must be woken
/// before funding can make one of their conditions hold. (With the funding band left
/// unbounded, this test fails.)
#[test]
fn heavy_funding_is_identical_with_holders_asleep() {
    check_with(
        "configs/scenarios/gen2.toml",
        &[
            "engine.funding_scale=100000",
            "engine.funding_cap=200",
            "engine.funding_interval_s=60",
        ],
        2,
    );
}

/// Perp-heavy, funding at the market, a shock.
#[test]
fn spiral_is_identical_with_holders_asleep() {
    check("configs/scenarios/spiral.toml", 2);
}

/// Margin ratios that move with volatility (the generation wake).
#[test]
fn predictive_margin_is_identical_with_holders_asleep() {
    check("configs/scenarios/predictive_margin.toml", 1);
}

/// The benchmark reference (2,000 traders, a simulated day).
#[test]
fn bench_reference_is_identical_with_holders_asleep() {
    check("configs/bench/reference.toml", 1);
}

/// Holders that sit below their top-up threshold (the peer mirror's 19x book against the
/// default 2% threshold, and its partial liquidations' 0.5% buffer) sleep there until their
/// top-up clock can ring: with top-ups at 30 an hour after a five-minute delay, and without
/// top-ups; fixed margin ratios. Two simulated hours.
#[test]
fn holders_below_topup_threshold_are_identical_asleep() {
    let short = "chain.duration_s=7200";
    let threshold = "agents.0.topup_threshold=0.02";
    check_with("configs/bench/dexsim_fixed.toml", &[short, threshold], 1);
    check_with(
        "configs/bench/dexsim_fixed.toml",
        &[
            short,
            threshold,
            "agents.0.topup_per_hour=30",
            "agents.0.topup_delay_s=300",
            "agents.0.topup_fraction=0.02",
        ],
        1,
    );
}

/// The same below the threshold under margin ratios that move with volatility (a ratio band
/// on both sides), and economic traders (stops and deleveraging) with a top-up threshold
/// above their deleveraging threshold.
#[test]
fn holders_below_topup_threshold_with_moving_ratios_are_identical_asleep() {
    check_with(
        "configs/bench/dexsim_vol.toml",
        &[
            "chain.duration_s=7200",
            "agents.0.topup_threshold=0.02",
            "agents.0.topup_per_hour=30",
            "agents.0.topup_delay_s=300",
        ],
        1,
    );
    for rel in [
        "configs/scenarios/gen3.toml",
        "configs/scenarios/predictive_margin.toml",
    ] {
        check_with(rel, &["agents.2.topup_threshold=0.2"], 1);
    }
    check_with(
        "configs/scenarios/gen2.toml",
        &["agents.2.topup_threshold=0.2"],
        1,
    );
}

/// Traders whose transaction waits in the mempool sleep until it leaves (included, expired,
/// or pulled into a bundle) and wake in the block after: keepers in congestion, and the peer
/// mirror at 20,000 traders with a tight gas limit (its 10,000 openings queue for blocks;
/// with the wake left out, this test fails).
#[test]
fn traders_waiting_on_a_pending_transaction_are_identical_asleep() {
    check("configs/scenarios/keeper_congestion.toml", 1);
    check_with(
        "configs/bench/dexsim_fixed.toml",
        &[
            "chain.duration_s=1800",
            "agents.0.count=10000",
            "agents.1.count=10000",
            "gas.gas_limit=30000000",
        ],
        1,
    );
}
