//! Settling a liquidated perp (`engine.perp_settlement`): the price the closed size is
//! valued at for the account, the price the protocol realizes, and the flow that reaches the
//! market.
//!
//! The engine is pure, so the market where the price forms comes in as an argument, a
//! [`SettlementMarket`] the caller implements (the simulator: its price model's
//! `quote_flow`). Three rules:
//! - `oracle` (legacy): the account is closed at the oracle price against the pool; the pool
//!   unwinds on the market at the execution price `m` of the closed size. The difference,
//!   `size * (oracle - m)`, is value the oracle transferred away from (or to) the protocol:
//!   `oracle_gap_loss`.
//! - `market`: the close executes at `m`; the slippage `size * (p_ref - m)` is paid by the
//!   account or by the liquidator (`market_slippage_payer`): `liquidation_slippage`.
//! - `backstop`: a backstop liquidity provider takes the position at `p_ref (1 - discount)`
//!   (longs; shorts at `1 + discount`) while its capacity (notional at `p_ref`, per run)
//!   lasts; the rest goes to the market as above. Only the market part reaches the market.
//!
//! Without a market (the engine used alone) the oracle stands in for it: every rule then
//! settles at the oracle with no slippage and no gap.

use crate::Engine;
use crate::config::{PerpSettlement, SlippagePayer};
use cascade_core::Amount;

/// The market where the price forms, as the engine sees it when it settles a close.
pub trait SettlementMarket {
    /// The average price at which `signed_base` whole base units of `asset` (negative: a
    /// sale) execute now, without moving the market; `signed_base = 0` gives `p_ref`.
    fn quote(&self, asset: usize, signed_base: f64) -> f64;
}

/// The simulator's market: the price model's `quote_flow` (the execution price of a flow on
/// the market where the price forms).
impl SettlementMarket for cascade_market::price::PriceModel {
    fn quote(&self, asset: usize, signed_base: f64) -> f64 {
        self.quote_flow(asset, signed_base)
    }
}

/// How one perp close settles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settled {
    /// The price the account's close is valued at.
    pub account_price: f64,
    /// The average price the closed size realizes on the market and at the backstop.
    pub exec: f64,
    /// The market's price before the close.
    pub p_ref: f64,
    /// Signed whole base units routed to the market (the backstop's part is not).
    pub market_base: f64,
    /// Notional at `p_ref` the backstop provider took over, quote.
    pub backstop_used: f64,
    /// `size * (oracle - exec)`: value transferred from the protocol by settling at the
    /// oracle (oracle rule only; 0 otherwise), whole quote.
    pub gap: f64,
    /// `size * (p_ref - exec)`: slippage the close pays (market and backstop rules; 0
    /// under the oracle rule), whole quote.
    pub slippage: f64,
    /// Quote the liquidator pays into the pool: the slippage, when it is the payer.
    pub liquidator_pays: Amount,
    /// `size * (p_ref - exec)` under every rule: what the close's trade at the market (or
    /// with the backstop provider) costs against `p_ref`. The buyer outside the ledger gains
    /// it; the pool, settling the account at its rule's price, does not pay it on the
    /// ledger, so its mark to market adds it (`protocol_loss_at_market`).
    pub unwind: f64,
}

impl Engine {
    /// Book a settled close: the backstop's capacity used and the metrics.
    pub(crate) fn record_settlement(&mut self, s: &Settled) {
        self.settle_backstop_left = (self.settle_backstop_left - s.backstop_used).max(0.0);
        self.metrics.oracle_gap_loss += s.gap;
        self.metrics.liquidation_slippage += s.slippage;
        self.metrics.unwind_cost += s.unwind;
    }

    /// How closing `close` (signed, as held by the account) of the perp in `asset` settles
    /// under the configured rule. Non-mutating.
    pub(crate) fn settle_close(
        &self,
        asset: usize,
        close: Amount,
        market: Option<&dyn SettlementMarket>,
    ) -> Settled {
        let p = self.prices[asset];
        let size = close.to_whole();
        let flow = -size;
        let Some(mk) = market else {
            return Settled {
                account_price: p,
                exec: p,
                p_ref: p,
                market_base: flow,
                backstop_used: 0.0,
                gap: 0.0,
                slippage: 0.0,
                liquidator_pays: Amount::ZERO,
                unwind: 0.0,
            };
        };
        let p_ref = mk.quote(asset, 0.0);
        let (exec, market_base, backstop_used) = match self.cfg.perp_settlement {
            PerpSettlement::Oracle | PerpSettlement::Market => (mk.quote(asset, flow), flow, 0.0),
            PerpSettlement::Backstop => {
                let b = self
                    .cfg
                    .settlement_backstop
                    .expect("validated: backstop settlement has its provider");
                let notional = size.abs() * p_ref;
                let frac = if notional > 0.0 {
                    (self.settle_backstop_left / notional).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let p_bs = p_ref * (1.0 - b.discount * size.signum());
                let to_market = flow * (1.0 - frac);
                let p_mk = if to_market != 0.0 {
                    mk.quote(asset, to_market)
                } else {
                    p_ref
                };
                let exec = frac * p_bs + (1.0 - frac) * p_mk;
                (exec, to_market, notional * frac)
            }
        };
        if self.cfg.perp_settlement == PerpSettlement::Oracle {
            return Settled {
                account_price: p,
                exec,
                p_ref,
                market_base,
                backstop_used,
                gap: size * (p - exec),
                slippage: 0.0,
                liquidator_pays: Amount::ZERO,
                unwind: size * (p_ref - exec),
            };
        }
        let slippage = size * (p_ref - exec);
        let (account_price, liquidator_pays) = match self.cfg.market_slippage_payer {
            SlippagePayer::Account => (exec, Amount::ZERO),
            SlippagePayer::Liquidator => {
                // The account is valued at p_ref; the liquidator pays the pool what the close
                // fetches less than that (never less than nothing).
                let owed = crate::account::close_value(close, p_ref)
                    - crate::account::close_value(close, exec);
                (p_ref, owed.max(Amount::ZERO))
            }
        };
        Settled {
            account_price,
            exec,
            p_ref,
            market_base,
            backstop_used,
            gap: 0.0,
            slippage,
            liquidator_pays,
            unwind: slippage,
        }
    }
}
