//! Perpetual futures: opening, adding to, reducing or flattening a position, with the pool
//! as counterparty, at the price `engine.perp_trade_price` names: the market's execution
//! price for the traded size (the trade is then flow on that market) or the oracle.

use crate::account::Perp;
use crate::config::PerpTradePrice;
use crate::liquidation::SettlementMarket;
use crate::ops::ledger_err;
use crate::{Engine, Outcome, Reason};
use cascade_core::{AccountId, AgentId, Amount, HolderId, Ledger, TokenId};

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn op_perp_open(
        &mut self,
        sender: HolderId,
        agent: AgentId,
        a: usize,
        size: Amount,
        margin: Amount,
        ledger: &mut Ledger,
        market: Option<&dyn SettlementMarket>,
    ) -> Result<Outcome, Reason> {
        self.check_asset(a)?;
        if size.is_zero() || margin.is_negative() {
            return Err("invalid_amount");
        }
        if self.is_paused() {
            return Err("paused");
        }
        if ledger.balance(sender, TokenId::QUOTE) < margin {
            return Err("insufficient_funds");
        }
        let p = self.prices[a];
        let exec = self.trade_price(a, size.to_whole(), market);
        let (live, mut acc) = self.trading_account(sender, agent);
        // Entry at the trade price, rounded against the trader; the fee on the notional at
        // the oracle, as before.
        let notional_up = size.abs().value_ceil(exec);
        let notional_dn = size.abs().value_floor(exec);
        let dq = if size.is_positive() {
            -notional_up
        } else {
            notional_dn
        };
        let fee = size.abs().value_ceil(p).value_ceil(self.cfg.perp_fee);
        acc.quote = acc.quote + margin - fee;
        acc.perps[a].size += size;
        acc.perps[a].quote += dq;
        // A trade that flattens the position realizes its PnL against the pool: a perp of
        // size zero counts for nothing in health, so its quote must not stay behind.
        let mut realized = Amount::ZERO;
        if acc.perps[a].size.is_zero() {
            realized = acc.perps[a].quote;
            acc.quote += realized;
            acc.perps[a] = Perp::default();
        }
        // A trade that only reduces the position (same sign, smaller size) needs no
        // initial margin, only to leave the account above maintenance (reduce-only orders
        // stay open to accounts below initial margin, as on Drift or dYdX); any other trade
        // needs initial health.
        let old = self.trading_size(live, a);
        let reducing = !old.is_zero()
            && size.is_positive() != old.is_positive()
            && size.abs() <= old.abs()
            && margin.is_zero();
        let h = self.health_of(&acc, &self.prices);
        if (reducing && h.maintenance < 0.0) || (!reducing && h.initial < 0.0) {
            return Err("insufficient_margin");
        }
        ledger
            .transfer(sender, self.vault, TokenId::QUOTE, margin)
            .map_err(ledger_err)?;
        self.pool_cash -= realized;
        self.book_fee(fee);
        // Opened or grown (not reduced or flattened): the `position_opened` event.
        let grew = acc.perps[a].size.abs() > (acc.perps[a].size - size).abs();
        let id = self.store_account(live, sender, agent, acc);
        self.reindex(id);
        if grew {
            self.opened_event(id, "perp", a, exec, size);
        }
        let mut out = Outcome::default();
        if self.trades_at_market(market) {
            out.offvenue_flow.push((a, size.to_whole()));
        }
        Ok(out)
    }

    /// The perp size in `asset` of the account `live` (zero for a new account).
    fn trading_size(&self, live: Option<AccountId>, a: usize) -> Amount {
        live.map_or(Amount::ZERO, |id| self.accounts[id.index()].perps[a].size)
    }

    /// Whether voluntary perp trades fill at the market: `engine.perp_trade_price =
    /// "market"` and a market is given (without one the oracle stands in for it).
    pub(crate) fn trades_at_market(&self, market: Option<&dyn SettlementMarket>) -> bool {
        market.is_some() && self.cfg.perp_trade_price == PerpTradePrice::Market
    }

    /// The price a voluntary trade of `signed_base` whole units of the perp in `asset` fills
    /// at: the market's execution price for that flow, or the oracle (see
    /// [`Engine::trades_at_market`]). Non-mutating.
    pub(crate) fn trade_price(
        &self,
        a: usize,
        signed_base: f64,
        market: Option<&dyn SettlementMarket>,
    ) -> f64 {
        match market {
            Some(mk) if self.trades_at_market(market) => mk.quote(a, signed_base),
            _ => self.prices[a],
        }
    }
}
