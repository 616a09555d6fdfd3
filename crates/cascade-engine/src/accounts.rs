//! The engine's account table, stamped on every write.
//!
//! Callers that keep something computed from an account (a trader's memo of its health,
//! [`crate::memo`]) need to know whether the account changed since. The table hands out
//! mutable access only through [`IndexMut`] and [`Accounts::iter_mut`], and each of them
//! advances the stamp of the accounts it exposes, so no write can leave a stamp unchanged:
//! an equal stamp means an unchanged account (a stamp may also advance without a change,
//! which only costs a recomputation). Reads go through [`Deref`] to the slice.
//!
//! The same hook keeps the open interest without a pass over every account each block: a
//! write also puts the account on a dirty list, and [`Accounts::flush`] recomputes the
//! exposure of the dirty accounts only, keeping exact integer totals per asset, so the cost of
//! a block follows the accounts that changed, not the accounts that exist.
//!
//! When asked ([`Accounts::track_touched`]), a write also logs the account on a second list
//! that the World drains once per block ([`Accounts::drain_touched`]): a sleeping holder is
//! woken by any write to its account (a fill, a liquidation, a deposit, a transfer),
//! whatever step of the block made it. A funding settlement writes without logging
//! ([`Accounts::funding_write`]): it moves every perp account at once, and the holders watch
//! the cumulative funding index instead.

use crate::account::Account;
use std::ops::{Deref, Index, IndexMut};

#[derive(Debug, Clone, Default)]
pub struct Accounts {
    n_assets: usize,
    list: Vec<Account>,
    stamps: Vec<u64>,
    /// Accounts written since the last [`Accounts::flush`], each once.
    dirty: Vec<u32>,
    is_dirty: Vec<bool>,
    /// Each account's exposure per asset as of its last flush (`n_assets` per account).
    units: Vec<i128>,
    /// Their sums per asset.
    totals: Vec<i128>,
    /// Accounts written since the last [`Accounts::drain_touched`], each once (when tracked).
    touched: Vec<u32>,
    is_touched: Vec<bool>,
    track: bool,
}

/// An account's exposure to asset `a` in base units, as [`Account::exposure_value`] counts
/// it: collateral when the account borrows, plus the absolute perp size; zero once closed.
fn exposure_units(acc: &Account, a: usize) -> i128 {
    if acc.closed {
        return 0;
    }
    let c = if acc.debt.is_positive() {
        acc.collateral[a].raw()
    } else {
        0
    };
    c + acc.perps[a].size.raw().abs()
}

impl Accounts {
    pub fn new(n_assets: usize) -> Accounts {
        Accounts {
            n_assets,
            totals: vec![0; n_assets],
            ..Accounts::default()
        }
    }

    pub fn push(&mut self, acc: Account) {
        debug_assert_eq!(acc.collateral.len(), self.n_assets);
        self.list.push(acc);
        self.stamps.push(0);
        self.is_dirty.push(false);
        self.is_touched.push(false);
        self.units.extend(std::iter::repeat_n(0, self.n_assets));
        self.mark(self.list.len() - 1);
    }

    fn mark(&mut self, i: usize) {
        self.stamps[i] += 1;
        if self.track && !self.is_touched[i] {
            self.is_touched[i] = true;
            self.touched.push(i as u32);
        }
        if !self.is_dirty[i] {
            self.is_dirty[i] = true;
            self.dirty.push(i as u32);
        }
    }

    /// Mutable access to account `i` for a funding settlement: advances its stamp and marks
    /// it dirty like any write, but leaves it out of the touched log. Sleeping holders watch
    /// funding through the engine's cumulative funding index instead
    /// ([`crate::Engine::funding_index`]), so an hourly settlement does not wake every holder.
    pub fn funding_write(&mut self, i: usize) -> &mut Account {
        self.stamps[i] += 1;
        if !self.is_dirty[i] {
            self.is_dirty[i] = true;
            self.dirty.push(i as u32);
        }
        &mut self.list[i]
    }

