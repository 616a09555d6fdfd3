//! Paying for seized collateral, in a fixed-bonus liquidation and in a Dutch take: the buyer
//! pays the engine from its own quote, or flash-sells the collateral on a venue and pays from
//! the proceeds in the same transaction (so a liquidator needs no capital). One check and one
//! list of ledger moves (made by `ops::moves`, which undoes the rest if the sale reverts)
//! serve both callers.

use crate::ops::moves::Moves;
use crate::{Engine, Reason};
use cascade_core::{Amount, HolderId, Ledger, Side, TokenId, VenueId};
use cascade_market::venue::Venue;

/// A checked purchase: `buyer` pays `pay` quote into the vault and receives `amount` of
/// `token`, selling it on a venue first when `sale` is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Purchase {
    pub(crate) buyer: HolderId,
    pub(crate) token: TokenId,
    pub(crate) amount: Amount,
    pub(crate) pay: Amount,
    pub(crate) sale: Option<FlashSale>,
}

/// The venue sale of a flash purchase, as quoted: `amount` sold on `venue` for `proceeds`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlashSale {
    pub(crate) venue: VenueId,
    pub(crate) proceeds: Amount,
}

impl Engine {
    /// Check that `buyer` can buy `amount` of asset `a` for `pay` quote: with `sell_on`, the
    /// venue trades the asset, its quote for the sale fills within `band` of the oracle price
    /// (when a band is given) and the proceeds plus the buyer's quote cover `pay`; without,
    /// the buyer's quote covers `pay`. Writes nothing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_purchase(
        &self,
        buyer: HolderId,
        a: usize,
        amount: Amount,
        pay: Amount,
        sell_on: Option<VenueId>,
        band: Option<f64>,
        ledger: &Ledger,
        venues: &[Venue],
    ) -> Result<Purchase, Reason> {
        let have = ledger.balance(buyer, TokenId::QUOTE);
        let sale = match sell_on {
            Some(v) => {
                let venue = venues.get(v.index()).ok_or("invalid_venue")?;
                if venue.asset().index() != a {
                    return Err("invalid_venue");
                }
                let q = venue.quote(Side::Sell, amount);
                if let Some(band) = band {
                    let avg = q.amount_out.to_whole() / amount.to_whole();
                    if (avg / self.prices[a] - 1.0).abs() > band {
                        return Err("price_band");
                    }
                }
                if q.amount_out + have < pay {
                    return Err("insufficient_funds");
                }
                Some(FlashSale {
                    venue: v,
                    proceeds: q.amount_out,
                })
            }
            None => {
                if have < pay {
                    return Err("insufficient_funds");
                }
                None
            }
        };
        Ok(Purchase {
            buyer,
            token: TokenId(a as u16 + 1),
            amount,
            pay,
            sale,
        })
    }
}

impl Purchase {
    /// Its ledger moves, paid to or from `vault`: without a sale, the buyer pays and
    /// receives the collateral; with one, it receives the collateral, sells it and pays.
    pub(crate) fn moves(&self, vault: HolderId, moves: &mut Moves) {
        match self.sale {
            None => {
                moves
                    .transfer(self.buyer, vault, TokenId::QUOTE, self.pay)
                    .transfer(vault, self.buyer, self.token, self.amount);
            }
            Some(sale) => {
                moves
                    .transfer(vault, self.buyer, self.token, self.amount)
                    .sale(
                        self.buyer,
                        sale.venue,
                        self.token,
                        self.amount,
                        sale.proceeds,
                    )
                    .transfer(self.buyer, vault, TokenId::QUOTE, self.pay);
            }
        }
    }
}
