//! Peak memory of one run: builds the reference market with N traders (all with an open
//! position), runs it for B blocks and prints the process's peak resident set (VmHWM) and,
//! from a counting allocator, the heap: live bytes after the build, the peak, live bytes at
//! the end. One process per size, so that each figure is that run's own peak:
//!   cargo run --profile ci -p cascade-benches --bin peak_memory -- 100000 20
//! The heap figures are exact and deterministic (the same bytes at every run), so their slope
//! in N is the bytes per trader whatever the machine's load.
//! `peak_memory sizes` prints the inline size of every per-agent and per-account type
//! (`std::mem::size_of`), the breakdown of benches/RESULTS.md. `peak_memory N B flat`: the same
//! market with traders that stay flat and asleep (an opening clock of 0.0001 an hour whose
//! openings all decline, `max_entry_cost = 0`): the heap per flat sleeping trader.

use cascade_sim::World;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// The system allocator, counting live and peak bytes.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new >= l.size() {
            let now = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn sizes() {
    use std::mem::size_of;
    let rows: [(&str, usize); 20] = [
        ("Trader", size_of::<cascade_agents::trader::Trader>()),
        (
            "Box<dyn Agent>",
            size_of::<Box<dyn cascade_agents::Agent>>(),
        ),
        ("World Actor", size_of::<cascade_sim::world::Actor>()),
        ("SimRng (ChaCha8Rng)", size_of::<cascade_core::SimRng>()),
        ("ParkedRng", size_of::<cascade_core::rng::ParkedRng>()),
        (
            "ParkedStream (no seed)",
            size_of::<cascade_core::rng::ParkedStream>(),
        ),
        ("Name (label, holder name)", size_of::<cascade_core::Name>()),
        ("String (label)", size_of::<String>()),
        ("HealthMemo", size_of::<cascade_engine::HealthMemo>()),
        (
            "schedule Clock",
            size_of::<cascade_agents::schedule::Clock>(),
        ),
        ("Sleepers entry (time, index)", size_of::<(f64, u32)>()),
        (
            "engine Account",
            size_of::<cascade_engine::account::Account>(),
        ),
        ("engine Perp", size_of::<cascade_engine::account::Perp>()),
        (
            "Slots<Perp> (perps)",
            size_of::<cascade_engine::slots::Slots<cascade_engine::account::Perp>>(),
        ),
        (
            "Slots<Amount> (collateral)",
            size_of::<cascade_engine::slots::Slots<cascade_core::Amount>>(),
        ),
        ("Amount (ledger balance)", size_of::<cascade_core::Amount>()),
        (
            "Option<AccountId> (by_owner)",
            size_of::<Option<cascade_core::AccountId>>(),
        ),
        ("Option<Box<[u8]>>", size_of::<Option<Box<[u8]>>>()),
        ("usize (agent index)", size_of::<usize>()),
        ("u64 (stamp)", size_of::<u64>()),
    ];
    for (name, n) in rows {
        println!("{name:32} {n:5} bytes");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("sizes") {
        sizes();
        return;
    }
    let n: u64 = first.and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let blocks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let flat = args.next().as_deref() == Some("flat");
    let base = cascade_benches::peak_rss_kb().unwrap_or(0);
    let s = if flat {
        use cascade_benches::TRADERS;
        cascade_benches::reference(&[
            format!("agents.{TRADERS}.count={n}"),
            format!("agents.{TRADERS}.open_per_hour=0.0001"),
            format!("agents.{TRADERS}.max_entry_cost=0.0"),
            format!("chain.duration_s={}", 12 * blocks),
        ])
    } else {
        cascade_benches::scaled(n, blocks)
    };
    let heap0 = LIVE.load(Relaxed);
    let t = Instant::now();
    let mut w = World::new(&s, 7, 0).unwrap_or_else(|e| panic!("{e}"));
    let built = t.elapsed();
    let heap_built = LIVE.load(Relaxed) - heap0;
    let t = Instant::now();
    let row = w.run().unwrap_or_else(|e| panic!("{e}"));
    let ran = t.elapsed();
    let heap_end = LIVE.load(Relaxed) - heap0;
    let heap_peak = PEAK.load(Relaxed) - heap0;
    let peak = cascade_benches::peak_rss_kb().unwrap_or(0);
    println!(
        "traders {n}: blocks {}, build {:.2} s, run {:.2} s ({:.1} blocks/s), peak RSS {} kB ({} kB before the world), liquidations {}",
        row.get("blocks").unwrap_or(0.0),
        built.as_secs_f64(),
        ran.as_secs_f64(),
        blocks as f64 / ran.as_secs_f64(),
        peak,
        base,
        row.get("liquidations").unwrap_or(0.0),
    );
    println!(
        "heap: {heap_built} B live after the build, {heap_end} B live at the end, {heap_peak} B peak ({:.1} / {:.1} / {:.1} B per trader)",
        heap_built as f64 / n as f64,
        heap_end as f64 / n as f64,
        heap_peak as f64 / n as f64,
    );
    drop(w);
}
