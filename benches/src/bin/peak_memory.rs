//! Peak memory of one run: builds the reference market with N traders (all with an open
//! position), runs it for B blocks and prints the process's peak resident set (VmHWM). One
//! process per size, so that each figure is that run's own peak:
//!   cargo run --release -p cascade-benches --bin peak_memory -- 100000 20

use cascade_sim::World;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let blocks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let base = cascade_benches::peak_rss_kb().unwrap_or(0);
    let s = cascade_benches::scaled(n, blocks);
    let t = Instant::now();
    let mut w = World::new(&s, 7, 0).unwrap_or_else(|e| panic!("{e}"));
    let built = t.elapsed();
    let t = Instant::now();
    let row = w.run().unwrap_or_else(|e| panic!("{e}"));
    let ran = t.elapsed();
    let peak = cascade_benches::peak_rss_kb().unwrap_or(0);
    println!(
        "traders {n}: blocks {}, build {:.2} s, run {:.2} s ({:.1} blocks/s), peak RSS {} kB ({} kB before the world), liquidations {}",
        row.get("blocks").unwrap_or(0.0),
        built.as_secs_f64(),
        ran.as_secs_f64(),
        blocks as f64 / ran.as_secs_f64(),
        peak,
        base,
        row.get("liquidations").unwrap_or(0.0),
    );
}
