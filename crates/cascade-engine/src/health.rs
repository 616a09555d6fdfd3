//! Valuation and health: what an account is worth at given prices and how far it is from
//! its margin requirements, for linear positions and option books (marks plus the option
//! margin rule), the index that finds liquidatable accounts without a full scan, and the
//! revaluation that refreshes an option account's cached requirement.

use crate::account::{Account, Health, RiskMemo};
use crate::index::Slot;
use crate::margin::{MarginState, Req};
use crate::options::{OptionMargin, RiskTables, black};
use crate::{Engine, OptState};
use cascade_core::AccountId;

impl Engine {
    pub fn health(&self, id: AccountId) -> Option<Health> {
        self.accounts
            .get(id.index())
            .map(|a| self.health_of(a, &self.prices))
    }

    /// Health at other prices (what a bot computes from a pending oracle update).
    pub fn health_at(&self, id: AccountId, prices: &[f64]) -> Option<Health> {
        self.accounts
            .get(id.index())
            .map(|a| self.health_of(a, prices))
    }

    /// The linear form of an account exposed to `asset` alone, as a function of that asset's
    /// price `P` (everything else fixed): maintenance health `m0 + m1 P` and exposure value
    /// `x1 P` ([`Account::exposure_value`]). `None` for an unknown or closed account, one
    /// holding options, or one with collateral or a perp in another asset (or no such asset). The margin ratios
    /// depend on sizes, not prices, so the form is exact up to rounding; a trader uses it to
    /// find the prices at which its conditions can start to hold (like the liquidation index's
    /// keys), and must allow for that rounding.
    pub fn linear_health(&self, id: AccountId, asset: usize) -> Option<(f64, f64, f64)> {
        let acc = self.accounts.get(id.index())?;
        if asset >= self.n_assets || acc.closed || acc.has_options() {
            return None;
        }
        for a in 0..self.n_assets {
            if a != asset && (!acc.collateral[a].is_zero() || acc.perps[a].is_open()) {
                return None;
            }
        }
        let size = acc.size(asset);
        let rm = self.margin.ratio(asset, size, Req::Maintenance);
        let c = acc.collateral[asset].to_whole();
        let perp = &acc.perps[asset];
        let s = perp.size.to_whole();
        let mut m0 = acc.quote.to_whole() - acc.debt.to_whole();
        if c != 0.0 || perp.is_open() {
            m0 += perp.quote.to_whole();
        }
        let m1 = c * (1.0 - rm) + s - s.abs() * rm;
        let x1 = if acc.debt.is_positive() { c } else { 0.0 } + s.abs();
        Some((m0, m1, x1))
    }

    /// Health of `acc` at `prices`: [`Account::health`], plus, for an account holding
    /// options, their marks and the option margin requirement. An account without options
    /// is valued exactly as by [`Account::health`].
    pub fn health_of(&self, acc: &Account, prices: &[f64]) -> Health {
        let h = acc.health(prices, &self.margin);
        match &self.opts {
            Some(o) if acc.has_options() => {
                let memo = if self.cfg.max_revaluations_per_block.is_some() {
                    acc.risk.filter(|m| m.epoch < o.epoch)
                } else {
                    None
                };
                self.option_health(acc, h, prices, &self.margin, o, &o.tables, memo, true)
            }
            _ => h,
        }
    }

