//! Seeding: one master seed, one seed per run, one ChaCha8 stream per component.
//!
//! Run `r` of an experiment draws from `run_seed(master, r)`. Inside a run every component
//! (`price`, `gas`, `oracle`, `traders`, `liquidators`, `mev`, ...) draws from its own
//! `ChaCha8Rng` stream, selected by the stream's name and an index (the agent's index within its
//! population, the feed's index, ...). Streams never share state, so:
//! - the same run index sees the same exogenous price path at every sweep point (common random
//!   numbers), and changing an agent parameter never shifts the price draws;
//! - results do not depend on which thread runs which run.
//!
//! Only named, portable algorithms are used (ChaCha8); never `StdRng`, `SmallRng` or a thread
//! RNG, whose output may change between releases.
//!
//! A generator holds a 256-byte output buffer (304 bytes in all); an agent that acts rarely
//! keeps its stream as a [`ParkedRng`] instead (the stream number and the word position, 32
//! bytes with the run seed's pointer; 24 as a [`ParkedStream`] whose owner keeps the seed),
//! materialized when it draws and parked again when the agent goes to sleep: ChaCha's
//! output is a function of (seed, stream, word position), so the draws are bit for bit a
//! continuous generator's.

use rand::{SeedableRng, TryRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::convert::Infallible;
use std::sync::Arc;

/// The random number generator of every simulation component.
pub type SimRng = ChaCha8Rng;

/// The 32-byte seed of one run, from which all of its component streams are derived.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamSeed(pub [u8; 32]);

/// Stream names that are part of the reproducibility contract.
pub mod streams {
    pub const PRICE: &str = "price";
    pub const PRICE_JUMPS: &str = "price_jumps";
    pub const GAS: &str = "gas";
    pub const ORACLE: &str = "oracle";
    pub const ARRIVAL: &str = "arrival";
    pub const CHAIN: &str = "chain";
    pub const TRADERS: &str = "traders";
    pub const NOISE: &str = "noise";
    pub const LIQUIDATORS: &str = "liquidators";
    pub const ARBITRAGEURS: &str = "arbitrageurs";
    pub const MARKET_MAKERS: &str = "market_makers";
    pub const MEV: &str = "mev";
    pub const ENGINE: &str = "engine";
    /// Oracle order-flow auctions (`oev_auction` publication): the private route's failure
    /// and the tie-break among equal bids, two draws per auctioned update.
    pub const OEV: &str = "oev";
    /// Option traders (premium sellers and buyers), one stream per trader.
    pub const OPTION_TRADERS: &str = "option_traders";
    /// Options market makers: numbers them only (a market maker draws nothing).
    pub const OPTIONS_MARKET_MAKERS: &str = "options_market_makers";
    /// Oracle arbitrageurs: numbers them only (they draw nothing).
    pub const ORACLE_ARBITRAGEURS: &str = "oracle_arbitrageurs";
    /// Manipulators: numbers them only (they draw nothing).
    pub const MANIPULATORS: &str = "manipulators";
    /// Asynchronous settlement (`engine.sequencer`): random outages, two draws per block
    /// when `outage_per_hour > 0`.
    pub const SEQUENCER: &str = "sequencer";
    /// Intent solvers: numbers them only (they draw nothing).
    pub const SOLVERS: &str = "solvers";
    /// Cross-chain collateral (`engine.cross_chain`): bridge messages, two draws per delivery
    /// attempt (failure, extra latency), in send order.
    pub const BRIDGE: &str = "bridge";
}

/// The seed of run `run` of an experiment with master seed `master`.
///
/// It is the first 32 bytes of ChaCha8 keyed by `master`, on stream `run`: a pure function of
/// `(master, run)`.
pub fn run_seed(master: u64, run: u64) -> StreamSeed {
    use rand::Rng;
    let mut r = ChaCha8Rng::seed_from_u64(master);
    r.set_stream(run);
    let mut seed = [0u8; 32];
    r.fill_bytes(&mut seed);
    StreamSeed(seed)
}

/// The generator of component `name`, member `index`, within the run seeded by `seed`.
pub fn stream(seed: StreamSeed, name: &str, index: u32) -> SimRng {
    let mut r = ChaCha8Rng::from_seed(seed.0);
    r.set_stream(stream_id(name, index));
    r
}

/// The 64-bit ChaCha stream number of `(name, index)`: the FNV-1a hash of the name in the high
/// 32 bits, the index in the low 32 bits. Stable across versions and platforms.
pub fn stream_id(name: &str, index: u32) -> u64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.as_bytes() {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    ((h as u64) << 32) | index as u64
}

/// A named stream kept as its position while not in use: the ChaCha stream number and the
/// word position (24 bytes), without the run seed, which the caller keeps once for many streams
/// and passes to [`ParkedStream::live`]. The first draw after [`ParkedStream::park`]
/// materializes the generator at that position (seed, stream, `set_word_pos`), so a parked
/// stream draws exactly what a continuous generator would; `park` records the position and
/// gives the generator's storage back.
///
/// The storage of materialized generators is recycled through a small per-thread pool, so
/// that unparking in the block loop does not allocate once the pool is warm. The pool holds
/// only storage, never a position: which thread runs a World changes nothing in its draws.
pub struct ParkedStream {
    stream: u64,
    /// Word position while parked (68 bits in ChaCha; a run draws far fewer than 2^64 words).
    pos: u64,
    live: Option<Box<SimRng>>,
}

/// A [`ParkedStream`] with its run seed (shared by every stream of the run): a generator in
/// its own right (32 bytes).
pub struct ParkedRng {
    seed: Arc<StreamSeed>,
    inner: ParkedStream,
}

/// Most generators' storage kept for reuse per thread (a block unparks one or two per acting
/// agent at a time; anything beyond is freed).
const POOL_MAX: usize = 64;

thread_local! {
    // Boxes, not generators: a box moves between the pool and a parked stream without copying
    // the 304-byte generator.
    #[allow(clippy::vec_box)]
    static POOL: RefCell<Vec<Box<SimRng>>> = const { RefCell::new(Vec::new()) };
}

impl ParkedStream {
    /// Stream `(name, index)` at its start, parked.
    pub fn new(name: &str, index: u32) -> ParkedStream {
        ParkedStream {
            stream: stream_id(name, index),
            pos: 0,
            live: None,
        }
    }

    /// Whether the generator is parked (holds no buffer).
    pub fn is_parked(&self) -> bool {
        self.live.is_none()
    }

    /// Record the position and release the generator (a no-op when parked).
    pub fn park(&mut self) {
        if let Some(g) = self.live.take() {
            let pos = g.get_word_pos();
            debug_assert!(pos <= u64::MAX as u128);
            self.pos = pos as u64;
            POOL.with(|p| {
                let mut p = p.borrow_mut();
                if p.len() < POOL_MAX {
                    p.push(g);
                }
            });
        }
    }

    /// The generator of the run seeded by `seed`, materialized at the parked position if
    /// needed. The caller passes the same run seed every time (it is read only when parked).
    pub fn live(&mut self, seed: &StreamSeed) -> &mut SimRng {
        if self.live.is_none() {
            let mut g = POOL
                .with(|p| p.borrow_mut().pop())
                .unwrap_or_else(|| Box::new(ChaCha8Rng::from_seed([0; 32])));
            *g = ChaCha8Rng::from_seed(seed.0);
            g.set_stream(self.stream);
            g.set_word_pos(self.pos as u128);
            self.live = Some(g);
        }
        match self.live.as_mut() {
            Some(g) => g,
            None => unreachable!("materialized above"),
        }
    }
}

impl std::fmt::Debug for ParkedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkedStream")
            .field("stream", &self.stream)
            .field("pos", &self.pos)
            .field("parked", &self.is_parked())
            .finish()
    }
}

