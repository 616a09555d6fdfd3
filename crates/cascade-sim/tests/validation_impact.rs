//! Validation of the reference market (the off-chain market where the price forms; the
//! latent order book of Donier, Bonart, Mastromatteo and Bouchaud 2015, docs/references.md
//! R28) against the square-root law of metaorder impact (Toth et al. 2011, R29), and of its
//! effect in a running World: pulled market-maker quotes raise impact, and less reference
//! depth raises liquidations and cascade amplification on the same shocks. The figures are in
//! docs/model.md, section "Validation"
//! (`cargo test --profile ci -p cascade-sim --test validation_impact -- --nocapture`).

mod common;

use cascade_core::rng::{run_seed, stream};
use cascade_market::price::{
    AssetSpec, DepthWithdrawal, ImpactConfig, PriceModel, ProcessConfig, ReferenceConfig,
};
use cascade_sim::World;

const V: f64 = 1_000_000.0;
const SIGMA_D: f64 = 0.04;
const Y: f64 = 0.7;

fn reference(withdraw: Option<DepthWithdrawal>) -> ReferenceConfig {
    ReferenceConfig {
        name: "cex".into(),
        asset: "ETH".into(),
        daily_volume: V,
        daily_volatility: SIGMA_D,
        y_impact: Y,
        resilience_half_life_s: 3_600.0,
        taker_fee: 0.0,
        depth_scale: 1.0,
        withdraw,
    }
}

fn model(process: ProcessConfig, r: ReferenceConfig) -> PriceModel {
    PriceModel::new(
        vec![AssetSpec {
            name: "ETH".into(),
            initial_price: 100.0,
            process,
            impact: ImpactConfig::None,
            reference: Some(r),
        }],
        None,
        vec![None],
    )
    .unwrap()
}

/// The impact `ln(p_ref / p_exo)` at the end of a sale of `q` base units split into `n`
/// child orders, one per 12-second block.
fn metaorder_impact(m: &mut PriceModel, q: f64, n: usize, t0: f64) -> f64 {
    let s = run_seed(1, 0);
    let (mut a, mut b) = (stream(s, "price", 0), stream(s, "price_jumps", 0));
    for k in 0..n {
        m.step(t0 + 12.0 * (k + 1) as f64, 12.0, &mut a, &mut b);
        m.execute_flow(0, -q / n as f64);
    }
    -(m.p_ref(0) / m.p_exo(0)).ln()
}

fn flat() -> ProcessConfig {
    ProcessConfig::Gbm {
        mu: 0.0,
        sigma: 0.0,
    }
}

/// A metaorder's impact follows `Y sigma_d sqrt(Q / V)`: the slope of log impact against
/// log Q over three decades of Q / V, and the prefactor.
#[test]
fn metaorder_impact_follows_the_square_root_law() {
    let qs: Vec<f64> = (0..13)
        .map(|k| 100.0 * 10f64.powf(k as f64 / 4.0))
        .collect();
    let pts: Vec<(f64, f64)> = qs
        .iter()
        .map(|&q| {
            let mut m = model(flat(), reference(None));
            (q.ln(), metaorder_impact(&mut m, q, 30, 0.0).ln())
        })
        .collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    // Prefactor: impact / (sigma_d sqrt(Q / V)), averaged over the points.
    let y_fit = qs
        .iter()
        .zip(&pts)
        .map(|(q, p)| p.1.exp() / (SIGMA_D * (q / V).sqrt()))
        .sum::<f64>()
        / n;
    println!("square-root law: slope {slope:.4} (want 0.5), Y fitted {y_fit:.4} (configured {Y})");
    assert!((slope - 0.5).abs() < 0.02, "slope {slope}");
    // The book refills during the 6-minute execution (half-life 1 hour), so the measured
    // prefactor sits a little below Y; 10% bounds that.
    assert!(y_fit < Y && y_fit > 0.9 * Y, "Y fitted {y_fit}");
}

