//! The per-block check's skip of option accounts is exact on the shipped option scenarios:
//! after every block the engine's check (which skips accounts guaranteed healthy over the
//! current state box) finds exactly the accounts a full revaluation of every account finds,
//! and it does skip.

mod common;

use cascade_sim::World;

fn check(rel: &str, sets: &[&str]) {
    let sc = common::scenario(rel, sets);
    let mut w = World::new(&sc, 5, 0).unwrap();
    let (mut skipped, mut seen) = (0, 0);
    while w.running() {
        w.step().unwrap();
        let e = w.engine().unwrap();
        assert_eq!(
            e.liquidatable_now(),
            e.liquidatable_scan(),
            "{rel} block {}",
            w.block()
        );
        let (n, s) = e.option_guard_counts();
        seen += n;
        skipped += s;
    }
    eprintln!("{rel} {sets:?}: skipped {skipped} of {seen} option-account checks");
    assert!(skipped > seen / 4, "{rel}: skipped {skipped} of {seen}");
}

#[test]
fn the_skip_is_exact_on_short_vol_crash_under_both_rules() {
    check("configs/scenarios/short_vol_crash.toml", &[]);
    check(
        "configs/scenarios/short_vol_crash.toml",
        &["engine.option_margin={kind=\"standard\"}"],
    );
}

#[test]
fn the_skip_is_exact_with_the_market_maker() {
    check("configs/scenarios/options_mm_crash.toml", &[]);
}
