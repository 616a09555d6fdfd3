//! Shared pieces of cascade's benchmarks: the reference scenario, its scaled variants, the
//! acting-set scenario (`acting`: N accounts of which about 2,000 act in a block) and the
//! "floor", a loop that makes the same random draws and touches the same per-account state as
//! a run of the reference scenario but does no model work. The ratio of a full run to the floor
//! says how much of a run's time goes to the model itself (target: at most 3); the figures are
//! in benches/RESULTS.md. The floor follows the scenario's `chain.agent_schedule`: under
//! `polled` every agent draws every block (this file), under `event` only the acting set does
//! (`event_floor.rs`).

mod event_floor;

pub use event_floor::{EventFloor, EventShape, NoiseRates, TraderRates};

use cascade_agents::AgentConfig;
use cascade_agents::trader::Habits;
use cascade_agents::{Role, Schedule};
use cascade_core::rng::{self, SimRng, streams};
use cascade_core::{Amount, HolderId, Ledger, TokenId};
use cascade_engine::{Engine, EngineConfig};
use cascade_sim::load::{apply_overrides, load_scenario, read_tree, scenario_from_tree};
use cascade_sim::{Scenario, World};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use std::path::PathBuf;

/// `configs/bench/reference.toml`, from the workspace root.
pub fn reference_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs/bench/reference.toml")
}

