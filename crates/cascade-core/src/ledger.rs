//! The exact ledger: who holds how many base units of every token.
//!
//! All value in a World lives here: agents' wallets, venue reserves and order escrow, margin
//! accounts' collateral, the insurance fund, the burnt base fee and the block builder's tips.
//! Balances are created once, at genesis; afterwards the only way to change a balance is a
//! transfer, which moves an amount from one holder to another. Each token's total is therefore
//! conserved exactly, and [`Ledger::check_conservation`] proves it (tests call it after every
//! block). Balances never go negative: a transfer that would overdraw fails and changes nothing.

use crate::amount::Amount;
use crate::ids::{HolderId, TokenId};
use crate::name::Name;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What can go wrong with a ledger operation. Every variant leaves the ledger unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LedgerError {
    #[error("holder {holder} ({name}) has {available} of token {token}, needs {needed}")]
    Insufficient {
        holder: HolderId,
        name: String,
        token: TokenId,
        available: Amount,
        needed: Amount,
    },
    #[error("negative transfer amount {0}")]
    NegativeAmount(Amount),
    #[error("unknown holder {0}")]
    UnknownHolder(HolderId),
    #[error("unknown token {0}")]
    UnknownToken(TokenId),
    #[error("genesis is closed: new tokens can no longer be minted")]
    Sealed,
    #[error("token {token} total is {actual}, genesis total was {expected} (difference {diff})")]
    NotConserved {
        token: TokenId,
        expected: Amount,
        actual: Amount,
        diff: Amount,
    },
    #[error("holder {holder} ({name}) has a negative balance {balance} of token {token}")]
    Negative {
        holder: HolderId,
        name: String,
        token: TokenId,
        balance: Amount,
    },
}

/// Balances of every holder in every token, stored densely (`holder * n_tokens + token`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ledger {
    token_names: Vec<String>,
    /// Compact names (`trader-17` costs 16 bytes and no allocation): [`Name`].
    holder_names: Vec<Name>,
    balances: Vec<i128>,
    /// Totals per token fixed at [`Ledger::seal`]; `None` while genesis is open.
    totals: Option<Vec<i128>>,
}

impl Ledger {
    /// A ledger with the given tokens (token 0 is the quote asset) and no holders.
    pub fn new<S: Into<String>>(tokens: impl IntoIterator<Item = S>) -> Ledger {
        Ledger {
            token_names: tokens.into_iter().map(Into::into).collect(),
            holder_names: Vec::new(),
            balances: Vec::new(),
            totals: None,
        }
    }

    pub fn n_tokens(&self) -> usize {
        self.token_names.len()
    }

    pub fn n_holders(&self) -> usize {
        self.holder_names.len()
    }

    pub fn token_name(&self, t: TokenId) -> &str {
        &self.token_names[t.index()]
    }

