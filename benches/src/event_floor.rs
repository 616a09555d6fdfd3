//! The floor under the event agent schedule: the random draws and per-account touches that the
//! World cannot avoid when only the agents that act are visited. Under `chain.agent_schedule =
//! "event"` the World orders the acting set of a block by the agents' arrival keys (the agents awake, and the sleepers
//! whose clock is due), not the whole population, and an agent draws only when one of its
//! clocks rings; so does this floor, with the same clocks (`cascade_agents::schedule::Clock`)
//! and the same queue of sleepers (`Sleepers`), and without the model:
//!
//! - agents that never sleep (liquidators, arbitrageurs, market makers, MEV bots, option
//!   agents) are in every block's arrival order and draw nothing, as in the polled floor;
//! - a noise trader sleeps on its trade clock (`trade_per_hour`); when it rings it makes its
//!   trade's draws (two uniforms and a normal);
//! - a trader is flat or holds a position. Flat, it sleeps on its opening clock
//!   (`open_per_hour`); when it rings it makes an opening's draws (three uniforms and a
//!   normal), holds, and stays awake for the next block (its transaction pending), unless its
//!   population declines every opening (`max_entry_cost = 0`, the `acting` bench's flat
//!   accounts), in which case it sleeps again on its opening clock. Holding, it
//!   consults its closing clock (`close_per_hour`) and, when it rings, is flat again (awake
//!   for the next block). A holder sleeps on its closing clock (`chain.holders_sleep`, the
//!   default) or is awake every block (`holders_awake`, with `chain.holders_sleep = false`). Every visit
//!   reads and writes the trader's per-account state.
//!
//! What the floor leaves out, because only the model knows it: openings declined for their
//! cost or the entry brake, liquidations, stops, top-ups and deleveraging, and the blocks a
//! transaction waits for inclusion beyond one. Blocks are `block_time_s` apart (fixed).

use crate::Touched;
use cascade_agents::schedule::{Clock, Sleepers, arrival_key};
use cascade_core::rng::{self, SimRng, streams};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// One trader population's rates, per hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraderRates {
    pub count: u32,
    pub open_per_hour: f64,
    pub close_per_hour: f64,
    /// Whether every opening is declined (an economic trader with `max_entry_cost = 0`: no
    /// entry cost is small enough), so that a ringing trader stays flat.
    pub declines: bool,
}

/// One noise-trader population: its count and trades per hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseRates {
    pub count: u32,
    pub trade_per_hour: f64,
}

/// The shape of a scenario that the event floor needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EventShape {
    /// Agents that never sleep.
    pub n_awake: usize,
    pub noise: Vec<NoiseRates>,
    pub traders: Vec<TraderRates>,
    pub feeds: usize,
    pub block_time_s: f64,
    /// Whether a trader holding a position is visited every block (the World's rule until
    /// holders sleep on their clocks and price conditions).
    pub holders_awake: bool,
}

struct TraderSlot {
    touched: Touched,
    open: Clock,
    close: Clock,
    holding: bool,
    pop: u32,
}

struct NoiseSlot {
    clock: Clock,
    pop: u32,
}

/// The event floor's state between blocks.
pub struct EventFloor {
    price: SimRng,
    gas: SimRng,
    oracle: SimRng,
    arrival: SimRng,
    shape: EventShape,
    noise: Vec<NoiseSlot>,
    noise_rng: Vec<SimRng>,
    traders: Vec<TraderSlot>,
    trader_rng: Vec<SimRng>,
    awake: Vec<u32>,
    sleepers: Sleepers,
    order: Vec<usize>,
    block: u64,
}

