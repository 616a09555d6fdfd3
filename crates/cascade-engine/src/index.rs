//! The liquidation index: which accounts a price move can have made liquidatable, without
//! scanning every account every block (docs/model.md, "The liquidation index"; ARCHITECTURE.md,
//! "The liquidation index is exact").
//!
//! An account exposed to one asset in one direction has a liquidation condition that is
//! linear in the price. For a long exposure (collateral `c` and long perp `s` of the asset,
//! `E = c + s`, everything else netted into `K = debt - quote - perp quote`), maintenance
//! health is `P E (1 - r) - K`, negative exactly when `P (1 - base) < K / (E f)` with
//! `f = (1 - r(E)) / (1 - base)` (1 unless the size premium applies). The key `K / (E f)`
//! depends only on the account, so a price move from one block to the next crosses exactly
//! the accounts whose keys lie above `P (1 - base)`: a range query on an ordered set,
//! O(k + log N). Shorts (a short perp and no collateral in the asset) mirror it with
//! `P (1 + base) > K' / (|E| g)`. Accounts with several exposures ("complex") are checked
//! one by one; the scenarios keep them rare, and a property test checks the index against a
//! full scan. Candidates are confirmed with the exact health, so the index decides only which
//! accounts to look at, never whether one is liquidatable.

use cascade_core::AccountId;
use std::collections::BTreeSet;

/// An `f64` ordered by `total_cmp` (keys are finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Key(pub f64);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// Where an account sits in the index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slot {
    /// Nothing that a price move can make liquidatable (or closed, or in an auction).
    None,
    Long {
        asset: usize,
        key: f64,
    },
    Short {
        asset: usize,
        key: f64,
    },
    Complex,
}

/// Relative tolerance of the range queries: keys this close to the threshold are returned as
/// candidates and settled by the exact health.
const TOL: f64 = 1e-9;

#[derive(Debug, Clone, Default)]
pub struct LiqIndex {
    long: Vec<BTreeSet<(Key, AccountId)>>,
    short: Vec<BTreeSet<(Key, AccountId)>>,
    complex: BTreeSet<AccountId>,
    slots: Vec<Slot>,
}

impl LiqIndex {
    pub fn new(n_assets: usize) -> LiqIndex {
        LiqIndex {
            long: vec![BTreeSet::new(); n_assets],
            short: vec![BTreeSet::new(); n_assets],
            complex: BTreeSet::new(),
            slots: Vec::new(),
        }
    }

