//! A segment's metadata index (issue 11, item 1): building [`Postings`] from records' metadata,
//! as the first filtered query after a load does today, against decoding their stored bytes,
//! with the bytes stored and the heap each form holds.
//!
//! Native only, a plain `fn main` timed with `std::time::Instant`:
//! `cargo bench --bench postings -- [records=60000] [runs=7]`. Each record has five fields: a
//! genre (one of 20 strings), a year (1950–2024), 1–4 tags of 50, a boolean and a rating with one
//! decimal; one record in 20 has no metadata. Times are the median and minimum of `runs`.
//!
//! Heap bytes are measured two ways: [`Postings::heap_bytes`] (the estimate the namespace
//! counts) and the live bytes a counting `#[global_allocator]` sees the form hold.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use larch::segment::postings::Postings;
use larch::{Filter, Metadata};
use serde_json::json;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only the counter is updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is forwarded.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is forwarded.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is forwarded.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*: fixed seed, same records every run.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn records(n: usize) -> Vec<Option<Metadata>> {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| {
            if rng.below(20) == 0 {
                return None;
            }
            let tags: Vec<String> = (0..1 + rng.below(4))
                .map(|_| format!("tag{}", rng.below(50)))
                .collect();
            let md = json!({
                "genre": format!("genre{}", rng.below(20)),
                "year": 1950 + rng.below(75),
                "tags": tags,
                "available": rng.below(3) != 0,
                "rating": rng.below(100) as f64 / 10.0,
            });
            Some(Metadata::from_json(&md).expect("valid metadata"))
        })
        .collect()
}

/// Milliseconds of `f`, median and minimum of `runs`; returns the last result too.
#[allow(clippy::disallowed_methods)] // the native harness's clock, not the engine's
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut ms = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let t = std::time::Instant::now();
        let out = black_box(f());
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(out);
    }
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[0], last.expect("runs > 0"))
}

/// Live heap bytes `make`'s result holds (allocations freed before it returns not counted).
fn live_bytes<T>(make: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    let out = make();
    (LIVE.load(Ordering::Relaxed).saturating_sub(before), out)
}

fn arg(name: &str, default: usize) -> usize {
    std::env::args()
        .filter_map(|a| a.strip_prefix(&format!("{name}=")).map(str::to_string))
        .next_back()
        .map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let n = arg("records", 60_000);
    let runs = arg("runs", 7).max(1);
    let mds = records(n);
    let build = || Postings::build(mds.iter().map(Option::as_ref));

    let (build_med, build_min, built) = time(runs, build);
    let (enc_med, enc_min, bytes) = time(runs, || built.to_bytes());
    let (dec_med, dec_min, decoded) = time(runs, || Postings::from_bytes(&bytes, n));
    let decoded = decoded.expect("the bytes just written decode");

    let (built_live, built2) = live_bytes(build);
    let (decoded_live, decoded2) = live_bytes(|| Postings::from_bytes(&bytes, n).expect("decodes"));

    let filter = Filter::parse(&json!({
        "$and": [{"genre": {"$in": ["genre1", "genre2"]}}, {"year": {"$gte": 2000}}, {"tags": "tag7"}]
    }))
    .expect("valid filter");
    assert_eq!(built.select(&filter), decoded.select(&filter));
    let (sel_med, sel_min, selected) = time(runs, || decoded.select(&filter));

    println!("records {n}, runs {runs}");
    println!("| step | median ms | min ms |");
    println!("|---|---:|---:|");
    println!(
        "| `Postings::build` (today's first filtered query) | {build_med:.1} | {build_min:.1} |"
    );
    println!("| `to_bytes` | {enc_med:.1} | {enc_min:.1} |");
    println!("| `from_bytes` (validated) | {dec_med:.1} | {dec_min:.1} |");
    println!(
        "| `select` of a 3-clause `$and` ({} slots) | {sel_med:.2} | {sel_min:.2} |",
        selected.count()
    );
    println!();
    println!("| form | bytes | per record |");
    println!("|---|---:|---:|");
    let row = |what: &str, b: usize| println!("| {what} | {b} | {:.1} |", b as f64 / n as f64);
    row("stored (`to_bytes`)", bytes.len());
    row("built, `heap_bytes()`", built.heap_bytes());
    row("built, live heap", built_live);
    row("decoded, `heap_bytes()`", decoded.heap_bytes());
    row("decoded, live heap", decoded_live);
    black_box((built2, decoded2));
}
