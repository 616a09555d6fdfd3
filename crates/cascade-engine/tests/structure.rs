//! The measurement of liquidations: the delay from an account's first flag (through a
//! bounce), the liquidated notional in the same units under every mode, and the cascade
//! structure (generations, branching ratio, longest chain) of a hand-built chain.

mod common;

use cascade_core::event::Event;
use cascade_core::tx::EngineOp;
use cascade_core::{AccountId, Amount};
use cascade_engine::*;
use common::*;

/// Begin and end block `b` (12 s blocks) with the oracle at `p` and the oracle price that
/// `p_exo` alone gives at `cf`.
fn block(h: &mut H, p: f64, cf: f64) {
    h.block += 1;
    h.t_s += 12.0;
    h.engine
        .begin_block(h.block, h.t_s, 12.0, &[p], &[cf], &[true], &[None], &[p]);
}

#[test]
fn the_delay_counts_from_the_first_flag_through_a_bounce() {
    let c = cfg(LiquidationMode::Full { bonus: 0.05 }, vec![]);
    let mut h = harness(&c, 1);
    h.engine.enable_events();
    // 10 ETH against 15,300: liquidatable below 15,300 / (0.9 x 10) = 1,700.
    let id = h.borrower(0, 10.0, 15_300.0);
    // Falls below (flagged at block 2), bounces above (unflagged), falls again and stays.
    for p in [2000.0, 1690.0, 1750.0, 1690.0, 1690.0, 1690.0] {
        block(&mut h, p, p);
        h.engine.end_block();
    }
    let flags: Vec<u64> = h
        .engine
        .take_events()
        .iter()
        .filter_map(|e| match e {
            Event::AccountFlagged { block, account, .. } if *account == id => Some(*block),
            _ => None,
        })
        .collect();
    assert_eq!(flags, vec![2], "one first flag, at block 2");
    // Liquidated in block 7: 5 blocks, 60 s after the first flag (the re-flag at block 4
    // would give 3 blocks).
    block(&mut h, 1690.0, 1690.0);
    h.liquidate(id).unwrap();
    h.engine.end_block();
    let m = h.engine.metrics();
    assert_eq!(m.delay_count, 1);
    assert_eq!(m.delay_sum, 5.0);
    assert_eq!(m.delay_max, 5.0);
    assert_eq!(m.delay_s_sum, 60.0);
    let liq: Vec<(u64, f64)> = h
        .engine
        .take_events()
        .iter()
        .filter_map(|e| match e {
            Event::Liquidation {
                delay_blocks,
                delay_s,
                ..
            } => Some((*delay_blocks, *delay_s)),
            _ => None,
        })
        .collect();
    assert_eq!(liq, vec![(5, 60.0)]);
}

#[test]
fn liquidated_notional_is_collateral_and_perps_taken_at_p_ref_in_every_mode() {
    for mode in modes() {
        let c = cfg(mode.clone(), vec![WaterfallStep::Socialize]);
        let mut h = harness(&c, 2);
        // At 1,740 both are liquidatable and above the backstop's trigger: a borrower of
        // 15,700 against 10 ETH (maintenance health 15,660 - 15,700) and a long of 5 ETH
        // from 2,000 on 2,100 of margin (equity 800, requirement 870).
        let borrower = h.borrower(0, 10.0, 15_700.0);
        h.perp(1, 5.0, 2_100.0).unwrap();
        let perp = h.engine.account_of(h.traders[1]).unwrap();
        block(&mut h, 1740.0, 1740.0);
        h.engine.end_block();
        // p_ref 3% above the oracle: the notional follows p_ref, not the oracle.
        let market = TestMarket {
            p_ref: vec![1740.0 * 1.03],
            depth: 1e12,
        };
        for id in [borrower, perp] {
            let before = h.engine.account(id).unwrap().clone();
            let n0 = h.engine.metrics().liquidated_notional;
            let liq = h.liq;
            let out = h.op_at(
                liq,
                EngineOp::Liquidate {
                    account: id,
                    sell_on: None,
                    min_profit: Amount::ZERO,
                },
                &market,
            );
            assert!(out.is_ok(), "{}: {out:?}", mode_name(&mode));
            let after = h.engine.account(id).unwrap();
            let taken = (before.collateral[0] - after.collateral[0]).to_whole()
                + (before.perps[0].size - after.perps[0].size)
                    .abs()
                    .to_whole();
            let n = h.engine.metrics().liquidated_notional - n0;
            let want = taken * market.p_ref[0];
            assert!(
                (n - want).abs() <= 1e-9 * want,
                "{}: account {}: notional {n}, collateral and perp taken at p_ref {want}",
                mode_name(&mode),
                id.0
            );
        }
    }
}

