//! Cross-chain collateral (`engine.cross_chain`, `crate::bridge`): the remote liquidation is
//! the same-chain plan when the bridge is instant, a known latency delays the proceeds by a
//! known number of seconds, a fall in price before the remote sale is bad debt, and the
//! ledger and the engine's claims balance after every block.

mod common;

use cascade_core::Amount;
use cascade_engine::*;
use common::*;

const BONUS: f64 = 0.05;

fn with_bridge(bridge: &str) -> EngineConfig {
    let mut c = cfg(
        LiquidationMode::Full { bonus: BONUS },
        vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
    );
    c.cross_chain = toml::from_str(bridge).unwrap();
    c
}

fn plain() -> EngineConfig {
    cfg(
        LiquidationMode::Full { bonus: BONUS },
        vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
    )
}

/// One home block of 12 s at price `p` (oracle and market), ending with the bridge step.
fn block(h: &mut H, p: f64) {
    h.next_block(p);
    h.engine.bridge_block_end(&mut h.ledger, &[p], 0.0);
    h.check();
}

#[test]
fn remote_liquidation_matches_the_same_chain_plan() {
    // Instant bridge, no failures, no limit, no remote gas, remote blocks at the home block
    // times and the remote feed publishing every block without delay.
    let mut b = harness(
        &with_bridge(
            r#"kind = "bridge"
            remote_block_time_s = 12.0
            latency_s = 0.0"#,
        ),
        1,
    );
    let mut a = harness(&plain(), 1);
    let ib = b.borrower(0, 10.0, 15_000.0);
    let ia = a.borrower(0, 10.0, 15_000.0);
    block(&mut b, 1600.0);
    a.next_block(1600.0);
    // Public liquidators cannot touch remote collateral; here the bridge has acted already.
    assert!(b.liquidate(ib).is_err());
    a.liquidate(ia).unwrap();
    a.check();
    let (xa, xb) = (a.engine.account(ia).unwrap(), b.engine.account(ib).unwrap());
    assert_eq!(xa.collateral, xb.collateral);
    assert_eq!(xa.debt, xb.debt);
    assert_eq!(xa.quote, xb.quote);
    assert_eq!(a.engine.pool_cash(), b.engine.pool_cash());
    assert_eq!(a.engine.insurance_fund(), b.engine.insurance_fund());
    let (ma, mb) = (a.engine.metrics(), b.engine.metrics());
    assert_eq!(ma.liquidations, mb.liquidations);
    assert_eq!(ma.bad_debt, mb.bad_debt);
    assert_eq!(mb.bridge.delay_count, 1);
    assert_eq!(mb.bridge.delay_s_sum, 0.0);
    assert_eq!(mb.bridge.bad_debt, 0.0);
}

/// Seconds from the decision to the landing of the proceeds, for a one-way latency.
fn delay_for(latency_s: f64) -> f64 {
    let mut h = harness(
        &with_bridge(&format!(
            r#"kind = "bridge"
            remote_block_time_s = 2.0
            latency_s = {latency_s}"#
        )),
        1,
    );
    let id = h.borrower(0, 10.0, 15_000.0);
    block(&mut h, 1600.0); // t = 12: flagged and decided
    assert!(h.engine.account(id).unwrap().debt.is_zero());
    for _ in 0..20 {
        block(&mut h, 1600.0);
    }
    let m = h.engine.metrics().bridge;
    assert_eq!(m.delay_count, 1);
    m.delay_s_sum
}

#[test]
fn a_known_latency_delays_the_proceeds_by_a_known_time() {
    // Decided at 12 s; the seize arrives at 12 + L and runs in the first remote block (2 s)
    // at or after it; the proceeds arrive L later and land at the first home block end
    // (12 s) at or after that.
    // L = 30: remote block 42, arrival 72, landed at 72: 60 s.
    assert_eq!(delay_for(30.0), 60.0);
    // L = 31: arrival 43, remote block 44, arrival 75, landed at 84: 72 s.
    assert_eq!(delay_for(31.0), 72.0);
    // L = 0: the same block end.
    assert_eq!(delay_for(0.0), 0.0);
}

#[test]
fn a_fall_before_the_remote_sale_is_bridge_bad_debt() {
    let mut h = harness(
        &with_bridge(
            r#"kind = "bridge"
            remote_block_time_s = 2.0
            latency_s = 30.0"#,
        ),
        1,
    );
    let id = h.borrower(0, 10.0, 15_000.0);
    let pool0 = h.engine.pool_cash();
    block(&mut h, 1600.0); // decided at 12 s at 1600
    // The price falls before the seize arrives (42 s): the remote keeper pays 1500/1600 of
    // the planned 15,000.
    for _ in 0..10 {
        block(&mut h, 1500.0);
    }
    let m = h.engine.metrics();
    let expected = 15_000.0 * (1.0 - 1500.0 / 1600.0);
    assert!(
        (m.bridge.bad_debt - expected).abs() < 1e-6,
        "{} vs {expected}",
        m.bridge.bad_debt
    );
    // Part of the run's bad debt, through the waterfall (the insurance fund pays first).
    assert!((m.bad_debt - m.bridge.bad_debt).abs() < 1e-9);
    assert!(h.engine.account(id).unwrap().debt.is_zero());
    // The pool got back the proceeds plus what the fund paid: 15,000 in all.
    assert_eq!(
        h.engine.pool_cash() - pool0,
        Amount::from_whole(15_000.0) - Amount::from_whole(m.socialized_loss)
    );
}

#[test]
fn failures_rate_limits_and_gas_keep_the_ledger_exact() {
    let mut h = harness(
        &with_bridge(
            r#"kind = "bridge"
            remote_block_time_s = 2.0
            latency_s = 20.0
            latency_jitter_s = 15.0
            failure_prob = 0.5
            retry_delay_s = 30.0
            rate_limit_capacity = 5000.0
            rate_limit_refill_per_hour = 36000.0
            remote_base_fee_gwei = 1.0
            gas_per_message = 200000.0
            remote_oracle = { deviation = 0.01, heartbeat_s = 60.0, latency_s = 4.0 }"#,
        ),
        4,
    );
    for i in 0..4 {
        h.borrower(i, 10.0, 15_000.0 + 100.0 * i as f64);
    }
    let mut p = 2000.0;
    for k in 0..400 {
        p = if k < 20 { p * 0.985 } else { p * 1.001 };
        h.next_block(p);
        h.engine.bridge_block_end(&mut h.ledger, &[p], 2000.0);
        h.check(); // claims = vault, escrow = in flight, every token conserved
    }
    let m = h.engine.metrics().bridge;
    assert_eq!(m.delay_count, 4, "every remote liquidation landed");
    assert!(m.fees > 0.0);
    // A 15,000 message through a 5,000 bucket refilled at 10 per second waits.
    assert!(m.delay_s_sum / 4.0 > 2.0 * 20.0);
}

#[test]
fn a_bad_bridge_value_names_its_key() {
    let c = with_bridge(
        r#"kind = "bridge"
        remote_block_time_s = 0.0
        latency_s = 10.0
        failure_prob = 1.0"#,
    );
    let mut issues = Vec::new();
    c.validate(&mut cascade_core::Check::new(&mut issues), &[], 12.0);
    let text: String = issues.iter().map(|i| format!("{i}\n")).collect();
    assert!(text.contains("cross_chain.remote_block_time_s"), "{text}");
    assert!(text.contains("cross_chain.failure_prob"), "{text}");
}
