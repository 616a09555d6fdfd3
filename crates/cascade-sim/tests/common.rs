//! Helpers shared by the integration tests.
#![allow(dead_code)]

use cascade_sim::load::{Scenario, load_scenario, scenario_from_tree};
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn scenario(rel: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    load_scenario(&repo().join(rel), &sets).unwrap_or_else(|e| panic!("{e}"))
}

/// Parse a scenario from TOML text (validated).
pub fn from_text(text: &str) -> Result<Scenario, cascade_sim::ConfigError> {
    let tree: toml::Table = text.parse().expect("test TOML parses");
    scenario_from_tree(Path::new("test.toml"), tree)
}

/// A small scenario with every substrate component.
pub const SMALL: &str = r#"
name = "small"
[chain]
block_time_s = 12.0
duration_s = 3600.0
[[assets]]
name = "ETH"
price = 2000.0
process = { kind = "gbm", mu = 0.0, sigma = 0.8 }
[[assets]]
name = "BTC"
price = 40000.0
process = { kind = "jump_diffusion", mu = 0.0, sigma = 0.6, lambda = 100.0, jump_mean = -0.01, jump_std = 0.02 }
[gas]
native_asset = "ETH"
congestion_beta = 0.2
[[oracles]]
asset = "ETH"
feed = { kind = "median", feeds = [ { kind = "push", latency_s = 12.0, noise_bp = 5.0 }, { kind = "push", latency_s = 36.0, freeze_per_hour = 3.015100756050433 }, { kind = "twap", venue = "amm", window_s = 600.0 } ] }
guards = { max_staleness_s = 3600.0 }
[[oracles]]
asset = "BTC"
feed = { kind = "delayed", delay_s = 600.0, source = { kind = "push" } }
[[venues]]
name = "amm"
kind = "cpmm"
asset = "ETH"
reserve_base = 1000.0
reserve_quote = 2000000.0
[[venues]]
name = "btc_amm"
kind = "cpmm"
asset = "BTC"
reserve_base = 50.0
reserve_quote = 2000000.0
[[venues]]
name = "book"
kind = "clob"
asset = "ETH"
tick = 0.01
levels = 5
level_size = 1.0
[[agents]]
kind = "arbitrageur"
count = 2
[[agents]]
kind = "noise_trader"
count = 5
trade_per_hour = 107.00248318161971
size_mean = 3000.0
[[agents]]
kind = "market_maker"
venue = "book"
levels = 4
level_size = 2.0
"#;

/// The overrides that make a scenario's traders the legacy, mechanical ones (`habits =
/// "mechanical"`) trading perps at the oracle (`engine.perp_trade_price = "oracle"`): for
/// tests of liquidation mechanisms whose premise is traders who do not avoid liquidation.
pub fn legacy_trader_sets(rel: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(rel)).unwrap();
    let tree: toml::Table = text.parse().unwrap();
    let mut sets = Vec::new();
    if let Some(agents) = tree.get("agents").and_then(|a| a.as_array()) {
        for (i, a) in agents.iter().enumerate() {
            if a.get("kind").and_then(|k| k.as_str()) == Some("trader") {
                sets.push(format!("agents.{i}.habits=\"mechanical\""));
            }
        }
    }
    if tree.contains_key("engine") {
        sets.push("engine.perp_trade_price=\"oracle\"".to_string());
    }
    sets
}

/// [`scenario`] with [`legacy_trader_sets`] before `sets`.
pub fn scenario_legacy(rel: &str, sets: &[&str]) -> Scenario {
    let mut all = legacy_trader_sets(rel);
    all.extend(sets.iter().map(|s| s.to_string()));
    load_scenario(&repo().join(rel), &all).unwrap_or_else(|e| panic!("{e}"))
}
