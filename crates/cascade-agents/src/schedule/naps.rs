//! The sleeping holders' watches (`chain.holders_sleep`): what wakes a holder besides its
//! time ([`HolderWatch`]: its account written, its asset's price, funding index or
//! maintenance ratio leaving a band) and the index of those bands ([`Naps`]), apart from the
//! time queue of `schedule` because a block queries them by value, not by time.

use super::WakeAt;
use cascade_core::{AccountId, AssetId};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What wakes a sleeping holder besides its time: its account being written, the price of
/// `asset` (the engine's, or the oracle's the agents read) leaving `[lo, hi]`, the engine's
/// cumulative funding index of `asset` (`Engine::funding_index`) leaving `[f_lo, f_hi]`
/// (funding settlements are not account writes for this purpose), or the asset's
/// maintenance margin ratio (`MarginState::base`) leaving `(r_lo, r_hi)`: reaching `r_hi`
/// or falling to `r_lo` (infinite bounds: not watched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HolderWatch {
    pub account: AccountId,
    pub asset: AssetId,
    pub lo: f64,
    pub hi: f64,
    pub f_lo: f64,
    pub f_hi: f64,
    pub r_lo: f64,
    pub r_hi: f64,
}

/// Funding settlements after which every sleeping holder is woken, whatever its funding band:
/// a settlement rounds each payment by less than one base unit (1e-9 quote) in the protocol's
/// favour, and a holder's band reserves [`FUNDING_ROUNDING_RESERVE`] for that rounding, which
/// covers more settlements than this.
pub const FUNDING_WAKE_EVERY: u64 = 100_000;

/// The share of a holder's health margin (quote) kept for the rounding of funding
/// settlements: 1e-3 quote covers 10^6 settlements of at most 1e-9 each.
pub const FUNDING_ROUNDING_RESERVE: f64 = 1e-3;

/// The sleeping holders, indexed by band edge per coordinate (the price of each asset, then
/// the funding index of each asset, then the maintenance ratio of each asset), and by agent
/// and by account (dense vectors: every acting agent is looked up once per block, so a lookup
/// is one index, not a tree walk).
///
/// Per coordinate, the lower edges sit in a max-heap and the upper edges in a min-heap, so
/// that a wake pops only the edges crossed. Removal is lazy: each entry carries its agent's
/// watch stamp, bumped whenever the agent sleeps or wakes, and an entry whose stamp is not its
/// agent's current one is stale, dropped when it reaches the top (or when a heap holds more
/// stale entries than live ones: `compact`). A holder napping and waking every block costs
/// two heap pushes per bounded edge and no tree surgery. Infinite edges (no bound on that
/// side) are not stored. Everything is keyed by (edge, agent, stamp) under `total_cmp`:
/// deterministic, never hash order; the set a wake returns does not depend on the heaps'
/// layout (the World sorts it).
#[derive(Debug, Clone, Default)]
pub struct Naps {
    n_assets: usize,
    by_lo: Vec<BinaryHeap<Edge>>,
    by_hi: Vec<BinaryHeap<Reverse<Edge>>>,
    /// Each agent's watch stamp (entries with another stamp are stale), indexed by agent.
    stamp: Vec<u32>,
    /// The sleeping holder of each account (`NO_AGENT`: none), indexed by account.
    by_account: Vec<u32>,
    /// Each agent's slot in `watches` while it sleeps under a watch (`NO_AGENT`: none),
    /// indexed by agent: 4 bytes an agent, the watch itself only for the sleeping holders.
    of_agent: Vec<u32>,
    /// The watches of the sleeping holders, and the free slots among them.
    watches: Vec<HolderWatch>,
    free: Vec<u32>,
    /// How many agents sleep under a watch.
    len: usize,
}

/// One band edge in a heap of [`Naps`]: the edge, its agent, and the agent's watch stamp when
/// it was pushed. (An agent sleeps at most once a block, so its 32-bit stamp cannot wrap
/// within a run.) Ordered by edge (`total_cmp`), then agent, then stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    x: WakeAt,
    agent: u32,
    stamp: u32,
}