    /// Mutable access to every account; advances every stamp.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Account> {
        for i in 0..self.list.len() {
            self.mark(i);
        }
        self.list.iter_mut()
    }

    /// Bring the exposure totals up to date with the accounts written since the last flush.
    pub fn flush(&mut self) {
        let n = self.n_assets;
        for &i in &self.dirty {
            let i = i as usize;
            for a in 0..n {
                let new = exposure_units(&self.list[i], a);
                self.totals[a] += new - self.units[i * n + a];
                self.units[i * n + a] = new;
            }
            self.is_dirty[i] = false;
        }
        self.dirty.clear();
    }

    /// Open interest at `prices`: the exposure of every live account, whole quote, from the
    /// exact per-asset totals (accounts written since the last flush counted as they are now).
    pub fn open_interest(&self, prices: &[f64]) -> f64 {
        // Per asset, the exact integer total (no copy of the totals: nothing allocated).
        let n = self.n_assets;
        self.totals
            .iter()
            .enumerate()
            .zip(prices)
            .map(|((a, t0), p)| {
                let mut t = *t0;
                for &i in &self.dirty {
                    let i = i as usize;
                    t += exposure_units(&self.list[i], a) - self.units[i * n + a];
                }
                cascade_core::Amount(t).to_whole() * p
            })
            .sum()
    }

    /// Log written accounts from now on (`on`), or stop logging.
    pub fn track_touched(&mut self, on: bool) {
        self.track = on;
    }

    /// Move the accounts written since the last drain to `out` (in order of first write),
    /// and start a new log.
    pub fn drain_touched(&mut self, out: &mut Vec<u32>) {
        for &i in &self.touched {
            self.is_touched[i as usize] = false;
        }
        out.append(&mut self.touched);
    }

    /// How many times account `i` has been handed out for writing (`None` past the end).
    pub fn stamp(&self, i: usize) -> Option<u64> {
        self.stamps.get(i).copied()
    }
}

impl Deref for Accounts {
    type Target = [Account];
    fn deref(&self) -> &[Account] {
        &self.list
    }
}

impl<'a> IntoIterator for &'a Accounts {
    type Item = &'a Account;
    type IntoIter = std::slice::Iter<'a, Account>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl Index<usize> for Accounts {
    type Output = Account;
    fn index(&self, i: usize) -> &Account {
        &self.list[i]
    }
}

impl IndexMut<usize> for Accounts {
    fn index_mut(&mut self, i: usize) -> &mut Account {
        self.mark(i);
        &mut self.list[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::{AgentId, Amount, HolderId};

    #[test]
    fn every_write_advances_the_stamp() {
        let mut t = Accounts::new(1);
        t.push(Account::new(HolderId(0), AgentId(0), 1));
        t.push(Account::new(HolderId(1), AgentId(1), 1));
        assert_eq!(t.stamp(0), Some(1));
        t[0].quote += Amount::from_whole(1.0);
        assert_eq!((t.stamp(0), t.stamp(1)), (Some(2), Some(1)));
        let _ = &t[1].quote; // a read
        assert_eq!(t.stamp(1), Some(1));
        let a = &mut t[1];
        a.debt = Amount::from_whole(2.0);
        assert_eq!(t.stamp(1), Some(2));
        for a in t.iter_mut() {
            a.closed = true;
        }
        assert_eq!((t.stamp(0), t.stamp(1)), (Some(3), Some(3)));
        assert_eq!(t.stamp(2), None);
    }

    #[test]
    fn tracked_writes_are_logged_once_until_drained() {
        let mut t = Accounts::new(1);
        t.push(Account::new(HolderId(0), AgentId(0), 1));
        t.push(Account::new(HolderId(1), AgentId(1), 1));
        t[0].quote += Amount::from_whole(1.0);
        let mut out = Vec::new();
        t.drain_touched(&mut out);
        assert!(out.is_empty(), "untracked writes are not logged");
        t.track_touched(true);
        t[1].quote += Amount::from_whole(1.0);
        t[0].quote += Amount::from_whole(1.0);
        t[1].debt = Amount::from_whole(1.0);
        let _ = &t[0].quote; // a read
        t.drain_touched(&mut out);
        assert_eq!(out, vec![1, 0]);
        out.clear();
        t.drain_touched(&mut out);
        assert!(out.is_empty());
        t[0].closed = true;
        t.drain_touched(&mut out);
        assert_eq!(out, vec![0]);
    }

    #[test]
    fn open_interest_follows_writes_before_and_after_a_flush() {
        let mut t = Accounts::new(1);
        for i in 0..3 {
            t.push(Account::new(HolderId(i), AgentId(i), 1));
        }
        let scan = |t: &Accounts| -> f64 {
            t.iter()
                .filter(|a| !a.closed)
                .map(|a| a.exposure_value(&[2000.0]))
                .sum()
        };
        t[0].perps[0].size = Amount::from_whole(-3.0);
        t[1].collateral[0] = Amount::from_whole(2.0); // no debt: not exposure
        assert_eq!(t.open_interest(&[2000.0]), 6_000.0);
        t.flush();
        assert_eq!(t.open_interest(&[2000.0]), scan(&t));
        t[1].debt = Amount::from_whole(100.0);
        assert_eq!(t.open_interest(&[2000.0]), 10_000.0);
        t.flush();
        t[0].closed = true;
        t.flush();
        assert_eq!(t.open_interest(&[2000.0]), 4_000.0);
        assert_eq!(t.open_interest(&[2000.0]), scan(&t));
    }
}