    pub fn holder_name(&self, h: HolderId) -> std::borrow::Cow<'_, str> {
        self.holder_names[h.index()].text()
    }

    /// Register a new holder with zero balances. Holders may be added after genesis (an account
    /// opened mid-run starts empty and is funded by transfers).
    pub fn add_holder(&mut self, name: impl Into<String>) -> HolderId {
        let id = HolderId(self.holder_names.len() as u32);
        self.holder_names.push(Name::from(name.into()));
        self.balances
            .extend(std::iter::repeat_n(0, self.token_names.len()));
        id
    }

    /// Create `amount` of `token` out of nothing in `holder`'s balance. Only before [`seal`].
    ///
    /// [`seal`]: Ledger::seal
    pub fn mint_genesis(
        &mut self,
        holder: HolderId,
        token: TokenId,
        amount: Amount,
    ) -> Result<(), LedgerError> {
        if self.totals.is_some() {
            return Err(LedgerError::Sealed);
        }
        if amount.is_negative() {
            return Err(LedgerError::NegativeAmount(amount));
        }
        let i = self.slot(holder, token)?;
        self.balances[i] = self.balances[i]
            .checked_add(amount.0)
            .ok_or(LedgerError::NegativeAmount(amount))?;
        Ok(())
    }

    /// Close genesis: record each token's total. From now on only transfers change balances.
    pub fn seal(&mut self) {
        let n = self.token_names.len();
        let mut totals = vec![0i128; n];
        for (i, b) in self.balances.iter().enumerate() {
            totals[i % n] += *b;
        }
        self.totals = Some(totals);
        // Genesis is where nearly every holder is added: drop the growth slack (a book of a
        // million wallets would otherwise carry up to twice their names and balances).
        self.holder_names.shrink_to_fit();
        self.balances.shrink_to_fit();
    }

    pub fn is_sealed(&self) -> bool {
        self.totals.is_some()
    }

    /// Ask the processor for `holder`'s balances, a few turns before they are read
    /// ([`crate::prefetch`]: a hint, which changes nothing).
    pub fn prefetch(&self, holder: HolderId) {
        let n = self.token_names.len();
        if let Some(b) = self
            .balances
            .get(holder.index() * n..(holder.index() + 1) * n)
        {
            crate::prefetch::prefetch(b);
        }
    }

    #[inline]
    pub fn balance(&self, holder: HolderId, token: TokenId) -> Amount {
        Amount(self.balances[holder.index() * self.token_names.len() + token.index()])
    }

    /// Move `amount` (>= 0) of `token` from `from` to `to`. Fails, changing nothing, if `from`
    /// holds less than `amount`.
    #[inline]
    pub fn transfer(
        &mut self,
        from: HolderId,
        to: HolderId,
        token: TokenId,
        amount: Amount,
    ) -> Result<(), LedgerError> {
        if amount.is_negative() {
            return Err(LedgerError::NegativeAmount(amount));
        }
        let i = self.slot(from, token)?;
        let j = self.slot(to, token)?;
        if self.balances[i] < amount.0 {
            return Err(LedgerError::Insufficient {
                holder: from,
                name: self.holder_names[from.index()].to_string(),
                token,
                available: Amount(self.balances[i]),
                needed: amount,
            });
        }
        self.balances[i] -= amount.0;
        self.balances[j] += amount.0;
        Ok(())
    }

    /// Move up to `amount`: as much as `from` holds. Returns what was moved.
    pub fn transfer_up_to(
        &mut self,
        from: HolderId,
        to: HolderId,
        token: TokenId,
        amount: Amount,
    ) -> Result<Amount, LedgerError> {
        let moved = amount.min(self.balance(from, token)).max(Amount::ZERO);
        self.transfer(from, to, token, moved)?;
        Ok(moved)
    }

    /// Sum of every holder's balance of `token`.
    pub fn total(&self, token: TokenId) -> Amount {
        let n = self.token_names.len();
        Amount(
            self.balances
                .iter()
                .skip(token.index())
                .step_by(n)
                .sum::<i128>(),
        )
    }

    /// The genesis total of `token` (after [`Ledger::seal`]).
    pub fn genesis_total(&self, token: TokenId) -> Option<Amount> {
        self.totals.as_ref().map(|t| Amount(t[token.index()]))
    }

    /// Prove that every token's total equals its genesis total and no balance is negative.
    pub fn check_conservation(&self) -> Result<(), LedgerError> {
        let n = self.token_names.len();
        for (i, b) in self.balances.iter().enumerate() {
            if *b < 0 {
                return Err(LedgerError::Negative {
                    holder: HolderId((i / n) as u32),
                    name: self.holder_names[i / n].to_string(),
                    token: TokenId((i % n) as u16),
                    balance: Amount(*b),
                });
            }
        }
        if let Some(totals) = &self.totals {
            for (t, expected) in totals.iter().enumerate() {
                let token = TokenId(t as u16);
                let actual = self.total(token);
                if actual.0 != *expected {
                    return Err(LedgerError::NotConserved {
                        token,
                        expected: Amount(*expected),
                        actual,
                        diff: actual - Amount(*expected),
                    });
                }
            }
        }
        Ok(())
    }

    #[inline]
    fn slot(&self, holder: HolderId, token: TokenId) -> Result<usize, LedgerError> {
        if holder.index() >= self.holder_names.len() {
            return Err(LedgerError::UnknownHolder(holder));
        }
        if token.index() >= self.token_names.len() {
            return Err(LedgerError::UnknownToken(token));
        }
        Ok(holder.index() * self.token_names.len() + token.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ledger(holders: usize) -> Ledger {
        let mut l = Ledger::new(["USD", "ETH"]);
        for i in 0..holders {
            let h = l.add_holder(format!("h{i}"));
            l.mint_genesis(h, TokenId(0), Amount(1_000_000)).unwrap();
            l.mint_genesis(h, TokenId(1), Amount(500)).unwrap();
        }
        l.seal();
        l
    }

    #[test]
    fn overdraw_fails_and_changes_nothing() {
        let mut l = ledger(2);
        let before = l.clone();
        let e = l.transfer(HolderId(0), HolderId(1), TokenId(1), Amount(501));
        assert!(matches!(e, Err(LedgerError::Insufficient { .. })));
        assert_eq!(l.balances, before.balances);
    }

    #[test]
    fn mint_after_seal_is_refused() {
        let mut l = ledger(1);
        assert_eq!(
            l.mint_genesis(HolderId(0), TokenId(0), Amount(1)),
            Err(LedgerError::Sealed)
        );
    }

    #[test]
    fn holders_added_after_genesis_start_empty() {
        let mut l = ledger(1);
        let h = l.add_holder("late");
        assert_eq!(l.balance(h, TokenId(0)), Amount::ZERO);
        l.transfer(HolderId(0), h, TokenId(0), Amount(7)).unwrap();
        l.check_conservation().unwrap();
    }

    proptest! {
        /// Any sequence of transfers, valid or not, conserves every token exactly.
        #[test]
        fn conservation_over_random_transfers(
            ops in prop::collection::vec((0u32..6, 0u32..6, 0u16..2, -10i128..2_000_000), 0..300)
        ) {
            let mut l = ledger(6);
            for (f, t, tok, a) in ops {
                let _ = l.transfer(HolderId(f), HolderId(t), TokenId(tok), Amount(a));
                prop_assert!(l.check_conservation().is_ok());
            }
            prop_assert_eq!(l.total(TokenId(0)), Amount(6_000_000));
            prop_assert_eq!(l.total(TokenId(1)), Amount(3_000));
        }
    }
}
