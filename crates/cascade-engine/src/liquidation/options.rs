//! The option book's part of a liquidation: closing a fraction of every position at mark
//! (to a market maker's quote where one takes it), the options metrics, and the forced
//! delta-hedge flow.

use crate::Engine;
use crate::account::close_value;
use crate::liquidation::option_close;
use crate::metrics::GapSum;
use crate::options::black;
use cascade_core::{AccountId, Amount};

impl Engine {
    /// Liquidate the option book of `id`: record the options metrics (shortfall, convexity
    /// gap), then close `frac` of every position at mark with `bonus_rate` of the closed
    /// value charged to the account. Returns the bonus (for the caller to pay out of the
    /// vault) and the forced delta-hedge flow per asset (signed whole base units).
    pub(crate) fn liquidate_options(
        &mut self,
        id: AccountId,
        frac: f64,
        bonus_rate: f64,
        to_makers: bool,
    ) -> (Amount, Vec<(usize, f64)>) {
        let Some(o) = &self.opts else {
            return (Amount::ZERO, Vec::new());
        };
        let acc = &self.accounts[id.index()];
        let h = self.health_of(acc, &self.prices);
        // Convexity gap: the book's full-revaluation loss from the state of the engine's last
        // risk update (the tables' prices, realized vols and time) to now (the current
        // price, the implied vol the model gives now, the current time), minus the estimate
        // from the tables' Greeks; split by the sign of the position, with each side's
        // notional (underlying price at the update x contracts) to express it per unit.
        let (mut gap, mut long, mut short) = (0.0, GapSum::default(), GapSum::default());
        let t = &o.tables;
        let rv_now = o.rv();
        for (i, q) in acc.options.iter().enumerate() {
            if q.is_zero() {
                continue;
            }
            let s = &o.chain[i];
            let (s0, s1) = (t.prices[s.asset], self.prices[s.asset]);
            let g0 = t.series[i].g;
            let iv1 = o.cfg.iv.iv(s.strike, s1, rv_now[s.asset]);
            let v1 = black(s.kind, s1, s.strike, s.tau(self.t_s), iv1).price;
            let (ds, dv) = (s1 - s0, iv1 - t.series[i].iv);
            let dt = (self.t_s - t.t_s) / cascade_market::SECONDS_PER_YEAR;
            let full = g0.price - v1;
            let est = -(g0.delta * ds + 0.5 * g0.gamma * ds * ds + g0.vega * dv + g0.theta * dt);
            let (x, side) = (
                q.to_whole(),
                if q.is_positive() {
                    &mut long
                } else {
                    &mut short
                },
            );
            side.gap += x * (full - est);
            side.notional += x.abs() * s0;
            gap += x * (full - est);
        }
        self.metrics.options_liquidations += 1;
        self.metrics.margin_shortfall_at_liquidation += (-h.equity).max(0.0);
        self.metrics.convexity_gap_long.add(long);
        self.metrics.convexity_gap_short.add(short);
        let mut bonus = Amount::ZERO;
        let mut flow: Vec<(usize, f64)> = Vec::new();
        let mut value = Amount::ZERO;
        let n = self.accounts[id.index()].options.len();
        for i in 0..n {
            let q = self.accounts[id.index()].options[i];
            if q.is_zero() {
                continue;
            }
            let o = self.opts.as_ref().expect("options");
            let (mark, delta, asset) = (o.marks[i], o.tables.series[i].g.delta, o.chain[i].asset);
            let close = option_close(q, frac);
            bonus += close.abs().value_floor(mark).value_floor(bonus_rate);
            // The delta the closed book's counterparty must now hedge: forced flow in the
            // underlying whoever takes the close (docs/references.md, R22: the hedge of a
            // liquidated options book feeds the impact channel either way).
            let hedge = -close.to_whole() * delta;
            match flow.iter_mut().find(|(a, _)| *a == asset) {
                Some((_, x)) => *x += hedge,
                None => flow.push((asset, hedge)),
            }
            // A market maker quoting the series takes the close at its quote (at crash-time
            // implied vols: the mark is the tables') and hedges that delta with its own perp
            // trades; the flow above is their market impact.
            let fill = if to_makers {
                self.maker_offer(Some(id), i, -close)
            } else {
                None
            };
            if let Some(f) = fill {
                let prem = f.premium;
                self.commit_maker(f, -close);
                self.accounts[id.index()].quote += prem;
                self.accounts[id.index()].options[i] -= close;
                continue;
            }
            // The account sells longs to the pool (proceeds rounded down) and buys back
            // shorts (cost rounded up).
            value += close_value(close, mark);
            self.accounts[id.index()].options[i] -= close;
        }
        let acc = &mut self.accounts[id.index()];
        acc.quote = acc.quote + value - bonus;
        self.pool_cash -= value;
        for (a, f) in &flow {
            self.metrics.hedge_flow += f.abs() * self.prices[*a];
        }
        self.event(
            "option_liquidation",
            Some(id),
            None,
            value,
            gap,
            format!("fraction {frac}"),
        );
        (bonus, flow)
    }
}
