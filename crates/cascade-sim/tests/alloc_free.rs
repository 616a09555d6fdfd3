//! The block loop allocates nothing in steady state but for agent actions (issue 20, "a lean
//! block"): a counting global allocator counts the heap allocations of the blocks of an
//! idle-ish run (the reference market with no new positions: 2,000 traders asleep, the
//! oracle, arbitrageurs, market makers, liquidators and MEV bots at work) after a warm-up in
//! which every buffer reaches its working size. Set `ALLOC_TRACE=1` (and `--test-threads 1`)
//! to print a backtrace of each allocation (the count is then meaningless: the backtraces
//! allocate too).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

struct Counting;
static TRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Each test counts its own thread's allocations (`None`: not counting); a backtrace
    /// does not trace itself.
    static ALLOCS: Cell<Option<u64>> = const { Cell::new(None) };
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if let Some(n) = ALLOCS.with(|c| c.get()) {
        ALLOCS.with(|c| c.set(Some(n + 1)));
        if TRACE.load(Relaxed) && !IN_TRACE.with(|t| t.replace(true)) {
            eprintln!(
                "--- allocation\n{}",
                std::backtrace::Backtrace::force_capture()
            );
            IN_TRACE.with(|t| t.set(false));
        }
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations over `blocks` blocks after `warm` blocks of the run (test thread only).
fn count(w: &mut cascade_sim::World, warm: u64, blocks: u64) -> u64 {
    for _ in 0..warm {
        w.step().expect("step");
    }
    TRACE.store(std::env::var_os("ALLOC_TRACE").is_some(), Relaxed);
    ALLOCS.with(|c| c.set(Some(0)));
    for _ in 0..blocks {
        w.step().expect("step");
    }
    ALLOCS.with(|c| c.take()).unwrap_or(0)
}

/// The reference run with its 2,000 traders never opening (they sleep) and no noise flow.
fn idle(sets: &[&str]) -> cascade_sim::World {
    let mut all = vec!["agents.3.open_per_hour=0.0", "agents.2.trade_per_hour=0.0"];
    all.extend_from_slice(sets);
    let s = common::scenario("configs/bench/reference.toml", &all);
    cascade_sim::World::new(&s, 7, 0).expect("world")
}

/// Without market makers the blocks carry the oracle, the arbitrage and the searchers' scans:
/// after the warm-up the pipeline (prices, gas, oracles, engine, mempool, block building,
/// execution, metrics) allocates nothing; what remains are agent actions. Measured: 25 in 300
/// blocks, 13 the revert reasons of reverted transactions' receipts and 12 the MEV bots'
/// evaluation of a backrun (a price vector and a bundle) of each of the 3 oracle updates.
#[test]
fn idle_blocks_allocate_only_for_agent_actions() {
    let mut w = idle(&["agents.1.count=0"]);
    let n = count(&mut w, 300, 300);
    println!("allocations without makers: {n} in 300 blocks");
    assert!(n <= 30, "{n} allocations in 300 idle blocks (bound 30)");
}

/// With the two order-book market makers, each re-quotes its ladder when the price moves: a
/// transaction whose action carries the ladder (two vectors, bids and asks) and, in the book,
/// a queue for each price level it opens. Those are agent actions; the bound is theirs.
#[test]
fn market_makers_allocate_only_their_ladders() {
    let mut w = idle(&[]);
    let n = count(&mut w, 300, 300);
    println!("allocations with makers: {n} in 300 blocks");
    assert!(
        n <= BOUND * 300,
        "{n} allocations in 300 blocks (bound {BOUND} a block)"
    );
}

/// Allocations a block allowed with the makers: 2 makers x (2 ladder vectors + up to 8 new
/// price levels of 16) re-quoting, measured 12.6 a block on average here.
const BOUND: u64 = 20;
