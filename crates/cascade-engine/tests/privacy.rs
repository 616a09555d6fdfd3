//! Private positions with proofs (`engine.privacy = { kind = "zk_proofs" }`), by hand: a
//! liquidation waits exactly the proof latency, a missed solvency proof makes the account
//! public (or not, by policy), proofs are paid on the ledger, and `true` still means the
//! legacy flag.

mod common;

use cascade_core::{AccountId, Amount, HolderId, TokenId};
use cascade_engine::*;
use common::*;

const GWEI_20: u128 = 20_000_000_000;

fn zk_cfg(latency: f64, missed: MissedProof) -> EngineConfig {
    let mut c = cfg(
        LiquidationMode::Full { bonus: 0.05 },
        vec![WaterfallStep::InsuranceFund, WaterfallStep::Socialize],
    );
    c.insurance_fund = 10_000.0;
    c.privacy = Privacy::ZkProofs(ZkProofs {
        proof_interval_s: 600.0,
        proof_latency_s: latency,
        verify_gas: 250_000,
        on_missed_proof: missed,
    });
    c
}

/// One 12-second block at price `p`, ended the way the World ends it (solvency deadlines,
/// the protocol's check, insolvency proofs paid to `sink`), then every invariant checked.
fn block(h: &mut H, p: f64, sink: HolderId) {
    h.step(12.0, &[p], &[p], true, None);
    h.engine
        .prove_solvency(&mut h.ledger, GWEI_20, 2000.0, sink);
    h.engine.end_block();
    h.engine.settle_proofs(&mut h.ledger, sink);
    h.check();
}

/// The time (s) the account was first flagged (public and liquidatable), stepping blocks at
/// `p` until `until_s`; liquidation attempts before it revert.
fn flag_time(h: &mut H, id: AccountId, p: f64, until_s: f64, sink: HolderId) -> Option<f64> {
    while h.t_s < until_s {
        if !h.engine.flagged().contains_key(&id) {
            let r = h.liquidate(id).err();
            assert!(
                matches!(r, Some("unproven" | "healthy")),
                "t = {}: {r:?}",
                h.t_s
            );
        }
        block(h, p, sink);
        if h.engine.flagged().contains_key(&id) {
            return Some(h.t_s);
        }
    }
    None
}

#[test]
fn liquidation_waits_exactly_the_proof_latency() {
    for latency in [0.0, 12.0, 36.0, 120.0] {
        let mut h = harness(&zk_cfg(latency, MissedProof::Public), 2);
        let sink = h.traders[1];
        let id = h.borrower(0, 10.0, 15_000.0);
        block(&mut h, 2000.0, sink); // t = 12: healthy
        let fund0 = h.engine.insurance_fund();
        let sink0 = h.ledger.balance(sink, TokenId::QUOTE);
        // t = 24: 16,000 * 0.9 - 15,000 < 0, seen by the protocol's check; the proof of
        // insolvency starts now. (Its first solvency deadline is at 312 s.)
        block(&mut h, 1600.0, sink);
        if latency > 0.0 {
            // Insolvent and seen, but not proven: nobody may liquidate it yet.
            assert_eq!(h.liquidate(id).err(), Some("unproven"));
            assert!(!h.engine.is_public(id));
        }
        let flagged = if h.engine.flagged().contains_key(&id) {
            h.t_s
        } else {
            flag_time(&mut h, id, 1600.0, 280.0, sink).expect("flagged")
        };
        assert_eq!(flagged, 24.0 + latency, "latency {latency}");
        let m = h.engine.metrics();
        assert_eq!(m.proofs.delay_count, 1);
        assert_eq!(m.proofs.delay_s_sum, latency);
        assert_eq!(m.proofs.gas, 250_000.0);
        // The verification is paid by the insurance fund to the sink, exactly:
        // 250,000 gas x 20 gwei x 2,000 = 10 quote.
        let cost = Amount::from_whole(10.0);
        assert_eq!(fund0 - h.engine.insurance_fund(), cost);
        assert_eq!(h.ledger.balance(sink, TokenId::QUOTE) - sink0, cost);
        // Now public: readable and liquidatable.
        assert!(h.engine.is_public(id));
        h.liquidate(id).unwrap();
        h.check();
    }
}