/// Market makers pulling quotes (the depth multiplier falling with realised volatility) make
/// the same sale move the price more; so does a thinner book (`depth_scale`).
#[test]
fn pulled_quotes_raise_impact() {
    // A 15% fall in one block: realised volatility far above 100%/year.
    let crash = ProcessConfig::Scripted {
        points: vec![
            [0.0, 100.0],
            [600.0, 100.0],
            [612.0, 85.0],
            [10_000.0, 85.0],
        ],
        noise_sigma: 0.0,
    };
    let withdraw = DepthWithdrawal {
        vol_threshold_per_year: 1.0,
        floor: 0.2,
        vol_half_life_s: 600.0,
        inventory_weight: 0.0,
        loss_limit: None,
    };
    let q = 20_000.0;
    let run = |r: ReferenceConfig| {
        let mut m = model(crash.clone(), r);
        // Through the crash with no flow, then a sale of q in 10 blocks.
        let s = run_seed(1, 0);
        let (mut a, mut b) = (stream(s, "price", 0), stream(s, "price_jumps", 0));
        for k in 1..=52 {
            m.step(12.0 * k as f64, 12.0, &mut a, &mut b);
        }
        let mult = m.reference(0).unwrap().depth_multiplier();
        (metaorder_impact(&mut m, q, 10, 624.0), mult)
    };
    let (base, m1) = run(reference(None));
    let (pulled, m2) = run(reference(Some(withdraw)));
    let mut thin = reference(None);
    thin.depth_scale = 0.25;
    let (thinner, _) = run(thin);
    println!(
        "impact of {q} sold: full book {base:.5}, quotes pulled (multiplier {m2:.3}) {pulled:.5}, depth_scale 0.25 {thinner:.5}"
    );
    assert_eq!(m1, 1.0);
    assert!(m2 < 0.5, "the crash pulls quotes: multiplier {m2}");
    // Impact scales as 1 / sqrt(depth): pulled quotes at multiplier m raise it by about
    // 1 / sqrt(m) (the multiplier recovers a little during the sale).
    assert!(pulled > base * 1.2, "{pulled} vs {base}");
    assert!((thinner / base - 2.0).abs() < 0.01, "{thinner} vs {base}");
}

