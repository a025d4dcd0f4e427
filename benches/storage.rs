//! Storage benchmarks (issue 3, items 4, 5 and 7, and bytes per record stored), over a
//! [`MemoryStore`] host:
//!
//! 1. **Lazy namespaces**: an index of up to 100,000 namespaces of 10 records (dimension
//!    [`LAZY_DIM`]): opening it (root + catalog), creating one namespace and deleting one, at
//!    1k / 10k / 100k namespaces, and the live heap with one namespace in use.
//! 2. **Offboarding**: dropping a namespace of 10k / 100k / 1M records (dimension
//!    [`OFFBOARD_DIM`], ten sealed segments): the drop commit and the reclaim step.
//! 3. **Cold open**: a namespace of 100,000 × 384 random vectors in ten sealed segments of
//!    10,000, from a fresh `Db::open` to the first query result, with and without ~100 bytes of
//!    metadata per record, plus a profile of the decode phases and the bytes stored per record.
//! 4. **Cold open in int8 mode**: the same namespace (no metadata) with HNSW graphs and int8
//!    codes, from a fresh `Db::open` to the first query result with `AnnConfig::int8` off and
//!    on, and how many segments search on int8 codes at that point.
//!
//! Natively this is a plain `fn main` timed with `std::time::Instant` (`cargo bench --bench
//! storage -- [parts=123] [namespaces=100000] [offboard=1000000] [runs=5]`). Built for wasm32 it
//! has an empty `main` and exports `run_bench(parts, namespaces, offboard, runs)`; it takes its
//! time from the host (`env.now`, `performance.now()`: `Instant::now` panics on wasm32) and
//! prints through `env.print`. `benches/run_storage_wasm.mjs` runs it under Node and
//! `scripts/bench-storage.sh` runs both and merges their rows into markdown tables.
//!
//! Output lines are `#T header` (a table's header), `@T row` (a row of table `T`) or `! note`;
//! the script prints each table once with the rows of both builds.
//!
//! Live heap bytes come from a counting `#[global_allocator]` wrapped around the system
//! allocator (dlmalloc on wasm32), so they mean the same thing on both targets.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use larch::db::Needs;
use larch::db::{Query, QuerySource};
use larch::format::{self, BlobKind};
use larch::index::hnsw::HnswConfig;
use larch::manifest::{ArchivedCatalogBase, CatalogBase, CatalogDelta};
use larch::namespace::{AnnConfig, QueryVector, StorageConfig};
use larch::segment::stored::{ArchivedStoredSegment, StoredSegment};
use larch::storage::{MemoryStore, WriteBatch};
use larch::{Db, IndexConfig, Metadata, Metric, Record, Result};

// ------------------------------------------------------------------------- allocator

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since the last [`reset_peak`].
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is forwarded.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is forwarded.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
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
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a new peak at the live bytes now; returns them.
fn reset_peak() -> usize {
    let now = live_bytes();
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

// ----------------------------------------------------------------------------- setup

/// Dimension of the lazy-namespaces index (small: the benchmark is about the catalog).
const LAZY_DIM: usize = 8;
/// Records per namespace in the lazy-namespaces index.
const LAZY_RECORDS: usize = 10;
/// Namespace counts at which the lazy-namespaces index is measured.
const LAZY_SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Consecutive creations (then deletions) measured at each size: two catalog base rewrites.
const LAZY_OPS: usize = 128;
/// Dimension of the offboarded namespace.
const OFFBOARD_DIM: usize = 8;
/// Sizes of the offboarded namespace.
const OFFBOARD_SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Cold-open case: records × dimension, in segments of `COLD_SEAL`.
const COLD_RECORDS: usize = 100_000;
const COLD_DIM: usize = 384;
const COLD_SEAL: usize = 10_000;
/// Records per upsert when building.
const BATCH: usize = 1000;

/// Everything a case needs from its target.
struct Env<'a> {
    now: &'a dyn Fn() -> f64,
    out: &'a mut dyn FnMut(String),
    label: String,
    runs: usize,
}

impl Env<'_> {
    fn header(&mut self, table: &str, cols: &[&str]) {
        let head = format!("| {} |", cols.join(" | "));
        let rule = format!("|{}", "---|".repeat(cols.len()));
        (self.out)(format!("#{table} {head}"));
        (self.out)(format!("#{table} {rule}"));
    }

    fn row(&mut self, table: &str, cells: &[String]) {
        let label = self.label.clone();
        (self.out)(format!("@{table} | {label} | {} |", cells.join(" | ")));
    }

    fn note(&mut self, s: String) {
        let label = self.label.clone();
        (self.out)(format!("! [{label}] {s}"));
    }
}

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

    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.unit()).collect()
    }
}

