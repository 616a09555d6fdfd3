//! The per-block check's skip of option accounts (ARCHITECTURE.md, "Skipping option
//! accounts"): bounds of every account's option value minus option maintenance over a box
//! of nearby states, so that an account healthy in the whole box is not revalued while the
//! state stays inside it. Kept apart from `health.rs` because it is an optimization with its
//! own state; turning it off (`set_option_guards(false)`) changes no result.

use crate::account::Account;
use crate::margin::Req;
use crate::options::{BoundTables, OptionMargin, StateBox};
use crate::{Engine, OptState};
use cascade_core::{AccountId, Amount};

/// Price band, realized-vol band (absolute) and time span of the skip's state box.
const GUARD_PRICE_BAND: f64 = 0.01;
const GUARD_RV_BAND: f64 = 0.05;
const GUARD_TIME_S: f64 = 600.0;
/// Relative slack against floating-point rounding (the bound holds in exact arithmetic).
const GUARD_SLACK: f64 = 1e-9;

/// The skip's state: on unless disabled (tests and benches compare with the full scan).
#[derive(Debug, Clone)]
pub(crate) struct Guards {
    enabled: bool,
    /// The current box's bounds and its number.
    bounds: Option<(u64, Box<BoundTables>)>,
    /// Per account: (box number, lower bound of option value minus option maintenance over
    /// the box, gross size, the positions it was computed for).
    of: Vec<Option<OptGuard>>,
}

#[derive(Debug, Clone)]
pub(crate) struct OptGuard {
    box_no: u64,
    lo: f64,
    gross: f64,
    options: Vec<Amount>,
    perps: Vec<Amount>,
}

impl Guards {
    /// The skip on, with no box yet.
    pub(crate) fn new() -> Guards {
        Guards {
            enabled: true,
            bounds: None,
            of: Vec::new(),
        }
    }
}

impl OptGuard {
    fn perps_match(&self, acc: &Account) -> bool {
        self.perps.len() == acc.perps.len()
            && self.perps.iter().zip(&acc.perps).all(|(s, p)| *s == p.size)
    }
}

impl Engine {
    /// Turn the skip of option accounts in the per-block check on or off (on by default;
    /// off, every option account is revalued in full every block).
    pub fn set_option_guards(&mut self, on: bool) {
        self.guards.enabled = on;
        self.guards.bounds = None;
        self.guards.of.clear();
    }

    /// (open option accounts, those the per-block check skips now): how much of the
    /// revaluation the guards save in the current state.
    pub fn option_guard_counts(&self) -> (usize, usize) {
        let mut n = (0, 0);
        for (k, acc) in self.accounts.iter().enumerate() {
            if !acc.closed && acc.has_options() {
                n.0 += 1;
                if self.guaranteed_healthy(AccountId(k as u32)) {
                    n.1 += 1;
                }
            }
        }
        n
    }

    /// Whether the skip can apply: options under `standard` or `portfolio` margin with the
    /// exact risk defaults (a budget keeps stale requirements the bounds do not describe).
    pub(crate) fn guards_apply(&self) -> bool {
        self.guards.enabled
            && self.opts.is_some()
            && !matches!(self.cfg.option_margin, OptionMargin::DeltaGamma { .. })
            && self.cfg.risk_update_interval_s <= 0.0
            && self.cfg.max_revaluations_per_block.is_none()
    }

    /// Whether the current state (oracle prices, the tables' prices and realized vols, the
    /// time) is inside the current box.
    pub(crate) fn in_box(&self, o: &OptState, b: &BoundTables) -> bool {
        let t = &o.tables;
        b.bx.contains(&o.cfg.assets, &self.prices, &t.rv, self.t_s)
            && b.bx.contains(&o.cfg.assets, &t.prices, &t.rv, t.t_s)
    }

    /// Start a new box around the current state when it has left the last one, and compute
    /// the guard of every option account whose guard is missing, from another box, or for
    /// other positions.
    pub(crate) fn refresh_guards(&mut self) {
        if !self.guards_apply() {
            return;
        }
        let o = self.opts.as_ref().expect("options");
        let inside = match &self.guards.bounds {
            Some((_, b)) => self.in_box(o, b),
            None => false,
        };
        if !inside {
            let bx = StateBox::around(
                &self.prices,
                &o.tables.rv,
                self.t_s,
                GUARD_PRICE_BAND,
                GUARD_RV_BAND,
                GUARD_TIME_S,
            );
            let no = self.guards.bounds.as_ref().map(|(n, _)| n + 1).unwrap_or(0);
            let b = BoundTables::build(&o.chain, &o.cfg.iv, &self.cfg.option_margin, bx);
            self.guards.bounds = Some((no, Box::new(b)));
        }
        let Some((no, b)) = &self.guards.bounds else {
            return;
        };
        if !self.in_box(o, b) {
            // A mid-block move put the tables' and the oracle's prices too far apart.
            return;
        }
        self.guards.of.resize(self.accounts.len(), None);
        for (k, acc) in self.accounts.iter().enumerate() {
            if acc.closed || !acc.has_options() {
                self.guards.of[k] = None;
                continue;
            }
            let fresh = self.guards.of[k]
                .as_ref()
                .is_some_and(|g| g.box_no == *no && g.options == acc.options && g.perps_match(acc));
            if fresh {
                continue;
            }
            let qty: Vec<f64> = acc.options.iter().map(|q| q.to_whole()).collect();
            let perp: Vec<f64> = acc.perps.iter().map(|p| p.size.to_whole()).collect();
            self.guards.of[k] = b
                .option_part_lo(&o.chain, &self.cfg.option_margin, &qty, &perp)
                .map(|(lo, gross)| OptGuard {
                    box_no: *no,
                    lo,
                    gross,
                    options: acc.options.clone(),
                    perps: acc.perps.iter().map(|p| p.size).collect(),
                });
        }
    }

    /// Whether account `id` holds options and is healthy in every state of the current box
    /// with room to spare: its exact linear maintenance health (and, under `portfolio`, the
    /// perp's linear requirement given back) plus its guard's lower bound of option value
    /// minus option maintenance exceeds the rounding slack, the state being inside the box
    /// and its positions those the guard was computed for. Such an account is not
    /// liquidatable: the per-block check skips its revaluation.
    pub(crate) fn guaranteed_healthy(&self, id: AccountId) -> bool {
        let acc = &self.accounts[id.index()];
        let Some(o) = &self.opts else { return false };
        if acc.closed || !acc.has_options() || !self.guards_apply() {
            return false;
        }
        self.guard_holds(acc, o, id)
    }

    pub(crate) fn guard_holds(&self, acc: &Account, o: &OptState, id: AccountId) -> bool {
        let Some((no, b)) = &self.guards.bounds else {
            return false;
        };
        let Some(Some(g)) = self.guards.of.get(id.index()) else {
            return false;
        };
        if g.box_no != *no || g.options != acc.options || !g.perps_match(acc) || !self.in_box(o, b)
        {
            return false;
        }
        let lin = acc.health(&self.prices, &self.margin).maintenance;
        let mut give = 0.0;
        if !matches!(self.cfg.option_margin, OptionMargin::Standard) {
            for a in o.hedged_perps(acc) {
                let notional = acc.perps[a].size.abs().to_whole() * self.prices[a];
                give += notional * self.margin.ratio(a, acc.size(a), Req::Maintenance);
            }
        }
        let slack = GUARD_SLACK * (g.gross + lin.abs() + give.abs() + 1.0);
        lin + give + g.lo > slack
    }
}