const NO_AGENT: u32 = u32::MAX;

impl HolderWatch {
    /// Its band on coordinate `c` of [`Naps`] (the price of asset `c`, the funding index of
    /// asset `c - n_assets`, or the maintenance ratio of asset `c - 2 n_assets`).
    fn band(&self, c: usize, n_assets: usize) -> (f64, f64) {
        if c < n_assets {
            (self.lo, self.hi)
        } else if c < 2 * n_assets {
            (self.f_lo, self.f_hi)
        } else {
            (self.r_lo, self.r_hi)
        }
    }
}

impl Naps {
    pub fn new(n_assets: usize) -> Naps {
        Naps {
            n_assets,
            by_lo: vec![BinaryHeap::new(); 3 * n_assets],
            by_hi: vec![BinaryHeap::new(); 3 * n_assets],
            ..Naps::default()
        }
    }

    /// The coordinates of a watch: its asset's price, its asset's funding index unless its
    /// funding band is unbounded (a holder without a perp), and its asset's maintenance ratio
    /// unless unbounded (a margin model whose ratios never move).
    fn coords(&self, w: &HolderWatch) -> [Option<usize>; 3] {
        let a = w.asset.index();
        let funded = w.f_lo > f64::NEG_INFINITY || w.f_hi < f64::INFINITY;
        let ratio = w.r_lo > f64::NEG_INFINITY || w.r_hi < f64::INFINITY;
        [
            Some(a),
            funded.then_some(self.n_assets + a),
            ratio.then_some(2 * self.n_assets + a),
        ]
    }

    /// Whether a heap entry is its agent's current watch.
    fn live(&self, e: &Edge) -> bool {
        self.stamp[e.agent as usize] == e.stamp && self.of_agent[e.agent as usize] != NO_AGENT
    }

    /// Agent `agent` sleeps under `w` (replacing any earlier watch of its own).
    pub fn insert(&mut self, agent: u32, w: HolderWatch) {
        self.remove(agent);
        let ai = agent as usize;
        if self.of_agent.len() <= ai {
            self.of_agent.resize(ai + 1, NO_AGENT);
            self.stamp.resize(ai + 1, 0);
        }
        self.stamp[ai] = self.stamp[ai].wrapping_add(1);
        let stamp = self.stamp[ai];
        let coords = self.coords(&w);
        for c in coords.into_iter().flatten() {
            let (lo, hi) = w.band(c, self.n_assets);
            if lo > f64::NEG_INFINITY {
                self.by_lo[c].push(Edge {
                    x: WakeAt(lo),
                    agent,
                    stamp,
                });
            }
            if hi < f64::INFINITY {
                self.by_hi[c].push(Reverse(Edge {
                    x: WakeAt(hi),
                    agent,
                    stamp,
                }));
            }
        }
        let acc = w.account.0 as usize;
        if self.by_account.len() <= acc {
            self.by_account.resize(acc + 1, NO_AGENT);
        }
        self.by_account[acc] = agent;
        let slot = match self.free.pop() {
            Some(k) => {
                self.watches[k as usize] = w;
                k
            }
            None => {
                self.watches.push(w);
                (self.watches.len() - 1) as u32
            }
        };
        self.of_agent[ai] = slot;
        self.len += 1;
        for c in coords.into_iter().flatten() {
            self.compact(c);
        }
    }

    /// Drop coordinate `c`'s stale entries once they outnumber its live ones (amortized: at
    /// least as many pushes as entries dropped since the last time).
    fn compact(&mut self, c: usize) {
        let cap = 2 * self.len + 64;
        if self.by_lo[c].len() > cap {
            let mut h = std::mem::take(&mut self.by_lo[c]);
            h.retain(|e| self.live(e));
            self.by_lo[c] = h;
        }
        if self.by_hi[c].len() > cap {
            let mut h = std::mem::take(&mut self.by_hi[c]);
            h.retain(|Reverse(e)| self.live(e));
            self.by_hi[c] = h;
        }
    }