/// What answering [`Error::NotLoaded`] cost the host.
#[derive(Default, Clone, Copy)]
struct Fetch {
    /// Time in `store.get` + copy + `Db::provide`.
    ms: f64,
    bytes: usize,
    blobs: usize,
    rounds: usize,
}

/// Runs `op`, providing blobs from `store` until it can run (the host's loop).
fn run<T>(
    db: &mut Db,
    store: &MemoryStore,
    now: &dyn Fn() -> f64,
    mut op: impl FnMut(&mut Db) -> Result<T>,
) -> (T, Fetch) {
    let fetch = std::cell::RefCell::new(Fetch::default());
    let mut attempts = 0;
    let r = larch::host::with_blobs(
        db,
        |k| {
            let t = now();
            let bytes = store.get(k).map(<[u8]>::to_vec);
            let mut f = fetch.borrow_mut();
            f.bytes += bytes.as_ref().map_or(0, Vec::len);
            f.blobs += 1;
            f.ms += now() - t;
            bytes
        },
        |db| {
            attempts += 1;
            op(db)
        },
    );
    let mut fetch = fetch.into_inner();
    fetch.rounds = attempts - 1;
    match r {
        Ok(v) => (v, fetch),
        Err(e) => panic!("benchmark operation failed: {e}"),
    }
}

fn apply(store: &mut MemoryStore, batches: &[WriteBatch]) {
    for b in batches {
        store.apply(b);
    }
}

fn put_bytes(batches: &[WriteBatch]) -> usize {
    batches.iter().map(WriteBatch::put_bytes).sum()
}

fn put_blobs(batches: &[WriteBatch]) -> usize {
    batches.iter().map(|b| b.puts.len()).sum()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn median_usize(v: &mut [usize]) -> usize {
    v.sort_unstable();
    v[v.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max)
}

fn mean_usize(v: &[usize]) -> f64 {
    v.iter().sum::<usize>() as f64 / v.len() as f64
}

fn mib(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.1}")
    }
}

fn us(x: f64) -> String {
    format!("{:.1}", x * 1e3)
}

fn query(values: Vec<f32>) -> Query {
    Query {
        vector: QuerySource::Vector(QueryVector {
            values: Some(values),
            sparse_values: None,
        }),
        top_k: 10,
        filter: None,
        include_values: false,
        include_metadata: false,
    }
}

fn records(rng: &mut XorShift, from: usize, n: usize, dim: usize, meta: bool) -> Vec<Record> {
    (from..from + n)
        .map(|i| Record {
            id: format!("id-{i:08}"),
            values: rng.vector(dim),
            sparse_values: None,
            metadata: meta.then(|| metadata(i)),
        })
        .collect()
}

/// About 100 bytes of metadata (as JSON) per record.
fn metadata(i: usize) -> Metadata {
    let genre = ["news", "sport", "science", "culture"][i % 4];
    let json = serde_json::json!({
        "title": format!("Document {i:06} about topic {}", i % 97),
        "genre": genre,
        "year": 1990 + (i % 35) as i64,
        "tags": ["a", "b"],
    });
    Metadata::from_json(&json).expect("valid metadata")
}

/// A fresh persistent db over `store` with one dense index `ix` of dimension `dim`.
fn new_index(store: &mut MemoryStore, cfg: StorageConfig, dim: usize, now: &dyn Fn() -> f64) -> Db {
    let mut db = Db::open(cfg);
    run(&mut db, store, now, |db| {
        db.create_index(IndexConfig::dense("ix", dim as u32, Metric::Cosine))
            .map(|_| ())
    });
    apply(store, &db.take_writes());
    db
}

// ------------------------------------------------------------------ 1. lazy namespaces

fn lazy_name(i: usize) -> String {
    format!("ns-{i:07}")
}