    /// Put many accounts at their new slots at once. When they are many (a funding
    /// settlement moves every perp account's key), the ordered sets are rebuilt from the slots
    /// in one pass and a sort, which is many times cheaper than a removal and an insertion per
    /// account in sets of 10^5-10^6 entries; the index afterwards is the same either way.
    pub fn set_many(&mut self, updates: &[(AccountId, Slot)]) {
        let total = self.slots.len();
        if updates.len() < 64 || updates.len() * 8 < total {
            for &(id, slot) in updates {
                self.set(id, slot);
            }
            return;
        }
        for &(id, slot) in updates {
            let i = id.index();
            if self.slots.len() <= i {
                self.slots.resize(i + 1, Slot::None);
            }
            self.slots[i] = slot;
        }
        let n_assets = self.long.len();
        let mut long: Vec<Vec<(Key, AccountId)>> = vec![Vec::new(); n_assets];
        let mut short: Vec<Vec<(Key, AccountId)>> = vec![Vec::new(); n_assets];
        let mut complex = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let id = AccountId(i as u32);
            match *slot {
                Slot::None => {}
                Slot::Long { asset, key } => long[asset].push((Key(key), id)),
                Slot::Short { asset, key } => short[asset].push((Key(key), id)),
                Slot::Complex => complex.push(id),
            }
        }
        // `BTreeSet::from_iter` sorts (fast on the nearly sorted keys a uniform funding shift
        // leaves) and builds the tree in bulk.
        self.long = long.into_iter().map(BTreeSet::from_iter).collect();
        self.short = short.into_iter().map(BTreeSet::from_iter).collect();
        self.complex = complex.into_iter().collect();
    }

    /// Put account `id` at `slot`, removing it from where it was.
    pub fn set(&mut self, id: AccountId, slot: Slot) {
        let i = id.index();
        if self.slots.len() <= i {
            self.slots.resize(i + 1, Slot::None);
        }
        match self.slots[i] {
            Slot::None => {}
            Slot::Long { asset, key } => {
                self.long[asset].remove(&(Key(key), id));
            }
            Slot::Short { asset, key } => {
                self.short[asset].remove(&(Key(key), id));
            }
            Slot::Complex => {
                self.complex.remove(&id);
            }
        }
        match slot {
            Slot::None => {}
            Slot::Long { asset, key } => {
                self.long[asset].insert((Key(key), id));
            }
            Slot::Short { asset, key } => {
                self.short[asset].insert((Key(key), id));
            }
            Slot::Complex => {
                self.complex.insert(id);
            }
        }
        self.slots[i] = slot;
    }

    pub fn slot(&self, id: AccountId) -> Slot {
        self.slots.get(id.index()).copied().unwrap_or(Slot::None)
    }

    /// Candidates for liquidation given each asset's long threshold `P (1 - base)` and short
    /// threshold `P (1 + base)`, in account order (deterministic).
    pub fn candidates(&self, long_thr: &[f64], short_thr: &[f64]) -> Vec<AccountId> {
        let mut out: Vec<AccountId> = Vec::new();
        for (a, set) in self.long.iter().enumerate() {
            let lo = long_thr[a] * (1.0 - TOL) - f64::MIN_POSITIVE;
            out.extend(set.range((Key(lo), AccountId(0))..).map(|(_, id)| *id));
        }
        for (a, set) in self.short.iter().enumerate() {
            let hi = short_thr[a] * (1.0 + TOL) + f64::MIN_POSITIVE;
            out.extend(
                set.range(..(Key(hi), AccountId(u32::MAX)))
                    .map(|(_, id)| *id),
            );
        }
        out.extend(self.complex.iter().copied());
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Number of indexed accounts (long, short, complex).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (
            self.long.iter().map(|s| s.len()).sum(),
            self.short.iter().map(|s| s.len()).sum(),
            self.complex.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slot(kind: u8, asset: usize, key: f64) -> Slot {
        match kind % 4 {
            0 => Slot::None,
            1 => Slot::Long { asset, key },
            2 => Slot::Short { asset, key },
            _ => Slot::Complex,
        }
    }

    proptest! {
        /// A bulk update (`set_many`, rebuilt or one by one) leaves the index answering every
        /// query as the same updates made with `set` one at a time.
        #[test]
        fn set_many_is_set_one_by_one(
            first in proptest::collection::vec((0u8..4, 0usize..2, 1.0f64..100.0), 1..300),
            moves in proptest::collection::vec((0usize..300, 0u8..4, 0usize..2, 1.0f64..100.0), 0..300),
            thr in proptest::collection::vec((0.5f64..120.0, 0.5f64..120.0), 1..6),
        ) {
            let mut a = LiqIndex::new(2);
            let mut b = LiqIndex::new(2);
            for (i, &(k, asset, key)) in first.iter().enumerate() {
                a.set(AccountId(i as u32), slot(k, asset, key));
                b.set(AccountId(i as u32), slot(k, asset, key));
            }
            let mut updates: Vec<(AccountId, Slot)> = Vec::new();
            for &(i, k, asset, key) in &moves {
                let id = AccountId((i % first.len()) as u32);
                if updates.iter().any(|(u, _)| *u == id) {
                    continue;
                }
                updates.push((id, slot(k, asset, key)));
            }
            for &(id, s) in &updates {
                a.set(id, s);
            }
            b.set_many(&updates);
            prop_assert_eq!(a.sizes(), b.sizes());
            for &(lo, hi) in &thr {
                prop_assert_eq!(a.candidates(&[lo, hi], &[hi, lo]), b.candidates(&[lo, hi], &[hi, lo]));
            }
            for i in 0..first.len() {
                prop_assert_eq!(a.slot(AccountId(i as u32)), b.slot(AccountId(i as u32)));
            }
        }
    }
}
