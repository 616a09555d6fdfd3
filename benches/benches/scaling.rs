//! Blocks per second against the number of accounts: the reference market with 1e3, 1e4, 1e5
//! and 1e6 traders, each holding an open position (opened in the first blocks, outside the
//! measurement). A block's cost should grow with the accounts that act or are liquidated, not
//! faster; here every trader acts (draws and checks its position) every block, so the cost per
//! block per account should stay flat up to what the memory hierarchy adds once the state no
//! longer fits in cache (the floor's `floor_block_N` shows that part alone).
//!
//! `engine_check/N`: the engine alone, with N open borrowing accounts whose liquidation prices
//! are spread from 800 to 1,700 while the price moves around 2,000: a block (`begin_block` then
//! `end_block`, the protocol's liquidation check through its index) crosses none of them, so
//! its cost should not grow with N (O(k + log N) with k = 0). Figures in benches/RESULTS.md.

use cascade_core::tx::EngineOp;
use cascade_core::{AgentId, Amount, AssetId, Ledger, TokenId};
use cascade_engine::Engine;
use cascade_sim::World;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];

fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    for n in SIZES {
        g.measurement_time(Duration::from_secs(match n {
            1_000_000 => 30,
            100_000 => 10,
            _ => 5,
        }));
        // Long enough never to end during the measurement.
        let s = cascade_benches::scaled(n, 1_000_000);
        let mut w = World::new(&s, 7, 0).unwrap();
        // Let every trader open its position (open_per_hour = inf: one block, plus inclusion).
        for _ in 0..5 {
            w.step().unwrap();
        }
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("block_{n}_accounts"), |b| {
            b.iter_batched_ref(|| (), |_| w.step().unwrap(), BatchSize::PerIteration)
        });
        drop(w);
        // The floor's block at the same size: the same draws and per-trader touches, in the
        // World's shuffled arrival order, without the model.
        let mut f = cascade_benches::FloorState::new(&cascade_benches::Floor::of(&s), 7, 0);
        g.bench_function(format!("floor_block_{n}_accounts"), |b| {
            b.iter(|| black_box(f.block()))
        });
    }
    g.finish();
}

/// An engine (the reference scenario's) with `n` borrowers, 1 ETH of collateral each, debts
/// set so that liquidation prices are spread evenly over [800, 1700].
fn engine_with(n: u64) -> (Engine, Ledger) {
    let mut cfg = cascade_benches::reference(&[])
        .config
        .engine
        .expect("the reference has an engine");
    cfg.pool_liquidity = 2_000.0 * n as f64;
    let (mut e, mut ledger, holders) =
        cascade_benches::engine_with_holders(&cfg, n, &[(TokenId(1), 1.0)]);
    let maint = 0.05;
    for (i, h) in holders.iter().enumerate() {
        let liq_price = 800.0 + 900.0 * i as f64 / n as f64;
        let op = EngineOp::Borrow {
            asset: AssetId(0),
            collateral: Amount::from_whole(1.0),
            borrow: Amount::from_whole(liq_price * (1.0 - maint)),
        };
        e.apply(&op, *h, AgentId(0), &mut ledger, &mut []).unwrap();
    }
    e.end_block();
    (e, ledger)
}

fn engine_check(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_check");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let (mut e, _ledger) = engine_with(n);
        let mut block = 1u64;
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                block += 1;
                // +-0.3% around 2,000: no account is crossed.
                let p = if block.is_multiple_of(2) {
                    2006.0
                } else {
                    1994.0
                };
                let t = 12.0 * block as f64;
                e.begin_block(block, t, 12.0, &[p], &[p], &[true], &[None], &[p]);
                e.end_block();
                black_box(e.liquidatable_now().len())
            })
        });
        assert!(e.liquidatable_now().is_empty());
    }
    g.finish();
}

criterion_group!(benches, scaling, engine_check);
criterion_main!(benches);
