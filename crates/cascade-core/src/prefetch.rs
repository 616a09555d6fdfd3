//! A hint to the processor to bring memory into its caches before it is read.
//!
//! A block visits the agents that act in a seeded random order, each one's state in its own
//! allocation: at 10^5-10^6 agents every visit starts with cache misses on the agent, its
//! position and its account (issue 20). The World knows the order before the first visit, so
//! it asks for the next few agents' memory while it runs the current one. A prefetch changes
//! no value the program computes, only when memory arrives: results are the same with or
//! without it, on any processor (elsewhere than x86-64 it does nothing).

/// The most cache lines [`prefetch`] asks for (the head of a large value is what its reader
/// touches first).
const MAX_LINES: usize = 4;

/// Ask for the cache lines of `value` (at most the first four), to be read soon.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = value as *const T as *const i8;
        let lines = std::mem::size_of_val(value)
            .div_ceil(64)
            .clamp(1, MAX_LINES);
        for l in 0..lines {
            // SAFETY: a prefetch is a hint that never faults and changes no state the program
            // can observe, whatever the address; `wrapping_add` keeps the pointer arithmetic
            // defined past the value's end. SSE is part of the x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(64 * l)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_changes_nothing() {
        let v: Vec<u64> = (0..1000).collect();
        let b: Box<[u64]> = v.clone().into_boxed_slice();
        prefetch(&v[..]);
        prefetch(&*b);
        prefetch(&v[999]);
        prefetch(&());
        assert_eq!(&*b, &v[..]);
    }
}
