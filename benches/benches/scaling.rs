//! Blocks per second against the number of accounts: the reference market with 1e3, 1e4 and
//! 1e5 traders, each holding an open position (opened in the first blocks, outside the
//! measurement). A block's cost should grow with the accounts that act or are liquidated, not
//! faster; here every trader acts (draws and checks its position) every block, so the cost per
//! block per account should stay flat. It does not yet (RESULTS.md: agents scan the whole
//! mempool for their own transactions), and 1e6 accounts would take minutes per block, so that
//! size is measured with `peak_memory` only once the scan is gone. Figures in
//! benches/RESULTS.md.

use cascade_sim::World;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    for n in [1_000u64, 10_000, 100_000] {
        g.measurement_time(Duration::from_secs(if n >= 100_000 { 20 } else { 5 }));
        // Long enough never to end during the measurement.
        let s = cascade_benches::scaled(n, 1_000_000);
        let mut w = World::new(&s, 7, 0).unwrap();
        // Let every trader open its position (open_prob = 1: one block, plus inclusion).
        for _ in 0..5 {
            w.step().unwrap();
        }
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("block_{n}_accounts"), |b| {
            b.iter_batched_ref(|| (), |_| w.step().unwrap(), BatchSize::PerIteration)
        });
    }
    g.finish();
}

criterion_group!(benches, scaling);
criterion_main!(benches);
