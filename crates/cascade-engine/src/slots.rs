//! Per-asset storage of an account's collateral and perps, without a heap allocation in the
//! common case of one asset.
//!
//! A market of a million accounts on one asset would otherwise give every account two small
//! vectors (24 bytes each inline, plus 16 and 32 bytes on the heap and the allocator's own
//! overhead per allocation). [`Slots`] keeps a single asset's entry inline and several in a
//! boxed slice of exactly their number; either way it reads and writes as a slice.

use std::ops::{Deref, DerefMut};

/// One entry per asset, read and written as a slice.
#[derive(Clone, PartialEq)]
pub enum Slots<T> {
    One(T),
    Many(Box<[T]>),
}

impl<T: Clone> Slots<T> {
    /// `n` copies of `v`.
    pub fn new(n: usize, v: T) -> Slots<T> {
        if n == 1 {
            Slots::One(v)
        } else {
            Slots::Many(vec![v; n].into_boxed_slice())
        }
    }
}

impl<T> Deref for Slots<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Slots::One(x) => std::slice::from_ref(x),
            Slots::Many(b) => b,
        }
    }
}

impl<T> DerefMut for Slots<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Slots::One(x) => std::slice::from_mut(x),
            Slots::Many(b) => b,
        }
    }
}

impl<'a, T> IntoIterator for &'a Slots<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Slots<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// As the slice's `Debug` (the same text as a `Vec`'s).
impl<T: std::fmt::Debug> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_as_a_slice_for_one_or_many() {
        for n in [0, 1, 2, 3] {
            let mut s = Slots::new(n, 0i128);
            let mut v = vec![0i128; n];
            assert_eq!(s.len(), n);
            for i in 0..n {
                s[i] += i as i128 + 1;
                v[i] += i as i128 + 1;
            }
            assert_eq!(&*s, &v[..]);
            assert_eq!(format!("{s:?}"), format!("{v:?}"));
            assert_eq!((&s).into_iter().sum::<i128>(), v.iter().sum::<i128>());
        }
        assert!(matches!(Slots::new(1, 0u8), Slots::One(_)));
    }
}
