//! The trader's decisions against a real engine and View: the cooldown after a liquidation,
//! deleveraging only below the personal threshold and only when it is worth its cost, and the
//! stop-loss firing on crossing.

use super::dist::Range;
use super::*;
use crate::config::{BuildCtx, VenueInfo};
use cascade_core::{Ledger, rng};
use cascade_engine::{Engine, EngineConfig, LiquidationMode, PerpTradePrice};
use cascade_market::gas::GasCosts;
use cascade_market::mempool::Mempool;
use cascade_market::oracle::{FeedConfig, GuardConfig, OracleConfig, Oracles};
use cascade_market::venue::{Venue, VenueConfig};

/// A trader who opens whenever it can (no entry brake, no cost limit), with no habits but
/// the ones a test turns on.
fn trader_cfg() -> TraderConfig {
    TraderConfig {
        count: 1,
        capital: 50_000.0,
        inventory: 0.0,
        asset: None,
        open_per_hour: f64::INFINITY,
        size_mean: 20_000.0,
        size_sigma: 0.0,
        leverage_min: Some(5.0),
        leverage_max: Some(5.0),
        leverage: None,
        perp_share: 1.0,
        long_prob: 1.0,
        close_per_hour: 0.0,
        topup_per_hour: 0.0,
        topup_delay_s: 0.0,
        topup_threshold: 0.0,
        topup_fraction: 0.0,
        tip_gwei: 1.0,
        habits: Habits::Economic,
        reentry_cooldown_s: 3_600.0,
        vol_ref: 0.8,
        vol_half_life_s: 1_800.0,
        entry_vol_k: 0.0,
        entry_drawdown_k: 0.0,
        drawdown_window_s: 14_400.0,
        max_entry_cost: 1.0,
        risk_horizon_s: 3_600.0,
        delever_threshold: Range { min: 0.0, max: 0.0 },
        delever_fraction: 0.0,
        delever_per_hour: f64::INFINITY,
        stop_share: 0.0,
        stop_distance: Range { min: 0.1, max: 0.1 },
        open_prob: None,
        close_prob: None,
        topup_prob: None,
        topup_delay_blocks: None,
    }
}

/// An engine (fixed margin 0.2 / 0.1, full liquidation at an 8% bonus, oracle-priced perp
/// trades), a trader built from `cfg`, a liquidator's wallet, and what a View needs.
struct Fx {
    ledger: Ledger,
    engine: Engine,
    venues: Vec<Venue>,
    oracles: Oracles,
    costs: GasCosts,
    mempool: Mempool,
    trader: Box<dyn Agent>,
    /// The trader's market watch (the World keeps it in a run).
    watch: watch::MarketWatch,
    /// Its half-life and window (s).
    watch_params: (f64, f64),
    liq: HolderId,
    block: u64,
    t_s: f64,
    price: f64,
}

impl Fx {
    fn new(cfg: &TraderConfig) -> Fx {
        let mut ledger = Ledger::new(["USD", "ETH"]);
        let liq = ledger.add_holder("liq");
        ledger
            .mint_genesis(liq, TokenId::QUOTE, Amount::from_whole(1e6))
            .unwrap();
        let pool_h = ledger.add_holder("pool");
        let owner = ledger.add_holder("owner");
        let vc = VenueConfig::Cpmm {
            name: "amm".into(),
            asset: "ETH".into(),
            reserve_base: 10_000.0,
            reserve_quote: 20_000_000.0,
            fee: 0.003,
            withdraw: None,
        };
        let venues =
            vec![Venue::from_config(&vc, &mut ledger, pool_h, owner, AssetId(0), 2000.0).unwrap()];
        let names = vec!["ETH".to_string()];
        let infos = vec![VenueInfo {
            name: "amm".into(),
            asset: AssetId(0),
            is_clob: false,
        }];
        let trader = {
            let mut ctx =
                BuildCtx::new(&mut ledger, rng::run_seed(3, 0), &names, &infos, &[2000.0]);
            ctx.schedule = Schedule::Polled;
            Trader::build(cfg, &mut ctx).pop().unwrap()
        };
        let ecfg = EngineConfig {
            perp_trade_price: PerpTradePrice::Oracle,
            ..EngineConfig::plain(0.2, 0.1, LiquidationMode::Full { bonus: 0.08 })
        };
        let engine = Engine::new(
            &ecfg,
            &mut ledger,
            &[2000.0],
            rng::stream(rng::run_seed(3, 0), "engine", 0),
        )
        .unwrap();
        ledger.seal();
        let oracle = OracleConfig {
            asset: "ETH".into(),
            feed: FeedConfig::Twap {
                venue: "amm".into(),
                window_s: 600.0,
            },
            guards: GuardConfig::default(),
            publication: Default::default(),
        };
        let oracles = Oracles::new(&[(0, oracle)], &[2000.0], &["amm".to_string()]).unwrap();
        Fx {
            ledger,
            engine,
            venues,
            oracles,
            costs: GasCosts::default(),
            mempool: Mempool::new(600.0),
            trader,
            watch: watch::MarketWatch::default(),
            watch_params: (cfg.vol_half_life_s, cfg.drawdown_window_s),
            liq,
            block: 0,
            t_s: 0.0,
            price: 2000.0,
        }
    }

