//! Where a large namespace's resident bytes go: builds N records of a `.fvecs` file (with the
//! `base_meta.jsonl` metadata next to it, if any) into one persistent namespace over an
//! in-memory store, with a host's settings, indexes it to the end (graphs, codes, paged rows),
//! reloads it from the store, answers one query, and prints `Namespace::memory_report` after
//! the build and after the reload, with the bytes per record.
//!
//! ```sh
//! cargo run --release --example memory -- DATA_DIR N [merge_mib=16] [cache_mib=4] [batch=400]
//! ```
//!
//! The defaults are the Worker's (`worker/src/namespace.ts`). Data: `../shared/bench`'s
//! wordnet-minilm384 (`~/.cache/larch-bench/data/wordnet-minilm384`).

use std::collections::BTreeMap;

use larch::db::{Needs, Query, QuerySource};
use larch::namespace::{AnnConfig, MemoryReport, QueryVector, StorageConfig};
use larch::storage::MemoryStore;
use larch::{Db, IndexConfig, Metadata, Metric, Record};

fn fvecs(path: &str, limit: usize) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).expect("read .fvecs");
    let dim = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    bytes
        .chunks_exact(4 + 4 * dim)
        .take(limit)
        .map(|c| {
            c[4..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        })
        .collect()
}

fn run<T>(db: &mut Db, store: &mut MemoryStore, f: impl FnMut(&mut Db) -> larch::Result<T>) -> T {
    let r = larch::host::with_store(db, store, f).expect("operation");
    for b in db.take_writes() {
        store.apply(&b);
    }
    r
}

fn print(label: &str, r: &MemoryReport, n: usize) {
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    let mut parts = BTreeMap::new();
    parts.insert("memtable", r.memtable);
    parts.insert("columns", r.columns);
    parts.insert("tombstones", r.tombstones);
    parts.insert("graphs", r.graphs);
    parts.insert("codes", r.codes);
    parts.insert("postings", r.postings);
    parts.insert("sparse_index", r.sparse_index);
    parts.insert("row_layouts", r.row_layouts);
    parts.insert("row_cache", r.row_cache);
    parts.insert("consolidation", r.consolidation);
    parts.insert("persist", r.persist);
    parts.insert("other", r.other);
    println!(
        "{label}: {:.1} MiB, {} B/record",
        mib(r.total()),
        r.total() / n.max(1)
    );
    for (k, v) in parts {
        println!("  {k:>14} {:>8.2} MiB {:>6} B/record", mib(v), v / n.max(1));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, n) = (&args[0], args[1].parse::<usize>().expect("N"));
    let opt = |name: &str, default: usize| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("{name}=")))
            .map_or(default, |v| v.parse().expect("number"))
    };
    let (merge, cache, batch) = (opt("merge_mib", 16), opt("cache_mib", 4), opt("batch", 400));
    let base = fvecs(&format!("{dir}/base.fvecs"), n);
    let meta: Vec<Option<Metadata>> = std::fs::read_to_string(format!("{dir}/base_meta.jsonl"))
        .map(|s| {
            s.lines()
                .take(n)
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
                    let small = serde_json::json!({"category": v["category"], "year": v["year"]});
                    Some(Metadata::from_json(&small).expect("metadata"))
                })
                .collect()
        })
        .unwrap_or_else(|_| vec![None; n]);
    let dim = base[0].len();
    let storage = StorageConfig {
        row_cache_bytes: cache << 20,
        ..StorageConfig::default()
    };
    let ann = AnnConfig {
        int8: true,
        merge_bytes: merge << 20,
        ..AnnConfig::default()
    };
    let mut store = MemoryStore::new();
    let mut db = Db::open(storage);
    db.set_ann_config(ann);
    run(&mut db, &mut store, |db| {
        db.create_index(IndexConfig::dense("ix", dim as u32, Metric::Cosine))
            .map(|_| ())
    });
    #[allow(clippy::disallowed_methods)] // the example's clock, not the engine's
    let t = std::time::Instant::now();
    for from in (0..n).step_by(batch) {
        let records: Vec<Record> = (from..(from + batch).min(n))
            .map(|i| Record {
                id: format!("v{i}"),
                values: base[i].clone(),
                sparse_values: None,
                metadata: meta[i].clone(),
            })
            .collect();
        run(&mut db, &mut store, |db| {
            db.index_mut("ix")?.upsert("big", records.clone())
        });
        larch::host::index_all(&mut db, &mut store);
    }
    println!("built {n} × {dim} in {:.1} s", t.elapsed().as_secs_f64());
    let report = |db: &Db| {
        let ns = db.index("ix").unwrap().namespace("big").unwrap().unwrap();
        (ns.memory_report(), ns.segment_count(), ns.paged_count())
    };
    {
        let ns = db.index("ix").unwrap().namespace("big").unwrap().unwrap();
        println!(
            "consolidating {}, pending {}, needs {:?}, db pending {}",
            ns.consolidating(),
            ns.indexing_pending(),
            ns.index_needs(),
            db.indexing_pending()
        );
    }
    let (r, segs, paged) = report(&db);
    print(
        &format!("after the build ({segs} segments, {paged} paged)"),
        &r,
        n,
    );
    drop(db);
    let mut db = Db::open(storage);
    db.set_ann_config(ann);
    run(&mut db, &mut store, |db| {
        db.index_mut("ix")?.load(Needs::Namespace("big"))
    });
    let q = Query {
        vector: QuerySource::Vector(QueryVector {
            values: Some(base[7].clone()),
            sparse_values: None,
        }),
        top_k: 10,
        filter: None,
        include_values: false,
        include_metadata: true,
    };
    let found = run(&mut db, &mut store, |db| {
        db.index_mut("ix")?.query("big", &q)
    });
    assert_eq!(found[0].id, "v7");
    let (r, segs, paged) = report(&db);
    print(
        &format!("after a reload and a query ({segs} segments, {paged} paged)"),
        &r,
        n,
    );
}
