//! Exact integer helpers: `a * b / c` with a 256-bit intermediate, so constant-product and
//! fee arithmetic on 128-bit amounts never overflows silently and always rounds as asked.

use ethnum::{I256, U256};

/// `floor(a * b / c)` for unsigned operands; `None` on `c == 0` or if the result exceeds `u128`.
pub fn mul_div_floor_u128(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    if let Some(p) = a.checked_mul(b) {
        return Some(div_u128(p, c).0);
    }
    wide_floor_u(a, b, c)
}

/// `ceil(a * b / c)` for unsigned operands; `None` on `c == 0` or overflow.
pub fn mul_div_ceil_u128(a: u128, b: u128, c: u128) -> Option<u128> {
    if c == 0 {
        return None;
    }
    if let Some(p) = a.checked_mul(b) {
        let (q, r) = div_u128(p, c);
        return if r == 0 { Some(q) } else { q.checked_add(1) };
    }
    wide_ceil_u(a, b, c)
}

/// `floor(a * b / c)` for signed operands (rounding towards minus infinity).
pub fn mul_div_floor_i128(a: i128, b: i128, c: i128) -> Option<i128> {
    if c == 0 {
        return None;
    }
    if let Some((mut q, r)) = a.checked_mul(b).and_then(|p| div_i128(p, c)) {
        if r != 0 && ((r < 0) != (c < 0)) {
            q -= 1;
        }
        return Some(q);
    }
    wide_floor_i(a, b, c)
}

/// `ceil(a * b / c)` for signed operands (rounding towards plus infinity).
pub fn mul_div_ceil_i128(a: i128, b: i128, c: i128) -> Option<i128> {
    if c == 0 {
        return None;
    }
    if let Some((mut q, r)) = a.checked_mul(b).and_then(|p| div_i128(p, c)) {
        if r != 0 && ((r < 0) == (c < 0)) {
            q += 1;
        }
        return Some(q);
    }
    wide_ceil_i(a, b, c)
}

// Fast paths. When `a * b` fits in 128 bits (nearly always: amounts have nine decimals), the
// quotient and remainder come from native division, on 64-bit operands when both fit, instead
// of the 256-bit routine; results are the same integers (tested against the 256-bit paths below).
// The remainder has the sign of the dividend, as in the wide path, so the rounding fix-ups
// above test the sign of `r` where the wide path tests the sign of the product.

/// Truncating quotient and remainder of `p / c`, `c != 0`.
#[inline]
fn div_u128(p: u128, c: u128) -> (u128, u128) {
    match (u64::try_from(p), u64::try_from(c)) {
        (Ok(p), Ok(c)) => ((p / c) as u128, (p % c) as u128),
        _ => (p / c, p % c),
    }
}

/// Truncating quotient and remainder of `p / c`, `c != 0`; `None` only for `i128::MIN / -1`.
#[inline]
fn div_i128(p: i128, c: i128) -> Option<(i128, i128)> {
    match (i64::try_from(p), i64::try_from(c)) {
        (Ok(p), Ok(c)) if !(p == i64::MIN && c == -1) => Some(((p / c) as i128, (p % c) as i128)),
        _ => Some((p.checked_div(c)?, p.checked_rem(c)?)),
    }
}

// The 256-bit paths (any operands; `c != 0`).

fn wide_floor_u(a: u128, b: u128, c: u128) -> Option<u128> {
    u128::try_from(U256::from(a) * U256::from(b) / U256::from(c)).ok()
}

fn wide_ceil_u(a: u128, b: u128, c: u128) -> Option<u128> {
    let p = U256::from(a) * U256::from(b);
    let c = U256::from(c);
    let q = if p % c == U256::ZERO {
        p / c
    } else {
        p / c + 1
    };
    u128::try_from(q).ok()
}

fn wide_floor_i(a: i128, b: i128, c: i128) -> Option<i128> {
    let p = I256::from(a) * I256::from(b);
    let c = I256::from(c);
    let mut q = p / c;
    if (p % c != I256::ZERO) && ((p < I256::ZERO) != (c < I256::ZERO)) {
        q -= 1;
    }
    i128::try_from(q).ok()
}

fn wide_ceil_i(a: i128, b: i128, c: i128) -> Option<i128> {
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

    #[test]
    fn fast_paths_at_the_edges() {
        let e = [
            0i128,
            1,
            -1,
            2,
            -7,
            i64::MAX as i128,
            i64::MIN as i128,
            i64::MAX as i128 + 1,
            i128::MAX,
            i128::MIN,
            i128::MIN + 1,
        ];
        for &a in &e {
            for &b in &e {
                for &c in &e {
                    if c == 0 {
                        continue;
                    }
                    assert_eq!(
                        mul_div_floor_i128(a, b, c),
                        wide_floor_i(a, b, c),
                        "{a} {b} {c}"
                    );
                    assert_eq!(
                        mul_div_ceil_i128(a, b, c),
                        wide_ceil_i(a, b, c),
                        "{a} {b} {c}"
                    );
                    let (a, b, c) = (a.unsigned_abs(), b.unsigned_abs(), c.unsigned_abs());
                    assert_eq!(mul_div_floor_u128(a, b, c), wide_floor_u(a, b, c));
                    assert_eq!(mul_div_ceil_u128(a, b, c), wide_ceil_u(a, b, c));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn fast_paths_equal_the_wide_path(
            a in any::<i128>(), b in any::<i128>(), c in any::<i128>(),
            sa in 0u32..127, sb in 0u32..127, sc in 0u32..127,
        ) {
            // Shifts spread the operands over every magnitude, small ones included.
            let (a, b, c) = (a >> sa, b >> sb, c >> sc);
            prop_assume!(c != 0);
            prop_assert_eq!(mul_div_floor_i128(a, b, c), wide_floor_i(a, b, c));
            prop_assert_eq!(mul_div_ceil_i128(a, b, c), wide_ceil_i(a, b, c));
            let (a, b, c) = (a.unsigned_abs(), b.unsigned_abs(), c.unsigned_abs());
            prop_assert_eq!(mul_div_floor_u128(a, b, c), wide_floor_u(a, b, c));
            prop_assert_eq!(mul_div_ceil_u128(a, b, c), wide_ceil_u(a, b, c));
        }

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