    /// The watch agent `agent` sleeps under, if any.
    fn watch(&self, agent: u32) -> Option<&HolderWatch> {
        match self.of_agent.get(agent as usize) {
            Some(&k) if k != NO_AGENT => Some(&self.watches[k as usize]),
            _ => None,
        }
    }

    /// Agent `agent` no longer sleeps under a watch (a no-op if it did not): its heap entries
    /// go stale.
    pub fn remove(&mut self, agent: u32) {
        if let Some(w) = self.watch(agent).copied() {
            let ai = agent as usize;
            let k = std::mem::replace(&mut self.of_agent[ai], NO_AGENT);
            self.free.push(k);
            self.stamp[ai] = self.stamp[ai].wrapping_add(1);
            let acc = w.account.0 as usize;
            if self.by_account[acc] == agent {
                self.by_account[acc] = NO_AGENT;
            }
            self.len -= 1;
        }
    }

    /// Wake (to `out`, then out of the index) the holders of `asset` whose band does not
    /// strictly contain both of `p_min <= p_max`: `lo >= p_min` or `hi <= p_max`, each once.
    pub fn wake_by_price(&mut self, asset: usize, p_min: f64, p_max: f64, out: &mut Vec<usize>) {
        self.wake_on(asset, p_min, p_max, out);
    }

    /// Wake the holders of `asset` whose funding band does not strictly contain the funding
    /// index `f` (`f_lo >= f` or `f_hi <= f`).
    pub fn wake_by_funding(&mut self, asset: usize, f: f64, out: &mut Vec<usize>) {
        self.wake_on(self.n_assets + asset, f, f, out);
    }

    /// Wake the holders of `asset` whose ratio band the maintenance ratio `r` has left
    /// (`r_lo >= r` or `r_hi <= r`).
    pub fn wake_by_ratio(&mut self, asset: usize, r: f64, out: &mut Vec<usize>) {
        self.wake_on(2 * self.n_assets + asset, r, r, out);
    }

    fn wake_on(&mut self, c: usize, x_min: f64, x_max: f64, out: &mut Vec<usize>) {
        while let Some(&e) = self.by_lo[c].peek() {
            if !self.live(&e) {
                self.by_lo[c].pop();
            } else if e.x >= WakeAt(x_min) {
                self.by_lo[c].pop();
                self.remove(e.agent);
                out.push(e.agent as usize);
            } else {
                break;
            }
        }
        // Those below their band too were taken above: their entries here are stale now.
        while let Some(&Reverse(e)) = self.by_hi[c].peek() {
            if !self.live(&e) {
                self.by_hi[c].pop();
            } else if e.x <= WakeAt(x_max) {
                self.by_hi[c].pop();
                self.remove(e.agent);
                out.push(e.agent as usize);
            } else {
                break;
            }
        }
    }

    /// Wake the holder sleeping on account `account`, if any.
    pub fn wake_account(&mut self, account: u32, out: &mut Vec<usize>) {
        if let Some(&agent) = self.by_account.get(account as usize)
            && agent != NO_AGENT
        {
            self.remove(agent);
            out.push(agent as usize);
        }
    }

