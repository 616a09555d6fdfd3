//! Exact token amounts.
//!
//! Every token amount in cascade is an integer number of base units, `SCALE` base units per
//! whole token (nine decimals for every token, quote and risky alike). Integers make the ledger
//! exact: a transfer moves an amount from one holder to another and nothing is lost to rounding.
//! Prices and risk math are `f64`; converting a value to an amount rounds explicitly, in the
//! direction the caller names (on chain, rounding favours the protocol).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// Base units per whole token (nine decimals).
pub const SCALE: i128 = 1_000_000_000;
/// `SCALE` as `f64`.
pub const SCALE_F: f64 = 1e9;

/// A signed integer amount of base units of one token.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Amount(pub i128);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    pub const ONE_UNIT: Amount = Amount(1);
    pub const MAX: Amount = Amount(i128::MAX);

    /// `x` whole tokens, rounded to the nearest base unit. Non-finite input gives zero.
    pub fn from_whole(x: f64) -> Amount {
        Amount(to_units(x, f64::round))
    }

    /// `x` whole tokens, rounded down (towards minus infinity).
    pub fn from_whole_floor(x: f64) -> Amount {
        Amount(to_units(x, f64::floor))
    }

    /// `x` whole tokens, rounded up (towards plus infinity).
    pub fn from_whole_ceil(x: f64) -> Amount {
        Amount(to_units(x, f64::ceil))
    }

    /// Whole tokens as `f64` (for prices, risk math and reports; not for the ledger).
    #[inline]
    pub fn to_whole(self) -> f64 {
        raw_f64(self.0) / SCALE_F
    }

    #[inline]
    pub fn raw(self) -> i128 {
        self.0
    }

    #[inline]
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    #[inline]
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    #[inline]
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    #[inline]
    pub fn abs(self) -> Amount {
        Amount(self.0.abs())
    }

    #[inline]
    pub fn min(self, other: Amount) -> Amount {
        Amount(self.0.min(other.0))
    }

    #[inline]
    pub fn max(self, other: Amount) -> Amount {
        Amount(self.0.max(other.0))
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// The quote value of this amount of a risky token at `price` (quote per whole base token),
    /// rounded down. Both tokens share `SCALE`, so the value in base units is `self * price`.
    pub fn value_floor(self, price: f64) -> Amount {
        Amount(to_units_raw(raw_f64(self.0) * price, f64::floor))
    }

    /// As [`Amount::value_floor`], rounded up.
    pub fn value_ceil(self, price: f64) -> Amount {
        Amount(to_units_raw(raw_f64(self.0) * price, f64::ceil))
    }

    /// Multiply by a fraction `num / den` with exact integer arithmetic, rounding down.
    /// Panics never: a zero denominator or an overflow gives `None`.
    pub fn mul_div_floor(self, num: i128, den: i128) -> Option<Amount> {
        crate::math::mul_div_floor_i128(self.0, num, den).map(Amount)
    }

    /// As [`Amount::mul_div_floor`], rounding up.
    pub fn mul_div_ceil(self, num: i128, den: i128) -> Option<Amount> {
        crate::math::mul_div_ceil_i128(self.0, num, den).map(Amount)
    }

    /// This amount scaled by an `f64` factor, rounded down (for fees and shares given as
    /// fractions). The result never exceeds `|self|` in magnitude when `0 <= f <= 1`.
    pub fn scale_floor(self, f: f64) -> Amount {
        let raw = to_units_raw(raw_f64(self.0) * f, f64::floor);
        if (0.0..=1.0).contains(&f) && self.0 >= 0 {
            Amount(raw.clamp(0, self.0))
        } else {
            Amount(raw)
        }
    }
}

fn to_units(x: f64, round: fn(f64) -> f64) -> i128 {
    to_units_raw(x * SCALE_F, round)
}

/// `x as f64`, through `i64` when `x` fits: the same correctly rounded value (both casts round
/// to nearest), but one instruction instead of the software `i128` conversion, which was a
/// quarter of a reference run's instructions (benches/RESULTS.md).
#[inline]
pub fn raw_f64(x: i128) -> f64 {
    let small = x as i64;
    if small as i128 == x {
        // `black_box` keeps LLVM from folding this arm back into the `i128` conversion (it
        // proves both arms equal, which they are, and keeps the slow one).
        std::hint::black_box(small) as f64
    } else {
        x as f64
    }
}

fn to_units_raw(units: f64, round: fn(f64) -> f64) -> i128 {
    if !units.is_finite() {
        return 0;
    }
    let r = round(units);
    // `as` saturates at the i128 bounds, which is the documented behaviour we want.
    r as i128
}

impl Add for Amount {
    type Output = Amount;
    #[inline]
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl Sub for Amount {
    type Output = Amount;
    #[inline]
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0 - rhs.0)
    }
}

impl Neg for Amount {
    type Output = Amount;
    #[inline]
    fn neg(self) -> Amount {
        Amount(-self.0)
    }
}

impl AddAssign for Amount {
    #[inline]
    fn add_assign(&mut self, rhs: Amount) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Amount {
    #[inline]
    fn sub_assign(&mut self, rhs: Amount) {
        self.0 -= rhs.0;
    }
}

impl Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let a = self.0.unsigned_abs();
        let whole = a / SCALE as u128;
        let frac = a % SCALE as u128;
        write!(f, "{}{}.{:09}", if neg { "-" } else { "" }, whole, frac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_conversion_equals_the_cast_at_the_edges() {
        let m = i64::MAX as i128;
        for x in [
            0,
            1,
            -1,
            m,
            m + 1,
            -m - 1,
            -m - 2,
            (1 << 53) + 1,
            -(1 << 53) - 1,
            i128::MAX,
            i128::MIN,
        ] {
            assert_eq!(raw_f64(x).to_bits(), (x as f64).to_bits(), "{x}");
        }
    }

    proptest! {
        #[test]
        fn fast_conversion_equals_the_cast(x in any::<i128>(), shift in 0u32..127) {
            let y = x >> shift;
            prop_assert_eq!(raw_f64(y).to_bits(), (y as f64).to_bits());
        }
    }

    #[test]
    fn whole_roundtrip_and_rounding() {
        assert_eq!(Amount::from_whole(1.5).raw(), 1_500_000_000);
        assert_eq!(Amount::from_whole_floor(1e-10).raw(), 0);
        assert_eq!(Amount::from_whole_ceil(1e-10).raw(), 1);
        assert_eq!(Amount::from_whole(f64::NAN), Amount::ZERO);
        assert_eq!(Amount::from_whole(2.25).to_whole(), 2.25);
    }

    #[test]
    fn value_rounds_in_the_named_direction() {
        let a = Amount(3);
        assert_eq!(a.value_floor(0.5), Amount(1));
        assert_eq!(a.value_ceil(0.5), Amount(2));
    }

    #[test]
    fn display_is_exact() {
        assert_eq!(Amount(-1_000_000_001).to_string(), "-1.000000001");
        assert_eq!(Amount(5).to_string(), "0.000000005");
    }

    #[test]
    fn scale_floor_never_exceeds_the_whole() {
        let a = Amount(999_999_999_999);
        assert!(a.scale_floor(1.0) <= a);
        assert_eq!(a.scale_floor(0.0), Amount::ZERO);
    }
}
