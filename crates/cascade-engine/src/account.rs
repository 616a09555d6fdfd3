//! Margin accounts and their health.
//!
//! An account holds quote and per-asset collateral, a quote debt owed to the lenders' pool,
//! and per-asset perpetual positions. A perp keeps Drift's representation: a signed base
//! `size` and a signed `quote` amount (minus the entry notional, plus realized PnL and
//! funding), so that its PnL at price `P` is `size * P + quote` whatever the history of
//! trades (docs/references.md, R1). The lenders' pool is the counterparty of
//! every loan and every perp.
//!
//! Health is a weighted sum in the style of Mango v4 (docs/references.md, R4), at the
//! engine's oracle prices: collateral counts at `(1 - r)` of its value, perps contribute
//! their PnL minus `r` times their notional, debt counts in full, `r` being the initial or
//! maintenance ratio of the margin model. An account is liquidatable when maintenance
//! health is negative and bankrupt when its unweighted equity is negative.
//!
//! Option positions are one more kind: [`Account::health`] covers collateral, debt and
//! perps; the engine adds the options' marks and the option margin requirement for accounts
//! that hold any (`Engine::health`), so an account without options is valued exactly as
//! before.

use crate::margin::{MarginState, Req};
use crate::slots::Slots;
use cascade_core::{AgentId, Amount, HolderId};

/// A perpetual position in one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perp {
    /// Signed base units: positive long, negative short.
    pub size: Amount,
    /// Signed quote units: minus the entry notional plus realized funding.
    pub quote: Amount,
}

/// What closing a signed position of `q` units at `price` pays its holder, rounded against
/// the holder: a long sells (proceeds rounded down), a short buys back (cost rounded up,
/// negative). Perps close at the oracle price, options at their mark or payoff.
pub fn close_value(q: Amount, price: f64) -> Amount {
    if q.is_positive() {
        q.value_floor(price)
    } else {
        -q.abs().value_ceil(price)
    }
}

impl Perp {
    /// PnL at price `p`, in whole quote units.
    pub fn pnl(&self, p: f64) -> f64 {
        self.size.to_whole() * p + self.quote.to_whole()
    }
    pub fn is_open(&self) -> bool {
        !self.size.is_zero()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The wallet that owns the account (deposits come from it, withdrawals go to it).
    pub owner: HolderId,
    pub agent: AgentId,
    pub quote: Amount,
    /// Per asset (inline for one asset: [`Slots`]).
    pub collateral: Slots<Amount>,
    pub debt: Amount,
    pub perps: Slots<Perp>,
    /// Option positions: signed contracts (one contract = one unit of the underlying) per
    /// listed series, positive long. Empty when the scenario lists no options.
    pub options: Vec<Amount>,
    /// The market state at the account's last option trade (for the convexity gap); boxed, so
    /// that an account without options carries 8 bytes for it, not 56.
    pub opt_ref: Option<Box<OptRef>>,
    /// The option margin requirement as of the account's last revaluation.
    pub risk: Option<RiskMemo>,
    /// Closed, or handed to an auction or the backstop: no longer a live position.
    pub closed: bool,
}

/// Where the market stood when an account last traded options: oracle prices, realized
/// vols and time. Implied vols and Greeks there follow from the model.
#[derive(Debug, Clone, PartialEq)]
pub struct OptRef {
    pub prices: Vec<f64>,
    pub rv: Vec<f64>,
    pub t_s: f64,
}

/// An account's cached option requirement: the risk epoch it was computed in and the
/// (initial, maintenance) figures, whole quote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskMemo {
    pub epoch: u64,
    pub initial: f64,
    pub maintenance: f64,
}

/// The three health figures of an account, in whole quote units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    pub initial: f64,
    pub maintenance: f64,
    pub equity: f64,
}

impl Account {
    pub fn new(owner: HolderId, agent: AgentId, n_assets: usize) -> Account {
        Account {
            owner,
            agent,
            quote: Amount::ZERO,
            collateral: Slots::new(n_assets, Amount::ZERO),
            debt: Amount::ZERO,
            perps: Slots::new(n_assets, Perp::default()),
            options: Vec::new(),
            opt_ref: None,
            risk: None,
            closed: false,
        }
    }

    /// Exposure to asset `a` for the size premium: collateral plus absolute perp size, whole
    /// units.
    pub fn size(&self, a: usize) -> f64 {
        self.collateral[a].to_whole() + self.perps[a].size.abs().to_whole()
    }

    /// The collateral asset of largest value at `prices` (of equal values, the last), if the
    /// account holds any collateral: what a liquidation seizes first.
    pub fn largest_collateral(&self, prices: &[f64]) -> Option<usize> {
        (0..self.collateral.len())
            .filter(|&a| self.collateral[a].is_positive())
            .max_by(|&x, &y| {
                (self.collateral[x].to_whole() * prices[x])
                    .total_cmp(&(self.collateral[y].to_whole() * prices[y]))
            })
    }

    /// The open perp of largest notional at `prices` (of equal notionals, the last), if any:
    /// what a liquidation closes.
    pub fn largest_perp(&self, prices: &[f64]) -> Option<usize> {
        (0..self.perps.len())
            .filter(|&a| self.perps[a].is_open())
            .max_by(|&x, &y| {
                (self.perps[x].size.abs().to_whole() * prices[x])
                    .total_cmp(&(self.perps[y].size.abs().to_whole() * prices[y]))
            })
    }

