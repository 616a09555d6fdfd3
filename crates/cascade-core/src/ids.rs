//! Typed indices. Every entity in a World is addressed by a small integer wrapped in its own
//! type, so an asset index can never be passed where a holder index is expected, and every
//! collection can be a `Vec` iterated in a fixed order (no hash-map order in the simulation).

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(
            Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
        )]
        pub struct $name(pub $inner);

        impl $name {
            /// The position of this entity in its owning `Vec`.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A token in the ledger. Token 0 is always the quote asset (the numeraire, e.g. USD);
    /// token `i + 1` is risky asset `i`.
    TokenId,
    u16
);
id_type!(
    /// A risky asset (one with a price process). `AssetId(i)` trades as `TokenId(i + 1)`.
    AssetId,
    u16
);
id_type!(
    /// Anything that can hold tokens: an agent's wallet, a venue, a margin account, a sink.
    HolderId,
    u32
);
id_type!(
    /// A trading venue (constant-product pool or order book).
    VenueId,
    u16
);
id_type!(
    /// One oracle feed (a publisher). An asset's oracle may aggregate several feeds.
    FeedId,
    u16
);
id_type!(
    /// A margin account in the engine.
    AccountId,
    u32
);
id_type!(
    /// A collateral auction in the engine (numbered in kick order within a run).
    AuctionId,
    u32
);
id_type!(
    /// An agent (a decision maker that submits transactions).
    AgentId,
    u32
);
id_type!(
    /// A transaction, numbered in submission order within a run.
    TxId,
    u64
);
id_type!(
    /// A resting order on an order book, numbered in placement order within a venue.
    OrderId,
    u64
);

impl TokenId {
    /// The quote asset (numeraire).
    pub const QUOTE: TokenId = TokenId(0);

    /// The risky asset this token stands for, or `None` for the quote token.
    pub fn asset(self) -> Option<AssetId> {
        if self.0 == 0 {
            None
        } else {
            Some(AssetId(self.0 - 1))
        }
    }
}

impl AssetId {
    /// The ledger token of this asset.
    #[inline]
    pub fn token(self) -> TokenId {
        TokenId(self.0 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_token_roundtrip() {
        for i in 0..5u16 {
            assert_eq!(AssetId(i).token().asset(), Some(AssetId(i)));
        }
        assert_eq!(TokenId::QUOTE.asset(), None);
    }
}
