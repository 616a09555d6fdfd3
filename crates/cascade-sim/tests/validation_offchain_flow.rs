//! Validation of noise flow routed to the reference market (`noise_trader.offchain_share`):
//! with a flat fundamental value, off-chain noise makes `p_ref` wander around `p_exo` and
//! revert at the book's resilience rate. The consumed volume `C` follows the linear
//! resilience process `C' = d C + q` (`d = 2^(-dt / half_life)`, `q` the block's signed noise
//! flow), whose stationary variance is `Var(q) / (1 - d^2)` and whose autocorrelation at lag
//! `k` blocks is `d^k`; with `C` close to Gaussian, `E[ln^2(p_ref / p_exo)] = 2 E|C| / L` =
//! `2 sqrt(2 / pi) sd(C) / L`. The ledger is checked every block. Figures in docs/model.md,
//! section "Validation" (`cargo test --profile ci -p cascade-sim --test
//! validation_offchain_flow -- --nocapture`).

mod common;

use cascade_sim::World;

const N: f64 = 20.0;
const PROB: f64 = 0.2;
const SIZE_MEAN: f64 = 20_000.0;
const SIZE_SIGMA: f64 = 0.5;
const PRICE: f64 = 2_000.0;
const HALF_LIFE_S: f64 = 600.0;
const DT: f64 = 12.0;

fn scenario() -> cascade_sim::load::Scenario {
    // Trades per hour whose probability over one DT block is PROB.
    let rate = cascade_core::clock::rate_from_prob(PROB, DT);
    let text = format!(
        r#"
name = "offchain_noise"
[run]
runs = 4
seed = 7
[chain]
block_time_s = {DT}
duration_s = 172_800.0
[[assets]]
name = "ETH"
price = {PRICE}
process = {{ kind = "gbm", mu = 0.0, sigma = 0.0 }}
[[oracles]]
asset = "ETH"
feed = {{ kind = "push", deviation = 0.005, heartbeat_s = 3600.0, latency_s = 12.0 }}
[[venues]]
name = "cex"
kind = "reference"
asset = "ETH"
daily_volume = 20_000.0
daily_volatility = 0.05
resilience_half_life_s = {HALF_LIFE_S}
[[venues]]
name = "amm"
kind = "cpmm"
asset = "ETH"
reserve_base = 1_000.0
reserve_quote = 2_000_000.0
[[agents]]
kind = "noise_trader"
count = {N}
trade_per_hour = {rate:?}
size_mean = {SIZE_MEAN}
size_sigma = {SIZE_SIGMA}
capital = 100_000_000.0
inventory = 50_000.0
offchain_share = 1.0
"#
    );
    common::from_text(&text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn offchain_noise_reverts_around_p_exo_at_the_resilience_rate() {
    let s = scenario();
    let d = 0.5f64.powf(DT / HALF_LIFE_S);
    let lag = (HALF_LIFE_S / DT).round() as usize;
    let burn = 10 * lag;
    let (mut c2, mut x2, mut n) = (0.0, 0.0, 0usize);
    let (mut cov, mut var0, mut mean_x) = (0.0, 0.0, 0.0);
    let mut depth = 0.0;
    for r in 0..s.config.run.runs {
        let mut w = World::new(&s, s.config.run.seed, r).unwrap();
        w.enable_ledger_checks();
        let mut path = Vec::new();
        while w.running() {
            w.step().unwrap();
            let m = w.prices().reference(0).unwrap();
            depth = m.depth_eff();
            let x = (w.prices().p_ref(0) / w.prices().p_exo(0)).ln();
            path.push((m.consumed(), x));
        }
        assert_eq!(
            w.prices().p_exo(0),
            PRICE,
            "p_exo stays the fundamental value"
        );
        let path = &path[burn..];
        for (i, &(c, x)) in path.iter().enumerate() {
            c2 += c * c;
            x2 += x * x;
            mean_x += x;
            n += 1;
            if i + lag < path.len() {
                cov += c * path[i + lag].0;
                var0 += c * c;
            }
        }
    }
    let var_c = c2 / n as f64;
    let var_x = x2 / n as f64;
    let mean_x = mean_x / n as f64;
    let rho = cov / var0;
    // Var(q) per block: N traders each trade with probability PROB a lognormal notional
    // (mean SIZE_MEAN, log sd SIZE_SIGMA) of either sign, in base units at PRICE.
    let var_q = N * PROB * (SIZE_MEAN / PRICE).powi(2) * (SIZE_SIGMA * SIZE_SIGMA).exp();
    let want_c = var_q / (1.0 - d * d);
    let want_x = 2.0 * (2.0 / std::f64::consts::PI).sqrt() * want_c.sqrt() / depth;
    println!(
        "off-chain noise, {n} blocks: Var(C) {var_c:.0} vs {want_c:.0} (ratio {:.3}); E[ln^2(p_ref/p_exo)] {var_x:.3e} vs {want_x:.3e} (ratio {:.3}); mean ln(p_ref/p_exo) {mean_x:.2e}; autocorrelation at {lag} blocks {rho:.3} vs {:.3}",
        var_c / want_c,
        var_x / want_x,
        d.powi(lag as i32)
    );
    assert!((var_c / want_c - 1.0).abs() < 0.15, "{var_c} vs {want_c}");
    assert!((var_x / want_x - 1.0).abs() < 0.15, "{var_x} vs {want_x}");
    assert!((rho - d.powi(lag as i32)).abs() < 0.1, "{rho}");
    assert!(
        mean_x.abs() < 0.2 * var_x.sqrt(),
        "{mean_x} vs sd {}",
        var_x.sqrt()
    );
}

#[test]
fn offchain_share_out_of_range_is_rejected_naming_the_key() {
    let text = format!(
        "{}\n[[agents]]\nkind = \"noise_trader\"\noffchain_share = 1.5\n",
        common::SMALL
    );
    let e = match common::from_text(&text) {
        Ok(_) => panic!("offchain_share = 1.5 accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("offchain_share") && e.contains("[0, 1]"), "{e}");
}
