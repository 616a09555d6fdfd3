//! Same configuration and seed: byte-identical trace and metrics; another seed: a different one.

mod common;

use cascade_sim::runner::run_one;
use cascade_sim::trace;

fn trace_bytes(seed: u64, run: u64) -> (Vec<u8>, Vec<f64>) {
    let s = common::from_text(common::SMALL).unwrap();
    let o = run_one(&s, seed, run, true).unwrap();
    let mut buf = Vec::new();
    trace::write_header(&mut buf, &s.config).unwrap();
    trace::write_run(&mut buf, run, o.trace.as_ref().unwrap()).unwrap();
    (buf, o.row.0)
}

#[test]
fn same_seed_gives_a_byte_identical_trace() {
    let (a, ma) = trace_bytes(5, 0);
    let (b, mb) = trace_bytes(5, 0);
    assert_eq!(a, b);
    assert_eq!(
        ma.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        mb.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert!(a.len() > 10_000, "a real trace: {} bytes", a.len());
}

#[test]
fn another_seed_or_run_gives_another_trace() {
    let (a, _) = trace_bytes(5, 0);
    let (b, _) = trace_bytes(6, 0);
    let (c, _) = trace_bytes(5, 1);
    assert_ne!(a, b);
    assert_ne!(a, c);
}

#[test]
fn agent_settings_do_not_shift_the_price_path() {
    // Common random numbers: the exogenous path depends only on the price streams.
    let base = common::from_text(common::SMALL).unwrap();
    let mut other_text = common::SMALL.replace(
        "trade_per_hour = 107.00248318161971",
        "trade_per_hour = 690.7755278982137",
    );
    other_text = other_text.replace("count = 5", "count = 9");
    let other = common::from_text(&other_text).unwrap();
    let a = run_one(&base, 3, 0, true).unwrap().trace.unwrap();
    let b = run_one(&other, 3, 0, true).unwrap().trace.unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.p_exo, y.p_exo);
    }
}

#[test]
fn engine_runs_are_reproducible() {
    // A crash with the margin engine, traders and liquidators: identical metrics twice, and
    // liquidations actually happen.
    let s = common::scenario("configs/scenarios/gen2.toml", &["chain.duration_s=10800"]);
    let a = run_one(&s, 9, 0, false).unwrap().row.0;
    let b = run_one(&s, 9, 0, false).unwrap().row.0;
    assert_eq!(
        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    let i = cascade_sim::metrics::metric_index("liquidations").unwrap();
    assert!(a[i] > 10.0, "liquidations: {}", a[i]);
}

#[test]
fn one_thread_and_several_give_byte_identical_results() {
    // The engine scenarios (agents, liquidations; English collateral auctions with escrowed
    // bids) and the small market: rows bit for bit, and traces byte for byte, with 1, 2 and 3
    // threads.
    for s in [
        common::from_text(common::SMALL).unwrap(),
        common::scenario("configs/scenarios/gen1.toml", &["chain.duration_s=7200"]),
        common::scenario(
            "configs/scenarios/black_thursday.toml",
            &["chain.duration_s=7200"],
        ),
    ] {
        let collect = |threads: usize| {
            let mut bytes = Vec::new();
            trace::write_header(&mut bytes, &s.config).unwrap();
            let out = cascade_sim::runner::run_many(&s, 17, 7, true, threads, |o| {
                trace::write_run(&mut bytes, o.run, o.trace.as_ref().unwrap()).unwrap();
            })
            .unwrap();
            let rows: Vec<u64> = out
                .iter()
                .flat_map(|o| o.row.0.iter().map(|x| x.to_bits()))
                .collect();
            (rows, bytes)
        };
        let one = collect(1);
        assert_eq!(one, collect(2));
        assert_eq!(one, collect(3));
    }
}
