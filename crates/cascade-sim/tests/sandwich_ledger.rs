//! A sandwich, end to end on the ledger: in a World where a MEV bot's only strategy is to
//! sandwich public flash liquidations on a zero-fee pool, every block in which a sandwich
//! lands moves the bot's quote balance by exactly its front-run proceeds minus its back-run
//! cost minus the gas of both, and that trading gain equals the victim's extra slippage (what
//! its sale would have fetched on the untouched pool minus what it fetched), to rounding.

mod common;

use cascade_core::event::Event;
use cascade_core::{Amount, Side, TokenId, VenueId};
use cascade_sim::World;

#[test]
fn sandwich_profit_is_the_victims_extra_slippage_minus_gas() {
    let s = common::scenario_legacy(
        "configs/scenarios/mev_competition.toml",
        &[
            "chain.duration_s=14400",
            "venues.0.fee=0",
            "agents.4.backrun=false",
            "agents.4.outbid=false",
            "agents.4.sandwich=true",
            "agents.4.count=1",
        ],
    );
    let mut w = World::new(&s, 3, 0).unwrap();
    w.enable_events();
    w.enable_ledger_checks();
    let bot = w
        .actors()
        .iter()
        .find(|a| a.label == "mev_bot-0")
        .unwrap()
        .holder;
    let mut sandwiches = 0;
    while w.running() {
        // Bundles go first in a block: the pool the sandwich meets is the pool now.
        let pool = w.venues()[0].clone();
        let q0 = w.ledger().balance(bot, TokenId::QUOTE);
        w.step().unwrap_or_else(|e| panic!("{e}"));
        let q1 = w.ledger().balance(bot, TokenId::QUOTE);
        let events = w.drain_events();
        let bot_swaps: Vec<(Side, Amount, Amount)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Swap {
                    trader,
                    venue,
                    side,
                    amount_in,
                    amount_out,
                    ..
                } if *trader == bot && *venue == VenueId(0) => {
                    Some((*side, *amount_in, *amount_out))
                }
                _ => None,
            })
            .collect();
        if bot_swaps.is_empty() {
            assert_eq!(q0, q1, "the bot's balance moves only when it trades");
            continue;
        }
        assert_eq!(bot_swaps.len(), 2, "one sandwich per block: {bot_swaps:?}");
        let (front, back) = (bot_swaps[0], bot_swaps[1]);
        assert_eq!((front.0, back.0), (Side::Sell, Side::Buy));
        // The victim: the forced sale on the pool right after the front-run.
        let victim = events
            .iter()
            .find_map(|e| match e {
                Event::Swap {
                    trader,
                    venue,
                    side: Side::Sell,
                    amount_in,
                    amount_out,
                    forced: true,
                    ..
                } if *trader != bot && *venue == VenueId(0) => Some((*amount_in, *amount_out)),
                _ => None,
            })
            .expect("a sandwich has a victim");
        let gas: Amount = events
            .iter()
            .filter_map(|e| match e {
                Event::TxIncluded { sender, fee, .. } if *sender == bot => Some(*fee),
                _ => None,
            })
            .fold(Amount::ZERO, |a, b| a + b);
        let gain = front.2 - back.1;
        // Exact: the ledger moved by the trading gain minus the gas.
        assert_eq!(q1 - q0, gain - gas);
        // The gain is the victim's extra slippage, to rounding.
        let alone = pool.quote(Side::Sell, victim.0).amount_out;
        let extra = alone - victim.1;
        assert!(
            (gain.raw() - extra.raw()).abs() <= 4,
            "gain {gain:?} vs the victim's extra slippage {extra:?}"
        );
        assert!(
            gain > gas,
            "taken only when it pays: {gain:?} vs gas {gas:?}"
        );
        sandwiches += 1;
    }
    assert!(sandwiches >= 3, "{sandwiches} sandwiches");
}