impl EventFloor {
    pub fn new(shape: &EventShape, master_seed: u64, run: u64) -> EventFloor {
        let seed = rng::run_seed(master_seed, run);
        let noise: Vec<NoiseSlot> = shape
            .noise
            .iter()
            .enumerate()
            .flat_map(|(p, r)| {
                (0..r.count).map(move |_| NoiseSlot {
                    clock: Clock::default(),
                    pop: p as u32,
                })
            })
            .collect();
        let traders: Vec<TraderSlot> = shape
            .traders
            .iter()
            .enumerate()
            .flat_map(|(p, r)| {
                (0..r.count).map(move |_| TraderSlot {
                    touched: Touched::default(),
                    open: Clock::default(),
                    close: Clock::default(),
                    holding: false,
                    pop: p as u32,
                })
            })
            .collect();
        let n = shape.n_awake + noise.len() + traders.len();
        EventFloor {
            price: rng::stream(seed, streams::PRICE, 0),
            gas: rng::stream(seed, streams::GAS, 0),
            oracle: rng::stream(seed, streams::ORACLE, 0),
            arrival: rng::stream(seed, streams::ARRIVAL, 0),
            noise_rng: (0..noise.len() as u32)
                .map(|i| rng::stream(seed, cascade_agents::schedule::NOISE_EVENTS, i))
                .collect(),
            trader_rng: (0..traders.len() as u32)
                .map(|i| rng::stream(seed, cascade_agents::schedule::TRADER_EVENTS, i))
                .collect(),
            noise,
            traders,
            // Every agent acts in the first block.
            awake: (0..n as u32).collect(),
            sleepers: Sleepers::default(),
            order: Vec::with_capacity(n),
            block: 0,
            shape: shape.clone(),
        }
    }

    /// The agents visited in the last block.
    pub fn acting(&self) -> usize {
        self.order.len()
    }

    /// One block of the floor; returns a checksum.
    pub fn block(&mut self) -> u64 {
        let dt = self.shape.block_time_s;
        let t = (self.block + 1) as f64 * dt;
        let e: f64 = StandardNormal.sample(&mut self.price);
        let g: f64 = StandardNormal.sample(&mut self.gas);
        let mut acc = e + g;
        for _ in 0..3 * self.shape.feeds {
            acc += self.oracle.random::<f64>();
        }
        // The acting set, ordered by each agent's arrival key of this block: as the World's
        // `collect_acting` and `key_arrivals`.
        self.order.clear();
        self.order.extend(self.awake.drain(..).map(|a| a as usize));
        self.sleepers.pop_due(t, &mut self.order);
        let salt: u64 = self.arrival.random();
        self.order
            .sort_unstable_by_key(|&ai| (arrival_key(salt, ai as u64), ai));
        let (na, nn) = (self.shape.n_awake, self.noise.len());
        for k in 0..self.order.len() {
            let i = self.order[k];
            let me = i as u32;
            if i < na {
                self.awake.push(me);
            } else if i < na + nn {
                let (s, r) = (&mut self.noise[i - na], &mut self.noise_rng[i - na]);
                let rate = self.shape.noise[s.pop as usize].trade_per_hour;
                if s.clock.rings(r, rate, t, dt) {
                    acc += r.random::<f64>() + r.random::<f64>();
                    let z: f64 = StandardNormal.sample(r);
                    acc += z;
                }
                match s.clock.next() {
                    Some(w) => self.sleepers.push(w, me),
                    None => self.awake.push(me),
                }
            } else {
                let j = i - na - nn;
                let (s, r) = (&mut self.traders[j], &mut self.trader_rng[j]);
                let rates = self.shape.traders[s.pop as usize];
                // Read the wallet and the account, write the decision.
                let seen = s.touched.quote as f64 + s.touched.base as f64 - s.touched.debt as f64;
                s.touched.quote = s.touched.quote.wrapping_add(1);
                if !s.holding {
                    if s.open.rings(r, rates.open_per_hour, t, dt) {
                        let u = r.random::<f64>() + r.random::<f64>() + r.random::<f64>();
                        let z: f64 = StandardNormal.sample(r);
                        if u + z > seen {
                            s.touched.last = self.block;
                        }
                        if rates.declines {
                            self.sleepers
                                .push(s.open.next().unwrap_or(f64::INFINITY), me);
                        } else {
                            s.holding = true;
                            s.open.stop();
                            self.awake.push(me);
                        }
                    } else {
                        self.sleepers
                            .push(s.open.next().unwrap_or(f64::INFINITY), me);
                    }
                } else if s.close.rings(r, rates.close_per_hour, t, dt) {
                    s.touched.last = self.block;
                    s.holding = false;
                    s.close.stop();
                    self.awake.push(me);
                } else if self.shape.holders_awake {
                    self.awake.push(me);
                } else {
                    self.sleepers
                        .push(s.close.next().unwrap_or(f64::INFINITY), me);
                }
            }
        }
        self.block += 1;
        acc.to_bits() ^ self.order.first().copied().unwrap_or(0) as u64
    }

    /// A checksum of the per-trader state, so that nothing is optimized away.
    pub fn checksum(&self) -> u64 {
        self.traders.iter().fold(0u64, |c, s| {
            c.wrapping_add(s.touched.last ^ s.touched.quote as u64)
        })
    }
}
