//! `Db::resident_bytes` against the allocator: a counting `#[global_allocator]` (so this is its
//! own test binary) tracks live heap bytes, and a loaded namespace's figure must be within
//! [`TOLERANCE`] of the live bytes that appeared while it was built or loaded, in each state
//! it can be in — memtable only, sealed with every row resident (graphs and int8 codes built),
//! paged with an empty row cache, and paged with every row group cached.
//!
//! One test function: the counter is process-wide, so nothing may run beside it.

#![cfg(not(target_arch = "wasm32"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use larch::db::{Needs, Query, QuerySource};
use larch::namespace::{AnnConfig, QueryVector, StorageConfig};
use larch::storage::MemoryStore;
use larch::{Db, IndexConfig, Metadata, Metric, Record, Value};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// How far `Db::resident_bytes` may be from the allocator's count.
const TOLERANCE: f64 = 0.15;
const DIM: usize = 128;
const N: usize = 3000;

fn records(from: usize, to: usize) -> Vec<Record> {
    (from..to)
        .map(|i| {
            let mut x = (i as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
            let values = (0..DIM)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect();
            let mut md = Metadata::new();
            md.insert("genre", Value::String(["a", "b", "c"][i % 3].into()));
            md.insert("year", Value::Number((1990 + i % 30) as f64));
            Record {
                id: format!("doc-{i:06}"),
                values,
                sparse_values: None,
                metadata: Some(md),
            }
        })
        .collect()
}

fn ann() -> AnnConfig {
    let mut ann = AnnConfig {
        min_records: 500,
        int8: true,
        merge_bytes: 0,
        ..AnnConfig::default()
    };
    // A cheaper build (the test runs unoptimized); the graph's layout is the same.
    ann.hnsw.ef_construction = 32;
    ann
}

fn config(seal_records: usize, row_cache_bytes: usize) -> StorageConfig {
    StorageConfig {
        seal_records,
        max_log_entries: 1 << 20,
        max_segments: 8,
        row_cache_bytes,
    }
}

fn run<T>(db: &mut Db, store: &mut MemoryStore, f: impl FnMut(&mut Db) -> larch::Result<T>) -> T {
    let r = larch::host::with_store(db, store, f).expect("operation");
    for b in db.take_writes() {
        store.apply(&b);
    }
    r
}

fn fill(db: &mut Db, store: &mut MemoryStore) {
    run(db, store, |db| {
        db.create_index(IndexConfig::dense("ix", DIM as u32, Metric::Cosine))
            .map(|_| ())
    });
    for start in (0..N).step_by(1000) {
        let batch = records(start, start + 1000);
        run(db, store, |db| {
            db.index_mut("ix")?.upsert("ns", batch.clone())
        });
    }
    larch::host::index_all(db, store);
}

fn query(db: &mut Db, store: &mut MemoryStore, i: usize) -> usize {
    let q = Query {
        vector: QuerySource::Vector(QueryVector {
            values: Some(records(i, i + 1).remove(0).values),
            sparse_values: None,
        }),
        top_k: 10,
        filter: None,
        include_values: true,
        include_metadata: true,
    };
    run(db, store, |db| db.index_mut("ix")?.query("ns", &q)).len()
}

/// Asserts the figure is within the tolerance of the live bytes `grown` since `before`.
fn check(state: &str, db: &Db, before: isize) -> (usize, isize) {
    let grown = live() - before;
    let figure = db.resident_bytes();
    assert_eq!(
        db.memory_report().total(),
        figure,
        "{state}: the parts sum to the figure"
    );
    let ratio = figure as f64 / grown as f64;
    eprintln!("{state}: resident_bytes {figure}, allocator {grown}, ratio {ratio:.3}");
    assert!(
        (ratio - 1.0).abs() <= TOLERANCE,
        "{state}: resident_bytes {figure} vs {grown} live bytes (ratio {ratio:.3})"
    );
    (figure, grown)
}

#[test]
fn resident_bytes_match_the_allocator_in_every_state() {
    let f32_bytes = (N * DIM * 4) as isize;

    // Memtable only.
    let mut none = MemoryStore::new();
    let before = live();
    let mut db = Db::in_memory(config(usize::MAX, 0));
    fill(&mut db, &mut none);
    check("memtable", &db, before);
    drop(db);

    // Sealed, every row resident, graphs and int8 codes built.
    let before = live();
    let mut db = Db::in_memory(config(1000, 0));
    db.set_ann_config(ann());
    fill(&mut db, &mut none);
    assert_eq!(query(&mut db, &mut none, 7), 10);
    let (resident, _) = check("sealed resident", &db, before);
    drop(db);

    // Persistent: build into a store (not measured), then reload from it.
    let mut store = MemoryStore::new();
    let mut db = Db::open(config(1000, 0));
    db.set_ann_config(ann());
    fill(&mut db, &mut store);
    drop(db);

    // Paged, empty row cache: a query reads row groups, which are dropped when it ends.
    let before = live();
    let mut db = Db::open(config(1000, 0));
    db.set_ann_config(ann());
    assert_eq!(query(&mut db, &mut store, 7), 10);
    let (paged, grown) = check("paged, empty cache", &db, before);
    assert!(
        grown < f32_bytes,
        "paged rows leave the f32 rows out of memory: {grown} live bytes, rows take {f32_bytes}"
    );
    assert!(paged < resident / 2, "{paged} paged vs {resident} resident");
    drop(db);

    // Paged, every row group cached (fetching every id warms the cache).
    let before = live();
    let mut db = Db::open(config(1000, 64 << 20));
    db.set_ann_config(ann());
    run(&mut db, &mut store, |db| {
        db.index_mut("ix")?.load(Needs::Namespace("ns"))
    });
    for start in (0..N).step_by(1000) {
        let ids: Vec<String> = (start..start + 1000)
            .map(|i| format!("doc-{i:06}"))
            .collect();
        let got = run(&mut db, &mut store, |db| {
            db.index_mut("ix")?.fetch("ns", &ids)
        });
        assert_eq!(got.len(), 1000);
    }
    let (warm, grown) = check("paged, warm cache", &db, before);
    assert!(
        grown > f32_bytes,
        "a warm cache holds the rows: {grown} live bytes"
    );
    assert!(warm > paged);
}
