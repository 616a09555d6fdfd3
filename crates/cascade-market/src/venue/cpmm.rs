//! A Uniswap-v2 constant-product pool, exact on the integer ledger.
//!
//! The pool is the simplest venue with price impact: a forced seller moves the price along
//! `x * y = k`, and arbitrageurs pull it back towards the reference price when the gap beats
//! the fee. Arithmetic follows `UniswapV2Library.getAmountOut` with the fee in parts per million
//! instead of per mille: the fee is taken from the input and stays in the pool, and the output
//! is rounded down (256-bit intermediates), so `k` never decreases and the pool never loses.
//! The reserves are always exactly the pool holder's ledger balances.

use super::{FEE_DENOM, Fill, VenueError, balance_of, check_amount, fee_ppm, require_funds};
use cascade_core::{Amount, AssetId, HolderId, Ledger, LedgerError, Side, TokenId};
use ethnum::U256;

/// A constant-product pool of one risky asset against the quote asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpmm {
    holder: HolderId,
    asset: AssetId,
    reserve_base: Amount,
    reserve_quote: Amount,
    fee_ppm: u32,
}

fn u256(a: Amount) -> U256 {
    // Reserves and validated inputs are positive; a negative amount maps to zero.
    U256::from(u128::try_from(a.raw()).unwrap_or(0))
}

impl Cpmm {
    /// Create the pool at genesis, minting its reserves into `holder` (which must hold nothing
    /// yet, so that the reserves are exactly its balances). `fee` is a fraction in `[0, 1)`.
    pub fn genesis(
        ledger: &mut Ledger,
        holder: HolderId,
        asset: AssetId,
        reserve_base: Amount,
        reserve_quote: Amount,
        fee: f64,
    ) -> Result<Cpmm, VenueError> {
        let fee_ppm = fee_ppm(fee).ok_or_else(|| {
            VenueError::BadParameter(format!("fee must be in [0, 1) (got {fee})"))
        })?;
        if !reserve_base.is_positive() || !reserve_quote.is_positive() {
            return Err(VenueError::NoLiquidity);
        }
        if ledger.is_sealed() {
            return Err(LedgerError::Sealed.into());
        }
        let held_base = balance_of(ledger, holder, asset.token())?;
        let held_quote = balance_of(ledger, holder, TokenId::QUOTE)?;
        if !held_base.is_zero() || !held_quote.is_zero() {
            return Err(VenueError::BadParameter(
                "the pool's holder must start with empty balances".to_string(),
            ));
        }
        ledger.mint_genesis(holder, asset.token(), reserve_base)?;
        ledger.mint_genesis(holder, TokenId::QUOTE, reserve_quote)?;
        Ok(Cpmm {
            holder,
            asset,
            reserve_base,
            reserve_quote,
            fee_ppm,
        })
    }

    /// The traded risky asset.
    pub fn asset(&self) -> AssetId {
        self.asset
    }

    /// The pool's ledger holder (its balances are the reserves).
    pub fn holder(&self) -> HolderId {
        self.holder
    }

    /// Reserve of the risky asset, base units.
    pub fn reserve_base(&self) -> Amount {
        self.reserve_base
    }

    /// Reserve of the quote asset, base units.
    pub fn reserve_quote(&self) -> Amount {
        self.reserve_quote
    }

    /// The swap fee in parts per million of the input.
    pub fn fee_ppm(&self) -> u32 {
        self.fee_ppm
    }

    /// The swap fee as a fraction.
    pub fn fee(&self) -> f64 {
        self.fee_ppm as f64 / FEE_DENOM as f64
    }

    /// Spot price, quote per whole base: `reserve_quote / reserve_base`.
    pub fn price(&self) -> f64 {
        self.reserve_quote.raw() as f64 / self.reserve_base.raw() as f64
    }

    /// The invariant `k = reserve_base * reserve_quote` (exact, 256 bits).
    pub fn k(&self) -> U256 {
        u256(self.reserve_base) * u256(self.reserve_quote)
    }

    /// The pool's holdings valued at `price` (quote per whole base), in whole quote tokens.
    pub fn value_at(&self, price: f64) -> f64 {
        self.reserve_base.to_whole() * price + self.reserve_quote.to_whole()
    }

