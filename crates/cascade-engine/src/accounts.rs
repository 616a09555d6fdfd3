//! The engine's account table, stamped on every write.
//!
//! Callers that keep something computed from an account (a trader's memo of its health,
//! [`crate::memo`]) need to know whether the account changed since. The table hands out
//! mutable access only through [`IndexMut`] and [`Accounts::iter_mut`], and each of them
//! advances the stamp of the accounts it exposes, so no write can leave a stamp unchanged:
//! an equal stamp means an unchanged account (a stamp may also advance without a change,
//! which only costs a recomputation). Reads go through [`Deref`] to the slice.

use crate::account::Account;
use std::ops::{Deref, Index, IndexMut};

#[derive(Debug, Clone, Default)]
pub struct Accounts {
    list: Vec<Account>,
    stamps: Vec<u64>,
}

impl Accounts {
    pub fn push(&mut self, acc: Account) {
        self.list.push(acc);
        self.stamps.push(0);
    }

    /// Mutable access to every account; advances every stamp.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Account> {
        for s in &mut self.stamps {
            *s += 1;
        }
        self.list.iter_mut()
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
        self.stamps[i] += 1;
        &mut self.list[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_core::{AgentId, Amount, HolderId};

    #[test]
    fn every_write_advances_the_stamp() {
        let mut t = Accounts::default();
        t.push(Account::new(HolderId(0), AgentId(0), 1));
        t.push(Account::new(HolderId(1), AgentId(1), 1));
        assert_eq!(t.stamp(0), Some(0));
        t[0].quote += Amount::from_whole(1.0);
        assert_eq!((t.stamp(0), t.stamp(1)), (Some(1), Some(0)));
        let _ = &t[1].quote; // a read
        assert_eq!(t.stamp(1), Some(0));
        let a = &mut t[1];
        a.debt = Amount::from_whole(2.0);
        assert_eq!(t.stamp(1), Some(1));
        for a in t.iter_mut() {
            a.closed = true;
        }
        assert_eq!((t.stamp(0), t.stamp(1)), (Some(2), Some(2)));
        assert_eq!(t.stamp(2), None);
    }
}
