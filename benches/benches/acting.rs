//! The cost of a block against the accounts that exist when the accounts that act stay the
//! same (issue 20 item 4): `acting/N_accounts` is one block of the reference market with N
//! trader accounts of which about 2,000 act (`cascade_benches::acting`: half hold a position
//! and never act on their own, half are flat and sleep on an opening clock whose rate makes
//! about 2,000 of them ring per block; each ringer draws an opening and declines it), one
//! block measured after the warm-up (`ACTING_WARM_UP` blocks: the holders' openings and first naps).
//! `acting/floor_N_accounts` is one block of
//! the event floor at the same population: the same acting draws and touches without the model.
//! Target: the block at 1e6 accounts costs at most twice the block at 1e4.
//!
//! Sizes: `CASCADE_ACTING_SIZES` (comma-separated, default `10000,100000,1000000`). Building
//! the 1e6 World and its first five blocks (500,000 openings) takes tens of seconds and about
//! 2 GB; the smoke run of `benches/run-issue20.sh --smoke` uses `10000` only. Holders sleep
//! (`chain.holders_sleep`, the default), in the World and in the floor alike. Figures in
//! benches/RESULTS.md.

use cascade_sim::World;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// The populations measured.
fn sizes() -> Vec<u64> {
    let spec = std::env::var("CASCADE_ACTING_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".to_string());
    spec.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("CASCADE_ACTING_SIZES: {s:?} is not a count"))
        })
        .collect()
}

fn acting(c: &mut Criterion) {
    let mut g = c.benchmark_group("acting");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    for n in sizes() {
        g.measurement_time(Duration::from_secs(match n {
            n if n >= 1_000_000 => 20,
            n if n >= 100_000 => 10,
            _ => 5,
        }));
        let s = cascade_benches::acting(n, cascade_benches::ACTING);
        let floor = cascade_benches::Floor::of(&s);
        let mut w = World::new(&s, 7, 0).unwrap();
        // The holders' openings: one block to submit, the next to include, and margin.
        for _ in 0..cascade_benches::ACTING_WARM_UP {
            w.step().unwrap();
        }
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("{n}_accounts"), |b| {
            b.iter_batched_ref(|| (), |_| w.step().unwrap(), BatchSize::PerIteration)
        });
        drop(w);
        let mut f = cascade_benches::FloorState::new(&floor, 7, 0);
        let mut visits = 0;
        for k in 0..25 {
            f.block();
            if k >= 5 {
                visits += f.acting();
            }
        }
        eprintln!(
            "acting/{n}: the floor visits {:.0} agents a block (blocks 6-25)",
            visits as f64 / 20.0
        );
        g.bench_function(format!("floor_{n}_accounts"), |b| {
            b.iter(|| black_box(f.block()))
        });
    }
    g.finish();
}

criterion_group!(benches, acting);
criterion_main!(benches);