    /// A liquidity provider takes `fraction` (in (0, 1)) of both reserves out of the pool to
    /// `to`: the depth falls, the price stays (up to rounding, which favours the pool). Returns
    /// the base and quote moved; nothing moves when either rounds to zero.
    pub fn remove_liquidity(
        &mut self,
        ledger: &mut Ledger,
        to: HolderId,
        fraction: f64,
    ) -> Result<(Amount, Amount), VenueError> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(VenueError::BadParameter(format!(
                "withdrawal fraction must be in (0, 1) (got {fraction})"
            )));
        }
        let b = self.reserve_base.scale_floor(fraction);
        let q = self.reserve_quote.scale_floor(fraction);
        if !b.is_positive() || !q.is_positive() {
            return Ok((Amount::ZERO, Amount::ZERO));
        }
        // The holder's balances are the reserves, so both transfers succeed.
        ledger.transfer(self.holder, to, self.asset.token(), b)?;
        ledger.transfer(self.holder, to, TokenId::QUOTE, q)?;
        self.reserve_base -= b;
        self.reserve_quote -= q;
        Ok((b, q))
    }

    /// A liquidity provider `from` adds liquidity at the pool's price, up to `base_max` and
    /// `quote_max`: `b = min(base_max, floor(quote_max * x / y))` and `q = ceil(b * y / x)`
    /// (rounding favours the pool). Returns what it added.
    pub fn add_liquidity(
        &mut self,
        ledger: &mut Ledger,
        from: HolderId,
        base_max: Amount,
        quote_max: Amount,
    ) -> Result<(Amount, Amount), VenueError> {
        if !base_max.is_positive() || !quote_max.is_positive() {
            return Ok((Amount::ZERO, Amount::ZERO));
        }
        let (x, y) = (u256(self.reserve_base), u256(self.reserve_quote));
        let by_quote = u256(quote_max) * x / y;
        let b = u256(base_max).min(by_quote);
        let q = (b * y + x - U256::ONE) / x;
        let to_amount = |v: U256| i128::try_from(v.as_u128()).map(Amount).ok();
        let (Some(b), Some(q)) = (to_amount(b), to_amount(q)) else {
            return Err(VenueError::Overflow);
        };
        if !b.is_positive() || !q.is_positive() || q > quote_max {
            return Ok((Amount::ZERO, Amount::ZERO));
        }
        require_funds(ledger, from, self.asset.token(), b)?;
        require_funds(ledger, from, TokenId::QUOTE, q)?;
        ledger.transfer(from, self.holder, self.asset.token(), b)?;
        ledger.transfer(from, self.holder, TokenId::QUOTE, q)?;
        self.reserve_base += b;
        self.reserve_quote += q;
        Ok((b, q))
    }

    /// `(reserve_in, reserve_out, token_in, token_out)` for a taker on `side`.
    fn sides(&self, side: Side) -> (Amount, Amount, TokenId, TokenId) {
        match side {
            Side::Sell => (
                self.reserve_base,
                self.reserve_quote,
                self.asset.token(),
                TokenId::QUOTE,
            ),
            Side::Buy => (
                self.reserve_quote,
                self.reserve_base,
                TokenId::QUOTE,
                self.asset.token(),
            ),
        }
    }

    /// Output of an exact-input swap (getAmountOut): with `f` the fee in ppm and `D = 1e6`,
    /// `out = floor(in*(D-f)*R_out / (R_in*D + in*(D-f)))`. `None` if `amount_in <= 0`.
    /// The result is always below `R_out`; it may be zero for a tiny input.
    pub fn amount_out_exact_in(&self, side: Side, amount_in: Amount) -> Option<Amount> {
        if !amount_in.is_positive() {
            return None;
        }
        let (r_in, r_out, _, _) = self.sides(side);
        // in_fee < 2^147; the products can exceed 256 bits only for absurd reserves.
        let in_fee = u256(amount_in) * U256::from(FEE_DENOM - self.fee_ppm);
        let num = in_fee.checked_mul(u256(r_out))?;
        let den = u256(r_in)
            .checked_mul(U256::from(FEE_DENOM))?
            .checked_add(in_fee)?;
        // den > 0 because r_in > 0; out < r_out, so it fits in i128.
        let out = num / den;
        i128::try_from(out).ok().map(Amount)
    }

    /// The least input whose exact-input swap yields at least `amount_out` (getAmountIn,
    /// rounded up exactly rather than Uniswap's unconditional `+ 1`):
    /// `in = ceil(R_in*out*D / ((R_out-out)*(D-f)))`. `None` if `amount_out <= 0`, if it is not
    /// below the output reserve, or on overflow.
    pub fn amount_in_for_exact_out(&self, side: Side, amount_out: Amount) -> Option<Amount> {
        let (r_in, r_out, _, _) = self.sides(side);
        if !amount_out.is_positive() || amount_out >= r_out {
            return None;
        }
        let num = (u256(r_in) * u256(amount_out)).checked_mul(U256::from(FEE_DENOM))?;
        let den = u256(r_out - amount_out).checked_mul(U256::from(FEE_DENOM - self.fee_ppm))?;
        let q = num / den;
        let q = if num % den == U256::ZERO { q } else { q + 1 };
        i128::try_from(q).ok().map(Amount)
    }

    /// The profit-maximizing trade of an arbitrageur who can trade any size at
    /// `target_price` elsewhere: `Some((side, amount_in))`, or `None` if the target lies inside
    /// the fee band `[g*p, p/g]` (`p` the pool price, `g = 1 - fee`) or the trade rounds to 0.
    ///
    /// Derivation (reserves `x` base, `y` quote, `k = x*y`, target `P`, all in base units;
    /// both tokens share SCALE, so a price is a ratio of base units):
    ///
    /// - Sell `dx` base into the pool, buy it back at `P` elsewhere. The pool pays
    ///   `out(dx) = y*g*dx / (x + g*dx)`; profit `π(dx) = out(dx) - P*dx`, concave, with
    ///   `π'(dx) = g*x*y / (x + g*dx)^2 - P`. Profitable iff `π'(0) = g*p - P > 0`, i.e.
    ///   `P < g*p`; the optimum solves `(x + g*dx)^2 = g*k/P`:
    ///   `dx = (sqrt(g*k/P) - x) / g = x*(sqrt(r) - 1)/g` with `r = g*p/P`.
    /// - Buy with `dy` quote, sell the base at `P` elsewhere: the pool pays
    ///   `x*g*dy / (y + g*dy)` base; profit `P*x*g*dy/(y + g*dy) - dy`, optimum at
    ///   `(y + g*dy)^2 = P*g*k`: `dy = (sqrt(P*g*k) - y)/g = y*(sqrt(r) - 1)/g`, `r = P*g/p`,
    ///   profitable iff `P > p/g`.
    ///
    /// `sqrt(r) - 1` is computed as `(r - 1)/(sqrt(r) + 1)` to avoid cancellation for small
    /// gaps. At the optimum the marginal price of the trade's last unit equals `P`: after a
    /// sell, `g*y'/(x + g*dx) = P`; after a buy, `(y + g*dy)/(g*x') = P`. The pool's spot
    /// price `p'` afterwards is not exactly `P/g` (resp. `P*g`), because the fee stays in the
    /// pool: `g*p' = P*(x + g*dx)/(x + dx)` after a sell, and
    /// `p'/g = P*(y + dy)/(y + g*dy)` after a buy. Repeating the arbitrage therefore finds
    /// only a residual trade about `fee/2` times the first.
    /// The amount is rounded down to a base unit.
    pub fn arb_trade_to(&self, target_price: f64) -> Option<(Side, Amount)> {
        if !(target_price.is_finite() && target_price > 0.0) {
            return None;
        }
        let g = (FEE_DENOM - self.fee_ppm) as f64 / FEE_DENOM as f64;
        let p = self.price();
        let (side, reserve, r_minus_1) = if target_price < g * p {
            (
                Side::Sell,
                self.reserve_base,
                (g * p - target_price) / target_price,
            )
        } else if target_price * g > p {
            (Side::Buy, self.reserve_quote, (target_price * g - p) / p)
        } else {
            return None;
        };
        let r = 1.0 + r_minus_1;
        let amount = reserve.raw() as f64 * r_minus_1 / (r.sqrt() + 1.0) / g;
        if !amount.is_finite() || amount < 1.0 {
            return None;
        }
        // `as` saturates; an absurd target gives an input no trader holds, which then fails.
        Some((side, Amount(amount.floor() as i128)))
    }

    /// The fill and the reserves after a swap, or why it cannot happen (independent of the
    /// trader).
    fn plan(&self, side: Side, amount_in: Amount) -> Result<(Amount, Amount, Amount), VenueError> {
        check_amount(amount_in)?;
        let out = self
            .amount_out_exact_in(side, amount_in)
            .ok_or(VenueError::Overflow)?;
        if out.is_zero() {
            return Err(VenueError::TooSmall);
        }
        let (base, quote) = match side {
            Side::Sell => (
                self.reserve_base.checked_add(amount_in),
                self.reserve_quote.checked_sub(out),
            ),
            Side::Buy => (
                self.reserve_base.checked_sub(out),
                self.reserve_quote.checked_add(amount_in),
            ),
        };
        match (base, quote) {
            (Some(b), Some(q)) => Ok((out, b, q)),
            _ => Err(VenueError::Overflow),
        }
    }

    /// What [`Cpmm::execute`] would do, without changing anything ([`Fill::empty`] if the
    /// swap is impossible: zero or negative input, output rounding to zero).
    pub fn quote(&self, side: Side, amount_in: Amount) -> Fill {
        match self.plan(side, amount_in) {
            Ok((out, b, q)) => Fill::new(side, amount_in, out, price_of(b, q), true),
            Err(_) => Fill::empty(self.price()),
        }
    }

    /// Apply a swap to the reserves without moving tokens, returning the output. Only for
    /// copies of a pool used to look ahead (a searcher simulating a bundle): on the pool
    /// itself the reserves would stop matching its ledger balances.
    pub fn simulate(&mut self, side: Side, amount_in: Amount) -> Option<Amount> {
        let (out, b, q) = self.plan(side, amount_in).ok()?;
        self.reserve_base = b;
        self.reserve_quote = q;
        Some(out)
    }

    /// Swap `amount_in` for `trader` (see [`super::Venue::execute`]): the trader pays the
    /// input to the pool and receives the output from it. Reverts, changing nothing, on a
    /// bad amount, an output of zero or below `min_out`, or a trader short of funds.
    pub fn execute(
        &mut self,
        ledger: &mut Ledger,
        trader: HolderId,
        side: Side,
        amount_in: Amount,
        min_out: Amount,
    ) -> Result<Fill, VenueError> {
        if trader == self.holder {
            return Err(VenueError::VenueHolder);
        }
        let (out, new_base, new_quote) = self.plan(side, amount_in)?;
        if out < min_out {
            return Err(VenueError::Slippage { min_out, out });
        }
        let (_, _, token_in, token_out) = self.sides(side);
        require_funds(ledger, trader, token_in, amount_in)?;
        ledger.transfer(trader, self.holder, token_in, amount_in)?;
        if let Err(e) = ledger.transfer(self.holder, trader, token_out, out) {
            // Only possible if the pool's balance was taken without the pool knowing; undo
            // the first leg (it just arrived, so this cannot fail) and report.
            let _ = ledger.transfer(self.holder, trader, token_in, amount_in);
            return Err(e.into());
        }
        self.reserve_base = new_base;
        self.reserve_quote = new_quote;
        Ok(Fill::new(side, amount_in, out, self.price(), true))
    }
}

