//! The public mempool, private bundles and the block builder.
//!
//! Transactions wait in the public mempool, visible to everyone who watches it, until a builder
//! includes them or their time to live runs out. Bundles (Flashbots-like, reference:
//! docs/references.md, R15) go privately to the builder for one target block: they are
//! placed at the top of the block, atomically (all of their transactions, in their order, or
//! none), and may pull a pending public transaction into place (the canonical oracle-update
//! backrun). Then public transactions are packed by effective priority fee, competing with the
//! background demand's tip buckets for the block's gas. Ties go to the earlier arrival, never to
//! hash-map order.

use crate::gas::BackgroundDemand;
use cascade_core::tx::{Bundle, BundleItem, Tx};
use cascade_core::{AgentId, TxId};
use std::collections::VecDeque;

/// Pending public transactions, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    txs: Vec<Tx>,
    ttl_s: f64,
    /// (block, time) of the blocks seen by `expire` whose transactions may still be live,
    /// oldest first: a transaction submitted before the first of them has expired.
    live_blocks: VecDeque<(u64, f64)>,
    /// Pending transactions per agent (indexed by agent), so an agent with none pending, the
    /// usual case, learns it without scanning the mempool.
    per_agent: Vec<u32>,
    /// The agents whose last pending transaction left since the World last drained the list
    /// (`drain_cleared`): it wakes those that sleep until then.
    cleared: Vec<AgentId>,
    /// Scratch of `build_block`, kept between blocks so that building a block allocates
    /// nothing once the buffers have reached their working size.
    scratch: Scratch,
}

/// Keep a list near its contents: once its capacity exceeds four times its length (and 64),
/// it shrinks to twice that. After a burst (a million openings in one block) the mempool
/// does not keep a burst-sized list, and a steady load never reallocates.
fn trim<T>(v: &mut Vec<T>, len: usize) {
    let keep = len.max(64);
    if v.capacity() > 4 * keep {
        v.shrink_to(2 * keep);
    }
}

/// The most entries a scratch buffer keeps between blocks: a block with more pending
/// transactions than this pays its own allocation (negligible beside its work), and the
/// buffers of a burst are freed before the block executes.
const SCRATCH_MAX: usize = 4_096;

/// Empty a scratch buffer, keeping its storage up to [`SCRATCH_MAX`] entries.
fn release<T>(v: &mut Vec<T>) {
    v.clear();
    if v.capacity() > SCRATCH_MAX {
        *v = Vec::new();
    }
}

/// `build_block`'s buffers (always empty between calls; only their capacity is kept).
#[derive(Debug, Clone, Default)]
struct Scratch {
    cands: Vec<(u128, u64, usize)>,
    taken: Vec<(usize, u128)>,
    is_taken: Vec<bool>,
    slots: Vec<Option<Tx>>,
    spare: Vec<Tx>,
    /// A built block's transaction list, handed back by [`Mempool::recycle`].
    items: Vec<PlannedTx>,
}