/// Three borrowers of 10 ETH whose liquidation prices form a chain: 1,755.6 (debt 15,800),
/// 1,700 (15,300) and 1,600 (14,400). The exogenous price falls to 1,750 and stays; the
/// oracle follows it, then falls further (the impact of the liquidations' flow) to 1,690 and
/// 1,590.
#[test]
fn generations_and_branching_on_a_hand_built_chain() {
    let c = cfg(
        LiquidationMode::Full { bonus: 0.05 },
        vec![WaterfallStep::Socialize],
    );
    let mut h = harness(&c, 3);
    h.engine.enable_events();
    let ids: Vec<AccountId> = [15_800.0, 15_300.0, 14_400.0]
        .iter()
        .enumerate()
        .map(|(i, d)| h.borrower(i, 10.0, *d))
        .collect();
    let mut notional = Vec::new();
    for (p, id) in [(1750.0, ids[0]), (1690.0, ids[1]), (1590.0, ids[2])] {
        block(&mut h, p, 1750.0);
        let n0 = h.engine.metrics().liquidated_notional;
        h.liquidate(id).unwrap();
        notional.push(h.engine.metrics().liquidated_notional - n0);
        h.engine.end_block();
    }
    // The exogenous path never reaches the second and third: they stay induced.
    for _ in 0..3 {
        block(&mut h, 1750.0, 1750.0);
        h.engine.end_block();
    }
    let m = h.engine.metrics();
    assert_eq!(m.exogenous_notional, notional[0]);
    assert_eq!(m.induced_liquidations, 2);
    // The second needs the share ln(1700/1750) / ln(1690/1750) = 0.83 of the induced move:
    // the first liquidation's flow (all of the flow before it) explains it: generation 1.
    // The third needs ln(1600/1750) / ln(1590/1750) = 0.93 of its induced move, more than the
    // generation-0 flow's share n0 / (n0 + n1) (about one half): generation 2.
    let theta3 = (1600.0f64 / 1750.0).ln() / (1590.0f64 / 1750.0).ln();
    assert!(notional[0] < theta3 * (notional[0] + notional[1]));
    h.engine.finish_events();
    let gens: Vec<(AccountId, u32)> = h
        .engine
        .take_events()
        .iter()
        .filter_map(|e| match e {
            Event::LiquidationGeneration {
                account,
                generation,
                ..
            } => Some((*account, *generation)),
            _ => None,
        })
        .collect();
    assert_eq!(gens, vec![(ids[0], 0), (ids[1], 1), (ids[2], 2)]);
    let s = h.engine.structure_metrics(&[1750.0]);
    assert_eq!(s.longest_chain, 2);
    let want = (notional[1] + notional[2]) / (notional[0] + notional[1]);
    assert!((s.branching_ratio - want).abs() < 1e-12, "{s:?} vs {want}");
    // The stress cluster (liquidatable at the exogenous low, 1,750) is the first account
    // alone, and its liquidation took (1 + bonus) x its debt of its 10 ETH.
    let consumed = notional[0] / (10.0 * 1750.0);
    assert!((s.cluster_consumed - consumed).abs() < 1e-12, "{s:?}");
}