fn bench_lazy(env: &mut Env<'_>, max_namespaces: usize) {
    let now = env.now;
    let cfg = StorageConfig::default();
    let sizes: Vec<usize> = LAZY_SIZES
        .into_iter()
        .filter(|&n| n <= max_namespaces)
        .collect();
    env.header(
        "1a",
        &[
            "build",
            "namespaces",
            "store MiB",
            "blobs",
            "build s (cumulative)",
            "open ms (median)",
            "open ms (min)",
            "catalog bytes read",
            "target",
        ],
    );
    env.header(
        "1p",
        &["build", "namespaces", "catalog load phase", "ms", "share"],
    );
    env.header(
        "1b",
        &[
            "build",
            "namespaces",
            "create µs (median)",
            "create µs (max)",
            "bytes written (median)",
            "bytes written (mean)",
            "bytes written (max)",
            "blobs put (median)",
        ],
    );
    env.header(
        "1c",
        &[
            "build",
            "namespaces",
            "drop commit µs (median)",
            "drop commit µs (max)",
            "bytes written (median)",
            "bytes written (mean)",
            "bytes written (max)",
            "reclaim µs (median)",
            "manifest fetch µs (median)",
        ],
    );
    env.header(
        "1d",
        &[
            "build",
            "namespaces",
            "store bytes",
            "heap: root + catalog",
            "per idle namespace",
            "heap: + one namespace loaded and queried",
            "heap / store",
        ],
    );
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let mut store = MemoryStore::new();
    let mut builder = new_index(&mut store, cfg, LAZY_DIM, now);
    let mut built = 0;
    let mut build_ms = 0.0;
    for n in sizes {
        let t = now();
        while built < n {
            let name = lazy_name(built);
            let recs = records(&mut rng, 0, LAZY_RECORDS, LAZY_DIM, false);
            run(&mut builder, &store, now, |db| {
                db.index_mut("ix")?.upsert(&name, recs.clone())
            });
            apply(&mut store, &builder.take_writes());
            builder
                .index_mut("ix")
                .and_then(|ix| ix.evict(&name))
                .expect("evict");
            built += 1;
        }
        build_ms += now() - t;
        drop(builder);

        // (a) open: root and catalog.
        let mut open = Vec::new();
        let mut read = 0;
        for _ in 0..env.runs {
            let t = now();
            let mut fresh = Db::open(cfg);
            let (count, f) = run(&mut fresh, &store, now, |db| {
                let ix = db.index_mut("ix")?;
                ix.count_namespaces("")
            });
            open.push(now() - t);
            if count != n && open.len() == 1 {
                let (names, _) = run(&mut fresh, &store, now, |db| {
                    db.index_mut("ix")?.namespace_names("", usize::MAX)
                });
                let missing: Vec<String> = (0..n)
                    .map(lazy_name)
                    .filter(|x| names.binary_search(x).is_err())
                    .collect();
                env.note(format!(
                    "BUG: a fresh reader sees {count} of {n} namespaces; missing {missing:?}"
                ));
            }
            read = f.bytes;
            drop(black_box(fresh));
        }
        env.row(
            "1a",
            &[
                n.to_string(),
                mib(store.total_bytes()),
                store.len().to_string(),
                format!("{:.1}", build_ms / 1e3),
                ms(median(&mut open)),
                ms(open.iter().copied().fold(f64::MAX, f64::min)),
                read.to_string(),
                "≤ 100 ms".into(),
            ],
        );

        if n == *LAZY_SIZES
            .iter()
            .filter(|&&s| s <= max_namespaces)
            .max()
            .unwrap_or(&n)
        {
            profile_catalog(env, &store, n);
        }

        // (d) live heap of a fresh db with the catalog, then with one namespace in use.
        let before = live_bytes();
        let mut fresh = Db::open(cfg);
        run(&mut fresh, &store, now, |db| {
            db.index_mut("ix")?.namespace_names("", 0)
        });
        let catalog = live_bytes() - before;
        let one = lazy_name(n / 2);
        let q = query(rng.vector(LAZY_DIM));
        let (found, _) = run(&mut fresh, &store, now, |db| {
            let ix = db.index_mut("ix")?;
            ix.load(Needs::Namespace(&one))?;
            ix.query(&one, &q)
        });
        assert_eq!(found.len(), 10);
        drop(found);
        let loaded = live_bytes() - before;
        drop(fresh);
        env.row(
            "1d",
            &[
                n.to_string(),
                store.total_bytes().to_string(),
                catalog.to_string(),
                format!("{:.0}", catalog as f64 / n as f64),
                loaded.to_string(),
                format!("{:.2}", loaded as f64 / store.total_bytes() as f64),
            ],
        );

        // (b) create: one upsert of 10 records into a new namespace, committed.
        let mut db = Db::open(cfg);
        run(&mut db, &store, now, |db| {
            db.index_mut("ix")?.namespace_names("", 0)
        });
        let (mut times, mut bytes, mut blobs) = (Vec::new(), Vec::new(), Vec::new());
        let names: Vec<String> = (0..LAZY_OPS)
            .map(|i| format!("new-{n:07}-{i:04}"))
            .collect();
        for name in &names {
            let recs = records(&mut rng, 0, LAZY_RECORDS, LAZY_DIM, false);
            let t = now();
            let (_, f) = run(&mut db, &store, now, |db| {
                db.index_mut("ix")?.upsert(name, recs.clone())
            });
            let w = db.take_writes();
            times.push(now() - t);
            assert_eq!(f.rounds, 0, "creating must not read");
            bytes.push(put_bytes(&w));
            blobs.push(put_blobs(&w));
            apply(&mut store, &w);
            db.index_mut("ix")
                .and_then(|ix| ix.evict(name))
                .expect("evict");
        }
        env.row(
            "1b",
            &[
                (n + 1).to_string(),
                us(median(&mut times.clone())),
                us(max(&times)),
                median_usize(&mut bytes.clone()).to_string(),
                format!("{:.0}", mean_usize(&bytes)),
                bytes.iter().max().copied().unwrap_or(0).to_string(),
                median_usize(&mut blobs).to_string(),
            ],
        );

        // (c) drop: the namespaces just created (10 records each, evicted: only the manifest
        // is read, untimed), then the reclaim batch (prefix delete applied to the store).
        let (mut times, mut bytes, mut reclaim, mut fetch) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for name in &names {
            let (_, f) = run(&mut db, &store, now, |db| {
                db.index_mut("ix")?
                    .load(Needs::Manifests(std::slice::from_ref(name)))
            });
            fetch.push(f.ms);
            let t = now();
            db.index_mut("ix")
                .and_then(|ix| ix.delete_namespace(name))
                .expect("drop");
            let w = db.take_writes();
            times.push(now() - t);
            bytes.push(put_bytes(&w));
            apply(&mut store, &w);
            let t = now();
            let w = db.take_writes();
            apply(&mut store, &w);
            reclaim.push(now() - t);
            assert!(w.iter().any(|b| !b.delete_prefixes.is_empty()));
        }
        env.row(
            "1c",
            &[
                (n + LAZY_OPS).to_string(),
                us(median(&mut times.clone())),
                us(max(&times)),
                median_usize(&mut bytes.clone()).to_string(),
                format!("{:.0}", mean_usize(&bytes)),
                bytes.iter().max().copied().unwrap_or(0).to_string(),
                us(median(&mut reclaim)),
                us(median(&mut fetch)),
            ],
        );
        drop(db);
        // Continue building on a fresh view of the store (the measurements changed it).
        builder = Db::open(cfg);
        run(&mut builder, &store, now, |db| {
            db.index_mut("ix")?.namespace_names("", 0)
        });
    }
}

