//! Exact integer helpers: `a * b / c` with a 256-bit intermediate, so constant-product and
//! fee arithmetic on 128-bit amounts never overflows silently and always rounds as asked.

use ethnum::{I256, U256};

/// `floor(a * b / c)` for unsigned operands; `None` on `c == 0` or if the result exceeds `u128`.
pub fn mul_div_floor_u128(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    let r = U256::from(a) * U256::from(b) / U256::from(c);
    u128::try_from(r).ok()
}

/// `ceil(a * b / c)` for unsigned operands; `None` on `c == 0` or overflow.
pub fn mul_div_ceil_u128(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    let p = U256::from(a) * U256::from(b);
    let c = U256::from(c);
    let q = p / c;
    let r = if p % c == U256::ZERO { q } else { q + 1 };
    u128::try_from(r).ok()
}

/// `floor(a * b / c)` for signed operands (rounding towards minus infinity).
pub fn mul_div_floor_i128(a: i128, b: i128, c: i128) -> Option<i128> {
    if c == 0 {
        return None;
    }
    let p = I256::from(a) * I256::from(b);
    let c = I256::from(c);
    let mut q = p / c;
    if (p % c != I256::ZERO) && ((p < I256::ZERO) != (c < I256::ZERO)) {
        q -= 1;
    }
    i128::try_from(q).ok()
}

/// `ceil(a * b / c)` for signed operands (rounding towards plus infinity).
pub fn mul_div_ceil_i128(a: i128, b: i128, c: i128) -> Option<i128> {
    if c == 0 {
        return None;
    }
    let p = I256::from(a) * I256::from(b);
    let c = I256::from(c);
    let mut q = p / c;
    if (p % c != I256::ZERO) && ((p < I256::ZERO) == (c < I256::ZERO)) {
        q += 1;
    }
    i128::try_from(q).ok()
}

/// Integer square root (floor) of a 256-bit value, returned as `u128`.
pub fn isqrt_u256(n: U256) -> u128 {
    if n == U256::ZERO {
        return 0;
    }
    // Newton iteration from an upper bound.
    let bits = 256 - n.leading_zeros();
    let mut x = U256::ONE << bits.div_ceil(2);
    loop {
        let y = (x + n / x) >> 1;
        if y >= x {
            break;
        }
        x = y;
    }
    u128::try_from(x).unwrap_or(u128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signed_rounding() {
        assert_eq!(mul_div_floor_i128(-7, 1, 2), Some(-4));
        assert_eq!(mul_div_ceil_i128(-7, 1, 2), Some(-3));
        assert_eq!(mul_div_floor_i128(7, 1, 2), Some(3));
        assert_eq!(mul_div_ceil_i128(7, 1, 2), Some(4));
        assert_eq!(mul_div_floor_i128(7, 1, 0), None);
    }

    #[test]
    fn wide_intermediate() {
        let a = u128::MAX / 3;
        assert_eq!(mul_div_floor_u128(a, 6, 6), Some(a));
        assert_eq!(mul_div_floor_u128(u128::MAX, 2, 1), None);
    }

    #[test]
    fn isqrt_exact() {
        for n in [0u128, 1, 2, 3, 4, 15, 16, 17, 1 << 100, u128::MAX] {
            let r = isqrt_u256(U256::from(n));
            assert!(U256::from(r) * U256::from(r) <= U256::from(n));
            assert!(U256::from(r + 1) * U256::from(r + 1) > U256::from(n));
        }
    }

    proptest! {
        #[test]
        fn floor_ceil_bracket(a in -1i128<<90..1i128<<90, b in -1i128<<30..1i128<<30, c in 1i128..1i128<<40) {
            let f = mul_div_floor_i128(a, b, c).unwrap();
            let g = mul_div_ceil_i128(a, b, c).unwrap();
            prop_assert!(g - f <= 1);
            let p = I256::from(a) * I256::from(b);
            prop_assert!(I256::from(f) * I256::from(c) <= p);
            prop_assert!(I256::from(g) * I256::from(c) >= p);
        }
    }
}
