//! Gas market: EIP-1559 base fee, block gas limit, background demand and fee payment.