/// Times the steps of loading the catalog (`Catalog::load`), one by one.
fn profile_catalog(env: &mut Env<'_>, store: &MemoryStore, n: usize) {
    let now = env.now;
    let base_keys: Vec<&str> = store.keys().filter(|k| k.contains("/b/")).collect();
    let delta_keys: Vec<&str> = store.keys().filter(|k| k.contains("/d/")).collect();
    let phases = [
        "host copy (get + to_vec), base + deltas",
        "header + CRC-32, base chunks",
        "concatenate base payloads",
        "copy into aligned buffer",
        "rkyv validate (bytecheck)",
        "rkyv deserialize to Vec<(String, u64)>",
        "collect into BTreeMap<String, entry>",
        "decode and apply deltas",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); phases.len()];
    for _ in 0..env.runs {
        let t0 = now();
        let base: Vec<Vec<u8>> = base_keys
            .iter()
            .map(|k| store.get(k).map(<[u8]>::to_vec).unwrap_or_default())
            .collect();
        let deltas: Vec<Vec<u8>> = delta_keys
            .iter()
            .map(|k| store.get(k).map(<[u8]>::to_vec).unwrap_or_default())
            .collect();
        let t1 = now();
        let payloads: Vec<&[u8]> = base
            .iter()
            .map(|b| format::open_blob("c", BlobKind::Catalog, b).expect("blob"))
            .collect();
        let t2 = now();
        let mut payload = Vec::new();
        for p in &payloads {
            payload.extend_from_slice(p);
        }
        let t3 = now();
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(payload.len());
        aligned.extend_from_slice(&payload);
        let t4 = now();
        let archived =
            rkyv::access::<ArchivedCatalogBase, rkyv::rancor::Error>(&aligned).expect("ok");
        let t5 = now();
        let base: CatalogBase =
            rkyv::deserialize::<CatalogBase, rkyv::rancor::Error>(archived).expect("ok");
        let t6 = now();
        let mut map: BTreeMap<String, (u64, Option<Box<u64>>, u64)> = base
            .entries
            .into_iter()
            .map(|(name, id)| (name, (id, None, 0)))
            .collect();
        let t7 = now();
        for d in &deltas {
            match format::decode_chunked::<CatalogDelta>("d", BlobKind::Catalog, &[d])
                .expect("delta")
            {
                CatalogDelta::Added(name, id) => {
                    map.insert(name, (id, None, 0));
                }
                CatalogDelta::Removed(name) => {
                    map.remove(&name);
                }
            }
        }
        let t8 = now();
        black_box(&map);
        let stamps = [t0, t1, t2, t3, t4, t5, t6, t7, t8];
        for (i, w) in stamps.windows(2).enumerate() {
            samples[i].push(w[1] - w[0]);
        }
    }
    let meds: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    let sum: f64 = meds.iter().sum();
    for (phase, m) in phases.iter().zip(&meds) {
        env.row(
            "1p",
            &[
                n.to_string(),
                (*phase).into(),
                ms(*m),
                format!("{:.0} %", 100.0 * m / sum),
            ],
        );
    }
    env.row(
        "1p",
        &[n.to_string(), "**sum**".into(), ms(sum), "100 %".into()],
    );
}

