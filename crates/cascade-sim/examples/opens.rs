//! Positions opened inside a time window, summed over runs: how many traders (re-)levered
//! while the price was falling. A position counts as opened in a block when its owner held
//! no live position at the end of the previous block and holds one at the end of this one.
//! Also prints the openings per hour of the run (summed over runs) and the mean
//! liquidations, induced liquidations and cascade amplification.
//!
//! `cargo run --profile ci -p cascade-sim --example opens -- <scenario.toml> <runs> <from_s>
//! <to_s> [key=value ...]`

use cascade_sim::World;
use cascade_sim::load::load_scenario;
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: u64 = args[2].parse().unwrap();
    let (from, to): (f64, f64) = (args[3].parse().unwrap(), args[4].parse().unwrap());
    let s = load_scenario(std::path::Path::new(&args[1]), &args[5..]).unwrap();
    let (mut opened, mut opened_all) = (0u64, 0u64);
    let mut per_hour: Vec<u64> = Vec::new();
    // Per metric: sum and sum of squares over runs.
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for r in 0..runs {
        let mut w = World::new(&s, s.config.run.seed, r).unwrap();
        let mut live: BTreeMap<u32, bool> = BTreeMap::new();
        while w.running() {
            w.step().unwrap();
            let t = w.time_s();
            let e = w.engine().unwrap();
            let mut now: BTreeMap<u32, bool> = BTreeMap::new();
            for a in e.accounts() {
                let l = !a.closed && a.has_positions();
                let x = now.entry(a.owner.index() as u32).or_insert(false);
                *x = *x || l;
            }
            for (o, l) in &now {
                if *l && !live.get(o).copied().unwrap_or(false) {
                    opened_all += 1;
                    let hour = (t / 3600.0) as usize;
                    if per_hour.len() <= hour {
                        per_hour.resize(hour + 1, 0);
                    }
                    per_hour[hour] += 1;
                    if t >= from && t < to {
                        opened += 1;
                    }
                }
            }
            live = now;
        }
        let row = w.metrics();
        for k in [
            "liquidations",
            "induced_liquidations",
            "cascade_amplification",
            "bad_debt",
        ] {
            let v = row.get(k).unwrap_or(f64::NAN);
            let e = sums.entry(k.into()).or_default();
            e.0 += v;
            e.1 += v * v;
        }
    }
    let n = runs as f64;
    println!(
        "runs {runs}: positions opened in [{from}, {to}) s: {opened} ({:.2} per run); all opens {:.2} per run",
        opened as f64 / n,
        opened_all as f64 / n
    );
    let hours: Vec<String> = per_hour
        .iter()
        .map(|c| format!("{:.1}", *c as f64 / n))
        .collect();
    println!("opened per run in hour 0, 1, ...: {}", hours.join(" "));
    for (k, (s1, s2)) in sums {
        let mean = s1 / n;
        let var = ((s2 / n - mean * mean) * n / (n - 1.0)).max(0.0);
        println!("mean {k}: {mean:.3} (se {:.3})", (var / n).sqrt());
    }
}