impl ParkedRng {
    /// Stream `(name, index)` of the run seeded by `seed`, at its start, parked.
    pub fn new(seed: Arc<StreamSeed>, name: &str, index: u32) -> ParkedRng {
        ParkedRng {
            seed,
            inner: ParkedStream::new(name, index),
        }
    }

    /// Whether the generator is parked (holds no buffer).
    pub fn is_parked(&self) -> bool {
        self.inner.is_parked()
    }

    /// Record the position and release the generator (a no-op when parked).
    pub fn park(&mut self) {
        self.inner.park();
    }

    /// The generator, materialized at the parked position if needed.
    pub fn live(&mut self) -> &mut SimRng {
        self.inner.live(&self.seed)
    }
}

impl std::fmt::Debug for ParkedRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkedRng")
            .field("stream", &self.inner.stream)
            .field("pos", &self.inner.pos)
            .field("parked", &self.is_parked())
            .finish()
    }
}

impl TryRng for ParkedRng {
    type Error = Infallible;
    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.live().try_next_u32()
    }
    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.live().try_next_u64()
    }
    #[inline]
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.live().try_fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngExt};

    #[test]
    fn runs_and_streams_are_distinct_and_reproducible() {
        let a = run_seed(7, 0);
        let b = run_seed(7, 1);
        assert_ne!(a, b);
        assert_eq!(a, run_seed(7, 0));
        let x = stream(a, streams::PRICE, 0).next_u64();
        let y = stream(a, streams::GAS, 0).next_u64();
        let z = stream(a, streams::PRICE, 1).next_u64();
        assert_ne!(x, y);
        assert_ne!(x, z);
        assert_eq!(x, stream(a, streams::PRICE, 0).next_u64());
    }

    /// A golden value: if a dependency upgrade changes the generator's output, this fails and
    /// stored results would no longer replay.
    #[test]
    fn golden_first_draw() {
        let s = run_seed(42, 3);
        let v = stream(s, streams::PRICE, 0).next_u64();
        assert_eq!(v, GOLDEN);
    }
    const GOLDEN: u64 = 16_718_387_189_579_050_440;

    /// Parked and unparked at arbitrary points (within a buffer, at its edges, between the
    /// halves of a u64, after `fill_bytes`, through distributions), a parked stream draws
    /// exactly what one continuous generator draws.
    #[test]
    fn parked_draws_equal_a_continuous_generator() {
        use rand_distr::{Distribution, Exp1, StandardNormal};
        let seed = run_seed(11, 2);
        let shared = Arc::new(seed);
        let mut cont = stream(seed, streams::TRADERS, 5);
        let mut parked = ParkedRng::new(shared.clone(), streams::TRADERS, 5);
        assert!(parked.is_parked());
        let mut plan = stream(seed, "test-plan", 0);
        for round in 0..2_000 {
            let n = plan.random_range(0..40);
            for _ in 0..n {
                match plan.random_range(0..6) {
                    0 => assert_eq!(cont.next_u32(), parked.next_u32()),
                    1 => assert_eq!(cont.next_u64(), parked.next_u64()),
                    2 => assert_eq!(
                        cont.random::<f64>().to_bits(),
                        parked.random::<f64>().to_bits()
                    ),
                    3 => {
                        let a: f64 = StandardNormal.sample(&mut cont);
                        let b: f64 = StandardNormal.sample(&mut parked);
                        assert_eq!(a.to_bits(), b.to_bits());
                    }
                    4 => {
                        let a: f64 = Exp1.sample(&mut cont);
                        let b: f64 = Exp1.sample(&mut parked);
                        assert_eq!(a.to_bits(), b.to_bits());
                    }
                    _ => {
                        let k = plan.random_range(1..13);
                        let (mut a, mut b) = ([0u8; 12], [0u8; 12]);
                        cont.fill_bytes(&mut a[..k]);
                        parked.fill_bytes(&mut b[..k]);
                        assert_eq!(a, b);
                    }
                }
            }
            if round % 3 != 0 {
                parked.park();
                assert!(parked.is_parked());
            }
        }
        parked.park();
        assert_eq!(parked.live().get_word_pos(), cont.get_word_pos());
    }

    /// Two parked streams of one run never share a position through the pool.
    #[test]
    fn pooled_storage_carries_no_position() {
        let shared = Arc::new(run_seed(3, 0));
        let mut a = ParkedRng::new(shared.clone(), streams::NOISE, 0);
        let mut b = ParkedRng::new(shared.clone(), streams::NOISE, 1);
        let mut ca = stream(*shared, streams::NOISE, 0);
        let mut cb = stream(*shared, streams::NOISE, 1);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), ca.next_u64());
            a.park();
            assert_eq!(b.next_u64(), cb.next_u64());
            b.park();
        }
    }
}
