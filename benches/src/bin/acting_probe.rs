//! A profiling probe for the acting-set block (issue 20 item 4): builds the `acting` World of
//! `N` accounts (`cascade_benches::acting`), steps its warm-up blocks (`ACTING_WARM_UP`), then
//! `B` blocks,
//! and prints the set-up time, the time per measured block and the agents visited per block.
//! Run it under a profiler (`perf record -D <set-up ms>`) to see where a block's time goes;
//! timings are criterion's job (`benches/acting.rs`).
//!
//! Usage: `acting_probe N [B]` (default B = 200); with `ACTING_PROBE_BLOCKS` set it prints
//! every measured block's time and visits. `acting_probe --config PATH [B]` steps a shipped
//! scenario's run 0 instead (no warm-up), e.g. the peer mirror `configs/bench/dexsim_fixed.toml`.

use cascade_benches::ACTING_WARM_UP as WARM_UP;
use cascade_sim::World;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = args.get(1).is_some_and(|a| a == "--config");
    let (label, blocks_arg) = if config { (2, 3) } else { (1, 2) };
    let blocks: u64 = args
        .get(blocks_arg)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let t0 = Instant::now();
    let (n, mut w) = if config {
        let path = args.get(label).expect("--config needs a scenario file");
        let s = cascade_sim::load::load_scenario(std::path::Path::new(path), &[])
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        (path.clone(), World::new(&s, s.config.run.seed, 0).unwrap())
    } else {
        let n: u64 = args
            .get(label)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        let s = cascade_benches::acting(n, cascade_benches::ACTING);
        let mut w = World::new(&s, 7, 0).unwrap();
        for _ in 0..WARM_UP {
            w.step().unwrap();
        }
        (format!("{n} accounts"), w)
    };
    let v0 = w.agent_visits();
    eprintln!("set-up: {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    let t1 = Instant::now();
    let (mut worst, mut worst_visits, mut worst_block) = (0.0f64, 0, 0);
    for b in 0..blocks {
        let (tb, vb) = (Instant::now(), w.agent_visits());
        w.step().unwrap();
        let e = tb.elapsed().as_secs_f64();
        if std::env::var_os("ACTING_PROBE_BLOCKS").is_some() {
            eprintln!(
                "block {b}: {:.3} ms, {} visits",
                e * 1e3,
                w.agent_visits() - vb
            );
        }
        if e > worst {
            (worst, worst_visits, worst_block) = (e, w.agent_visits() - vb, b);
        }
    }
    let dt = t1.elapsed().as_secs_f64();
    eprintln!(
        "slowest block: {:.3} ms ({worst_visits} visits, measured block {worst_block})",
        worst * 1e3
    );
    eprintln!(
        "{n}: {:.3} ms a block, {:.0} visits a block",
        dt * 1e3 / blocks as f64,
        (w.agent_visits() - v0) as f64 / blocks as f64
    );
    // Not dropped: freeing 10^6 agents takes longer than the blocks measured, and a profile
    // of the probe should show the blocks.
    std::mem::forget(w);
}