fn price_of(base: Amount, quote: Amount) -> f64 {
    quote.raw() as f64 / base.raw() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liquidity_providers_withdraw_and_return_at_the_pool_price() {
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool = l.add_holder("pool");
        let lp = l.add_holder("lp");
        let mut c = Cpmm::genesis(
            &mut l,
            pool,
            AssetId(0),
            Amount::from_whole(1_000.0),
            Amount::from_whole(2_000_000.0),
            0.003,
        )
        .unwrap();
        l.seal();
        let p0 = c.price();
        let (b, q) = c.remove_liquidity(&mut l, lp, 0.4).unwrap();
        assert_eq!(b, Amount::from_whole(400.0));
        assert_eq!(q, Amount::from_whole(800_000.0));
        assert_eq!(c.reserve_base(), l.balance(pool, AssetId(0).token()));
        assert_eq!(c.reserve_quote(), l.balance(pool, TokenId::QUOTE));
        assert!((c.price() / p0 - 1.0).abs() < 1e-12);
        // Back at the pool's price, limited by the scarcer side.
        let (b2, q2) = c
            .add_liquidity(
                &mut l,
                lp,
                Amount::from_whole(400.0),
                Amount::from_whole(500_000.0),
            )
            .unwrap();
        assert_eq!(b2, Amount::from_whole(250.0));
        assert_eq!(q2, Amount::from_whole(500_000.0));
        assert_eq!(c.reserve_base(), l.balance(pool, AssetId(0).token()));
        assert!((c.price() / p0 - 1.0).abs() < 1e-12);
        assert!(c.remove_liquidity(&mut l, lp, 1.0).is_err());
    }
    use proptest::prelude::*;

    const W: i128 = 1_000_000_000;

    /// A ledger with a pool (holder 0) of `base`/`quote` whole tokens and `traders` traders
    /// holding 1000 ETH and 2,000,000 USD each.
    fn setup(base: i128, quote: i128, fee: f64, traders: usize) -> (Ledger, Cpmm) {
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool = l.add_holder("pool");
        for i in 0..traders {
            let h = l.add_holder(format!("t{i}"));
            l.mint_genesis(h, TokenId::QUOTE, Amount(2_000_000 * W))
                .unwrap();
            l.mint_genesis(h, AssetId(0).token(), Amount(1000 * W))
                .unwrap();
        }
        let c = Cpmm::genesis(
            &mut l,
            pool,
            AssetId(0),
            Amount(base * W),
            Amount(quote * W),
            fee,
        )
        .unwrap();
        l.seal();
        (l, c)
    }

    fn balances(l: &Ledger) -> Vec<Amount> {
        let mut v = Vec::new();
        for h in 0..l.n_holders() {
            for t in 0..l.n_tokens() {
                v.push(l.balance(HolderId(h as u32), TokenId(t as u16)));
            }
        }
        v
    }

    #[test]
    fn hand_computed_swap() {
        // Reserves 1000 ETH / 2,000,000 USD, fee 0.3%, sell 10 ETH:
        // out = 10*0.997*2e6 / (1000 + 10*0.997) = 19940/1.00997 = 19743.16068794122... USD,
        // rounded down to 9 decimals.
        let (mut l, mut c) = setup(1000, 2_000_000, 0.003, 1);
        let t = HolderId(1);
        let f = c
            .execute(&mut l, t, Side::Sell, Amount(10 * W), Amount::ZERO)
            .unwrap();
        assert_eq!(f.amount_out, Amount(19_743_160_687_941));
        assert_eq!(c.reserve_base(), Amount(1010 * W));
        assert_eq!(
            c.reserve_quote(),
            Amount(2_000_000 * W - 19_743_160_687_941)
        );
        assert_eq!(
            l.balance(t, TokenId::QUOTE),
            Amount(2_000_000 * W + 19_743_160_687_941)
        );
        assert_eq!(l.balance(t, AssetId(0).token()), Amount(990 * W));
        assert!((f.avg_price - 1974.316068794).abs() < 1e-6);
        assert!((f.price_after - (2e6 - 19743.160687941) / 1010.0).abs() < 1e-9);
        l.check_conservation().unwrap();
    }

    #[test]
    fn exact_out_is_the_least_sufficient_input() {
        // Hand check: 19,000 USD out of 1000/2e6 at 0.3% needs
        // ceil(1000e9 * 19000e9 * 1e6 / ((2e6e9 - 19000e9) * 997000)) = 9619975525 base units.
        let (_, c) = setup(1000, 2_000_000, 0.003, 0);
        let out = Amount(19_000 * W);
        let a = c.amount_in_for_exact_out(Side::Sell, out).unwrap();
        assert_eq!(a, Amount(9_619_975_525));
        assert!(c.amount_out_exact_in(Side::Sell, a).unwrap() >= out);
        assert!(c.amount_out_exact_in(Side::Sell, a - Amount(1)).unwrap() < out);
        assert_eq!(c.amount_in_for_exact_out(Side::Buy, Amount(1000 * W)), None);
        assert_eq!(c.amount_in_for_exact_out(Side::Buy, Amount::ZERO), None);
    }

    #[test]
    fn reverts_change_nothing() {
        let (mut l, mut c) = setup(1000, 2_000_000, 0.003, 2);
        let (l0, c0) = (balances(&l), c.clone());
        let t = HolderId(1);
        let q = c.quote(Side::Buy, Amount(1000 * W));
        let cases = [
            (
                Side::Sell,
                Amount::ZERO,
                Amount::ZERO,
                VenueError::ZeroAmount,
            ),
            (
                Side::Sell,
                Amount(-5),
                Amount::ZERO,
                VenueError::NegativeAmount(Amount(-5)),
            ),
            (Side::Buy, Amount(1), Amount::ZERO, VenueError::TooSmall),
            (
                Side::Buy,
                Amount(1000 * W),
                q.amount_out + Amount(1),
                VenueError::Slippage {
                    min_out: q.amount_out + Amount(1),
                    out: q.amount_out,
                },
            ),
        ];
        for (side, a, m, e) in cases {
            assert_eq!(c.execute(&mut l, t, side, a, m), Err(e));
        }
        assert!(matches!(
            c.execute(&mut l, t, Side::Sell, Amount(1001 * W), Amount::ZERO),
            Err(VenueError::Ledger(LedgerError::Insufficient { .. }))
        ));
        assert_eq!(
            c.execute(&mut l, HolderId(0), Side::Sell, Amount(W), Amount::ZERO),
            Err(VenueError::VenueHolder)
        );
        assert!(matches!(
            c.execute(&mut l, HolderId(99), Side::Sell, Amount(W), Amount::ZERO),
            Err(VenueError::Ledger(LedgerError::UnknownHolder(_)))
        ));
        assert_eq!(balances(&l), l0);
        assert_eq!(c, c0);
    }

    #[test]
    fn genesis_refuses_bad_inputs() {
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool = l.add_holder("pool");
        let r = Amount(W);
        assert_eq!(
            Cpmm::genesis(&mut l, pool, AssetId(0), Amount::ZERO, r, 0.003),
            Err(VenueError::NoLiquidity)
        );
        assert!(matches!(
            Cpmm::genesis(&mut l, pool, AssetId(0), r, r, 1.0),
            Err(VenueError::BadParameter(_))
        ));
        assert!(matches!(
            Cpmm::genesis(&mut l, pool, AssetId(5), r, r, 0.0),
            Err(VenueError::Ledger(LedgerError::UnknownToken(_)))
        ));
        let c = Cpmm::genesis(&mut l, pool, AssetId(0), r, r, 0.0).unwrap();
        assert_eq!(c.k(), U256::from((W * W) as u128));
        assert_eq!(c.value_at(3.0), 4.0);
        // The holder is no longer empty.
        assert!(matches!(
            Cpmm::genesis(&mut l, pool, AssetId(0), r, r, 0.0),
            Err(VenueError::BadParameter(_))
        ));
        l.seal();
        let other = l.add_holder("late");
        assert_eq!(
            Cpmm::genesis(&mut l, other, AssetId(0), r, r, 0.0),
            Err(VenueError::Ledger(LedgerError::Sealed))
        );
    }

    #[test]
    fn extreme_inputs_never_panic() {
        let (mut l, mut c) = setup(1000, 2_000_000, 0.003, 1);
        let t = HolderId(1);
        for side in [Side::Buy, Side::Sell] {
            for a in [Amount::MAX, Amount(i128::MIN)] {
                let f = c.quote(side, a);
                assert!(f.amount_out < c.reserve_quote());
                assert!(c.execute(&mut l, t, side, a, Amount::ZERO).is_err());
            }
            assert!(c.amount_in_for_exact_out(side, Amount::MAX).is_none());
        }
        for p in [1e-300, 1e300, f64::INFINITY, 0.0] {
            if let Some((side, a)) = c.arb_trade_to(p) {
                assert!(c.execute(&mut l, t, side, a, Amount::ZERO).is_err());
            }
        }
        // A pool with reserves near the i128 limit still answers without panicking.
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool = l.add_holder("pool");
        let big = Amount(i128::MAX / 2);
        let c = Cpmm::genesis(&mut l, pool, AssetId(0), big, big, 0.0).unwrap();
        assert_eq!(c.amount_out_exact_in(Side::Sell, big), None);
        assert_eq!(c.amount_in_for_exact_out(Side::Sell, big - Amount(1)), None);
        assert!(c.quote(Side::Sell, big).is_empty());
        l.check_conservation().unwrap();
    }

    /// Arbitrage profit (quote base units, f64) of a trade at external price `p_ext`.
    fn profit(c: &Cpmm, side: Side, amount: i128, p_ext: f64) -> f64 {
        let out = c.amount_out_exact_in(side, Amount(amount)).unwrap().raw() as f64;
        match side {
            Side::Sell => out - p_ext * amount as f64,
            Side::Buy => p_ext * out - amount as f64,
        }
    }

    /// Check the arbitrage trade towards `target` on a fresh copy of `c`: optimal against
    /// +-1% (up to the rounding of one output unit on each side) and closing the marginal gap.
    fn check_arb(c: &Cpmm, target: f64) -> Result<(), TestCaseError> {
        // One output unit is worth 1 quote unit (sell) or `target` quote units (buy).
        let tol = 2.0 * target.max(1.0);
        let g = 1.0 - c.fee();
        let p = c.price();
        let Some((side, a)) = c.arb_trade_to(target) else {
            // Inside the band no first unit is profitable on either side (outside it, only a
            // gap too small for one base unit of trade gives no trade).
            let inside = g * p <= target && target * g <= p;
            let edge = ((g * p) / target - 1.0)
                .abs()
                .min((target * g / p - 1.0).abs());
            prop_assert!(inside || edge < 1e-6, "no trade at {target}, price {p}");
            return Ok(());
        };
        prop_assert_eq!(side, if target < p { Side::Sell } else { Side::Buy });
        let a = a.raw();
        let best = profit(c, side, a, target);
        prop_assert!(best > -tol, "unprofitable arb {best}");
        for other in [a * 99 / 100, a * 101 / 100] {
            if other > 0 {
                let o = profit(c, side, other, target);
                prop_assert!(
                    best >= o - tol,
                    "amount {a} gives {best}, {other} gives {o}"
                );
            }
        }
        // Execute it on a fresh ledger and check the marginal price of its last unit.
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool = l.add_holder("pool");
        let t = l.add_holder("arb");
        l.mint_genesis(t, TokenId::QUOTE, Amount(a)).unwrap();
        l.mint_genesis(t, AssetId(0).token(), Amount(a)).unwrap();
        let mut d = Cpmm::genesis(
            &mut l,
            pool,
            AssetId(0),
            c.reserve_base(),
            c.reserve_quote(),
            c.fee(),
        )
        .unwrap();
        l.seal();
        let f = d.execute(&mut l, t, side, Amount(a), Amount::ZERO).unwrap();
        let (x, y) = (
            c.reserve_base().raw() as f64,
            c.reserve_quote().raw() as f64,
        );
        let (x1, y1) = (
            d.reserve_base().raw() as f64,
            d.reserve_quote().raw() as f64,
        );
        let da = a as f64;
        let marginal = match side {
            Side::Sell => g * y1 / (x + g * da),
            Side::Buy => (y + g * da) / (g * x1),
        };
        prop_assert!(
            (marginal / target - 1.0).abs() < 1e-6,
            "marginal {marginal} vs target {target}"
        );
        // The spot price after, adjusted for the fee kept in the pool, is the target too.
        let spot = match side {
            Side::Sell => g * d.price() * (x + da) / (x + g * da),
            Side::Buy => d.price() / g * (y + g * da) / (y + da),
        };
        prop_assert!(
            (spot / target - 1.0).abs() < 1e-6,
            "spot {spot} vs {target}"
        );
        prop_assert_eq!(f.price_after, d.price());
        Ok(())
    }

    #[test]
    fn arb_trade_hand_cases() {
        let (_, c) = setup(1000, 2_000_000, 0.003, 0);
        // Band: [0.997 * 2000, 2000 / 0.997] = [1994, 2006.018...].
        assert_eq!(c.arb_trade_to(1995.0), None);
        assert_eq!(c.arb_trade_to(2006.0), None);
        assert_eq!(c.arb_trade_to(f64::NAN), None);
        assert_eq!(c.arb_trade_to(-1.0), None);
        // Target 1900: dx = (sqrt(0.997 * 2e9 / 1900) - 1000) / 0.997 whole ETH = 24.6118...
        let (side, a) = c.arb_trade_to(1900.0).unwrap();
        assert_eq!(side, Side::Sell);
        let hand = ((0.997f64 * 1000.0 * 2e6 / 1900.0).sqrt() - 1000.0) / 0.997;
        assert!((a.to_whole() - hand).abs() < 1e-6, "{a} vs {hand}");
        check_arb(&c, 1900.0).unwrap();
        check_arb(&c, 2100.0).unwrap();
        check_arb(&c, 200.0).unwrap();
        check_arb(&c, 20_000.0).unwrap();
        // After the arbitrage, the retained fee leaves only a tiny residual trade.
        let (s1, a1) = c.arb_trade_to(2100.0).unwrap();
        let mut l = Ledger::new(["USD", "ETH"]);
        let pool = l.add_holder("pool");
        let t = l.add_holder("arb");
        l.mint_genesis(t, TokenId::QUOTE, a1).unwrap();
        let mut d = Cpmm::genesis(
            &mut l,
            pool,
            AssetId(0),
            c.reserve_base(),
            c.reserve_quote(),
            0.003,
        )
        .unwrap();
        d.execute(&mut l, t, s1, a1, Amount::ZERO).unwrap();
        match d.arb_trade_to(2100.0) {
            None => {}
            Some((s2, a2)) => {
                assert_eq!(s2, Side::Buy);
                assert!(a2.raw() * 100 < a1.raw(), "{a2} after {a1}");
            }
        }
    }

    #[derive(Debug, Clone)]
    struct Op {
        trader: u32,
        side: Side,
        amount: i128,
        min_out_mode: u8,
    }

    fn op() -> impl Strategy<Value = Op> {
        (0u32..3, any::<bool>(), 0i128..1000, 0u32..16, 0u8..3).prop_map(
            |(trader, buy, m, e, min_out_mode)| Op {
                trader: trader + 1,
                side: if buy { Side::Buy } else { Side::Sell },
                amount: m * 10i128.pow(e),
                min_out_mode,
            },
        )
    }

    proptest! {
        /// Random swaps, failing ones included: k never decreases, reserves are the pool's
        /// ledger balances, every token is conserved, a failure changes nothing, a success
        /// equals its quote and matches the real-valued formula to a unit.
        #[test]
        fn random_swaps_keep_the_invariants(
            base in 1i128..100_000,
            price_milli in 1i128..10_000_000,
            fee_ppm in 0u32..20_000,
            ops in prop::collection::vec(op(), 1..120),
        ) {
            let quote = (base * price_milli / 1000).max(1);
            let (mut l, mut c) = setup(base, quote, fee_ppm as f64 / 1e6, 3);
            for o in ops {
                let q = c.quote(o.side, Amount(o.amount));
                let min_out = match o.min_out_mode {
                    0 => Amount::ZERO,
                    1 => q.amount_out,
                    _ => q.amount_out + Amount(1),
                };
                let (l0, c0, k0) = (balances(&l), c.clone(), c.k());
                let r = c.execute(&mut l, HolderId(o.trader), o.side, Amount(o.amount), min_out);
                match r {
                    Ok(f) => {
                        prop_assert_eq!(f, q);
                        prop_assert!(o.min_out_mode != 2);
                        prop_assert!(c.k() >= k0);
                        let (x, y) = match o.side {
                            Side::Sell => (c0.reserve_base(), c0.reserve_quote()),
                            Side::Buy => (c0.reserve_quote(), c0.reserve_base()),
                        };
                        let g = 1.0 - fee_ppm as f64 / 1e6;
                        let a = o.amount as f64;
                        let real = y.raw() as f64 * g * a / (x.raw() as f64 + g * a);
                        let out = f.amount_out.raw() as f64;
                        prop_assert!(out <= real * (1.0 + 1e-12) && out >= real * (1.0 - 1e-12) - 1.0,
                            "out {} vs real {}", out, real);
                    }
                    Err(_) => {
                        prop_assert_eq!(balances(&l), l0);
                        prop_assert_eq!(&c, &c0);
                    }
                }
                prop_assert_eq!(l.balance(c.holder(), TokenId::QUOTE), c.reserve_quote());
                prop_assert_eq!(l.balance(c.holder(), AssetId(0).token()), c.reserve_base());
                prop_assert!(l.check_conservation().is_ok());
            }
        }

        /// The arbitrage trade is optimal and closes the marginal gap on random pools.
        #[test]
        fn arb_trade_is_optimal(
            base_units in 1_000_000_000i128..1_000_000_000_000_000,
            price in 0.01f64..100_000.0,
            fee_ppm in 0u32..30_000,
            ratio in 0.2f64..5.0,
        ) {
            let mut l = Ledger::new(["USD", "ETH"]);
            let pool = l.add_holder("pool");
            let quote = Amount::from_whole_floor(base_units as f64 / 1e9 * price);
            prop_assume!(quote.raw() >= 1_000_000_000);
            let c = Cpmm::genesis(&mut l, pool, AssetId(0), Amount(base_units), quote, fee_ppm as f64 / 1e6)
                .unwrap();
            let target = c.price() * ratio;
            check_arb(&c, target)?;
        }
    }
}
