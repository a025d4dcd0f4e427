//! Exact top-10 cosine scan over random vectors: milliseconds per query and GB/s of vectors read.
//!
//! Natively this is a plain `fn main` timed with `std::time::Instant` (`cargo bench --bench
//! exact_scan`). Built for wasm32 it has an empty `main` and exports `run_bench`, which takes
//! its time from the host (`env.now`, i.e. `performance.now()`, because `Instant::now` panics on
//! wasm32) and hands each result to `env.report`; `benches/run_wasm.mjs` provides both and
//! prints the rows. `scripts/bench-exact.sh` runs both and prints one markdown table.
//!
//! The same numbers are printed either way: median and minimum over [`RUNS`] queries after
//! [`WARMUP`] untimed ones, and the GB/s the median means (vectors bytes / median time).

use std::hint::black_box;

use larch::Metric;
use larch::index::dense::Dense;
use larch::index::flat;

/// (vectors, dimension, target ms per query).
const CASES: [(usize, usize, f64); 2] = [(100_000, 384, 26.0), (10_000, 768, 1.5)];
const K: usize = 10;
const WARMUP: usize = 5;
const RUNS: usize = 31;
/// Distinct queries, taken in turn.
const QUERIES: usize = 8;

/// xorshift64*: fixed seed, no dependencies, same numbers on every target.
struct XorShift(u64);

impl XorShift {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[-1, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// One case's result.
struct Timing {
    median_ms: f64,
    min_ms: f64,
    /// Folded from the slots found, so nothing is optimised away and targets can be compared
    /// (scores differ in the last bits between kernels; the slots found should not).
    checksum: u32,
}

/// Builds the data set for `(n, dim)` and times [`RUNS`] scans with `now` (milliseconds).
fn bench_case(n: usize, dim: usize, now: &dyn Fn() -> f64) -> Timing {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ (n * dim) as u64);
    let vectors: Vec<f32> = (0..n * dim).map(|_| rng.unit()).collect();
    let norms: Vec<f32> = vectors
        .chunks_exact(dim)
        .map(larch::distance::norm)
        .collect();
    let queries: Vec<Vec<f32>> = (0..QUERIES)
        .map(|_| (0..dim).map(|_| rng.unit()).collect())
        .collect();

    let mut checksum = 0u32;
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..WARMUP + RUNS {
        let query = &queries[run % QUERIES];
        let t0 = now();
        let top = flat::scan(
            Metric::Cosine,
            black_box(query),
            Dense::flat(&vectors, black_box(query).len()),
            &norms,
            K,
            |_| true,
        );
        let t1 = now();
        let top = black_box(top);
        assert_eq!(top.len(), K);
        for &(_, slot) in &top {
            checksum = checksum.rotate_left(5) ^ slot;
        }
        if run >= WARMUP {
            times.push(t1 - t0);
        }
    }
    times.sort_by(f64::total_cmp);
    Timing {
        median_ms: times[RUNS / 2],
        min_ms: times[0],
        checksum,
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    #[allow(clippy::disallowed_methods)] // the native harness's clock, not the engine's
    let start = std::time::Instant::now();
    let now = move || start.elapsed().as_secs_f64() * 1e3;
    let label = native_label();
    for (n, dim, target) in CASES {
        let t = bench_case(n, dim, &now);
        let gbps = (n * dim * 4) as f64 / (t.median_ms * 1e6);
        println!(
            "| {label} | {n} × {dim} | {:.3} | {:.3} | {gbps:.1} | ≤ {target} | {RUNS} | {:08x} |",
            t.median_ms, t.min_ms, t.checksum
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn native_label() -> String {
    #[cfg(target_arch = "x86_64")]
    let kernel = if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        "avx2+fma"
    } else {
        "portable"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let kernel = "portable";
    format!("native {} ({kernel})", std::env::consts::ARCH)
}

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        /// The host's `performance.now()`, in milliseconds.
        pub safe fn now() -> f64;
        /// Receives one case's result.
        pub safe fn report(
            n: u32,
            dim: u32,
            target_ms: f64,
            runs: u32,
            median_ms: f64,
            min_ms: f64,
            checksum: u32,
        );
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}

/// Runs every case and reports each to the host; called by `benches/run_wasm.mjs`.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn run_bench() {
    for (n, dim, target) in CASES {
        let t = bench_case(n, dim, &|| host::now());
        host::report(
            n as u32,
            dim as u32,
            target,
            RUNS as u32,
            t.median_ms,
            t.min_ms,
            t.checksum,
        );
    }
}
