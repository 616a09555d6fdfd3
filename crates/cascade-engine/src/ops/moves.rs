//! Ledger moves checked before any is made. `Engine::apply` promises that an operation that
//! reverts changes nothing, on the engine, the ledger or the venues. An operation that moves
//! tokens more than once lists its moves (transfers, and at most one venue sale of seized
//! collateral), checks them all against the ledger as it stands, and only then makes them
//! and writes its own state. The check replays the moves on the balances they touch, so a
//! checked transfer cannot fail; the one step that can still revert is the venue sale (its
//! venue changed since the quote), and then the transfers made before it are undone.

use crate::Reason;
use cascade_core::{Amount, HolderId, Ledger, Side, TokenId, VenueId};
use cascade_market::venue::{Fill, Venue};

/// One step, in order.
#[derive(Debug, Clone, Copy)]
enum Step {
    Transfer {
        from: HolderId,
        to: HolderId,
        token: TokenId,
        amount: Amount,
    },
    /// `seller` sells `amount` of `token` on `venue` for at least `proceeds` quote (the
    /// venue's quote for the trade).
    Sale {
        seller: HolderId,
        venue: VenueId,
        token: TokenId,
        amount: Amount,
        proceeds: Amount,
    },
}

/// The ledger moves of one operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Moves {
    steps: Vec<Step>,
}

/// The balances a check has replayed the moves on: the ledger's, plus the changes so far.
struct Replay<'a> {
    ledger: &'a Ledger,
    delta: Vec<(HolderId, TokenId, Amount)>,
}

impl Replay<'_> {
    fn slot(&mut self, h: HolderId, t: TokenId) -> usize {
        match self
            .delta
            .iter()
            .position(|(dh, dt, _)| *dh == h && *dt == t)
        {
            Some(i) => i,
            None => {
                self.delta.push((h, t, Amount::ZERO));
                self.delta.len() - 1
            }
        }
    }

    /// `h` pays `amount` of `t`, as `Ledger::transfer` allows it: not negative, not more
    /// than it holds.
    fn debit(&mut self, h: HolderId, t: TokenId, amount: Amount) -> Result<(), Reason> {
        let i = self.slot(h, t);
        if amount.is_negative() || self.ledger.balance(h, t) + self.delta[i].2 < amount {
            return Err("insufficient_funds");
        }
        self.delta[i].2 -= amount;
        Ok(())
    }

    fn credit(&mut self, h: HolderId, t: TokenId, amount: Amount) {
        let i = self.slot(h, t);
        self.delta[i].2 += amount;
    }
}

const CHECKED: &str = "a transfer checked by Moves::check cannot fail";

impl Moves {
    pub(crate) fn new() -> Moves {
        Moves::default()
    }

    /// Move `amount` of `token` from `from` to `to`.
    pub(crate) fn transfer(
        &mut self,
        from: HolderId,
        to: HolderId,
        token: TokenId,
        amount: Amount,
    ) -> &mut Moves {
        self.steps.push(Step::Transfer {
            from,
            to,
            token,
            amount,
        });
        self
    }

    /// `seller` sells `amount` of `token` on `venue` for `proceeds` quote, its quote: at most
    /// one sale per operation.
    pub(crate) fn sale(
        &mut self,
        seller: HolderId,
        venue: VenueId,
        token: TokenId,
        amount: Amount,
        proceeds: Amount,
    ) -> &mut Moves {
        assert!(
            !self.steps.iter().any(|s| matches!(s, Step::Sale { .. })),
            "one venue sale per operation"
        );
        self.steps.push(Step::Sale {
            seller,
            venue,
            token,
            amount,
            proceeds,
        });
        self
    }

    /// Whether every move can be made, in order, on `ledger` as it stands: no amount is
    /// negative and nobody pays more than it holds after the moves before. Writes nothing.
    pub(crate) fn check(&self, ledger: &Ledger) -> Result<(), Reason> {
        let mut r = Replay {
            ledger,
            delta: Vec::new(),
        };
        for step in &self.steps {
            match *step {
                Step::Transfer {
                    from,
                    to,
                    token,
                    amount,
                } => {
                    r.debit(from, token, amount)?;
                    r.credit(to, token, amount);
                }
                Step::Sale {
                    seller,
                    token,
                    amount,
                    proceeds,
                    ..
                } => {
                    r.debit(seller, token, amount)?;
                    r.credit(seller, TokenId::QUOTE, proceeds);
                }
            }
        }
        Ok(())
    }

    /// Make the moves, checked by [`Moves::check`] on the same ledger, and return the fill of
    /// the sale. Only the sale can revert (`venue_failed`): then the transfers made before
    /// it are undone, and the ledger and the venues are as they were.
    pub(crate) fn commit(
        self,
        ledger: &mut Ledger,
        venues: &mut [Venue],
    ) -> Result<Option<(VenueId, Fill)>, Reason> {
        let mut sold = None;
        for (k, step) in self.steps.iter().enumerate() {
            match *step {
                Step::Transfer {
                    from,
                    to,
                    token,
                    amount,
                } => ledger.transfer(from, to, token, amount).expect(CHECKED),
                Step::Sale {
                    seller,
                    venue,
                    amount,
                    proceeds,
                    ..
                } => {
                    match venues[venue.index()].execute(
                        ledger,
                        seller,
                        Side::Sell,
                        amount,
                        proceeds,
                    ) {
                        Ok(fill) => sold = Some((venue, fill)),
                        Err(_) => {
                            // The venue changed nothing; undo the transfers before it (the
                            // sale is the only one, so they are all transfers).
                            for s in self.steps[..k].iter().rev() {
                                if let Step::Transfer {
                                    from,
                                    to,
                                    token,
                                    amount,
                                } = *s
                                {
                                    ledger.transfer(to, from, token, amount).expect(CHECKED);
                                }
                            }
                            return Err("venue_failed");
                        }
                    }
                }
            }
        }
        Ok(sold)
    }

    /// Make moves that hold no sale (they cannot fail once checked).
    pub(crate) fn commit_transfers(self, ledger: &mut Ledger) {
        let sold = self.commit(ledger, &mut []);
        debug_assert!(matches!(sold, Ok(None)), "transfers only");
    }
}