impl Mempool {
    /// A mempool whose transactions live `ttl_s` seconds (> 0).
    pub fn new(ttl_s: f64) -> Mempool {
        Mempool {
            txs: Vec::new(),
            ttl_s,
            live_blocks: VecDeque::new(),
            per_agent: Vec::new(),
            cleared: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// Give back a built block's transaction list once executed (emptied here), so that the
    /// next block's plan reuses its storage.
    pub fn recycle(&mut self, mut items: Vec<PlannedTx>) {
        release(&mut items);
        if items.capacity() >= self.scratch.items.capacity() {
            self.scratch.items = items;
        }
    }

    fn count_in(&mut self, a: AgentId) {
        let i = a.index();
        if i >= self.per_agent.len() {
            self.per_agent.resize(i + 1, 0);
        }
        self.per_agent[i] += 1;
    }

    /// `n` of `a`'s pending transactions left.
    fn count_out(&mut self, a: AgentId, n: u32) {
        let c = &mut self.per_agent[a.index()];
        debug_assert!(
            *c >= n,
            "agent {} had fewer pending transactions",
            a.index()
        );
        *c -= n;
        if *c == 0 {
            self.cleared.push(a);
        }
    }

    /// Move out the agents whose last pending transaction left (included, expired, withdrawn
    /// or pulled into a bundle) since the last call, in the order they left (an agent may
    /// appear more than once); `out` is cleared first.
    pub fn drain_cleared(&mut self, out: &mut Vec<AgentId>) {
        out.clear();
        out.append(&mut self.cleared);
    }

    /// Ask the processor for `agent`'s pending count, a few turns before it reads it
    /// (`cascade_core::prefetch`: a hint, which changes nothing).
    pub fn prefetch(&self, agent: AgentId) {
        if let Some(c) = self.per_agent.get(agent.index()) {
            cascade_core::prefetch::prefetch(c);
        }
    }

    /// How many transactions `agent` has pending.
    pub fn pending_count(&self, agent: AgentId) -> u32 {
        self.per_agent.get(agent.index()).copied().unwrap_or(0)
    }

    /// Add a transaction (its `seq` must be larger than every pending one's).
    pub fn submit(&mut self, tx: Tx) {
        debug_assert!(self.txs.last().is_none_or(|b| b.seq < tx.seq));
        self.count_in(tx.agent);
        self.txs.push(tx);
    }

    /// The pending transaction `id`, searched from the newest: the transactions withdrawn or
    /// pulled into bundles are recent ones, so neither the search nor the removal walks a
    /// backlog of older ones (a block after a million openings holds a million).
    pub fn get(&self, id: TxId) -> Option<&Tx> {
        self.txs.iter().rev().find(|t| t.id == id)
    }

    pub fn remove(&mut self, id: TxId) -> Option<Tx> {
        let i = self.txs.iter().rposition(|t| t.id == id)?;
        let t = self.txs.remove(i);
        self.count_out(t.agent, 1);
        Some(t)
    }

    /// Remove `agent`'s pending transactions whose ids are in `ids` (sorted here): one id by
    /// a search from the newest, several in one pass; the others keep their order. Ids not
    /// pending, or of another agent's transactions, are ignored.
    pub fn withdraw(&mut self, agent: AgentId, ids: &mut [TxId]) {
        if let [id] = *ids {
            if self.get(id).is_some_and(|t| t.agent == agent) {
                self.remove(id);
            }
            return;
        }
        ids.sort_unstable();
        let mut removed = 0u32;
        self.txs.retain(|t| {
            let gone = t.agent == agent && ids.binary_search(&t.id).is_ok();
            removed += gone as u32;
            !gone
        });
        if removed > 0 {
            self.count_out(agent, removed);
        }
    }

    /// The public view, in arrival order.
    pub fn pending(&self) -> &[Tx] {
        &self.txs
    }

    /// `agent`'s pending transactions, in arrival order (no scan when it has none).
    pub fn pending_of(&self, agent: AgentId) -> impl Iterator<Item = &Tx> {
        let all = if self.pending_count(agent) == 0 {
            &self.txs[..0]
        } else {
            &self.txs[..]
        };
        all.iter().filter(move |t| t.agent == agent)
    }

    /// Remove (and return, in arrival order) every transaction matching `pred`.
    pub fn remove_where(&mut self, mut pred: impl FnMut(&Tx) -> bool) -> Vec<Tx> {
        let mut out = Vec::new();
        let mut keep = Vec::with_capacity(self.txs.len());
        for t in self.txs.drain(..) {
            if pred(&t) {
                out.push(t);
            } else {
                keep.push(t);
            }
        }
        self.txs = keep;
        for t in &out {
            self.count_out(t.agent, 1);
        }
        out
    }

    /// Drop the transactions whose time to live is over at `current_block`, whose end time is
    /// `t_s`: those submitted in a block whose time plus `ttl_s` is at most `t_s` (the first
    /// block whose time reaches it); returned in arrival order. Called once per block, after
    /// the block's submissions.
    pub fn expire(&mut self, current_block: u64, t_s: f64) -> Vec<Tx> {
        self.live_blocks.push_back((current_block, t_s));
        while let Some(&(_, t)) = self.live_blocks.front() {
            if t + self.ttl_s <= t_s && self.live_blocks.len() > 1 {
                self.live_blocks.pop_front();
            } else {
                break;
            }
        }
        let live_from = match self.live_blocks.front() {
            Some(&(b, t)) if t + self.ttl_s > t_s => b,
            _ => current_block + 1,
        };
        if !self.txs.iter().any(|t| t.submitted_block < live_from) {
            return Vec::new();
        }
        self.remove_where(|t| t.submitted_block < live_from)
    }

    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }
}

/// A transaction placed in a block.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTx {
    pub tx: Tx,
    /// Came privately (in a bundle) rather than from the public mempool.
    pub private: bool,
    /// Index of its bundle in the block, if any.
    pub bundle: Option<u32>,
    /// The tip it pays per gas at this block's base fee.
    pub effective_priority: u128,
}

