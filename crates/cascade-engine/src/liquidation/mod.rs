//! Liquidation: the mechanism the configuration selects, resolved once when the engine is
//! built, the entry point of every liquidation, and what the kinds of liquidation share.
//!
//! `engine.liquidation` in a scenario is a tagged union of every protocol's parameters; the
//! engine reads it only in `Engine::new`, where [`Mechanism::resolve`] turns it into a
//! [`Mechanism`]: fixed-bonus liquidations with their sizing rule (full, close factor,
//! incremental) and, in the backstop mode, the backstop vault; or a Dutch or an English
//! collateral auction with its parameters. Every decision that depends on the mode (the
//! plan's fractions and fee, the bonus, kick or close, the auctions' parameters, the
//! backstop's sweep) asks the mechanism, and agents read the same value through
//! [`Engine::mechanism`].
//!
//! The submodules hold the mechanisms: `sizing` (the plan), `fixed` (its execution), `flash`
//! (selling seized collateral on a venue inside the liquidation), `options` (the option
//! book's part), `dutch`, `english` and `backstop`; `settlement` prices a liquidated perp's
//! close (`engine.perp_settlement`).

use crate::auction::Curve;
use crate::{Engine, Outcome, Reason};
use cascade_core::{AccountId, Amount, AuctionId, HolderId, Ledger, VenueId};
use cascade_market::venue::Venue;

mod backstop;
mod dutch;
mod english;
mod fixed;
mod flash;
mod options;
mod settlement;
mod sizing;

pub use settlement::SettlementMarket;
pub(crate) use sizing::option_close;

/// How the engine liquidates: the configured liquidation mode, resolved once at
/// construction ([`Mechanism::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mechanism {
    /// Liquidators repay debt and close positions at a fixed bonus (`full`, `close_factor`,
    /// `incremental`, and `backstop`, which adds the backstop vault).
    Fixed(Fixed),
    /// Maker Liquidations 2.0: a keeper's `bark` starts a Dutch auction, bidders `take`.
    Dutch(Dutch),
    /// Maker Liquidations 1.2: a keeper's `bite` starts an English auction (`tend`, `dent`,
    /// `deal`).
    English(English),
}

/// A fixed-bonus liquidation: how much it repays and closes, the liquidator's bonus, the
/// protocol fee and the backstop vault, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fixed {
    pub sizing: Sizing,
    /// Paid to the liquidator: collateral worth `repay * (1 + bonus)`, and `bonus` of the
    /// value of the perps and options it closes.
    pub bonus: f64,
    /// Aave's protocol fee (`close_factor` only): this share of the bonus, charged in quote
    /// on top of the repayment, to the insurance fund and the pool.
    pub protocol_fee: Option<f64>,
    /// The backstop vault (`backstop` mode).
    pub backstop: Option<Backstop>,
}

/// How much of the debt and of the positions one liquidation takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sizing {
    /// All of it.
    Full,
    /// Aave v3: `close_factor` of the debt, all of it when the health factor is below
    /// `full_close_below`.
    CloseFactor {
        close_factor: f64,
        full_close_below: f64,
    },
    /// At most `step` per liquidation, and only what brings maintenance health back to
    /// `exit_buffer` of the position value; with a soft threshold `soft > 1`, the soft
    /// health `equity - soft * requirement` instead (see [`Mechanism::soft_threshold`]).
    Incremental {
        step: f64,
        exit_buffer: f64,
        soft: f64,
    },
}

/// The backstop vault absorbs, at the end of the block, every flagged account whose equity
/// is below `trigger` times its maintenance requirement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backstop {
    pub trigger: f64,
}

/// Dutch auction parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dutch {
    /// The price curve (and its restart rule).
    pub curve: Curve,
    /// Starting price over the oracle price (Maker `buf`).
    pub start_premium: f64,
    /// Flat keeper reward for a `bark` or a `redo`, quote.
    pub tip: f64,
    /// Keeper reward as a share of the auction's tab.
    pub chip: f64,
    /// Liquidation penalty, a fraction of the debt added to the tab.
    pub chop: f64,
}

/// English auction parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct English {
    /// Minimum increment of a bid over the standing one.
    pub beg: f64,
    /// Bid lifetime, seconds.
    pub ttl_s: f64,
    /// Auction lifetime from the kick, seconds.
    pub tau_s: f64,
    /// Liquidation penalty, a fraction of the debt added to the tab.
    pub chop: f64,
}

/// What a kick (Dutch `bark`, English `bite`) needs: the starting price over the oracle
/// price, the keeper reward (`tip + chip * tab`), the penalty and the auction's lifetime
/// (none for Dutch auctions, which restart instead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kick {
    pub buf: f64,
    pub tip: f64,
    pub chip: f64,
    pub chop: f64,
    pub tau_s: Option<f64>,
}