    /// A block `dt` seconds later at oracle price `p`, in which the trader acts (at a base
    /// fee of `base_gwei`); what it submitted.
    fn act(&mut self, dt: f64, p: f64, base_gwei: f64) -> Vec<EngineOp> {
        self.block += 1;
        self.t_s += dt;
        self.price = p;
        self.engine
            .begin_block(self.block, self.t_s, dt, &[p], &[p], &[true], &[None], &[p]);
        self.engine.end_block();
        let (hl, w) = self.watch_params;
        self.watch.observe(self.t_s, p, hl, w);
        let view = View {
            block: self.block,
            t_s: self.t_s,
            block_time_s: 12.0,
            dt_s: dt,
            base_fee: gwei(base_gwei),
            native_price: p,
            gas_costs: &self.costs,
            p_ref: &[p],
            oracle: &[p],
            venues: &self.venues,
            ledger: &self.ledger,
            mempool: &self.mempool,
            receipts: &[],
            watcher: false,
            engine: Some(&self.engine),
            oracles: &self.oracles,
            twap_oracles: &[None],
            prices: None,
            watches: std::slice::from_ref(&self.watch),
        };
        let mut out = Vec::new();
        self.trader.act(&view, AgentId(0), &mut out);
        out.into_iter()
            .map(|s| match s {
                Submission::Tx(r) => match r.action {
                    Action::Engine(op) => op,
                    a => panic!("{a:?}"),
                },
                s => panic!("{s:?}"),
            })
            .collect()
    }

    /// Execute the trader's operation (as if included).
    fn apply(&mut self, op: &EngineOp) {
        let h = self.trader.holder();
        self.engine
            .apply(op, h, AgentId(0), &mut self.ledger, &mut self.venues)
            .unwrap();
    }

    fn account(&self) -> AccountId {
        self.engine.account_of(self.trader.holder()).unwrap()
    }
}

fn is_open(ops: &[EngineOp]) -> bool {
    matches!(ops, [EngineOp::PerpOpen { size, .. }] if size.is_positive())
}

/// After a liquidation the trader does not open again for `reentry_cooldown_s`, though its
/// entry rate is infinite; at the end of the cooldown it opens at once.
#[test]
fn the_cooldown_holds_after_a_liquidation() {
    let mut fx = Fx::new(&trader_cfg());
    let ops = fx.act(12.0, 2000.0, 20.0);
    assert!(is_open(&ops), "{ops:?}");
    fx.apply(&ops[0]);
    assert!(fx.act(12.0, 2000.0, 20.0).is_empty(), "holding, no habits");
    // 5x long: liquidatable below about 1,777. The liquidator takes it at 1,700.
    assert!(fx.act(12.0, 1_700.0, 20.0).is_empty());
    let id = fx.account();
    let liq = fx.liq;
    fx.engine
        .apply(
            &EngineOp::Liquidate {
                account: id,
                sell_on: None,
                min_profit: Amount::ZERO,
            },
            liq,
            AgentId(1),
            &mut fx.ledger,
            &mut fx.venues,
        )
        .unwrap();
    let liquidated_at = fx.t_s + 12.0;
    let mut t_open = None;
    for _ in 0..400 {
        let ops = fx.act(12.0, 1_700.0, 20.0);
        if !ops.is_empty() {
            assert!(is_open(&ops), "{ops:?}");
            t_open = Some(fx.t_s);
            break;
        }
    }
    let t_open = t_open.expect("it re-enters after the cooldown");
    assert!(
        t_open >= liquidated_at + 3_600.0 && t_open < liquidated_at + 3_600.0 + 12.0,
        "opened at {t_open}, liquidated at {liquidated_at}"
    );
}