    /// Close every perp at `prices` against the pool ([`close_value`]: PnL rounded down for
    /// the account) into the account's quote. Returns what the pool pays (negative: receives)
    /// and the closed sizes.
    pub fn realize_perps(&mut self, prices: &[f64]) -> (Amount, Vec<(usize, Amount)>) {
        let mut paid = Amount::ZERO;
        let mut closed = Vec::new();
        for (a, &p) in prices.iter().enumerate() {
            let perp = self.perps[a];
            if !perp.is_open() {
                continue;
            }
            let pnl = close_value(perp.size, p) + perp.quote;
            self.quote += pnl;
            self.perps[a] = Perp::default();
            paid += pnl;
            closed.push((a, perp.size));
        }
        (paid, closed)
    }

    /// Sell every option back to the pool at `marks` (per series; [`close_value`]) into the
    /// account's quote. Returns what the pool pays.
    pub fn realize_options(&mut self, marks: &[f64]) -> Amount {
        let mut value = Amount::ZERO;
        for (i, q) in self.options.iter_mut().enumerate() {
            if q.is_zero() {
                continue;
            }
            value += close_value(*q, marks[i]);
            *q = Amount::ZERO;
        }
        self.quote += value;
        value
    }

    /// Whether the account holds anything at risk.
    pub fn has_positions(&self) -> bool {
        self.collateral.iter().any(|c| c.is_positive())
            || self.perps.iter().any(|p| p.is_open())
            || self.has_options()
    }

    /// Whether the account holds any option position.
    pub fn has_options(&self) -> bool {
        self.options.iter().any(|q| !q.is_zero())
    }

    /// Health at `prices` under `margin`.
    pub fn health(&self, prices: &[f64], margin: &MarginState) -> Health {
        let mut equity = self.quote.to_whole() - self.debt.to_whole();
        let mut init = equity;
        let mut maint = equity;
        for (a, &p) in prices.iter().enumerate() {
            let c = self.collateral[a].to_whole();
            let perp = &self.perps[a];
            if c == 0.0 && !perp.is_open() {
                continue;
            }
            let size = self.size(a);
            let ri = margin.ratio(a, size, Req::Initial);
            let rm = margin.ratio(a, size, Req::Maintenance);
            let cv = c * p;
            let pnl = perp.pnl(p);
            let notional = perp.size.abs().to_whole() * p;
            equity += cv + pnl;
            init += cv * (1.0 - ri) + pnl - notional * ri;
            maint += cv * (1.0 - rm) + pnl - notional * rm;
        }
        Health {
            initial: init,
            maintenance: maint,
            equity,
        }
    }

    /// Total position value at `prices` (collateral of borrowers plus perp notional), whole
    /// quote: the account's share of open interest.
    pub fn exposure_value(&self, prices: &[f64]) -> f64 {
        let mut v = 0.0;
        for (a, &p) in prices.iter().enumerate() {
            if self.debt.is_positive() {
                v += self.collateral[a].to_whole() * p;
            }
            v += self.perps[a].size.abs().to_whole() * p;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarginModel;

    fn fixed(i: f64, m: f64) -> MarginState {
        MarginState::new(
            &MarginModel::Fixed {
                initial: i,
                maintenance: m,
            },
            &[2000.0],
        )
    }

    #[test]
    fn hand_computed_health_of_a_borrower() {
        // 10 ETH at 2000 against 15,000 debt, maintenance 10%, initial 20%:
        // maint = 20,000 * 0.9 - 15,000 = 3,000; init = 20,000 * 0.8 - 15,000 = 1,000.
        let mut a = Account::new(HolderId(0), AgentId(0), 1);
        a.collateral[0] = Amount::from_whole(10.0);
        a.debt = Amount::from_whole(15_000.0);
        let h = a.health(&[2000.0], &fixed(0.2, 0.1));
        assert!((h.maintenance - 3_000.0).abs() < 1e-9);
        assert!((h.initial - 1_000.0).abs() < 1e-9);
        assert!((h.equity - 5_000.0).abs() < 1e-9);
        // Liquidation price: 15,000 / (10 * 0.9) = 1,666.67.
        let h = a.health(&[1666.0], &fixed(0.2, 0.1));
        assert!(h.maintenance < 0.0 && h.equity > 0.0);
    }

    #[test]
    fn hand_computed_health_of_a_perp() {
        // Long 5 ETH from 2000 with 1,000 margin, at 1900: pnl -500, notional 9,500,
        // maint 5%: 1,000 - 500 - 475 = 25; at 1880: 1,000 - 600 - 470 = -70.
        let mut a = Account::new(HolderId(0), AgentId(0), 1);
        a.quote = Amount::from_whole(1_000.0);
        a.perps[0] = Perp {
            size: Amount::from_whole(5.0),
            quote: Amount::from_whole(-10_000.0),
        };
        let m = fixed(0.1, 0.05);
        assert!((a.health(&[1900.0], &m).maintenance - 25.0).abs() < 1e-9);
        assert!((a.health(&[1880.0], &m).maintenance + 70.0).abs() < 1e-9);
        // Short mirrors: short 5 from 2000 at 2100: pnl -500, notional 10,500:
        // 1,000 - 500 - 525 = -25.
        a.perps[0] = Perp {
            size: Amount::from_whole(-5.0),
            quote: Amount::from_whole(10_000.0),
        };
        assert!((a.health(&[2100.0], &m).maintenance + 25.0).abs() < 1e-9);
    }
}