/// A built block, before execution.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlockPlan {
    /// Transactions in execution order.
    pub items: Vec<PlannedTx>,
    /// Background gas included.
    pub background_gas: u64,
    /// Gas reserved by the included transactions (their gas limits).
    pub reserved_gas: u64,
}

/// Build block `block`: bundles first (atomic, best payment per gas first), then public
/// transactions by effective priority fee against the background demand.
///
/// `gas_needed` gives the gas to reserve for a transaction (normally its gas limit); `can_pay`
/// says whether its sender can pay for it now. A transaction that does not fit or cannot pay
/// stays in the mempool; one whose max fee is below the base fee waits.
#[allow(clippy::too_many_arguments)]
pub fn build_block(
    mempool: &mut Mempool,
    mut bundles: Vec<Bundle>,
    background: &BackgroundDemand,
    base_fee: u128,
    gas_limit: u64,
    block: u64,
    mut gas_needed: impl FnMut(&Tx) -> u64,
    mut can_pay: impl FnMut(&Tx) -> bool,
) -> BlockPlan {
    let mut plan = BlockPlan {
        items: std::mem::take(&mut mempool.scratch.items),
        ..BlockPlan::default()
    };
    let mut left = gas_limit;

    // 1. Bundles for this block, by payment per gas (ties: earlier submission).
    bundles.retain(|b| b.target_block == block && !b.items.is_empty());
    let mut scored: Vec<(u128, u64, usize)> = bundles
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (mut pay, mut gas) = (0u128, 0u128);
            for it in &b.items {
                if let BundleItem::Own(t) = it {
                    let g = gas_needed(t) as u128;
                    pay = pay.saturating_add(t.effective_priority(base_fee).unwrap_or(0) * g);
                    gas += g;
                }
            }
            (pay.checked_div(gas).unwrap_or(0), b.seq, i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut n_bundles = 0u32;
    let mut bundles: Vec<Option<Bundle>> = bundles.into_iter().map(Some).collect();
    for (_, _, i) in scored {
        let b = bundles[i].take().expect("each bundle visited once");
        // Validate every item before including any.
        let mut total = 0u64;
        let mut ok = true;
        for it in &b.items {
            let t = match it {
                BundleItem::Own(t) => {
                    if !can_pay(t) {
                        ok = false;
                        break;
                    }
                    t
                }
                BundleItem::Pending(id) => match mempool.get(*id) {
                    Some(t) => t,
                    None => {
                        ok = false;
                        break;
                    }
                },
            };
            if t.effective_priority(base_fee).is_none() {
                ok = false;
                break;
            }
            total = total.saturating_add(gas_needed(t));
        }
        // A pending item may appear only once in a bundle.
        if ok {
            let mut ids: Vec<TxId> = b
                .items
                .iter()
                .filter_map(|it| match it {
                    BundleItem::Pending(id) => Some(*id),
                    _ => None,
                })
                .collect();
            let n = ids.len();
            ids.sort();
            ids.dedup();
            ok = ids.len() == n;
        }
        if !ok || total > left {
            continue;
        }
        for it in b.items {
            let t = match it {
                BundleItem::Own(t) => t,
                BundleItem::Pending(id) => mempool.remove(id).expect("checked above"),
            };
            let ep = t.effective_priority(base_fee).unwrap_or(0);
            plan.reserved_gas += gas_needed(&t);
            plan.items.push(PlannedTx {
                tx: t,
                private: true,
                bundle: Some(n_bundles),
                effective_priority: ep,
            });
        }
        left -= total;
        n_bundles += 1;
    }

    // 2. Public transactions against the background, by tip. Candidates are named by their
    // position in the mempool, which does not change until the block is built; the included
    // ones leave it in one pass at the end (removing them one by one would cost the length of
    // the mempool each, quadratic in a congested block).
    let pending = &mempool.txs;
    let mut cands = std::mem::take(&mut mempool.scratch.cands);
    cands.extend(
        pending
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.effective_priority(base_fee).map(|ep| (ep, t.seq, i))),
    );
    cands.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut bi = 0usize;
    let buckets = &background.buckets;
    let mut taken = std::mem::take(&mut mempool.scratch.taken);
    let mut ci = 0usize;
    while left > 0 && (ci < cands.len() || bi < buckets.len()) {
        // An agent transaction goes before a background bucket of equal tip.
        let take_tx = match (cands.get(ci), buckets.get(bi)) {
            (Some(c), Some(b)) => c.0 >= b.0,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_tx {
            let (ep, _, i) = cands[ci];
            ci += 1;
            let t = &pending[i];
            let need = gas_needed(t);
            if need > left || !can_pay(t) {
                continue;
            }
            left -= need;
            plan.reserved_gas += need;
            taken.push((i, ep));
        } else {
            let g = buckets[bi].1.min(left);
            left -= g;
            plan.background_gas += g;
            bi += 1;
        }
    }
    if !taken.is_empty() {
        // The pending list moves to the spare buffer and the kept ones come back in order.
        let mut all = std::mem::take(&mut mempool.scratch.spare);
        std::mem::swap(&mut all, &mut mempool.txs);
        let mut is_taken = std::mem::take(&mut mempool.scratch.is_taken);
        is_taken.resize(all.len(), false);
        for &(i, _) in &taken {
            is_taken[i] = true;
        }
        let mut slots = std::mem::take(&mut mempool.scratch.slots);
        slots.reserve(all.len());
        mempool.txs.reserve(all.len() - taken.len());
        for (t, take) in all.drain(..).zip(is_taken.iter().copied()) {
            if take {
                mempool.count_out(t.agent, 1);
                slots.push(Some(t));
            } else {
                slots.push(None);
                mempool.txs.push(t);
            }
        }
        for &(i, ep) in &taken {
            plan.items.push(PlannedTx {
                tx: slots[i].take().expect("each candidate is taken once"),
                private: false,
                bundle: None,
                effective_priority: ep,
            });
        }
        release(&mut is_taken);
        release(&mut slots);
        release(&mut all);
        let n_kept = mempool.txs.len();
        trim(&mut mempool.txs, n_kept);
        mempool.scratch.spare = all;
        mempool.scratch.is_taken = is_taken;
        mempool.scratch.slots = slots;
    }
    release(&mut cands);
    release(&mut taken);
    mempool.scratch.cands = cands;
    mempool.scratch.taken = taken;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::tx::Action;
    use cascade_core::{HolderId, VenueId};
    use proptest::prelude::*;

    fn tx(id: u64, max_fee: u128, prio: u128, gas: u64) -> Tx {
        Tx {
            id: TxId(id),
            sender: HolderId(id as u32),
            agent: AgentId(id as u32),
            action: Action::CancelAll { venue: VenueId(0) },
            gas_limit: gas,
            max_fee,
            priority_fee: prio,
            forced: false,
            submitted_block: 0,
            seq: id,
        }
    }

    proptest! {
        /// Withdrawing a set of ids in one pass leaves what removing them one by one (each
        /// only if it is the agent's) leaves, in the same order, with the same counts.
        #[test]
        fn withdraw_equals_one_by_one(
            agents in proptest::collection::vec(0u32..4, 1..60),
            picks in proptest::collection::vec(0u64..80, 0..30),
            who in 0u32..4,
        ) {
            let txs: Vec<Tx> = agents
                .iter()
                .enumerate()
                .map(|(i, &a)| Tx { agent: AgentId(a), ..tx(i as u64, 10, 1, 21_000) })
                .collect();
            let (mut one, mut all) = (pool(txs.clone()), pool(txs));
            for &id in &picks {
                if one.get(TxId(id)).is_some_and(|t| t.agent == AgentId(who)) {
                    one.remove(TxId(id));
                }
            }
            let mut ids: Vec<TxId> = picks.iter().map(|&i| TxId(i)).collect();
            all.withdraw(AgentId(who), &mut ids);
            let key = |m: &Mempool| m.pending().iter().map(|t| t.id).collect::<Vec<_>>();
            prop_assert_eq!(key(&one), key(&all));
            for a in 0..4 {
                prop_assert_eq!(one.pending_count(AgentId(a)), all.pending_count(AgentId(a)));
            }
        }
    }

    fn pool(txs: Vec<Tx>) -> Mempool {
        let mut m = Mempool::new(120.0);
        for t in txs {
            m.submit(t);
        }
        m
    }

    fn ids(p: &BlockPlan) -> Vec<u64> {
        p.items.iter().map(|i| i.tx.id.0).collect()
    }

    fn empty() -> BackgroundDemand {
        BackgroundDemand::default()
    }

    fn build(
        m: &mut Mempool,
        bundles: Vec<Bundle>,
        bg: &BackgroundDemand,
        base: u128,
        limit: u64,
    ) -> BlockPlan {
        build_block(m, bundles, bg, base, limit, 1, |t| t.gas_limit, |_| true)
    }

    #[test]
    fn orders_by_effective_priority_then_arrival() {
        // Tx 0: tip 50 but max fee 105 at base 100 -> pays 5. Tx 1: tip 10 -> pays 10.
        // Tx 2: tip 10, later arrival. Tx 3: tip 20.
        let mut m = pool(vec![
            tx(0, 105, 50, 100),
            tx(1, 1000, 10, 100),
            tx(2, 1000, 10, 100),
            tx(3, 1000, 20, 100),
        ]);
        let p = build(&mut m, vec![], &empty(), 100, 1_000);
        assert_eq!(ids(&p), vec![3, 1, 2, 0]);
        assert_eq!(p.items[3].effective_priority, 5);
        assert!(m.is_empty());
    }

    #[test]
    fn max_fee_below_base_fee_waits() {
        let mut m = pool(vec![tx(0, 90, 5, 100)]);
        let p = build(&mut m, vec![], &empty(), 100, 1_000);
        assert!(p.items.is_empty());
        assert_eq!(m.len(), 1);
        let p = build(&mut m, vec![], &empty(), 80, 1_000);
        assert_eq!(ids(&p), vec![0]);
        assert_eq!(p.items[0].effective_priority, 5);
    }

    #[test]
    fn ttl_expiry() {
        // 36 s at 12 s blocks: three blocks.
        let mut m = Mempool::new(36.0);
        let mut a = tx(0, 1, 1, 1);
        a.submitted_block = 5;
        let mut b = tx(1, 1, 1, 1);
        b.submitted_block = 6;
        m.submit(a);
        assert!(m.expire(5, 60.0).is_empty());
        m.submit(b);
        assert!(m.expire(6, 72.0).is_empty());
        assert!(m.expire(7, 84.0).is_empty());
        assert_eq!(
            m.expire(8, 96.0).iter().map(|t| t.id.0).collect::<Vec<_>>(),
            vec![0]
        );
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn bundles_go_first_and_are_atomic() {
        let mut m = pool(vec![tx(0, 1000, 100, 100), tx(1, 1000, 1, 100)]);
        let good = Bundle {
            agent: AgentId(9),
            items: vec![
                BundleItem::Pending(TxId(1)),
                BundleItem::Own(tx(10, 1000, 5, 100)),
            ],
            target_block: 1,
            seq: 50,
        };
        // Invalid: its own second tx cannot pay the base fee.
        let bad = Bundle {
            agent: AgentId(8),
            items: vec![
                BundleItem::Own(tx(20, 1000, 50, 100)),
                BundleItem::Own(tx(21, 10, 50, 100)),
            ],
            target_block: 1,
            seq: 51,
        };
        // Stale: for another block.
        let stale = Bundle {
            agent: AgentId(7),
            items: vec![BundleItem::Own(tx(30, 1000, 500, 100))],
            target_block: 2,
            seq: 52,
        };
        let p = build(&mut m, vec![bad, good, stale], &empty(), 100, 10_000);
        assert_eq!(ids(&p), vec![1, 10, 0]);
        assert!(p.items[0].private && p.items[1].private && !p.items[2].private);
        assert!(m.is_empty());
    }

    #[test]
    fn a_pending_item_is_pulled_once() {
        let mut m = pool(vec![tx(0, 1000, 1, 100)]);
        let b1 = Bundle {
            agent: AgentId(9),
            items: vec![
                BundleItem::Pending(TxId(0)),
                BundleItem::Own(tx(10, 1000, 9, 100)),
            ],
            target_block: 1,
            seq: 1,
        };
        let b2 = Bundle {
            agent: AgentId(8),
            items: vec![
                BundleItem::Pending(TxId(0)),
                BundleItem::Own(tx(11, 1000, 5, 100)),
            ],
            target_block: 1,
            seq: 2,
        };
        let p = build(&mut m, vec![b2, b1], &empty(), 100, 10_000);
        // The higher-paying bundle wins the backrun; the other is dropped whole.
        assert_eq!(ids(&p), vec![0, 10]);
    }

    #[test]
    fn background_crowds_out_low_tips_not_high_ones() {
        let bg = BackgroundDemand::from_buckets(&[(50, 600), (20, 600)]);
        let mut m = pool(vec![tx(0, 1000, 10, 100), tx(1, 1000, 60, 100)]);
        let p = build(&mut m, vec![], &bg, 100, 1_000);
        assert_eq!(ids(&p), vec![1]);
        assert_eq!(p.background_gas, 900);
        assert_eq!(m.len(), 1, "the low-tip tx waits");
    }

    #[test]
    fn too_large_tx_is_skipped_and_a_smaller_one_fits() {
        let mut m = pool(vec![
            tx(0, 1000, 30, 900),
            tx(1, 1000, 20, 500),
            tx(2, 1000, 10, 400),
        ]);
        let p = build(&mut m, vec![], &empty(), 100, 1_000);
        assert_eq!(ids(&p), vec![0]);
        let mut m = pool(vec![
            tx(0, 1000, 30, 700),
            tx(1, 1000, 20, 500),
            tx(2, 1000, 10, 300),
        ]);
        let p = build(&mut m, vec![], &empty(), 100, 1_000);
        assert_eq!(ids(&p), vec![0, 2]);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn unpayable_tx_stays() {
        let mut m = pool(vec![tx(0, 1000, 30, 100), tx(1, 1000, 20, 100)]);
        let p = build_block(
            &mut m,
            vec![],
            &empty(),
            100,
            1_000,
            1,
            |t| t.gas_limit,
            |t| t.id.0 != 0,
        );
        assert_eq!(ids(&p), vec![1]);
        assert_eq!(m.len(), 1);
    }

    proptest! {
        #[test]
        fn plans_are_sound(
            txs in prop::collection::vec((50u128..300, 0u128..100, 1u64..500), 0..40),
            bundles in prop::collection::vec((prop::collection::vec((50u128..300, 0u128..100, 1u64..500), 1..4), prop::collection::vec(0usize..40, 0..2), 0u64..3), 0..5),
            bg in prop::collection::vec((0u128..100, 0u64..800), 0..8),
            base in 0u128..200,
            limit in 1u64..3_000,
        ) {
            let mut m = Mempool::new(120.0);
            for (i, (f, p, g)) in txs.iter().enumerate() {
                let mut t = tx(i as u64, *f, *p, *g);
                t.agent = AgentId((i % 7) as u32);
                m.submit(t);
            }
            let before: Vec<u64> = m.pending().iter().map(|t| t.id.0).collect();
            let mut own_ids = Vec::new();
            let mut next = 1_000u64;
            let bs: Vec<Bundle> = bundles.iter().enumerate().map(|(k, (own, pend, tb))| {
                let mut items: Vec<BundleItem> = pend.iter().filter(|&&j| j < txs.len()).map(|&j| BundleItem::Pending(TxId(j as u64))).collect();
                for (f, p, g) in own {
                    let mut t = tx(next, *f, *p, *g);
                    t.seq = next;
                    own_ids.push(next);
                    next += 1;
                    items.push(BundleItem::Own(t));
                }
                Bundle { agent: AgentId(99), items, target_block: *tb, seq: 10_000 + k as u64 }
            }).collect();
            let mut bgs = bg.clone();
            bgs.sort_by_key(|b| std::cmp::Reverse(b.0));
            let bgd = BackgroundDemand::from_buckets(&bgs);
            let p = build_block(&mut m, bs, &bgd, base, limit, 1, |t| t.gas_limit, |_| true);
            prop_assert!(p.reserved_gas + p.background_gas <= limit);
            let mut seen: Vec<u64> = ids(&p);
            for it in &p.items {
                prop_assert!(it.tx.max_fee >= base);
            }
            let n = seen.len();
            seen.sort();
            seen.dedup();
            prop_assert_eq!(seen.len(), n);
            // Public txs are either still pending or included, never both, never lost.
            let n_left = m.len();
            let mut after: Vec<u64> = m.pending().iter().map(|t| t.id.0).collect();
            after.extend(ids(&p).into_iter().filter(|i| !own_ids.contains(i)));
            after.sort();
            let mut b = before.clone();
            b.sort();
            prop_assert_eq!(after, b);
            // The per-agent counts follow every insertion and removal.
            for a in 0..100u32 {
                let n = m.pending().iter().filter(|t| t.agent == AgentId(a)).count();
                prop_assert_eq!(m.pending_count(AgentId(a)) as usize, n);
                prop_assert_eq!(m.pending_of(AgentId(a)).count(), n);
            }
            let expired = m.expire(1_000, 12_000.0);
            prop_assert_eq!(expired.len(), n_left);
            prop_assert!((0..100u32).all(|a| m.pending_count(AgentId(a)) == 0));
        }
    }
}