#[test]
fn an_account_that_recovers_abandons_its_proof() {
    let mut h = harness(&zk_cfg(60.0, MissedProof::Public), 2);
    let sink = h.traders[1];
    let id = h.borrower(0, 10.0, 15_000.0);
    block(&mut h, 1600.0, sink); // t = 12: proof starts
    block(&mut h, 1600.0, sink); // t = 24
    block(&mut h, 2000.0, sink); // t = 36: healthy again, proof dropped
    // t = 48: insolvent again; a new proof, verified at 108 (not at 72).
    let flagged = flag_time(&mut h, id, 1600.0, 280.0, sink).unwrap();
    assert_eq!(flagged, 108.0);
    assert_eq!(h.engine.metrics().proofs.delay_count, 1);
}

/// An account insolvent when its solvency proof must start cannot prove: it misses its
/// deadline (312 s for account 0: half an interval after the first block that saw it). Under
/// `public` it is liquidatable at the deadline, before the 500-second insolvency proof
/// started at 12 s lands; under `hidden` only once that proof lands (the first block at or
/// after 512 s).
#[test]
fn a_missed_solvency_proof_follows_its_policy() {
    for (policy, want) in [(MissedProof::Public, 312.0), (MissedProof::Hidden, 516.0)] {
        let mut h = harness(&zk_cfg(500.0, policy), 2);
        let sink = h.traders[1];
        let id = h.borrower(0, 10.0, 15_000.0);
        let flagged = flag_time(&mut h, id, 1600.0, 590.0, sink).unwrap();
        assert_eq!(flagged, want, "{policy:?}");
        let m = h.engine.metrics();
        assert_eq!(m.proofs.missed_proofs, 1, "{policy:?}");
        assert_eq!(m.proofs.solvency_proofs, 0);
    }
}

/// A solvent account proves at each deadline (312 s, then every 600 s), its owner paying the
/// verification from its wallet; it stays private.
#[test]
fn solvency_proofs_are_paid_by_the_owner_and_keep_the_account_private() {
    let mut h = harness(&zk_cfg(60.0, MissedProof::Public), 2);
    let sink = h.traders[1];
    let id = h.borrower(0, 10.0, 10_000.0);
    let owner = h.traders[0];
    let before = h.ledger.balance(owner, TokenId::QUOTE);
    while h.t_s < 1_000.0 {
        block(&mut h, 2000.0, sink);
    }
    let m = h.engine.metrics();
    assert_eq!(m.proofs.solvency_proofs, 2); // at 312 and 912
    assert_eq!(m.proofs.missed_proofs, 0);
    assert_eq!(m.proofs.gas, 500_000.0);
    assert_eq!(
        before - h.ledger.balance(owner, TokenId::QUOTE),
        Amount::from_whole(20.0)
    );
    assert!(!h.engine.is_public(id));
}

#[test]
fn the_boolean_keeps_its_meaning_and_tables_parse() {
    #[derive(serde::Deserialize)]
    struct T {
        privacy: Privacy,
    }
    let p = |s: &str| toml::from_str::<T>(s).map(|t| t.privacy);
    assert_eq!(p("privacy = false").unwrap(), Privacy::Off);
    assert_eq!(p("privacy = true").unwrap(), Privacy::HiddenHealth);
    assert_eq!(
        p("privacy = { kind = \"hidden_health\" }").unwrap(),
        Privacy::HiddenHealth
    );
    let z =
        p("privacy = { kind = \"zk_proofs\", proof_interval_s = 600.0, proof_latency_s = 60.0 }")
            .unwrap();
    assert_eq!(z.zk().unwrap().verify_gas, 250_000);
    assert_eq!(z.zk().unwrap().on_missed_proof, MissedProof::Public);
    let e = p("privacy = { kind = \"zk\" }").unwrap_err().to_string();
    assert!(e.contains("zk_proofs"), "{e}");
    let e = p("privacy = { kind = \"zk_proofs\", proof_interval_s = 600.0, proof_latency_s = 6.0, gas = 1 }")
        .unwrap_err()
        .to_string();
    assert!(e.contains("gas"), "{e}");
    // The legacy values serialize as the booleans they were.
    #[derive(serde::Serialize)]
    struct S {
        privacy: Privacy,
    }
    let s = |p| toml::to_string(&S { privacy: p }).unwrap();
    assert_eq!(s(Privacy::Off).trim(), "privacy = false");
    assert_eq!(s(Privacy::HiddenHealth).trim(), "privacy = true");
}