/// A 5x long of 10 ETH (4,000 margin) with a personal threshold of 0.08 (maintenance health
/// over exposure) and `delever_fraction = 0.5`, the price walking down from 2,000 over 100
/// blocks of 12 s (an observed volatility near 80% a year): down to 1,900 (0.058 of the
/// exposure, about 7 standard deviations of an hour) the penalty it could avert is negligible
/// and it does nothing; walking to 1,800 (0.011) it sells half once that is worth the gas,
/// below the threshold, and never when gas costs more than the expected penalty (20,000
/// gwei); above the threshold (1,990) never.
#[test]
fn deleverage_fires_below_the_threshold_only_when_worth_it() {
    let mut cfg = trader_cfg();
    cfg.delever_threshold = Range {
        min: 0.08,
        max: 0.08,
    };
    cfg.delever_fraction = 0.5;
    for (p_end, base_gwei, want) in [
        (1_990.0, 20.0, false),
        (1_900.0, 20.0, false),
        (1_800.0, 20_000.0, false),
        (1_800.0, 20.0, true),
    ] {
        let mut fx = Fx::new(&cfg);
        let ops = fx.act(12.0, 2000.0, 20.0);
        assert!(is_open(&ops), "{ops:?}");
        fx.apply(&ops[0]);
        let mut fired = None;
        for k in 1..=100 {
            let p = 2000.0 * (p_end / 2000.0f64).powf(k as f64 / 100.0);
            let ops = fx.act(12.0, p, base_gwei);
            if ops.is_empty() {
                continue;
            }
            let h = fx.engine.health(fx.account()).unwrap();
            let size = fx.engine.account(fx.account()).unwrap().perps[0].size;
            assert_eq!(
                ops,
                vec![EngineOp::PerpOpen {
                    asset: AssetId(0),
                    size: -size.scale_floor(0.5),
                    margin: Amount::ZERO,
                }],
                "at {p}"
            );
            assert!(
                h.maintenance < 0.08 * 10.0 * p,
                "above the threshold at {p}"
            );
            fired = Some(p);
            break;
        }
        assert_eq!(
            fired.is_some(),
            want,
            "to {p_end} at {base_gwei} gwei: {fired:?}"
        );
    }
}

/// A stop 10% below the entry: nothing at -7.5%, a close once the oracle crosses -10%;
/// after a stop-out the cooldown holds.
#[test]
fn the_stop_loss_fires_on_crossing() {
    let mut cfg = trader_cfg();
    cfg.stop_share = 1.0;
    cfg.leverage_min = Some(2.0);
    cfg.leverage_max = Some(2.0);
    let mut fx = Fx::new(&cfg);
    let ops = fx.act(12.0, 2000.0, 20.0);
    assert!(is_open(&ops), "{ops:?}");
    fx.apply(&ops[0]);
    assert!(fx.act(12.0, 1_850.0, 20.0).is_empty());
    assert!(fx.act(12.0, 1_801.0, 20.0).is_empty());
    let id = fx.account();
    let ops = fx.act(12.0, 1_799.0, 20.0);
    assert_eq!(ops, vec![EngineOp::Close { account: id }]);
    fx.apply(&ops[0]);
    assert!(
        fx.act(12.0, 1_799.0, 20.0).is_empty(),
        "cooldown after a stop-out"
    );
}