/// The reference run with reference-market price formation (`configs/bench/reference_market.toml`).
pub fn reference_market() -> Scenario {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs/bench/reference_market.toml");
    load_scenario(&p, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// The index of the trader population in the reference scenario's `[[agents]]`.
pub const TRADERS: usize = 3;

/// The reference scenario with `--set`-style overrides.
pub fn reference(sets: &[String]) -> Scenario {
    load_scenario(&reference_path(), sets).unwrap_or_else(|e| panic!("{e}"))
}

/// The reference market with `n` traders who all open a position in the first block and keep
/// it (no closing, no top-ups), for `blocks` blocks: every block each trader draws and checks
/// its position, and the engine watches `n` open accounts. The block gas limit grows with `n`
/// so that every opening fits in the first block (background demand scales with it: the
/// chain is `n / 2000` times the reference chain).
pub fn scaled(n: u64, blocks: u64) -> Scenario {
    let sets = [
        format!("agents.{TRADERS}.count={n}"),
        format!("agents.{TRADERS}.open_per_hour=inf"),
        format!("agents.{TRADERS}.close_per_hour=0.0"),
        format!("agents.{TRADERS}.topup_per_hour=0.0"),
        format!("chain.duration_s={}", 12 * blocks),
        // Room for every opening transaction in the first block (the default 30M gas would
        // queue a million openings for thousands of blocks).
        format!("gas.gas_limit={}", (400_000 * n).max(30_000_000)),
    ];
    reference(&sets)
}

/// Agents that act in every block of the `acting` benchmark (about: the count is random).
pub const ACTING: u64 = 2_000;

/// Blocks stepped before the `acting` benchmark measures: the holders' openings (one block
/// to submit, the next to include) and the settling of the first naps, whose wakes at 10^6
/// accounts die out within about twelve blocks (51,596 visits in the sixth block, about 2,070
/// from the eighteenth on).
pub const ACTING_WARM_UP: u64 = 30;

/// The reference market with `n` trader accounts of which about `acting` act in a block: the
/// acting-set benchmark (issue 20: a block's cost should grow with the agents that act, not
/// with the accounts that exist).
///
/// - Half the accounts (`agents.3`) hold a 2x perp or loan opened in the first block and
///   never act on their own again (no closing, no top-up, no stop, no deleveraging): idle
///   holders, visited every block while the World visits holders, asleep once holders sleep.
/// - The other half (a new population, `agents.6`) are flat and sleep on an opening clock whose
///   rate makes `acting` of them ring per block on average; every ringing trader makes an
///   opening's draws and declines it (`max_entry_cost = 0`: no entry cost is small enough), so
///   the same population stays flat and the acting set keeps its size block after block,
///   spread over the whole population (each block's ringers are a fresh random subset).
///
/// The market is calm (10% volatility a year), so no 2x holder nears liquidation, and the
/// block gas limit grows with `n` so that every opening fits in the first block.
pub fn acting(n: u64, acting: u64) -> Scenario {
    let holders = n / 2;
    let flat = n - holders;
    assert!(
        acting < flat,
        "acting ({acting}) must be below the flat half ({flat})"
    );
    let path = reference_path();
    let blocks_per_hour = 3_600.0 / 12.0;
    // Per-block probability `acting / flat`: rate `-ln(1 - p)` per block.
    let rate = -(1.0 - acting as f64 / flat as f64).ln() * blocks_per_hour;
    let mut tree = read_tree(&path).unwrap_or_else(|e| panic!("{e}"));
    let sets = [
        format!("agents.{TRADERS}.count={holders}"),
        format!("agents.{TRADERS}.open_per_hour=inf"),
        format!("agents.{TRADERS}.close_per_hour=0.0"),
        format!("agents.{TRADERS}.topup_per_hour=0.0"),
        format!("agents.{TRADERS}.stop_share=0.0"),
        format!("agents.{TRADERS}.delever_fraction=0.0"),
        format!("agents.{TRADERS}.leverage_min=2.0"),
        format!("agents.{TRADERS}.leverage_max=2.0"),
        // Long enough never to end during a measurement.
        format!("chain.duration_s={}", 12 * 1_000_000),
        format!("gas.gas_limit={}", (400_000 * holders).max(30_000_000)),
        // Long-run variance omega / (1 - alpha - beta) = 0.01 a year: 10% volatility.
        "assets.0.process.omega=0.0001".to_string(),
    ];
    apply_overrides(&path, &mut tree, &sets).unwrap_or_else(|e| panic!("{e}"));
    let mut pop = toml::Table::new();
    pop.insert("kind".into(), "trader".into());
    pop.insert("count".into(), toml::Value::Integer(flat as i64));
    pop.insert("capital".into(), 15_000.0.into());
    pop.insert("inventory".into(), 15.0.into());
    pop.insert("open_per_hour".into(), rate.into());
    pop.insert("max_entry_cost".into(), 0.0.into());
    pop.insert("close_per_hour".into(), 0.0.into());
    pop.insert("topup_per_hour".into(), 0.0.into());
    tree.get_mut("agents")
        .and_then(|a| a.as_array_mut())
        .expect("the reference lists [[agents]]")
        .push(toml::Value::Table(pop));
    scenario_from_tree(&path, tree).unwrap_or_else(|e| panic!("{e}"))
}

/// Per-account state the floor touches: what a trader reads every block (its wallet and its
/// account) and writes (its last decision).
#[derive(Clone, Default)]
pub(crate) struct Touched {
    pub(crate) quote: i128,
    pub(crate) base: i128,
    pub(crate) debt: i128,
    pub(crate) last: u64,
}

/// The shape of a scenario that the floor needs: its agents by role (counted on a built
/// World, so that every population kind is counted the way the simulator builds it), its
/// oracle feeds and its blocks; under the event schedule also the rates of its sleeping
/// populations.
#[derive(Debug, Clone)]
pub struct Floor {
    n_agents: usize,
    n_traders: u32,
    n_noise: u32,
    feeds: usize,
    blocks: u64,
    /// `Some` under `chain.agent_schedule = "event"`.
    event: Option<EventShape>,
}

impl Floor {
    pub fn of(scenario: &Scenario) -> Floor {
        let w = World::new(scenario, 0, 0).unwrap_or_else(|e| panic!("{e}"));
        let roles: Vec<Role> = w
            .actors()
            .iter()
            .map(|a| a.role)
            .filter(|r| *r != Role::OraclePublisher)
            .collect();
        let count = |role: Role| roles.iter().filter(|r| **r == role).count() as u32;
        let feeds = w.oracles().n_feeds();
        drop(w);
        let cfg = &scenario.config;
        let event = (cfg.chain.agent_schedule == Schedule::Event).then(|| {
            let mut shape = EventShape {
                n_awake: 0,
                noise: Vec::new(),
                traders: Vec::new(),
                feeds,
                block_time_s: cfg.chain.block_time_s,
                holders_awake: !cfg.chain.holders_sleep,
            };
            for a in &cfg.agents {
                match a {
                    AgentConfig::Trader(c) => shape.traders.push(TraderRates {
                        count: c.count,
                        open_per_hour: c.open_per_hour,
                        close_per_hour: c.close_per_hour,
                        declines: c.habits == Habits::Economic && c.max_entry_cost <= 0.0,
                    }),
                    AgentConfig::NoiseTrader(c) => shape.noise.push(NoiseRates {
                        count: c.count,
                        trade_per_hour: c.trade_per_hour,
                    }),
                    _ => {}
                }
            }
            let sleeping: u32 = shape.traders.iter().map(|t| t.count).sum::<u32>()
                + shape.noise.iter().map(|n| n.count).sum::<u32>();
            shape.n_awake = roles.len().saturating_sub(sleeping as usize);
            shape
        });
        Floor {
            n_agents: roles.len(),
            n_traders: count(Role::Trader),
            n_noise: count(Role::NoiseTrader),
            feeds,
            blocks: cfg.chain.blocks(),
            event,
        }
    }

    /// Under the event schedule, let holders sleep on their closing clocks instead of being
    /// visited every block (for a World whose holders sleep); no effect under `polled`.
    pub fn with_sleeping_holders(mut self, sleep: bool) -> Floor {
        if let Some(e) = self.event.as_mut() {
            e.holders_awake = !sleep;
        }
        self
    }

    /// The floor of one run. Under `polled`, for every block, the draws the World makes
    /// whatever happens (one normal for the price and one for the gas demand, three per
    /// oracle feed, the arrival shuffle of every agent, six per trader and four per noise
    /// trader from their own streams, as the simulator's common-random-numbers rule fixes
    /// them), and for every trader one read and one write of its per-account state, in the
    /// shuffled arrival order as in the World. Under `event`, the same fixed draws, then the
    /// acting set only (`EventFloor`). Returns a checksum so that nothing is optimized away.
    pub fn run(&self, master_seed: u64, run: u64) -> u64 {
        let mut st = FloorState::new(self, master_seed, run);
        let mut check = 0u64;
        for _ in 0..self.blocks {
            check = check.wrapping_add(st.block());
        }
        check.wrapping_add(st.checksum())
    }
}

/// The floor's state between blocks, so that a single block can be measured at any
/// population (`scaling` and `acting` benches).
pub enum FloorState {
    Polled(PolledFloor),
    Event(EventFloor),
}

impl FloorState {
    pub fn new(f: &Floor, master_seed: u64, run: u64) -> FloorState {
        match &f.event {
            Some(shape) => FloorState::Event(EventFloor::new(shape, master_seed, run)),
            None => FloorState::Polled(PolledFloor::new(f, master_seed, run)),
        }
    }

    /// One block of the floor; returns a checksum.
    pub fn block(&mut self) -> u64 {
        match self {
            FloorState::Polled(p) => p.block(),
            FloorState::Event(e) => e.block(),
        }
    }

    /// The agents visited in the last block (every agent under `polled`).
    pub fn acting(&self) -> usize {
        match self {
            FloorState::Polled(p) => p.order.len(),
            FloorState::Event(e) => e.acting(),
        }
    }

    fn checksum(&self) -> u64 {
        match self {
            FloorState::Polled(p) => p
                .state
                .iter()
                .fold(0u64, |c, s| c.wrapping_add(s.last ^ s.quote as u64)),
            FloorState::Event(e) => e.checksum(),
        }
    }
}

/// The polled floor: every agent in every block's shuffle, six draws per trader and four per
/// noise trader.
pub struct PolledFloor {
    price: SimRng,
    gas: SimRng,
    oracle: SimRng,
    arrival: SimRng,
    feeds: usize,
    traders: Vec<SimRng>,
    noise: Vec<SimRng>,
    state: Vec<Touched>,
    order: Vec<usize>,
    block: u64,
}

impl PolledFloor {
    pub fn new(f: &Floor, master_seed: u64, run: u64) -> PolledFloor {
        let seed = rng::run_seed(master_seed, run);
        PolledFloor {
            price: rng::stream(seed, streams::PRICE, 0),
            gas: rng::stream(seed, streams::GAS, 0),
            oracle: rng::stream(seed, streams::ORACLE, 0),
            arrival: rng::stream(seed, streams::ARRIVAL, 0),
            feeds: f.feeds,
            traders: (0..f.n_traders)
                .map(|i| rng::stream(seed, streams::TRADERS, i))
                .collect(),
            noise: (0..f.n_noise)
                .map(|i| rng::stream(seed, streams::NOISE, i))
                .collect(),
            state: vec![Touched::default(); f.n_traders as usize],
            // Agents by position: traders first, then noise traders, then the rest.
            order: (0..f.n_agents).collect(),
            block: 0,
        }
    }

    /// One block of the floor; returns a checksum.
    pub fn block(&mut self) -> u64 {
        let e: f64 = StandardNormal.sample(&mut self.price);
        let g: f64 = StandardNormal.sample(&mut self.gas);
        let mut acc = e + g;
        for _ in 0..3 * self.feeds {
            acc += self.oracle.random::<f64>();
        }
        let order = &mut self.order;
        for i in (1..order.len()).rev() {
            let j = self.arrival.random_range(0..=i);
            order.swap(i, j);
        }
        let (nt, nn) = (self.traders.len(), self.noise.len());
        for &i in order.iter() {
            if i < nt {
                let (r, s) = (&mut self.traders[i], &mut self.state[i]);
                let u: f64 = r.random::<f64>()
                    + r.random::<f64>()
                    + r.random::<f64>()
                    + r.random::<f64>()
                    + r.random::<f64>();
                let z: f64 = StandardNormal.sample(r);
                // Read the wallet and the account, write the decision.
                if u + z > s.quote as f64 + s.base as f64 - s.debt as f64 {
                    s.last = self.block;
                }
                s.quote = s.quote.wrapping_add(1);
            } else if i < nt + nn {
                let r = &mut self.noise[i - nt];
                acc += r.random::<f64>() + r.random::<f64>() + r.random::<f64>();
                let z: f64 = StandardNormal.sample(r);
                acc += z;
            }
        }
        self.block += 1;
        acc.to_bits() ^ self.order[0] as u64
    }
}

/// An engine under `cfg` at a price of 2,000 on a two-token ledger (USD, ETH), with `n`
/// holders each given `genesis` (token, whole units) before the ledger is sealed: the setup of
/// the benches that drive the engine directly.
pub fn engine_with_holders(
    cfg: &EngineConfig,
    n: u64,
    genesis: &[(TokenId, f64)],
) -> (Engine, Ledger, Vec<HolderId>) {
    let mut ledger = Ledger::new(["USD", "ETH"]);
    let holders = (0..n)
        .map(|i| {
            let h = ledger.add_holder(format!("t{i}"));
            for &(t, x) in genesis {
                ledger
                    .mint_genesis(h, t, Amount::from_whole(x))
                    .expect("genesis mint");
            }
            h
        })
        .collect();
    let e = Engine::new(
        cfg,
        &mut ledger,
        &[2000.0],
        rng::stream(rng::run_seed(1, 0), "engine", 0),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    ledger.seal();
    (e, ledger, holders)
}

/// The process's peak resident memory (`VmHWM`, kB) on Linux; `None` elsewhere.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