/// On the same shocks (same seeds), a thinner reference market raises liquidations and
/// cascade amplification: liquidity_crunch at its calibrated depth against a tenth of it.
#[test]
fn less_reference_depth_raises_liquidations_and_amplification() {
    const RUNS: u64 = 10;
    let stats = |sets: &[&str]| {
        let s = common::scenario_legacy("configs/scenarios/liquidity_crunch.toml", sets);
        (0..RUNS)
            .map(|r| {
                let row = World::new(&s, s.config.run.seed, r).unwrap().run().unwrap();
                (
                    row.get("liquidations").unwrap(),
                    row.get("cascade_amplification").unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let base = stats(&[]);
    let thin = stats(&["venues.0.depth_scale=0.1"]);
    let mean =
        |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (lb, lt) = (mean(&base, |x| x.0), mean(&thin, |x| x.0));
    let (ab, at) = (mean(&base, |x| x.1), mean(&thin, |x| x.1));
    let more_liq = base.iter().zip(&thin).filter(|(b, t)| t.0 > b.0).count();
    let fewer_liq = base.iter().zip(&thin).filter(|(b, t)| t.0 < b.0).count();
    let more_amp = base.iter().zip(&thin).filter(|(b, t)| t.1 > b.1).count();
    let less_amp = base.iter().zip(&thin).filter(|(b, t)| t.1 < b.1).count();
    println!(
        "liquidity_crunch, {RUNS} paired seeds: liquidations {lb:.1} -> {lt:.1} (more in {more_liq}, fewer in {fewer_liq}); amplification {ab:.4} -> {at:.4} (higher in {more_amp}, lower in {less_amp})"
    );
    assert!(lt > lb && at > ab);
    assert!(more_liq > fewer_liq && more_amp > less_amp);
}

/// The pool's liquidity providers withdraw under stress (`venues.1.withdraw` of
/// liquidity_crunch): in the crash half the reserves leave the pool at once and come back
/// once volatility falls, with the ledger conserved every block.
#[test]
fn pool_liquidity_providers_withdraw_in_the_crash() {
    use cascade_market::venue::Venue;
    let s = common::scenario("configs/scenarios/liquidity_crunch.toml", &[]);
    let mut w = World::new(&s, s.config.run.seed, 0).unwrap();
    w.enable_ledger_checks();
    let reserves = |w: &World| match &w.venues()[0] {
        Venue::Cpmm(p) => (p.reserve_base().to_whole(), p.reserve_quote().to_whole()),
        _ => panic!("venue 0 is the pool"),
    };
    let (mut drops, mut returns) = (0, 0);
    let mut prev = reserves(&w);
    while w.running() {
        w.step().unwrap();
        let now = reserves(&w);
        // No trade halves both reserves in a block, nor grows both by half.
        if now.0 < 0.6 * prev.0 && now.1 < 0.6 * prev.1 {
            drops += 1;
        }
        if now.0 > 1.5 * prev.0 && now.1 > 1.5 * prev.1 {
            returns += 1;
        }
        prev = now;
    }
    println!("pool withdrawals {drops}, returns {returns}");
    assert!(drops >= 1 && returns >= 1);
}

/// A reference market's configuration errors name the key and the rule: one per asset, no
/// reduced-form impact beside it, its own values, and it is no venue agents or oracles can
/// name.
#[test]
fn reference_market_config_errors_name_key_and_rule() {
    let base =
        std::fs::read_to_string(common::repo().join("configs/scenarios/liquidity_crunch.toml"))
            .unwrap();
    let err = |extra: &str, sets: &[&str]| {
        let mut tree: toml::Table = format!("{base}\n{extra}").parse().unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        cascade_sim::load::apply_overrides(std::path::Path::new("test.toml"), &mut tree, &sets)
            .unwrap();
        match cascade_sim::load::scenario_from_tree(std::path::Path::new("test.toml"), tree) {
            Ok(_) => panic!("accepted: {extra} {sets:?}"),
            Err(e) => e.to_string(),
        }
    };
    let second = "[[venues]]\nname = \"cex2\"\nkind = \"reference\"\nasset = \"ETH\"\ndaily_volume = 1.0\ndaily_volatility = 0.1\n";
    let e = err(second, &[]);
    assert!(
        e.contains("key `venues[3].asset`") && e.contains("one per asset"),
        "{e}"
    );
    let e = err(
        "",
        &["assets.0.impact={model=\"sqrt\",kappa=0.05,depth=100.0}"],
    );
    assert!(
        e.contains("key `venues[0].kind`") && e.contains("impact"),
        "{e}"
    );
    let e = err(
        "",
        &["venues.0.daily_volatility=0", "venues.0.withdraw.floor=2"],
    );
    assert!(e.contains("key `venues[0].daily_volatility`"), "{e}");
    assert!(
        e.contains("key `venues[0].withdraw.floor`") && e.contains("(0, 1]"),
        "{e}"
    );
    let e = err("", &["venues.1.withdraw.fraction=1"]);
    assert!(
        e.contains("key `venues[1].withdraw.fraction`") && e.contains("(0, 1)"),
        "{e}"
    );
    let e = err("", &["oracles.0.feed.feeds.1.venue=cex"]);
    assert!(e.contains("oracles[0].feed.feeds[1].venue"), "{e}");
}

/// Market makers withdraw for inventory and losses, not only volatility: liquidity_crunch's
/// market makers with an inventory limit, the reference venue's rule reading them
/// (`inventory_weight`, `loss_limit`) against the same rule without, on the same seed. In the
/// crash the makers buy up to their limits and lose on it; the depth multiplier falls lower
/// and the same sale's impact rises, with the ledger conserved every block.
#[test]
fn makers_at_their_limits_lower_depth_and_raise_impact() {
    const Q: f64 = 200.0;
    let run = |sets: &[&str]| {
        let mut all = vec!["agents.4.inventory_limit=150"];
        all.extend_from_slice(sets);
        let s = common::scenario("configs/scenarios/liquidity_crunch.toml", &all);
        let mut w = World::new(&s, s.config.run.seed, 0).unwrap();
        w.enable_ledger_checks();
        let (mut min_mult, mut impact, mut n) = (1.0f64, 0.0, 0);
        while w.running() {
            w.step().unwrap();
            let r = w.prices().reference(0).unwrap();
            min_mult = min_mult.min(r.depth_multiplier());
            if w.time_s() > 3_600.0 {
                impact += (w.prices().p_ref(0) / w.prices().quote_flow(0, -Q)).ln();
                n += 1;
            }
        }
        (min_mult, impact / n as f64)
    };
    let (m0, i0) = run(&[]);
    let (m1, i1) = run(&[
        "venues.0.withdraw.inventory_weight=0.8",
        "venues.0.withdraw.loss_limit=20000",
    ]);
    println!(
        "liquidity_crunch run 0, makers' inventory_limit 150: lowest depth multiplier {m0:.3} -> {m1:.3}; mean impact of selling {Q} after the crash {i0:.5} -> {i1:.5} (ratio {:.3})",
        i1 / i0
    );
    assert!(m1 < m0 - 0.05, "{m1} vs {m0}");
    assert!(i1 > i0 * 1.05, "{i1} vs {i0}");
}
