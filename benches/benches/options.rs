//! Option margin costs: revaluations per second of one option account under each option
//! margin rule, and blocks per second of the engine's per-block work (risk tables, marks,
//! the liquidation check) with 10,000 option accounts, with the skip of guaranteed-healthy
//! accounts (ARCHITECTURE.md, "Skipping option accounts") and without it. The engine is
//! driven directly (no agents), on the chain and implied-vol model of
//! configs/scenarios/short_vol_crash.toml. Figures in benches/RESULTS.md ("Options").

use cascade_core::tx::EngineOp;
use cascade_core::{AgentId, Amount, HolderId, Ledger, TokenId};
use cascade_engine::{Engine, EngineConfig, RiskTables};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;
use std::time::Duration;

const MODELS: [&str; 3] = ["standard", "portfolio", "delta_gamma"];

/// The engine configuration of short_vol_crash under option margin `model`.
fn config(model: &str) -> EngineConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let set = match model {
        "standard" => vec!["engine.option_margin={kind=\"standard\"}".to_string()],
        "delta_gamma" => vec![
            "engine.option_margin={kind=\"delta_gamma\", price_range=0.1, vol_shift=0.1, im_factor=1.25}"
                .to_string(),
        ],
        _ => Vec::new(),
    };
    let s = cascade_sim::load_scenario(&root.join("configs/scenarios/short_vol_crash.toml"), &set)
        .expect("short_vol_crash loads");
    s.config.engine.expect("an engine")
}

/// An engine with `n` option accounts: each sells 1-4 puts of one series and, one in three,
/// buys a call, posting margin for 1-3x leverage on the underlying notional.
fn engine_with(model: &str, n: usize) -> (Engine, Ledger) {
    let cfg = config(model);
    let (mut e, mut ledger, holders) =
        cascade_benches::engine_with_holders(&cfg, n as u64, &[(TokenId::QUOTE, 100_000.0)]);
    e.begin_block(
        1,
        1.0,
        1.0,
        &[2000.0],
        &[2000.0],
        &[true],
        &[None],
        &[2000.0],
    );
    let n_series = e.option_series().len();
    for (i, h) in holders.iter().enumerate() {
        let puts: Vec<usize> = (0..n_series).filter(|s| s % 2 == 1).collect();
        let s = puts[i % puts.len()];
        let q = 1.0 + (i % 4) as f64;
        let lev = 1.0 + 0.5 * (i % 5) as f64;
        let op = EngineOp::OptionTrade {
            series: s as u32,
            size: Amount::from_whole(-q),
            margin: Amount::from_whole(q * 2000.0 / lev),
        };
        e.apply(&op, *h, AgentId(0), &mut ledger, &mut []).unwrap();
        if i % 3 == 0 {
            let call = ((i / 3) % n_series) & !1;
            let op = EngineOp::OptionTrade {
                series: call as u32,
                size: Amount::from_whole(1.0),
                margin: Amount::from_whole(500.0),
            };
            e.apply(&op, *h, AgentId(0), &mut ledger, &mut []).unwrap();
        }
    }
    e.end_block();
    (e, ledger)
}

fn revaluation(c: &mut Criterion) {
    let mut g = c.benchmark_group("options_revaluation");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    for model in MODELS {
        let (e, _) = engine_with(model, 3);
        let id = e.account_of(HolderId(0)).unwrap();
        // The per-block check's revaluation: health from the shared per-series tables.
        g.bench_function(format!("account_from_tables/{model}"), |b| {
            b.iter(|| std::hint::black_box(e.health(id).unwrap()))
        });
    }
    // A full revaluation of one account from scratch (no shared tables): its series priced
    // in every scenario of the portfolio rule, then its requirement.
    let (e, _) = engine_with("portfolio", 3);
    let cfg = config("portfolio");
    let o = e.options_config().unwrap().clone();
    let id = e.account_of(HolderId(0)).unwrap();
    let acc = e.account(id).unwrap();
    let held: Vec<usize> = (0..acc.options.len())
        .filter(|&i| !acc.options[i].is_zero())
        .collect();
    let chain: Vec<_> = held.iter().map(|&i| e.option_series()[i]).collect();
    let qty: Vec<f64> = held.iter().map(|&i| acc.options[i].to_whole()).collect();
    let rv = [e.realized_vol(0).unwrap()];
    g.bench_function("account_full_revaluation/portfolio", |b| {
        b.iter(|| {
            let t = RiskTables::build(&chain, &o.iv, &cfg.option_margin, &[1990.0], &rv, 60.0);
            std::hint::black_box(t.requirement(&chain, &cfg.option_margin, &qty, &[0.0]))
        })
    });
    g.finish();
}

fn blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("options_blocks");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));
    for model in MODELS {
        for guards in [true, false] {
            if model == "delta_gamma" && !guards {
                continue; // the skip does not apply to delta_gamma: one figure
            }
            let (mut e, _) = engine_with(model, 10_000);
            e.set_option_guards(guards);
            let mut k = 1u64;
            let name = format!(
                "block_10000_option_accounts/{model}/{}",
                if guards { "skip" } else { "full_scan" }
            );
            g.bench_function(name, |b| {
                b.iter_batched_ref(
                    || (),
                    |_| {
                        // A calm market: +-0.3% oscillation, one-second blocks.
                        k += 1;
                        let p = 2000.0 * (1.0 + 0.003 * (k as f64 / 20.0).sin());
                        let t = 1.0 + k as f64;
                        e.begin_block(k, t, 1.0, &[p], &[p], &[true], &[None], &[p]);
                        e.end_block();
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, revaluation, blocks);
criterion_main!(benches);
