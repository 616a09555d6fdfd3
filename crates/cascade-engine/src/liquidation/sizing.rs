//! Sizing a liquidation: what it seizes, repays and closes (`LiqPlan`), previewed by
//! liquidators and executed by the engine.

use crate::liquidation::Sizing;
use crate::margin::Req;
use crate::{Engine, LiqPlan, Reason};
use cascade_core::{AccountId, Amount};

/// The part of an option position `q` a liquidation of fraction `f` closes: all of it at
/// `f >= 1`, else `f` of it rounded down, at least one unit.
pub(crate) fn option_close(q: Amount, f: f64) -> Amount {
    if f >= 1.0 {
        return q;
    }
    let c = q.abs().scale_floor(f).max(Amount::ONE_UNIT).min(q.abs());
    if q.is_positive() { c } else { -c }
}

impl Engine {
    /// What a liquidation of `id` would do now, or why it cannot happen. Non-mutating: what
    /// liquidators call before deciding.
    pub fn plan_liquidation(&self, id: AccountId) -> Result<LiqPlan, Reason> {
        self.plan_liquidation_at(id, &self.prices)
    }

    /// The plan at other oracle prices (what a bot computes from a pending oracle update).
    pub fn plan_liquidation_at(&self, id: AccountId, prices: &[f64]) -> Result<LiqPlan, Reason> {
        // Cross-chain collateral: only the bridge liquidates it (`crate::bridge`).
        if self.collateral_is_remote(id) {
            return Err("remote_collateral");
        }
        self.plan_at_bonus(id, prices, self.bonus())
    }