    /// Add the option book of `acc` to its linear health `h`: values at `prices` with the
    /// implied vols of `tables`, requirement from `memo` when given, else from `tables`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn option_health(
        &self,
        acc: &Account,
        mut h: Health,
        prices: &[f64],
        margin: &MarginState,
        o: &OptState,
        tables: &RiskTables,
        memo: Option<RiskMemo>,
        engine_marks: bool,
    ) -> Health {
        let mut v = 0.0;
        for (i, q) in acc.options.iter().enumerate() {
            if q.is_zero() {
                continue;
            }
            let mark = if engine_marks {
                o.mark_at(i, prices, self.t_s)
            } else {
                let s = &o.chain[i];
                black(
                    s.kind,
                    prices[s.asset],
                    s.strike,
                    s.tau(self.t_s),
                    tables.series[i].iv,
                )
                .price
            };
            v += q.to_whole() * mark;
        }
        let (im, mm) = match memo {
            Some(m) => (m.initial, m.maintenance),
            None => self.option_requirement(acc, o, tables),
        };
        h.equity += v;
        h.initial += v - im;
        h.maintenance += v - mm;
        if !matches!(self.cfg.option_margin, OptionMargin::Standard) {
            // The perp in an option underlying is in the risk matrix: its linear requirement
            // is given back.
            for a in o.hedged_perps(acc) {
                let notional = acc.perps[a].size.abs().to_whole() * prices[a];
                let size = acc.size(a);
                h.initial += notional * margin.ratio(a, size, Req::Initial);
                h.maintenance += notional * margin.ratio(a, size, Req::Maintenance);
            }
        }
        h
    }

    /// The (initial, maintenance) option requirement of `acc` from `tables`.
    pub(crate) fn option_requirement(
        &self,
        acc: &Account,
        o: &OptState,
        tables: &RiskTables,
    ) -> (f64, f64) {
        let qty: Vec<f64> = acc.options.iter().map(|q| q.to_whole()).collect();
        let perp: Vec<f64> = acc.perps.iter().map(|p| p.size.to_whole()).collect();
        tables.requirement(&o.chain, &self.cfg.option_margin, &qty, &perp)
    }

    /// Revalue account `id` now (its own trade or liquidation): under a revaluation budget,
    /// its cached requirement becomes the current one.
    pub(crate) fn revalue(&mut self, id: AccountId) {
        if self.cfg.max_revaluations_per_block.is_none() {
            return;
        }
        let Some(o) = &self.opts else { return };
        let acc = &self.accounts[id.index()];
        let memo = if acc.has_options() {
            let (im, mm) = self.option_requirement(acc, o, &o.tables);
            Some(RiskMemo {
                epoch: o.epoch,
                initial: im,
                maintenance: mm,
            })
        } else {
            None
        };
        self.accounts[id.index()].risk = memo;
    }

    /// Whether health `h` triggers a liquidation: maintenance health below zero, or, with a
    /// soft threshold `s` (`engine.liquidation.soft_threshold > 1`), equity below `s` times
    /// the maintenance requirement (`equity - s (equity - maintenance) < 0`).
    pub fn triggered(&self, h: &Health) -> bool {
        match self.mechanism.soft_threshold() {
            Some(s) => h.maintenance < 0.0 || h.equity - s * (h.equity - h.maintenance) < 0.0,
            None => h.maintenance < 0.0,
        }
    }

    /// The index's candidates at `prices` (each asset's thresholds `P (1 - base)` and
    /// `P (1 + base)`), in account order. The thresholds sit on the stack for up to `STACK`
    /// assets, so the block loop allocates nothing here; the candidate list allocates only
    /// when there are candidates.
    fn index_candidates(&self, prices: &[f64]) -> Vec<AccountId> {
        const STACK: usize = 16;
        let n = self.n_assets;
        let (mut lo_s, mut hi_s) = ([0.0; STACK], [0.0; STACK]);
        let (mut lo_h, mut hi_h) = (Vec::new(), Vec::new());
        let (lo, hi): (&mut [f64], &mut [f64]) = if n <= STACK {
            (&mut lo_s[..n], &mut hi_s[..n])
        } else {
            lo_h.resize(n, 0.0);
            hi_h.resize(n, 0.0);
            (&mut lo_h, &mut hi_h)
        };
        for a in 0..n {
            let base = self.margin.base(a, Req::Maintenance);
            lo[a] = prices[a] * (1.0 - base);
            hi[a] = prices[a] * (1.0 + base);
        }
        self.index.candidates(lo, hi)
    }

    /// Every liquidatable account, found through the index and confirmed by exact health.
    /// With a soft threshold the index (keyed on the maintenance trigger) does not apply and
    /// every account is checked.
    pub fn liquidatable_now(&self) -> Vec<AccountId> {
        if self.mechanism.soft_threshold().is_some() {
            return self.liquidatable_scan();
        }
        self.index_candidates(&self.prices)
            .into_iter()
            .filter(|id| !self.guaranteed_healthy(*id) && self.is_liquidatable(*id))
            .collect()
    }

    /// The open accounts whose maintenance health at `prices` (any prices, not only the
    /// engine's: a bot values a pending oracle update with it) is negative, in account order:
    /// the index's candidates at those prices confirmed by exact health, so exactly what a
    /// scan of every account with [`Engine::health_at`] finds, in O(k + log N) instead of
    /// O(N). The index's keys depend on the accounts and the margin ratios' size premium, not
    /// on prices, so its range queries hold at any prices.
    pub fn maintenance_negative_at(&self, prices: &[f64]) -> Vec<AccountId> {
        let mut out = self.index_candidates(prices);
        out.retain(|&id| {
            let acc = &self.accounts[id.index()];
            !acc.closed && self.health_of(acc, prices).maintenance < 0.0
        });
        out
    }

    /// The scan [`Engine::maintenance_negative_at`] must agree with.
    pub fn maintenance_negative_scan(&self, prices: &[f64]) -> Vec<AccountId> {
        (0..self.accounts.len())
            .filter(|&i| {
                let acc = &self.accounts[i];
                !acc.closed && self.health_of(acc, prices).maintenance < 0.0
            })
            .map(|i| AccountId(i as u32))
            .collect()
    }

    /// The full scan the index must agree with.
    pub fn liquidatable_scan(&self) -> Vec<AccountId> {
        (0..self.accounts.len())
            .map(|i| AccountId(i as u32))
            .filter(|id| self.is_liquidatable(*id))
            .collect()
    }

    pub fn is_liquidatable(&self, id: AccountId) -> bool {
        let acc = &self.accounts[id.index()];
        !acc.closed
            && (acc.has_positions() || acc.debt.is_positive())
            && self.triggered(&self.health_of(acc, &self.prices))
    }

    /// Recompute where account `id` sits in the index.
    pub(crate) fn reindex(&mut self, id: AccountId) {
        let slot = self.slot_of(id);
        self.index.set(id, slot);
    }

    /// Where account `id` belongs in the index.
    pub(crate) fn slot_of(&self, id: AccountId) -> Slot {
        let acc = &self.accounts[id.index()];
        if acc.closed {
            Slot::None
        } else if acc.has_options() {
            // Option books are nonlinear in the price: always checked in full.
            Slot::Complex
        } else {
            // The first two assets the account is exposed to (no allocation).
            let mut exposed = (0..self.n_assets)
                .filter(|&a| acc.collateral[a].is_positive() || acc.perps[a].is_open());
            match (exposed.next(), exposed.next()) {
                (None, _) => {
                    if acc.debt > acc.quote {
                        Slot::Complex
                    } else {
                        Slot::None
                    }
                }
                (Some(a), None) => {
                    let c = acc.collateral[a].to_whole();
                    let s = acc.perps[a].size.to_whole();
                    let k =
                        acc.debt.to_whole() - acc.quote.to_whole() - acc.perps[a].quote.to_whole();
                    let size = acc.size(a);
                    let base = self.margin.base(a, Req::Maintenance);
                    let r = self.margin.ratio(a, size, Req::Maintenance);
                    if s >= 0.0 {
                        let e = c + s;
                        let f = (1.0 - r) / (1.0 - base);
                        Slot::Long {
                            asset: a,
                            key: k / (e * f),
                        }
                    } else if c == 0.0 {
                        let e = -s;
                        let g = (1.0 + r) / (1.0 + base);
                        Slot::Short {
                            asset: a,
                            key: -k / (e * g),
                        }
                    } else {
                        Slot::Complex
                    }
                }
                _ => Slot::Complex,
            }
        }
    }
}
