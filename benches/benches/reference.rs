//! Runs per second of `configs/bench/reference.toml` on 1 and 2 threads (through the same
//! `run_many` the command line uses), and the floor: the same random draws and account
//! touches without the model. Parallel efficiency = (runs/s on 2 threads) / (2 x runs/s on 1).
//! `market_runs_1_thread` is the same run with reference-market price formation
//! (`configs/bench/reference_market.toml`), for its cost against `runs_1_threads`.
//! `floor_1_thread` is the floor of the scenario's own schedule: under the event schedule (the
//! default) the fixed draws and the acting set's draws and touches only (`EventFloor`; holders
//! asleep on their closing clocks, as `chain.holders_sleep` makes the World's); `floor_polled_1_thread`
//! is the floor of the polled schedule (every agent every block), the floor of the figures
//! measured before the event schedule. Figures in benches/RESULTS.md.

use cascade_sim::runner::run_many;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const SEED: u64 = 7;

fn reference(c: &mut Criterion) {
    let s = cascade_benches::reference(&[]);
    let mut g = c.benchmark_group("reference");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.warm_up_time(Duration::from_secs(1));
    for threads in [1usize, 2] {
        // One run per thread per iteration, so both pools are busy for the whole iteration.
        let runs = threads as u64;
        g.throughput(Throughput::Elements(runs));
        g.bench_function(format!("runs_{threads}_threads"), |b| {
            b.iter(|| {
                let out = run_many(&s, SEED, runs, false, threads, |_| {}).unwrap();
                black_box(out.len())
            })
        });
    }
    // The same run with ETH's price forming on a reference market, side by side with
    // `runs_1_threads` (the reduced-form impact).
    let m = cascade_benches::reference_market();
    g.throughput(Throughput::Elements(1));
    g.bench_function("market_runs_1_thread", |b| {
        b.iter(|| black_box(run_many(&m, SEED, 1, false, 1, |_| {}).unwrap().len()))
    });
    let floor = cascade_benches::Floor::of(&s);
    g.throughput(Throughput::Elements(1));
    g.bench_function("floor_1_thread", |b| {
        b.iter(|| black_box(floor.run(SEED, 0)))
    });
    let polled = cascade_benches::Floor::of(&cascade_benches::reference(&[
        "chain.agent_schedule=\"polled\"".to_string(),
    ]));
    g.bench_function("floor_polled_1_thread", |b| {
        b.iter(|| black_box(polled.run(SEED, 0)))
    });
    g.finish();
}

criterion_group!(benches, reference);
criterion_main!(benches);
