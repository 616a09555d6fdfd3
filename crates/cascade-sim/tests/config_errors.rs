//! Every invalid value gets an error naming the key and the rule.

mod common;

use cascade_sim::load::{apply_overrides, load_scenario};
use std::path::Path;

/// Apply `edit` (a `key=value` override) to the small scenario and return the issues' text.
fn broken(edit: &str) -> String {
    let mut tree: toml::Table = common::SMALL.parse().unwrap();
    apply_overrides(Path::new("test.toml"), &mut tree, &[edit.to_string()]).unwrap();
    match cascade_sim::load::scenario_from_tree(Path::new("test.toml"), tree) {
        Ok(_) => panic!("{edit}: accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn each_broken_value_names_its_key_and_rule() {
    let cases = [
        (
            "assets.0.process.sigma=-0.2",
            "assets[0].process.sigma",
            ">= 0",
        ),
        ("chain.block_time_s=0", "chain.block_time_s", "> 0"),
        // Every jump is drawn in its block: the intensity is bounded.
        (
            "assets.1.process.lambda=1e9",
            "assets[1].process.lambda",
            "at most 1e6 jumps a year",
        ),
        ("run.runs=0", "run.runs", "> 0"),
        (
            "oracles.0.feed.feeds.1.freeze_per_hour=-1.5",
            "oracles[0].feed.feeds[1].freeze_per_hour",
            ">= 0 events per hour",
        ),
        (
            "venues.amm.reserve_base=0",
            "venues[0].reserve_base",
            "liquidity",
        ),
        ("venues.book.levels=0", "venues[2].levels", ""),
        ("venues.amm.fee=1.2", "venues[0].fee", ""),
        ("gas.gas_limit=100", "gas.gas_limit", ""),
        ("gas.elasticity=0", "gas.elasticity", ""),
        (
            "agents.1.trade_per_hour=-2",
            "agents[1].trade_per_hour",
            ">= 0",
        ),
        // A replaced per-block key is rejected with its conversion at the block time.
        (
            "agents.1.trade_prob=0.2",
            "agents[1].trade_prob",
            "replaced by `trade_per_hour` (events per hour): at 12 s blocks, 0.2 per block is \
             -ln(1 - 0.2) * 3600 / 12 = 66.943",
        ),
        (
            "oracles.0.feed.feeds.0.latency_blocks=3",
            "oracles[0].feed.feeds[0].latency_blocks",
            "replaced by `latency_s` (seconds): at 12 s blocks, 3 blocks is 3 * 12 = 36 s",
        ),
        (
            "agents.2.vol_widen=2",
            "agents[2].vol_widen",
            "replaced by `widen_bp_per_vol` (bp per unit of annualized volatility): at 12 s \
             blocks, 2 is 2 * 1e4 * sqrt(12 / 31536000) = 12.337",
        ),
        ("agents.2.venue=amm", "agents[2].venue", "order book"),
        (
            "agents.0.venues=[\"nowhere\"]",
            "agents[0].venues[0]",
            "no configured venue",
        ),
        (
            "venues.amm.asset=DOGE",
            "venues[0].asset",
            "no configured asset",
        ),
        ("oracles.1.asset=ETH", "oracles", "BTC"),
        (
            "metrics.cascade_threshold=-1",
            "metrics.cascade_threshold",
            "must be > 0",
        ),
        ("correlation=[[1.0, 2.0], [2.0, 1.0]]", "correlation", ""),
        ("assets.1.name=ETH", "assets[1].name", "earlier asset"),
        (
            "assets.0.process.kind=brownian",
            "assets[0].process",
            "brownian",
        ),
        (
            "assets.0.process.volatility=0.3",
            "assets[0].process.volatility",
            "not a known key",
        ),
        ("chain.blocktime=3", "chain.blocktime", "not a known key"),
    ];
    for (edit, key, rule) in cases {
        let msg = broken(edit);
        assert!(
            msg.contains(&format!("key `{key}")),
            "{edit}: message does not name `{key}`:\n{msg}"
        );
        assert!(
            msg.contains(rule),
            "{edit}: message lacks \"{rule}\":\n{msg}"
        );
        assert!(msg.starts_with("test.toml:"), "names the file: {msg}");
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let mut tree: toml::Table = common::SMALL.parse().unwrap();
    apply_overrides(
        Path::new("t.toml"),
        &mut tree,
        &[
            "assets.0.process.sigma=-1".into(),
            "chain.block_time_s=-3".into(),
            "agents.1.trade_per_hour=-7".into(),
        ],
    )
    .unwrap();
    let e = cascade_sim::load::scenario_from_tree(Path::new("t.toml"), tree).unwrap_err();
    assert_eq!(e.issues.len(), 3, "{e}");
}

#[test]
fn missing_replay_file_and_bad_set_are_clear() {
    let dir = std::env::temp_dir().join(format!("cascade-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("replay.toml");
    let text = common::SMALL.replace(
        r#"process = { kind = "gbm", mu = 0.0, sigma = 0.8 }"#,
        r#"process = { kind = "replay", path = "missing.csv", column = "close" }"#,
    );
    std::fs::write(&f, text).unwrap();
    let e = load_scenario(&f, &[]).unwrap_err().to_string();
    assert!(e.contains("key `assets[0].process.path`"), "{e}");
    assert!(e.contains("missing.csv"), "{e}");
    // A replay file that exists but lacks the column.
    std::fs::write(dir.join("missing.csv"), "t_s,open\n0,1\n60,2\n").unwrap();
    let e = load_scenario(&f, &[]).unwrap_err().to_string();
    assert!(e.contains("no column \"close\""), "{e}");
    std::fs::write(dir.join("missing.csv"), "t_s,close\n0,100\n60,101\n").unwrap();
    load_scenario(&f, &[]).unwrap();
    // A --set naming no element.
    let e = load_scenario(&f, &["venues.nope.fee=0.1".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--set venues.nope.fee=0.1"), "{e}");
    assert!(e.contains("no element is named \"nope\""), "{e}");
    let e = load_scenario(&dir.join("absent.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("absent.toml") && e.contains("cannot be read"),
        "{e}"
    );
    std::fs::write(&f, "name = [unclosed").unwrap();
    let e = load_scenario(&f, &[]).unwrap_err().to_string();
    assert!(e.contains("not valid TOML (line 1)"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn option_agents_need_a_listed_chain() {
    let gen1 = std::fs::read_to_string(common::repo().join("configs/scenarios/gen1.toml")).unwrap();
    for kind in ["option_trader", "options_market_maker"] {
        let text = format!("{gen1}\n[[agents]]\nkind = \"{kind}\"\n");
        let e = common::from_text(&text).unwrap_err().to_string();
        assert!(
            e.contains("agents[4].kind") && e.contains("[engine.options]"),
            "{kind}: {e}"
        );
    }
}

/// `chain.holders_sleep` is a boolean, and a string is rejected with its key.
#[test]
fn a_non_boolean_holders_sleep_is_rejected_with_its_key() {
    let e = broken("chain.holders_sleep=\"sometimes\"");
    assert!(
        e.contains("holders_sleep") && e.contains("true or false"),
        "{e}"
    );
}

/// `chain.agent_schedule` accepts `event` and `polled` only, and says so.
#[test]
fn an_unknown_agent_schedule_is_rejected_with_its_key() {
    let e = broken("chain.agent_schedule=sometimes");
    assert!(
        e.contains("agent_schedule") && e.contains("event") && e.contains("polled"),
        "{e}"
    );
}
