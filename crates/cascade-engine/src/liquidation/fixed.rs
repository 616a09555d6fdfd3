//! Fixed-bonus liquidations (full, close factor, incremental, and the liquidator side of the
//! backstop mode): the liquidator repays debt and takes collateral and position closes at a
//! bonus, optionally flash-selling the collateral on a venue in the same transaction.

use crate::account::close_value;
use crate::causal::Before;
use crate::liquidation::SettlementMarket;
use crate::ops::moves::Moves;
use crate::{Engine, LiqPlan, Outcome, Reason};
use cascade_core::{AccountId, Amount, HolderId, Ledger, Side, TokenId, VenueId};
use cascade_market::venue::Venue;

impl Engine {
    /// A fixed-bonus liquidation of `id` following `plan`: the liquidator pays the debt
    /// repaid and takes the collateral (selling it on `sell_on` in the same transaction, when
    /// given), and the perps and options closed pay it the bonus. Everything that can revert
    /// is checked first (the purchase, the liquidator's minimum profit, every ledger move);
    /// then the moves are made (only the venue sale can still revert, undone) and the
    /// engine's state written.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn liquidate_fixed(
        &mut self,
        liquidator: HolderId,
        id: AccountId,
        plan: LiqPlan,
        sell_on: Option<VenueId>,
        min_profit: Amount,
        before: Before,
        ledger: &mut Ledger,
        venues: &mut [Venue],
        market: Option<&dyn SettlementMarket>,
    ) -> Result<Outcome, Reason> {
        let mut moves = Moves::new();
        // Lending part: the liquidator pays `pay` quote and receives `seize` collateral.
        let lending = match plan.asset {
            Some(a) if plan.seize.is_positive() => {
                let purchase = self.check_purchase(
                    liquidator,
                    a,
                    plan.seize,
                    plan.pay,
                    sell_on,
                    self.cfg.breakers.price_band,
                    ledger,
                    venues,
                )?;
                // What the collateral fetches: the sale's proceeds, or its oracle value.
                let gain = match purchase.sale {
                    Some(sale) => sale.proceeds,
                    None => plan.seize.value_floor(self.prices[a]),
                };
                if gain - plan.pay < min_profit {
                    return Err("unprofitable");
                }
                purchase.moves(self.vault, &mut moves);
                Some(a)
            }
            _ => None,
        };
        // Perp part: the account pays the bonus to the liquidator in quote (the vault pays it
        // out of the account's claim); the close settles by the configured rule, and a
        // liquidator that bears the slippage pays it into the vault.
        let perp = match plan.perp_asset {
            Some(a) if !plan.perp_close.is_zero() => {
                let perp_bonus = plan.perp_bonus - plan.opt_bonus;
                moves.transfer(self.vault, liquidator, TokenId::QUOTE, perp_bonus);
                let settled = self.settle_close(a, plan.perp_close, market);
                if settled.liquidator_pays.is_positive() {
                    moves.transfer(
                        liquidator,
                        self.vault,
                        TokenId::QUOTE,
                        settled.liquidator_pays,
                    );
                }
                Some((a, perp_bonus, settled))
            }
            _ => None,
        };
        // Options part: the bonus on the closed options' mark value, as planned.
        let options = plan.opt_frac > 0.0 && self.accounts[id.index()].has_options();
        if options {
            moves.transfer(self.vault, liquidator, TokenId::QUOTE, plan.opt_bonus);
        }
        moves.check(ledger)?;

        // Commit.
        let mut out = Outcome {
            liquidation: true,
            ..Outcome::default()
        };
        if let Some((v, fill)) = moves.commit(ledger, venues)? {
            out.swaps.push((v, Side::Sell, fill));
        }
        // Liquidated notional: collateral seized, perp closed and the closed options' delta
        // hedge, at the market price before the liquidation's own flow.
        let p_ref = self.market_prices(market);
        let mut notional = 0.0;
        if let Some(a) = lending {
            let acc = &mut self.accounts[id.index()];
            acc.collateral[a] -= plan.seize;
            acc.debt -= plan.repay;
            self.pool_cash += plan.repay;
            self.book_fee(plan.fee);
            notional += plan.seize.to_whole() * p_ref[a];
        }
        // The perp closes against the pool at the settlement's price for the account (the
        // oracle under the legacy rule); what reaches the market is a market order on the
        // wider market.
        let mut closed = Vec::new();
        if let Some((a, perp_bonus, settled)) = perp {
            let acc = &mut self.accounts[id.index()];
            let perp = acc.perps[a];
            // Realize the closed fraction: its share of the entry quote.
            let share_q = if plan.perp_close == perp.size {
                perp.quote
            } else {
                Amount(
                    cascade_core::math::mul_div_floor_i128(
                        perp.quote.raw(),
                        plan.perp_close.raw(),
                        perp.size.raw(),
                    )
                    .unwrap_or(perp.quote.raw()),
                )
            };
            let pnl = close_value(plan.perp_close, settled.account_price) + share_q;
            acc.perps[a].size = perp.size - plan.perp_close;
            acc.perps[a].quote = perp.quote - share_q;
            acc.quote = acc.quote + pnl - perp_bonus;
            self.pool_cash -= pnl;
            self.pool_cash += settled.liquidator_pays;
            self.record_settlement(&settled);
            if settled.market_base != 0.0 {
                out.offvenue_flow.push((a, settled.market_base));
            }
            notional += plan.perp_close.abs().to_whole() * p_ref[a];
            closed.push((a, plan.perp_close));
        }
        // The account's options are bought back (shorts) or sold (longs) at mark against the
        // pool, the account pays the bonus on their value, and the pool unwinds the delta
        // hedge of the closed book: forced flow in the underlying.
        if options {
            let (bonus, flow) = self.liquidate_options(id, plan.opt_frac, self.bonus(), true);
            // The bonus paid above: the plan's, at the same marks and fraction.
            debug_assert_eq!(bonus, plan.opt_bonus);
            for (a, f) in flow {
                notional += f.abs() * p_ref[a];
                out.offvenue_flow.push((a, f));
            }
        }
        self.liqs_this_block += 1;
        self.record_liquidation(id, notional, before, liquidator, &p_ref);
        self.after_liquidation(id, &closed);
        Ok(out)
    }
}