// --------------------------------------------------------------------- 2. offboarding

fn bench_offboard(env: &mut Env<'_>, max_records: usize) {
    let now = env.now;
    env.header(
        "2",
        &[
            "build",
            "records",
            "segments",
            "namespace blobs (reclaimed)",
            "namespace MiB (reclaimed)",
            "build s",
            "drop commit µs, cold (median)",
            "drop commit µs, loaded (median)",
            "commit bytes",
            "commit blobs",
            "reclaim µs (median)",
        ],
    );
    for n in OFFBOARD_SIZES.into_iter().filter(|&n| n <= max_records) {
        let cfg = StorageConfig {
            seal_records: n / 10,
            max_log_entries: 128,
            max_segments: 16,
            row_cache_bytes: 16 << 20,
        };
        let t = now();
        let mut rng = XorShift(0x0ff0_0ff0_0ff0_0ff0 ^ n as u64);
        let mut store = MemoryStore::new();
        let mut db = new_index(&mut store, cfg, OFFBOARD_DIM, now);
        // A small neighbour, so the catalog is not empty after the drop.
        let small = records(&mut rng, 0, 10, OFFBOARD_DIM, false);
        run(&mut db, &store, now, |db| {
            db.index_mut("ix")?.upsert("small", small.clone())
        });
        apply(&mut store, &db.take_writes());
        for from in (0..n).step_by(BATCH) {
            let recs = records(&mut rng, from, BATCH.min(n - from), OFFBOARD_DIM, false);
            run(&mut db, &store, now, |db| {
                db.index_mut("ix")?.upsert("big", recs.clone())
            });
            apply(&mut store, &db.take_writes());
        }
        let segments = db
            .index("ix")
            .and_then(|ix| ix.namespace("big"))
            .ok()
            .flatten()
            .map_or(0, |ns| ns.segment_count());
        drop(db);
        let build_s = (now() - t) / 1e3;
        let drop_once = |loaded: bool| -> (f64, usize, usize, f64, (usize, usize)) {
            let mut s = store.clone();
            let mut db = Db::open(cfg);
            run(&mut db, &s, now, |db| {
                let ix = db.index_mut("ix")?;
                if loaded {
                    ix.load(Needs::Namespace("big"))
                } else {
                    ix.load(Needs::Manifests(&["big".to_string()]))
                }
            });
            let t = now();
            db.index_mut("ix")
                .and_then(|ix| ix.delete_namespace("big"))
                .expect("drop");
            let w = db.take_writes();
            let commit = now() - t;
            apply(&mut s, &w);
            let (len, size) = (s.len(), s.total_bytes());
            let t = now();
            let w2 = db.take_writes();
            apply(&mut s, &w2);
            let reclaim = now() - t;
            // The namespace is gone for a fresh reader, and only its blobs were removed.
            let mut check = Db::open(cfg);
            let (names, _) = run(&mut check, &s, now, |db| {
                db.index_mut("ix")?.namespace_names("", 10)
            });
            assert_eq!(names, vec!["small".to_string()]);
            let freed = (len - s.len(), size - s.total_bytes());
            (commit, put_bytes(&w), put_blobs(&w), reclaim, freed)
        };
        let (mut cold, mut hot, mut reclaim) = (Vec::new(), Vec::new(), Vec::new());
        let (mut bytes, mut blobs, mut reclaimed) = (0, 0, (0, 0));
        for _ in 0..env.runs {
            let (c, b, p, r, d) = drop_once(false);
            cold.push(c);
            reclaim.push(r);
            (bytes, blobs, reclaimed) = (b, p, d);
        }
        for _ in 0..env.runs.min(3) {
            hot.push(drop_once(true).0);
        }
        env.row(
            "2",
            &[
                n.to_string(),
                segments.to_string(),
                reclaimed.0.to_string(),
                mib(reclaimed.1),
                format!("{build_s:.1}"),
                us(median(&mut cold)),
                us(median(&mut hot)),
                bytes.to_string(),
                blobs.to_string(),
                us(median(&mut reclaim)),
            ],
        );
    }
}

// ----------------------------------------------------------------------- 3. cold open

