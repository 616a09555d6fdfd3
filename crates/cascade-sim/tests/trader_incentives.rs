//! Traders with incentives in a whole World (docs/model.md, section 9, "Traders with
//! incentives"): a perp opened at the market pays its slippage and its flow moves the price
//! (`engine.perp_trade_price = "market"`), under the reduced form and on a reference market,
//! while at the oracle it moves nothing; the ledger is checked every block. And the rule that an oracle arbitrageur needs oracle-priced perps.

mod common;

use cascade_sim::World;

/// Ten traders, all long perps of 200 ETH notional each (400,000 quote at 2,000), on a flat
/// price with square-root impact of forced flow (kappa 0.05, depth 2,000 ETH).
const SCENARIO: &str = r#"
name = "perp_at_market"
[chain]
block_time_s = 12.0
duration_s = 120.0
[[assets]]
name = "ETH"
process = { kind = "scripted", points = [[0.0, 2000.0], [120.0, 2000.0]] }
impact = { model = "sqrt", kappa = 0.05, depth = 2_000.0, half_life_s = 3_600.0 }
[gas]
mode = "flat"
base_fee_gwei = 10.0
native_price = 2000.0
[[oracles]]
asset = "ETH"
feed = { kind = "push", deviation = 0.5, heartbeat_s = 100000.0, latency_s = 0.0 }
[[agents]]
kind = "trader"
count = 10
capital = 200_000.0
inventory = 0.0
open_per_hour = inf
size_mean = 400_000.0
size_sigma = 0.0
leverage_min = 4.0
leverage_max = 4.0
perp_share = 1.0
long_prob = 1.0
close_per_hour = 0.0
max_entry_cost = 1.0
[engine]
margin = { kind = "fixed", initial = 0.2, maintenance = 0.1 }
liquidation = { kind = "full", bonus = 0.05 }
waterfall = [ { kind = "socialize" } ]
pool_liquidity = 100_000_000.0
"#;

/// The reference market that replaces the reduced-form impact in [`on_book`].
const BOOK: &str = r#"
[[venues]]
name = "cex"
kind = "reference"
asset = "ETH"
daily_volume = 20_000.0
daily_volatility = 0.05
y_impact = 0.7
resilience_half_life_s = 1_800.0
taker_fee = 0.0005
"#;

/// The scenario with `perp_trade_price = rule`, its price forming on a reference market
/// when `on_book`.
fn scenario(rule: &str, on_book: bool) -> String {
    let mut text = SCENARIO.replace(
        "[engine]",
        &format!("[engine]\nperp_trade_price = \"{rule}\""),
    );
    if on_book {
        text = text.replace(
            "impact = { model = \"sqrt\", kappa = 0.05, depth = 2_000.0, half_life_s = 3_600.0 }\n",
            "",
        );
        text = text.replace("[[agents]]", &format!("{BOOK}[[agents]]"));
    }
    text
}

/// Run a scenario text; (p_ref / p_exo after the run, the traders' mean entry price, their
/// total size in ETH).
fn run(text: &str) -> (f64, f64, f64) {
    let s = common::from_text(text).unwrap_or_else(|e| panic!("{e}"));
    let mut w = World::new(&s, s.config.run.seed, 0).unwrap();
    w.enable_ledger_checks();
    while w.running() {
        w.step().unwrap();
    }
    let e = w.engine().unwrap();
    let (mut entry, mut size) = (0.0, 0.0);
    for a in e.accounts() {
        entry += -a.perps[0].quote.to_whole();
        size += a.perps[0].size.to_whole();
    }
    (
        w.prices().p_ref(0) / w.prices().p_exo(0),
        entry / size,
        size,
    )
}

/// At the oracle the entry is the oracle price and nothing reaches the market. At the market,
/// under the reduced form, the opens execute at `p_ref` (2,000) and their flow raises `p_ref`
/// from the next block; on a reference market they walk the book at once: the traders pay
/// above 2,000 and `p_ref` follows.
#[test]
fn a_perp_open_at_market_pays_slippage_and_moves_the_price() {
    for on_book in [false, true] {
        let (moved_o, entry_o, size_o) = run(&scenario("oracle", on_book));
        let (moved_m, entry_m, size_m) = run(&scenario("market", on_book));
        println!(
            "on a book {on_book}: market: p_ref/p_exo {moved_m:.5}, entry {entry_m:.3} for \
             {size_m:.2} ETH; oracle: {moved_o:.5}, entry {entry_o:.3} for {size_o:.2} ETH"
        );
        assert!(size_m > 0.0 && size_o > 0.0, "they opened");
        assert!((entry_o - 2000.0).abs() < 1e-6, "{entry_o}");
        assert!((moved_o - 1.0).abs() < 1e-12, "{moved_o}");
        assert!(moved_m > 1.001, "{moved_m}");
        if on_book {
            assert!(entry_m > 2000.0 * 1.001, "{entry_m}");
        } else {
            assert!((entry_m - 2000.0).abs() < 1e-6, "{entry_m}");
        }
    }
}

#[test]
fn an_oracle_arbitrageur_needs_perps_at_the_oracle() {
    let path = common::repo().join("configs/scenarios/oracle_arbitrage.toml");
    let e = match cascade_sim::load::load_scenario(
        &path,
        &["engine.perp_trade_price=\"market\"".into()],
    ) {
        Ok(_) => panic!("a market-priced perp venue was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("engine.perp_trade_price"), "{e}");
    assert!(e.contains("oracle_arbitrageur"), "{e}");
}