impl Mechanism {
    /// Resolve the configured liquidation mode (`engine.liquidation`).
    pub fn resolve(mode: &crate::config::LiquidationMode) -> Mechanism {
        use crate::config::LiquidationMode as M;
        let fixed = |sizing, bonus: f64, protocol_fee, backstop| {
            Mechanism::Fixed(Fixed {
                sizing,
                bonus,
                protocol_fee,
                backstop,
            })
        };
        match *mode {
            M::Full { bonus } => fixed(Sizing::Full, bonus, None, None),
            M::CloseFactor {
                close_factor,
                full_close_below,
                bonus,
                protocol_fee,
            } => fixed(
                Sizing::CloseFactor {
                    close_factor,
                    full_close_below,
                },
                bonus,
                Some(protocol_fee),
                None,
            ),
            M::Incremental {
                step,
                exit_buffer,
                bonus,
                soft_threshold,
            } => fixed(
                Sizing::Incremental {
                    step,
                    exit_buffer,
                    soft: soft_threshold,
                },
                bonus,
                None,
                None,
            ),
            M::Backstop { bonus, trigger } => {
                fixed(Sizing::Full, bonus, None, Some(Backstop { trigger }))
            }
            M::DutchAuction {
                start_premium,
                curve,
                step_s,
                cut,
                tau_s,
                tail_s,
                cusp,
                tip,
                chip,
                chop,
            } => Mechanism::Dutch(Dutch {
                curve: Curve {
                    kind: curve,
                    tau_s: tau_s.unwrap_or(tail_s),
                    step_s,
                    cut,
                    tail_s,
                    cusp,
                },
                start_premium,
                tip,
                chip,
                chop,
            }),
            M::EnglishAuction {
                beg,
                ttl_s,
                tau_s,
                chop,
            } => Mechanism::English(English {
                beg,
                ttl_s,
                tau_s,
                chop,
            }),
        }
    }

    /// Whether liquidations start collateral auctions (Dutch or English).
    pub fn is_auction(&self) -> bool {
        !matches!(self, Mechanism::Fixed(_))
    }

    /// The liquidator's bonus (zero in auctions: the auction's penalty replaces it).
    pub fn bonus(&self) -> f64 {
        match self {
            Mechanism::Fixed(f) => f.bonus,
            Mechanism::Dutch(_) | Mechanism::English(_) => 0.0,
        }
    }

    /// The penalty a liquidated account pays, as a fraction of what is liquidated: the
    /// liquidator's bonus (fixed modes) or the auction's `chop` (what a trader weighing a
    /// top-up or a deleverage expects to lose).
    pub fn penalty(&self) -> f64 {
        match self {
            Mechanism::Fixed(f) => f.bonus,
            Mechanism::Dutch(d) => d.chop,
            Mechanism::English(e) => e.chop,
        }
    }

    /// How much a liquidation takes (auctions take everything into the auction).
    pub fn sizing(&self) -> Sizing {
        match self {
            Mechanism::Fixed(f) => f.sizing,
            Mechanism::Dutch(_) | Mechanism::English(_) => Sizing::Full,
        }
    }

    /// The soft threshold of incremental liquidation when it is above 1: the health ratio
    /// (equity over maintenance requirement) below which an account is liquidatable. `None`
    /// everywhere else: the trigger is maintenance health below zero.
    pub fn soft_threshold(&self) -> Option<f64> {
        match self.sizing() {
            Sizing::Incremental { soft, .. } if soft > 1.0 => Some(soft),
            _ => None,
        }
    }

    /// The protocol's share of the bonus, charged on top of the repayment (`close_factor`).
    pub fn protocol_fee(&self) -> Option<f64> {
        match self {
            Mechanism::Fixed(f) => f.protocol_fee,
            _ => None,
        }
    }

    /// The backstop vault, in the backstop mode.
    pub fn backstop(&self) -> Option<Backstop> {
        match self {
            Mechanism::Fixed(f) => f.backstop,
            _ => None,
        }
    }

    pub fn dutch(&self) -> Option<&Dutch> {
        match self {
            Mechanism::Dutch(d) => Some(d),
            _ => None,
        }
    }

    pub fn english(&self) -> Option<&English> {
        match self {
            Mechanism::English(e) => Some(e),
            _ => None,
        }
    }

    /// The Dutch auctions' price curve.
    pub fn curve(&self) -> Option<&Curve> {
        self.dutch().map(|d| &d.curve)
    }

    /// The kick of an auction mechanism.
    pub fn kick(&self) -> Option<Kick> {
        match self {
            Mechanism::Fixed(_) => None,
            Mechanism::Dutch(d) => Some(d.kick()),
            Mechanism::English(e) => Some(e.kick()),
        }
    }
}

impl Dutch {
    /// A `bark`: starts at `start_premium` over the oracle, pays the keeper, never expires.
    pub fn kick(&self) -> Kick {
        Kick {
            buf: self.start_premium,
            tip: self.tip,
            chip: self.chip,
            chop: self.chop,
            tau_s: None,
        }
    }

    /// The tab of an auction kicked for `debt` (whole quote): `debt * (1 + chop)`.
    pub fn tab_for(&self, debt: f64) -> f64 {
        debt * (1.0 + self.chop)
    }