    /// Wake every sleeping holder (the margin ratios changed), in agent order.
    pub fn wake_all(&mut self, out: &mut Vec<usize>) {
        if self.len == 0 {
            return;
        }
        for (i, slot) in self.of_agent.iter_mut().enumerate() {
            if *slot != NO_AGENT {
                let w = &self.watches[*slot as usize];
                self.by_account[w.account.0 as usize] = NO_AGENT;
                *slot = NO_AGENT;
                out.push(i);
            }
        }
        self.watches.clear();
        self.free.clear();
        self.by_lo.iter_mut().for_each(BinaryHeap::clear);
        self.by_hi.iter_mut().for_each(BinaryHeap::clear);
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::rng;
    use rand::RngExt;

    /// A price leaving a band wakes exactly the holders whose band it left; an account write
    /// wakes its holder; a woken holder leaves every index.
    #[test]
    fn naps_wake_by_band_edge_and_by_account() {
        let mut n = Naps::new(2);
        let w = |acc: u32, asset: u16, lo: f64, hi: f64| HolderWatch {
            account: AccountId(acc),
            asset: AssetId(asset),
            lo,
            hi,
            f_lo: f64::NEG_INFINITY,
            f_hi: f64::INFINITY,
            r_lo: f64::NEG_INFINITY,
            r_hi: f64::INFINITY,
        };
        n.insert(0, w(10, 0, 90.0, 110.0));
        n.insert(1, w(11, 0, 95.0, 200.0));
        n.insert(2, w(12, 1, 0.0, 105.0));
        n.insert(3, w(13, 0, 50.0, 150.0));
        let mut out = Vec::new();
        n.wake_by_price(0, 100.0, 100.0, &mut out);
        assert!(out.is_empty());
        n.wake_by_price(0, 94.0, 100.0, &mut out);
        assert_eq!(out, vec![1]);
        out.clear();
        n.wake_by_price(0, 100.0, 110.0, &mut out);
        assert_eq!(out, vec![0]);
        out.clear();
        n.wake_account(12, &mut out);
        n.wake_account(11, &mut out);
        assert_eq!(out, vec![2]);
        assert_eq!(n.len(), 1);
        n.insert(3, w(13, 0, 60.0, 140.0));
        n.wake_by_price(0, 55.0, 145.0, &mut out);
        assert_eq!(out, vec![2, 3]);
        assert!(n.is_empty());
    }

    /// The funding index leaving a holder's funding band wakes it, once, and only holders
    /// with a bounded funding band are indexed on it.
    #[test]
    fn naps_wake_by_funding() {
        let mut n = Naps::new(1);
        let w = |acc: u32, f_lo: f64, f_hi: f64| HolderWatch {
            account: AccountId(acc),
            asset: AssetId(0),
            lo: 90.0,
            hi: 110.0,
            f_lo,
            f_hi,
            r_lo: f64::NEG_INFINITY,
            r_hi: f64::INFINITY,
        };
        n.insert(0, w(10, -1.0, 1.0));
        n.insert(1, w(11, -0.1, 0.2));
        n.insert(2, w(12, f64::NEG_INFINITY, f64::INFINITY));
        let mut out = Vec::new();
        n.wake_by_funding(0, 0.1, &mut out);
        assert!(out.is_empty());
        n.wake_by_funding(0, 0.2, &mut out);
        assert_eq!(out, vec![1]);
        n.wake_by_funding(0, -5.0, &mut out);
        assert_eq!(out, vec![1, 0]);
        assert_eq!(n.len(), 1);
        n.wake_by_price(0, 80.0, 80.0, &mut out);
        assert_eq!(out, vec![1, 0, 2]);
        assert!(n.is_empty());
    }

    /// The maintenance ratio reaching a holder's upper bound or falling to its lower bound
    /// wakes it, once; a holder with no lower bound is not woken by a falling ratio.
    #[test]
    fn naps_wake_by_ratio() {
        let mut n = Naps::new(1);
        let w = |acc: u32, r_lo: f64, r_hi: f64| HolderWatch {
            account: AccountId(acc),
            asset: AssetId(0),
            lo: 90.0,
            hi: 110.0,
            f_lo: f64::NEG_INFINITY,
            f_hi: f64::INFINITY,
            r_lo,
            r_hi,
        };
        n.insert(0, w(10, f64::NEG_INFINITY, 0.06));
        n.insert(1, w(11, f64::NEG_INFINITY, 0.08));
        n.insert(2, w(12, f64::NEG_INFINITY, f64::INFINITY));
        n.insert(3, w(13, 0.03, 0.09));
        let mut out = Vec::new();
        n.wake_by_ratio(0, 0.04, &mut out);
        assert!(out.is_empty());
        n.wake_by_ratio(0, 0.06, &mut out);
        assert_eq!(out, vec![0]);
        n.wake_by_ratio(0, 0.001, &mut out);
        assert_eq!(out, vec![0, 3]);
        n.wake_by_ratio(0, 0.5, &mut out);
        assert_eq!(out, vec![0, 3, 1]);
        assert_eq!(n.len(), 1);
        n.insert(3, w(13, 0.03, 0.09));
        n.wake_by_ratio(0, 0.09, &mut out);
        assert_eq!(out, vec![0, 3, 1, 3]);
        assert_eq!(n.len(), 1);
    }

    /// The heaps with lazy removal wake exactly the set a scan of the current watches finds,
    /// through random sleeps, wakes by account, re-sleeps and compactions.
    #[test]
    fn naps_agree_with_a_scan() {
        let mut r = rng::stream(rng::run_seed(11, 0), "test", 0);
        let mut n = Naps::new(2);
        let mut model: Vec<Option<HolderWatch>> = vec![None; 60];
        let inf = f64::INFINITY;
        for step in 0..20_000 {
            let agent = r.random_range(0..60u32);
            let u: f64 = r.random();
            let mut out = Vec::new();
            let mut want: Vec<usize> = Vec::new();
            if u < 0.55 {
                let asset = r.random_range(0..2u16);
                let mid = 100.0 + 10.0 * r.random::<f64>();
                let w = HolderWatch {
                    account: AccountId(agent + 1000),
                    asset: AssetId(asset),
                    lo: if r.random::<f64>() < 0.1 {
                        0.0
                    } else {
                        mid - r.random::<f64>() * 5.0
                    },
                    hi: if r.random::<f64>() < 0.2 {
                        inf
                    } else {
                        mid + r.random::<f64>() * 5.0
                    },
                    f_lo: if u < 0.3 { -inf } else { -r.random::<f64>() },
                    f_hi: if u < 0.3 { inf } else { r.random::<f64>() },
                    r_lo: if u < 0.4 {
                        -inf
                    } else {
                        0.05 - 0.01 * r.random::<f64>()
                    },
                    r_hi: if u < 0.2 {
                        inf
                    } else {
                        0.05 + 0.01 * r.random::<f64>()
                    },
                };
                n.insert(agent, w);
                model[agent as usize] = Some(w);
            } else if u < 0.65 {
                n.wake_account(agent + 1000, &mut out);
                if model[agent as usize].take().is_some() {
                    want.push(agent as usize);
                }
            } else if u < 0.7 {
                n.remove(agent);
                model[agent as usize] = None;
            } else {
                let a = r.random_range(0..2usize);
                let which = r.random_range(0..3u8);
                let x = match which {
                    0 => 100.0 + 10.0 * r.random::<f64>(),
                    1 => 2.0 * r.random::<f64>() - 1.0,
                    _ => 0.035 + 0.03 * r.random::<f64>(),
                };
                let x2 = if which == 0 { x + r.random::<f64>() } else { x };
                for (i, m) in model.iter_mut().enumerate() {
                    let Some(w) = m else { continue };
                    if w.asset.index() != a {
                        continue;
                    }
                    let (lo, hi) = match which {
                        0 => (w.lo, w.hi),
                        1 => (w.f_lo, w.f_hi),
                        _ => (w.r_lo, w.r_hi),
                    };
                    if lo >= x || hi <= x2 {
                        want.push(i);
                        *m = None;
                    }
                }
                match which {
                    0 => n.wake_by_price(a, x, x2, &mut out),
                    1 => n.wake_by_funding(a, x, &mut out),
                    _ => n.wake_by_ratio(a, x, &mut out),
                }
            }
            out.sort_unstable();
            assert_eq!(out, want, "step {step}");
            assert_eq!(n.len(), model.iter().flatten().count(), "step {step}");
        }
    }
}