fn build_cold(meta: bool, now: &dyn Fn() -> f64) -> (MemoryStore, StorageConfig, f64) {
    let cfg = StorageConfig {
        seal_records: COLD_SEAL,
        max_log_entries: 64,
        max_segments: 16,
        row_cache_bytes: 16 << 20,
    };
    let t = now();
    let mut rng = XorShift(0x5eed_0000_0000_0384);
    let mut store = MemoryStore::new();
    let mut db = new_index(&mut store, cfg, COLD_DIM, now);
    for from in (0..COLD_RECORDS).step_by(BATCH) {
        let recs = records(&mut rng, from, BATCH, COLD_DIM, meta);
        run(&mut db, &store, now, |db| {
            db.index_mut("ix")?.upsert("docs", recs.clone())
        });
        apply(&mut store, &db.take_writes());
    }
    (store, cfg, (now() - t) / 1e3)
}

fn bench_cold(env: &mut Env<'_>) {
    let now = env.now;
    env.header(
        "3",
        &[
            "build",
            "records × dim",
            "metadata",
            "segments",
            "store MiB",
            "bytes / record",
            "build s",
            "host fetch ms",
            "provide + decode ms",
            "first query ms",
            "open → first result ms (median)",
            "min",
            "target",
        ],
    );
    env.header("3p", &["build", "metadata", "phase", "ms", "share"]);
    for meta in [false, true] {
        let (store, cfg, build_s) = build_cold(meta, now);
        let md = if meta { "~100 B JSON" } else { "none" };
        let mut rng = XorShift(0x0dd_ba11);
        let q = query(rng.vector(COLD_DIM));
        let (mut fetch, mut decode, mut first, mut total) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut segments = 0;
        let mut checksum = String::new();
        for _ in 0..env.runs {
            let t0 = now();
            let mut db = Db::open(cfg);
            let (_, f) = run(&mut db, &store, now, |db| {
                db.index_mut("ix")?.load(Needs::Namespace("docs"))
            });
            let t1 = now();
            let found = db
                .index_mut("ix")
                .and_then(|ix| ix.query("docs", &q))
                .expect("query");
            let t2 = now();
            assert_eq!(found.len(), 10);
            checksum = found[0].id.clone();
            segments = db
                .index("ix")
                .and_then(|ix| ix.namespace("docs"))
                .ok()
                .flatten()
                .map_or(0, |ns| ns.segment_count());
            fetch.push(f.ms);
            decode.push(t1 - t0 - f.ms);
            first.push(t2 - t1);
            total.push(t2 - t0);
            drop(black_box(db));
        }
        env.note(format!("cold open ({md}): top-1 id {checksum}"));
        env.row(
            "3",
            &[
                format!("{COLD_RECORDS} × {COLD_DIM}"),
                md.into(),
                segments.to_string(),
                mib(store.total_bytes()),
                format!("{:.0}", store.total_bytes() as f64 / COLD_RECORDS as f64),
                format!("{build_s:.1}"),
                ms(median(&mut fetch)),
                ms(median(&mut decode)),
                ms(median(&mut first)),
                ms(median(&mut total.clone())),
                ms(total.iter().copied().fold(f64::MAX, f64::min)),
                "≤ 200 ms (wasm)".into(),
            ],
        );
        profile_decode(env, &store, md);
    }
}