    /// The plan at `prices` with the liquidator's bonus `bonus` instead of the mechanism's
    /// (an intent fill pays the commitment's discount, `crate::intents`).
    pub(crate) fn plan_at_bonus(
        &self,
        id: AccountId,
        prices: &[f64],
        bonus: f64,
    ) -> Result<LiqPlan, Reason> {
        let acc = self.accounts.get(id.index()).ok_or("no_account")?;
        if acc.closed {
            return Err("account_closed");
        }
        self.liquidation_allowed()?;
        let h = self.health_of(acc, prices);
        if !self.triggered(&h) {
            return Err("healthy");
        }
        // Asynchronous settlement: the off-chain engine's decision must have landed.
        if !self.settlement_allows(id) {
            return Err("unsettled");
        }
        // The collateral with the largest value is seized first (lending part).
        let asset = acc.largest_collateral(prices);
        let perp_asset = acc.largest_perp(prices);
        let mut plan = LiqPlan {
            asset,
            pay: Amount::ZERO,
            repay: Amount::ZERO,
            fee: Amount::ZERO,
            seize: Amount::ZERO,
            perp_asset,
            perp_close: Amount::ZERO,
            perp_bonus: Amount::ZERO,
            opt_frac: 0.0,
            opt_bonus: Amount::ZERO,
        };
        // Fractions of the debt and of the perp position to close.
        let sizing = self.mechanism.sizing();
        let (frac_lend, frac_perp) = match sizing {
            Sizing::Full => (1.0, 1.0),
            Sizing::CloseFactor {
                close_factor,
                full_close_below,
            } => {
                // Aave's health factor: weighted collateral over liabilities, the perp margin
                // requirement counted as a liability.
                let req: f64 = (0..self.n_assets)
                    .map(|a| {
                        acc.perps[a].size.abs().to_whole()
                            * prices[a]
                            * self.margin.ratio(a, acc.size(a), Req::Maintenance)
                    })
                    .sum();
                let liab = acc.debt.to_whole() + req;
                let hf = if liab > 0.0 {
                    (h.maintenance + liab) / liab
                } else {
                    f64::INFINITY
                };
                let f = if hf < full_close_below {
                    1.0
                } else {
                    close_factor
                };
                (f, f)
            }
            Sizing::Incremental {
                step,
                exit_buffer,
                soft,
            } => {
                let v = acc.exposure_value(prices).max(1e-12);
                let buf = exit_buffer;
                // With a soft threshold s > 1 the health to restore is the soft health
                // H_s = equity - s (equity - H), whose ratios are s m; s = 1 is the rule as
                // it always was (kept literally, so its results do not move by a rounding).
                let (hh, s) = if soft > 1.0 {
                    (h.equity - soft * (h.equity - h.maintenance), soft)
                } else {
                    (h.maintenance, 1.0)
                };
                let gap = buf * v - hh;
                match (asset, perp_asset) {
                    (Some(a), _) if acc.debt.is_positive() => {
                        // Repay R (seizing R (1 + b) of collateral) to lift maintenance health
                        // H to buf of the position value V:
                        // H + R k >= buf (V - R (1 + b)), k = 1 - (1 + b)(1 - m).
                        let m = s * self.margin.ratio(a, acc.size(a), Req::Maintenance);
                        let k = 1.0 - (1.0 + bonus) * (1.0 - m);
                        let r = gap / (k + buf * (1.0 + bonus));
                        ((r / acc.debt.to_whole()).clamp(1e-9, step), 0.0)
                    }
                    (_, Some(a)) => {
                        // Closing notional N frees N m of margin and costs N b of bonus:
                        // H + N (m - b) >= buf (V - N).
                        let m = s * self.margin.ratio(a, acc.size(a), Req::Maintenance);
                        let n = gap / (m - bonus + buf);
                        let notional = acc.perps[a].size.abs().to_whole() * prices[a];
                        (0.0, (n / notional.max(1e-12)).clamp(1e-9, step))
                    }
                    _ => (1.0, 1.0),
                }
            }
        };
        if let Some(a) = asset
            && acc.debt.is_positive()
        {
            let p = prices[a];
            let mut repay = acc
                .debt
                .scale_floor(frac_lend)
                .max(Amount::ONE_UNIT)
                .min(acc.debt);
            if frac_lend >= 1.0 {
                repay = acc.debt;
            }
            // Collateral worth repay * (1 + bonus), rounded down (against the liquidator).
            let mut seize = Amount::from_whole_floor(repay.to_whole() * (1.0 + bonus) / p);
            if seize > acc.collateral[a] {
                seize = acc.collateral[a];
                repay = Amount::from_whole_ceil(seize.to_whole() * p / (1.0 + bonus)).min(acc.debt);
            }
            let fee = match self.mechanism.protocol_fee() {
                Some(protocol_fee) => {
                    // Aave: a share of the bonus; charged here in quote.
                    Amount::from_whole_ceil(repay.to_whole() * bonus * protocol_fee)
                }
                None => Amount::ZERO,
            };
            plan.repay = repay;
            plan.seize = seize;
            plan.fee = fee;
            plan.pay = repay + fee;
        }
        if let Some(a) = perp_asset
            && frac_perp > 0.0
        {
            let perp = acc.perps[a];
            let close = if frac_perp >= 1.0 {
                perp.size
            } else {
                let c = perp.size.abs().scale_floor(frac_perp).max(Amount::ONE_UNIT);
                if perp.size.is_positive() { c } else { -c }
            };
            plan.perp_close = close;
            plan.perp_bonus = close.abs().value_floor(prices[a]).value_floor(bonus);
        }
        if acc.has_options()
            && let Some(o) = &self.opts
        {
            // Options close by the same fraction as perps (the step of incremental mode); the
            // account pays the bonus on the closed options' mark value.
            let f = match sizing {
                Sizing::Incremental { step, .. } => step,
                _ => frac_perp,
            };
            plan.opt_frac = f;
            for (i, q) in acc.options.iter().enumerate() {
                if q.is_zero() {
                    continue;
                }
                let close = option_close(*q, f);
                plan.opt_bonus += close
                    .abs()
                    .value_floor(o.mark_at(i, prices, self.t_s))
                    .value_floor(bonus);
            }
            plan.perp_bonus += plan.opt_bonus;
        }
        if plan.seize.is_zero()
            && plan.perp_close.is_zero()
            && plan.repay.is_zero()
            && plan.opt_frac == 0.0
        {
            // Only quote and debt: nothing to seize; settle as bad debt directly.
            plan.asset = None;
        }
        Ok(plan)
    }
}
