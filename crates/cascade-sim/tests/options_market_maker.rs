//! The options market maker end to end (`options_mm_crash`): it is the counterparty of the
//! premium sellers while it quotes, widens its spread when the crash raises realized vol,
//! pulls its quotes past its limits, keeps its net delta inside its hedge band, and every
//! block conserves every token.

mod common;

use cascade_agents::options_market_maker::maker_book;
use cascade_sim::World;

/// Per block (after the block): (time, realized vol, quoted half-spread, bid left, ask left,
/// net delta, vega, inventory) of the market maker.
type Obs = (f64, f64, f64, f64, f64, f64, f64, f64);

fn observe(sets: &[&str]) -> (Vec<Obs>, World) {
    // Every block is checked for conservation (enable_ledger_checks).
    let sc = common::scenario("configs/scenarios/options_mm_crash.toml", sets);
    let mut w = World::new(&sc, 7, 0).unwrap();
    w.enable_ledger_checks();
    let holder = (0..w.ledger().n_holders())
        .map(|i| cascade_core::HolderId(i as u32))
        .find(|h| w.ledger().holder_name(*h) == "options-mm-0")
        .expect("the market maker's wallet");
    let mut obs = Vec::new();
    while w.running() {
        w.step()
            .unwrap_or_else(|e| panic!("block {}: {e}", w.block()));
        let e = w.engine().unwrap();
        let Some(q) = e.maker_quote(holder) else {
            continue;
        };
        let b = maker_book(e, q.account, 0);
        obs.push((
            e.time_s(),
            e.realized_vol(0).unwrap(),
            q.half_spread,
            q.bid_left.to_whole(),
            q.ask_left.to_whole(),
            b.delta,
            b.vega,
            b.inventory,
        ));
    }
    (obs, w)
}

#[test]
fn market_maker_quotes_widens_pulls_and_hedges() {
    let (obs, w) = observe(&[]);
    // Liquidations bought shorts back from it: its inventory fell after the crash.
    let crash_inv = obs
        .iter()
        .filter(|o| (3_600.0..3_700.0).contains(&o.0))
        .map(|o| o.7)
        .fold(0.0, f64::max);
    let end_inv = obs.last().unwrap().7;
    assert!(end_inv < crash_inv - 100.0, "{end_inv} vs {crash_inv}");
    assert!(w.metrics().get("options_liquidations").unwrap() > 0.0);
    assert!(
        obs.len() > 500,
        "the maker quoted from the start: {}",
        obs.len()
    );
    // It took the premium sellers' flow: it holds options.
    let max_inv = obs.iter().map(|o| o.7).fold(0.0, f64::max);
    assert!(max_inv > 100.0, "inventory {max_inv}");
    // Calm (before the crash at 3,600 s) vs crash (3,600-4,200 s): the spread widens with vol.
    let calm = obs.iter().filter(|o| o.0 < 3_000.0);
    let calm_h = calm.clone().map(|o| o.2).fold(0.0, f64::max);
    let crash_h = obs
        .iter()
        .filter(|o| (3_600.0..4_800.0).contains(&o.0))
        .map(|o| o.2)
        .fold(0.0, f64::max);
    let crash_rv = obs
        .iter()
        .filter(|o| (3_600.0..4_800.0).contains(&o.0))
        .map(|o| o.1)
        .fold(0.0, f64::max);
    assert!(crash_rv > 1.0, "the crash raised realized vol: {crash_rv}");
    assert!(crash_h > 2.0 * calm_h, "crash {crash_h} calm {calm_h}");
    // Pulled: past its limits both sides are at zero; and only then.
    let cfg = cascade_agents::options_market_maker::OptionsMarketMakerConfig {
        vega_limit: 120_000.0,
        inventory_limit: 4_000.0,
        ..Default::default()
    };
    let pulled: Vec<&Obs> = obs.iter().filter(|o| o.3 == 0.0 && o.4 == 0.0).collect();
    assert!(!pulled.is_empty(), "the maker never pulled its quotes");
    for o in &obs {
        // A book past a limit for two blocks (its pull lands one block later) has no quotes.
        let past = o.6.abs() > cfg.vega_limit || o.7 > cfg.inventory_limit;
        if past && o.3 > 0.0 {
            let next = obs.iter().find(|x| x.0 > o.0 + 24.5);
            if let Some(n) = next {
                let still = n.6.abs() > cfg.vega_limit || n.7 > cfg.inventory_limit;
                assert!(!still || n.3 == 0.0, "quotes not pulled at {} ({o:?})", n.0);
            }
        }
    }
    // Hedged: after the first hedge, the net delta sits inside the band except for the
    // blocks between a fill or a jump and the hedge landing (a band of 10 ETH, one quote of
    // 100 contracts can move it by at most 100).
    let inside = obs.iter().filter(|o| o.5.abs() <= cfg.hedge_band).count();
    assert!(
        inside as f64 > 0.8 * obs.len() as f64,
        "{inside} of {} blocks inside the band",
        obs.len()
    );
    let worst = obs.iter().map(|o| o.5.abs()).fold(0.0, f64::max);
    assert!(
        worst <= cfg.hedge_band + 2.0 * cfg.quote_size,
        "worst delta {worst}"
    );
}