/// Times the steps `Segment::decode` takes, one by one, over every segment of the store
/// (median over the runs of the sum over segments).
fn profile_decode(env: &mut Env<'_>, store: &MemoryStore, md: &str) {
    let now = env.now;
    let seg_keys = |kind: &str| -> Vec<Vec<String>> {
        let mut by_seg: Vec<(String, Vec<String>)> = Vec::new();
        for k in store.keys() {
            let parts: Vec<&str> = k.split('/').collect();
            if parts.len() == 6 && parts[0] == "n" && parts[3] == kind {
                match by_seg.last_mut() {
                    Some((s, v)) if *s == parts[4] => v.push(k.to_string()),
                    _ => by_seg.push((parts[4].to_string(), vec![k.to_string()])),
                }
            }
        }
        by_seg.into_iter().map(|(_, v)| v).collect()
    };
    let structured = seg_keys("s");
    let vectors = seg_keys("v");
    let phases = [
        "host copy (get + to_vec)",
        "header + CRC-32, structured chunks",
        "concatenate structured payloads",
        "copy into aligned buffer",
        "rkyv validate (bytecheck)",
        "rkyv deserialize",
        "into_parts (ids, sparse, metadata)",
        "header + CRC-32, vector chunks",
        "f32::from_le_bytes into Vec",
        "norms (distance::norm)",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); phases.len()];
    for _ in 0..env.runs {
        let mut t = [0.0f64; 10];
        for (skeys, vkeys) in structured.iter().zip(&vectors) {
            let t0 = now();
            let sblobs: Vec<Vec<u8>> = skeys
                .iter()
                .map(|k| store.get(k).map(<[u8]>::to_vec).unwrap_or_default())
                .collect();
            let vblobs: Vec<Vec<u8>> = vkeys
                .iter()
                .map(|k| store.get(k).map(<[u8]>::to_vec).unwrap_or_default())
                .collect();
            let t1 = now();
            let payloads: Vec<&[u8]> = sblobs
                .iter()
                .map(|b| format::open_blob("s", BlobKind::SegmentChunk, b).expect("blob"))
                .collect();
            let t2 = now();
            let mut payload = Vec::new();
            for p in &payloads {
                payload.extend_from_slice(p);
            }
            let t3 = now();
            let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(payload.len());
            aligned.extend_from_slice(&payload);
            let t4 = now();
            let archived =
                rkyv::access::<ArchivedStoredSegment, rkyv::rancor::Error>(&aligned).expect("ok");
            let t5 = now();
            let stored: StoredSegment =
                rkyv::deserialize::<StoredSegment, rkyv::rancor::Error>(archived).expect("ok");
            let t6 = now();
            let dim = stored.dimension as usize;
            let parts: Vec<_> = stored
                .records
                .into_iter()
                .map(|r| r.into_parts("s").expect("parts"))
                .collect();
            let t7 = now();
            let vpayloads: Vec<&[u8]> = vblobs
                .iter()
                .map(|b| format::open_blob("v", BlobKind::VectorChunk, b).expect("blob"))
                .collect();
            let t8 = now();
            let mut flat: Vec<f32> = Vec::with_capacity(parts.len() * dim);
            for p in &vpayloads {
                flat.extend(
                    p.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            let t9 = now();
            let norms: Vec<f32> = flat.chunks_exact(dim).map(larch::distance::norm).collect();
            let t10 = now();
            black_box((&parts, &norms));
            let stamps = [t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10];
            for (i, w) in stamps.windows(2).enumerate() {
                t[i] += w[1] - w[0];
            }
        }
        for (i, x) in t.iter().enumerate() {
            samples[i].push(*x);
        }
    }
    let meds: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    let sum: f64 = meds.iter().sum();
    for (phase, m) in phases.iter().zip(&meds) {
        env.row(
            "3p",
            &[
                md.into(),
                (*phase).into(),
                ms(*m),
                format!("{:.0} %", 100.0 * m / sum),
            ],
        );
    }
    env.row(
        "3p",
        &[md.into(), "**sum**".into(), ms(sum), "100 %".into()],
    );
}

// ------------------------------------------------------- 4. cold open in int8 mode

/// The int8 cold open's approximate-search configuration: the default graph shape (M 16, so
/// the stored graphs have their usual size and validation cost) with a cheap
/// `ef_construction`, since this measures loading, not building.
fn int8_ann() -> AnnConfig {
    AnnConfig {
        int8: true,
        // LARCH_BENCH_MERGE_MIB: consolidate segments up to this many MiB of rows (the
        // engine's default 256 MiB makes one segment of the 100k; the Worker's 16 MiB ten).
        merge_bytes: std::env::var("LARCH_BENCH_MERGE_MIB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(AnnConfig::default().merge_bytes, |m| m << 20),
        hnsw: HnswConfig {
            ef_construction: 24,
            ..HnswConfig::default()
        },
        ..AnnConfig::default()
    }
}

fn bench_cold_int8(env: &mut Env<'_>) {
    let now = env.now;
    env.header(
        "4",
        &[
            "build",
            "records × dim",
            "opened with",
            "segments",
            "graphs / int8 / paged segments at first result",
            "store MiB",
            "host fetch MiB",
            "host fetch ms",
            "provide + decode ms",
            "first query ms",
            "open → first result ms (median)",
            "min",
            "target",
            "peak live MiB during open",
            "resident MiB after",
            "peak / resident",
        ],
    );
    let (mut store, cfg, _) = build_cold(false, now);
    let t = now();
    let mut db = Db::open(cfg);
    db.set_ann_config(int8_ann());
    run(&mut db, &store, now, |db| {
        db.index_mut("ix")?.load(Needs::Namespace("docs"))
    });
    while db.index_step(5_000) {
        apply(&mut store, &db.take_writes());
    }
    apply(&mut store, &db.take_writes());
    env.note(format!(
        "int8 cold open: graphs (ef_construction 24) and codes built in {:.1} s",
        (now() - t) / 1e3
    ));
    drop(db);
    let mut rng = XorShift(0x0dd_ba11);
    let q = query(rng.vector(COLD_DIM));
    // The same store, opened with int8 off (graphs searched on f32; codes not even fetched)
    // and on, alternating (the first opens of a process are slower: the allocator is still
    // growing its heap).
    #[derive(Default)]
    struct Mode {
        fetch: Vec<f64>,
        decode: Vec<f64>,
        first: Vec<f64>,
        total: Vec<f64>,
        counts: (usize, usize, usize, usize),
        fetched: usize,
        top: String,
        /// Most live bytes above the start of the open, and resident bytes after the query.
        peak: usize,
        resident: usize,
    }
    let mut modes = [Mode::default(), Mode::default()];
    for r in 0..2 * env.runs {
        let int8 = r % 2 == (r / 2) % 2;
        let m = &mut modes[usize::from(int8)];
        let ann = AnnConfig { int8, ..int8_ann() };
        let base = reset_peak();
        let t0 = now();
        let mut db = Db::open(cfg);
        db.set_ann_config(ann);
        let (_, f) = run(&mut db, &store, now, |db| {
            db.index_mut("ix")?.load(Needs::Namespace("docs"))
        });
        let t1 = now();
        // Through the host loop: rescoring on paged segments reads row groups.
        let (found, _) = run(&mut db, &store, now, |db| {
            db.index_mut("ix")?.query("docs", &q)
        });
        let t2 = now();
        assert_eq!(found.len(), 10);
        m.top = found[0].id.clone();
        if let Some(ns) = db
            .index("ix")
            .ok()
            .and_then(|ix| ix.namespace("docs").ok().flatten())
        {
            m.counts = (
                ns.segment_count(),
                ns.graph_count(),
                ns.int8_count(),
                ns.paged_count(),
            );
        }
        m.peak = m.peak.max(peak_bytes() - base);
        m.resident = db.resident_bytes();
        m.fetched = f.bytes;
        m.fetch.push(f.ms);
        m.decode.push(t1 - t0 - f.ms);
        m.first.push(t2 - t1);
        m.total.push(t2 - t0);
        drop(black_box(db));
    }
    for (int8, m) in modes.iter_mut().enumerate() {
        let mode = if int8 == 1 { "int8 on" } else { "int8 off" };
        env.note(format!("cold open ({mode}): top-1 id {}", m.top));
        let (segments, graphs, codes, paged) = m.counts;
        let min = m.total.iter().copied().fold(f64::MAX, f64::min);
        env.row(
            "4",
            &[
                format!("{COLD_RECORDS} × {COLD_DIM}"),
                mode.into(),
                segments.to_string(),
                format!("{graphs} / {codes} / {paged}"),
                mib(store.total_bytes()),
                mib(m.fetched),
                ms(median(&mut m.fetch)),
                ms(median(&mut m.decode)),
                ms(median(&mut m.first)),
                ms(median(&mut m.total)),
                ms(min),
                "≤ 200 ms (wasm)".into(),
                mib(m.peak),
                mib(m.resident),
                format!("{:.2}", m.peak as f64 / m.resident as f64),
            ],
        );
    }
}

// --------------------------------------------------------------------------- drivers

fn bench(env: &mut Env<'_>, parts: u32, namespaces: usize, offboard: usize) {
    let digits = parts.to_string();
    if digits.contains('1') {
        bench_lazy(env, namespaces);
    }
    if digits.contains('2') {
        bench_offboard(env, offboard);
    }
    if digits.contains('3') {
        bench_cold(env);
    }
    if digits.contains('4') {
        bench_cold_int8(env);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    #[allow(clippy::disallowed_methods)] // the native harness's clock, not the engine's
    let start = std::time::Instant::now();
    let now = move || start.elapsed().as_secs_f64() * 1e3;
    let (mut parts, mut namespaces, mut offboard, mut runs) = (123, 100_000, 1_000_000, 5);
    for arg in std::env::args().skip(1) {
        let Some((k, v)) = arg.split_once('=') else {
            continue; // `--bench` from cargo
        };
        let v: usize = v.parse().expect("numeric option");
        match k {
            "parts" => parts = v as u32,
            "namespaces" => namespaces = v,
            "offboard" => offboard = v,
            "runs" => runs = v.max(1),
            _ => panic!("unknown option {k} (parts, namespaces, offboard, runs)"),
        }
    }
    let mut out = |s: String| println!("{s}");
    let mut env = Env {
        now: &now,
        out: &mut out,
        label: format!("native {}", std::env::consts::ARCH),
        runs,
    };
    bench(&mut env, parts, namespaces, offboard);
}

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        /// The host's `performance.now()`, in milliseconds.
        pub safe fn now() -> f64;
        /// Prints `len` UTF-8 bytes at `ptr` as one line.
        pub safe fn print(ptr: *const u8, len: usize);
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}

/// Runs the parts named by the decimal digits of `parts` (e.g. 123); called by
/// `benches/run_storage_wasm.mjs`.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn run_bench(parts: u32, namespaces: u32, offboard: u32, runs: u32) {
    let now = || host::now();
    let mut out = |s: String| host::print(s.as_ptr(), s.len());
    let mut env = Env {
        now: &now,
        out: &mut out,
        label: "wasm32+simd128 (node)".into(),
        runs: runs.max(1) as usize,
    };
    bench(&mut env, parts, namespaces as usize, offboard as usize);
}
