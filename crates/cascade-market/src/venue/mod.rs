//! Trading venues: a constant-product pool and a limit order book.
