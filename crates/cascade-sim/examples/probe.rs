//! A developer's probe of one run: the transaction kinds and engine events it produced, the
//! revert reasons, the live accounts and the liquidation index's sizes, and the engine's
//! metrics, with ledger checks on every block.
//!
//! `cargo run --profile ci -p cascade-sim --example probe -- <scenario.toml> [key=value ...]`

use cascade_sim::World;
use cascade_sim::load::load_scenario;
use std::collections::BTreeMap;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let s = load_scenario(std::path::Path::new(&args[1]), &args[2..]).unwrap();
    let mut w = World::new(&s, s.config.run.seed, 0).unwrap();
    w.enable_events();
    w.enable_ledger_checks();
    let mut reverts: BTreeMap<String, u64> = BTreeMap::new();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    while w.running() {
        w.step().unwrap();
        for e in w.drain_events() {
            match e {
                cascade_core::event::Event::TxIncluded { kind, revert, .. } => {
                    *kinds.entry(format!("{kind:?}")).or_default() += 1;
                    if let Some(r) = revert {
                        *reverts
                            .entry(format!("{kind:?}:{}", r.as_str()))
                            .or_default() += 1;
                    }
                }
                cascade_core::event::Event::Engine { kind, .. } => {
                    *kinds.entry(kind).or_default() += 1;
                }
                cascade_core::event::Event::Liquidation { .. } => {
                    *kinds.entry("liquidation".to_string()).or_default() += 1;
                }
                _ => {}
            }
        }
    }
    let e = w.engine().unwrap();
    println!(
        "accounts {} open {}",
        e.accounts().len(),
        e.accounts()
            .iter()
            .filter(|a| !a.closed && a.has_positions())
            .count()
    );
    println!("index {:?}", e.index_sizes());
    println!("kinds {kinds:?}");
    println!("reverts {reverts:?}");
    println!("{:?}", e.metrics());
}