    /// The keeper reward of a `bark` or a `redo` of an auction raising `tab` (whole quote),
    /// as a keeper estimates it: `tip + chip * tab`.
    pub fn keeper_reward(&self, tab: f64) -> f64 {
        self.tip + self.chip * tab
    }
}

impl English {
    /// A `bite`: starts at the oracle price, pays the keeper nothing (Liquidations 1.2),
    /// lives `tau_s`.
    pub fn kick(&self) -> Kick {
        Kick {
            buf: 1.0,
            tip: 0.0,
            chip: 0.0,
            chop: self.chop,
            tau_s: Some(self.tau_s),
        }
    }
}

impl Kick {
    /// The keeper reward, exact: `tip` plus `chip` of the tab, rounded down.
    pub fn reward(&self, tab: Amount) -> Amount {
        Amount::from_whole(self.tip) + tab.scale_floor(self.chip)
    }
}

impl Engine {
    /// How the engine liquidates.
    pub fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    /// The liquidator's bonus (zero in auctions).
    pub(crate) fn bonus(&self) -> f64 {
        self.mechanism.bonus()
    }

    /// A liquidation of `id` by `liquidator`: checked against the plan and the auctions, then
    /// executed by the mechanism (a fixed-bonus liquidation, or the kick of an auction). The
    /// account as it stood before is read here, before anything is written, and passed to
    /// the causal measure.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn op_liquidate(
        &mut self,
        liquidator: HolderId,
        id: AccountId,
        sell_on: Option<VenueId>,
        min_profit: Amount,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: Option<&dyn SettlementMarket>,
    ) -> Result<Outcome, Reason> {
        let plan = self.plan_liquidation(id)?;
        if self.auctions.iter().any(|x| x.active && x.account == id) {
            return Err("in_auction");
        }
        // Private positions: no liquidation before a proof of insolvency is verified.
        if self.unproven(id) {
            return Err("unproven");
        }
        let before = self.before_liquidation(id);
        match self.mechanism.kick() {
            // The kick has nothing left to check: it cannot revert.
            Some(kick) => Ok(self.bark(liquidator, id, kick, before, ledger, market)),
            None => self.liquidate_fixed(
                liquidator, id, plan, sell_on, min_profit, before, ledger, venues, market,
            ),
        }
    }

    /// After a liquidation that closed the perps `closed` (asset, size as held): re-index,
    /// and settle bad debt if nothing is left to seize.
    pub(crate) fn after_liquidation(&mut self, id: AccountId, closed: &[(usize, Amount)]) {
        let acc = &self.accounts[id.index()];
        if !acc.has_positions() {
            self.settle_bankrupt(id, closed);
        }
        self.revalue(id);
        if !self.is_liquidatable(id) {
            self.flagged.remove(&id);
        }
        self.spend_flag(id);
        self.reindex(id);
    }

    /// `slice` of auction `aid`'s lot sold for `paid` quote (a Dutch take, an English deal):
    /// the proceeds pay the debt first, then the penalty; the sale is recorded against the
    /// oracle price.
    pub(crate) fn sell_from_auction(&mut self, aid: AuctionId, slice: Amount, paid: Amount) {
        let auc = &self.auctions[aid.index()];
        let (asset, to_debt) = (auc.asset, paid.min(auc.debt));
        let to_pen = (paid - to_debt).min(auc.penalty);
        self.pool_cash += to_debt;
        self.book_fee(to_pen);
        let a = &mut self.auctions[aid.index()];
        a.debt -= to_debt;
        a.penalty -= to_pen;
        a.lot -= slice;
        let value = slice.to_whole() * self.prices[asset];
        let paid = paid.to_whole();
        let m = &mut self.metrics;
        m.auction_sales += 1;
        m.auction_sale_value += value;
        m.auction_sale_paid += paid;
        if paid < 0.01 * value {
            m.auction_near_zero += 1;
        }
    }

    /// An auction that has raised its tab returns the rest of the lot; one whose lot is gone
    /// with debt left books bad debt.
    pub(crate) fn finish_auction(&mut self, aid: AuctionId) {
        let auc = self.auctions[aid.index()].clone();
        if auc.tab().is_zero() || auc.lot.is_zero() {
            let acc = &mut self.accounts[auc.account.index()];
            acc.collateral[auc.asset] += auc.lot;
            self.auctions[aid.index()].active = false;
            self.auctions[aid.index()].lot = Amount::ZERO;
            // A penalty not raised when the lot ran out is forgone.
            self.auctions[aid.index()].penalty = Amount::ZERO;
            if auc.debt.is_positive() {
                let shortfall = auc.debt;
                self.auctions[aid.index()].debt = Amount::ZERO;
                self.auctions[aid.index()].penalty = Amount::ZERO;
                self.metrics.bad_debt += shortfall.to_whole();
                self.event(
                    "bad_debt",
                    Some(auc.account),
                    None,
                    shortfall,
                    0.0,
                    format!("auction {aid}"),
                );
                self.waterfall(auc.account, shortfall, &[]);
            }
            self.event(
                "auction_end",
                Some(auc.account),
                None,
                auc.lot,
                0.0,
                format!("auction {aid}"),
            );
            self.reindex(auc.account);
        }
    }
}
