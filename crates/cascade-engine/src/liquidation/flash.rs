//! Paying for seized collateral, in a fixed-bonus liquidation and in a Dutch take: the buyer
//! pays the engine from its own quote, or flash-sells the collateral on a venue and pays from
//! the proceeds in the same transaction (so a liquidator needs no capital). One check and one
//! execution serve both callers.

use crate::ops::ledger_err;
use crate::{Engine, Reason};
use cascade_core::{Amount, HolderId, Ledger, Side, TokenId, VenueId};
use cascade_market::venue::{Fill, Venue};

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

    /// Execute a checked purchase. Returns the venue fill of a flash sale.
    pub(crate) fn execute_purchase(
        &self,
        p: &Purchase,
        ledger: &mut Ledger,
        venues: &mut [Venue],
    ) -> Result<Option<(VenueId, Fill)>, Reason> {
        let Some(sale) = p.sale else {
            ledger
                .transfer(p.buyer, self.vault, TokenId::QUOTE, p.pay)
                .map_err(ledger_err)?;
            ledger
                .transfer(self.vault, p.buyer, p.token, p.amount)
                .map_err(ledger_err)?;
            return Ok(None);
        };
        ledger
            .transfer(self.vault, p.buyer, p.token, p.amount)
            .map_err(ledger_err)?;
        let fill = match venues[sale.venue.index()].execute(
            ledger,
            p.buyer,
            Side::Sell,
            p.amount,
            sale.proceeds,
        ) {
            Ok(f) => f,
            Err(_) => {
                // Undo the collateral move: the quote was exact, so this is unreachable
                // unless the venue state changed in between.
                let _ = ledger.transfer(p.buyer, self.vault, p.token, p.amount);
                return Err("venue_failed");
            }
        };
        ledger
            .transfer(p.buyer, self.vault, TokenId::QUOTE, p.pay)
            .map_err(ledger_err)?;
        Ok(Some((sale.venue, fill)))
    }
}
