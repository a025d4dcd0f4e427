//! Durable storage: reopening, lazy loading, offboarding, fixtures and crash safety.

use std::collections::BTreeMap;

use larch::db::DeleteSelector;
use larch::db::Needs;
use larch::namespace::StorageConfig;
use larch::storage::{MemoryStore, WriteBatch};
use larch::{Db, Error, Filter, IndexConfig, Metadata, Metric, Record, Result};
use serde_json::json;

use crate::wasm_test;

/// Small thresholds so a few dozen writes seal and compact.
pub const TINY: StorageConfig = StorageConfig {
    seal_records: 6,
    max_log_entries: 3,
    max_segments: 3,
    row_cache_bytes: 16 << 20,
};

/// Runs `op` against a persistent db, providing blobs from `store` until it can run, then
/// returns its result and the write batches it produced (not yet applied).
pub fn run<T>(
    db: &mut Db,
    store: &MemoryStore,
    op: impl FnMut(&mut Db) -> Result<T>,
) -> (Result<T>, Vec<WriteBatch>) {
    let r = larch::host::with_store(db, store, op);
    (r, db.take_writes())
}

/// Like [`run`], applying the batches.
pub fn run_apply<T>(
    db: &mut Db,
    store: &mut MemoryStore,
    op: impl FnMut(&mut Db) -> Result<T>,
) -> Result<T> {
    let (r, batches) = run(db, store, op);
    for b in &batches {
        store.apply(b);
    }
    r
}

/// Every record of every namespace of every index, read through a fresh database over
/// `store`.
pub type Snapshot = BTreeMap<(String, String), BTreeMap<String, Record>>;

pub fn snapshot_of(store: &MemoryStore, storage: StorageConfig) -> Snapshot {
    let mut db = Db::open(storage);
    let names: Vec<String> = run(&mut db, store, |db| {
        Ok(db
            .list_indexes()?
            .map(|c| c.name.clone())
            .collect::<Vec<_>>())
    })
    .0
    .unwrap();
    let mut out = Snapshot::new();
    for ix in names {
        let (r, w) = run(&mut db, store, |db| {
            let index = db.index_mut(&ix)?;
            index.load(Needs::Everything)?;
            let stats = index.stats(None)?;
            let mut all = Vec::new();
            for (ns, _) in stats.namespaces {
                let ids = index.list(&ns, "", None, usize::MAX - 1)?.items;
                let mut recs = BTreeMap::new();
                for chunk in ids.chunks(1000) {
                    for r in index.fetch(&ns, chunk)? {
                        recs.insert(r.id.clone(), r);
                    }
                }
                all.push((ns, recs));
            }
            Ok(all)
        });
        assert!(w.is_empty(), "reading must not write");
        for (ns, recs) in r.unwrap() {
            out.insert((ix.clone(), ns), recs);
        }
    }
    out
}

/// The same snapshot from an in-memory database.
pub fn snapshot_mem(db: &mut Db) -> Snapshot {
    let names: Vec<String> = db.list_indexes().unwrap().map(|c| c.name.clone()).collect();
    let mut out = Snapshot::new();
    for ix in names {
        let index = db.index_mut(&ix).unwrap();
        for (ns, _) in index.stats(None).unwrap().namespaces {
            let ids = index.list(&ns, "", None, usize::MAX - 1).unwrap().items;
            let mut recs = BTreeMap::new();
            for chunk in ids.chunks(1000) {
                for r in index.fetch(&ns, chunk).unwrap() {
                    recs.insert(r.id.clone(), r);
                }
            }
            out.insert((ix.clone(), ns), recs);
        }
    }
    out
}

pub fn rec(id: &str, v: f32, genre: &str) -> Record {
    Record {
        id: id.into(),
        values: vec![v, 1.0, -v],
        sparse_values: None,
        metadata: Some(Metadata::from_json(&json!({"genre": genre, "n": v})).unwrap()),
    }
}

/// A deterministic workload touching every write path: upserts, overwrites, updates,
/// deletes by id and filter, delete-all, namespace create and drop, index create and delete.
/// One step of a workload.
pub type WorkloadOp = Box<dyn Fn(&mut Db) -> Result<()>>;

pub fn workload() -> Vec<WorkloadOp> {
    let mut ops: Vec<WorkloadOp> = Vec::new();
    ops.push(Box::new(|db| {
        db.create_index(IndexConfig::dense("ix", 3, Metric::Euclidean))
            .map(|_| ())
    }));
    for round in 0..5 {
        for ns in ["a", "b", ""] {
            ops.push(Box::new(move |db| {
                let recs = (0..4)
                    .map(|i| {
                        rec(
                            &format!("r{}", (round * 3 + i) % 9),
                            (round * 10 + i) as f32,
                            if i % 2 == 0 { "x" } else { "y" },
                        )
                    })
                    .collect();
                db.index_mut("ix")?.upsert(ns, recs).map(|_| ())
            }));
        }
        ops.push(Box::new(move |db| {
            let md = Metadata::from_json(&json!({"round": round})).unwrap();
            db.index_mut("ix")?
                .update("a", "r1", Some(vec![1.0, 2.0, 3.0]), None, Some(md))
                .map(|_| ())
        }));
        ops.push(Box::new(|db| {
            db.index_mut("ix")?
                .delete("b", &DeleteSelector::Ids(vec!["r2".into(), "nope".into()]))
                .map(|_| ())
        }));
        ops.push(Box::new(|db| {
            let f = Filter::parse(&json!({"genre": "y"})).unwrap();
            db.index_mut("ix")?
                .delete("a", &DeleteSelector::Filter(f))
                .map(|_| ())
        }));
    }
    ops.push(Box::new(|db| {
        db.index_mut("ix")?
            .delete("", &DeleteSelector::All)
            .map(|_| ())
    }));
    ops.push(Box::new(|db| {
        db.index_mut("ix")?.create_namespace("empty").map(|_| ())
    }));
    ops.push(Box::new(|db| db.index_mut("ix")?.delete_namespace("b")));
    ops.push(Box::new(|db| {
        db.create_index(IndexConfig::dense("other", 3, Metric::Cosine))
            .map(|_| ())
    }));
    ops.push(Box::new(|db| {
        db.index_mut("other")?
            .upsert("t", vec![rec("z", 1.0, "x")])
            .map(|_| ())
    }));
    ops.push(Box::new(|db| db.delete_index("other")));
    ops.push(Box::new(|db| {
        db.index_mut("ix")?
            .upsert("a", vec![rec("late", 5.0, "x")])
            .map(|_| ())
    }));
    ops
}

wasm_test! {
    fn reopening_restores_every_namespace_after_seals_and_compactions() {
        let mut store = MemoryStore::new();
        let mut db = Db::open(TINY);
        let mut mem = Db::new();
        for op in workload() {
            let a = run_apply(&mut db, &mut store, |db| op(db));
            let b = op(&mut mem);
            assert_eq!(a.is_ok(), b.is_ok());
        }
        let expected = snapshot_mem(&mut mem);
        assert!(!expected.is_empty());
        assert_eq!(snapshot_of(&store, TINY), expected);
        // Dropped index and namespace blobs are reclaimed by later commits.
        run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.upsert("a", vec![rec("more", 1.0, "x")]).map(|_| ()))
            .unwrap();
        run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.upsert("a", vec![rec("more2", 1.0, "x")]).map(|_| ()))
            .unwrap();
        assert!(store.keys().all(|k| !k.starts_with("n/00000001/")), "index 'other' reclaimed");
    }
}

wasm_test! {
    fn opening_reads_only_the_catalog_and_loads_namespaces_lazily() {
        let mut store = MemoryStore::new();
        let mut db = Db::open(TINY);
        run_apply(&mut db, &mut store, |db| db.create_index(IndexConfig::dense("ix", 3, Metric::Cosine)).map(|_| ())).unwrap();
        for i in 0..20 {
            let ns = format!("tenant-{i:02}");
            run_apply(&mut db, &mut store, |db| {
                db.index_mut("ix")?.upsert(&ns, (0..10).map(|j| rec(&format!("{j}"), j as f32 + 1.0, "x")).collect()).map(|_| ())
            })
            .unwrap();
        }
        // A fresh open asks for the root, then the catalog, then one namespace.
        let mut fresh = Db::open(TINY);
        let mut asked = Vec::new();
        let r = larch::host::with_blobs(
            &mut fresh,
            |k| {
                asked.push(k.to_string());
                store.get(k).map(<[u8]>::to_vec)
            },
            |db| {
                db.index_mut("ix")?.query("tenant-07", &larch::db::Query {
                    vector: larch::db::QuerySource::Id("3".into()),
                    top_k: 1,
                    filter: None,
                    include_values: false,
                    include_metadata: false,
                })
            },
        )
        .unwrap();
        assert_eq!(r[0].id, "3");
        assert_eq!(fresh.index("ix").unwrap().loaded_namespaces(), 1);
        let manifests = asked.iter().filter(|k| k.ends_with("/m")).count();
        assert_eq!(manifests, 1, "only tenant-07's manifest was read: {asked:?}");
        // Evicting frees it; the next use reloads it.
        assert!(fresh.index_mut("ix").unwrap().evict("tenant-07").unwrap());
        assert_eq!(fresh.index("ix").unwrap().loaded_namespaces(), 0);
    }
}

wasm_test! {
    fn deleting_a_namespace_is_one_small_catalog_commit() {
        let mut store = MemoryStore::new();
        let mut db = Db::open(TINY);
        run_apply(&mut db, &mut store, |db| db.create_index(IndexConfig::dense("ix", 3, Metric::Cosine)).map(|_| ())).unwrap();
        for chunk in 0..10 {
            run_apply(&mut db, &mut store, |db| {
                db.index_mut("ix")?.upsert("big", (0..50).map(|j| rec(&format!("{chunk}-{j}"), j as f32 + 1.0, "x")).collect()).map(|_| ())
            })
            .unwrap();
        }
        let before = store.total_bytes();
        let (r, batches) = run(&mut db, &store, |db| db.index_mut("ix")?.delete_namespace("big"));
        r.unwrap();
        let written: usize = batches.iter().map(WriteBatch::put_bytes).sum();
        assert!(written < 1024, "the drop wrote {written} bytes");
        assert!(batches.iter().all(|b| b.delete_prefixes.is_empty()), "reclaiming comes later");
        for b in &batches {
            store.apply(b);
        }
        assert!(snapshot_of(&store, TINY).is_empty(), "invisible at once");
        // The next commit reclaims the blobs.
        run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.create_namespace("next").map(|_| ())).unwrap();
        assert!(store.total_bytes() < before / 10, "{} of {before} bytes left", store.total_bytes());
    }
}

wasm_test! {
    fn lsn_grows_with_every_write_and_survives_reopen() {
        let mut store = MemoryStore::new();
        let mut db = Db::open(TINY);
        run_apply(&mut db, &mut store, |db| db.create_index(IndexConfig::dense("ix", 3, Metric::Cosine)).map(|_| ())).unwrap();
        let mut last = 0;
        for i in 0..12 {
            run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.upsert("n", vec![rec(&format!("{i}"), 1.0, "x")]).map(|_| ())).unwrap();
            let lsn = db.index("ix").unwrap().namespace_lsn("n");
            assert!(lsn > last);
            last = lsn;
        }
        let mut fresh = Db::open(TINY);
        run(&mut fresh, &store, |db| db.index_mut("ix")?.load(Needs::Namespace("n"))).0.unwrap();
        assert_eq!(fresh.index("ix").unwrap().namespace_lsn("n"), last);
        // Dropping and re-creating a namespace never moves its LSN backwards.
        run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.delete("n", &DeleteSelector::All).map(|_| ())).unwrap();
        run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.upsert("n", vec![rec("again", 1.0, "x")]).map(|_| ())).unwrap();
        assert!(db.index("ix").unwrap().namespace_lsn("n") > last);
    }
}

/// The store the deterministic workload produces with the [`TINY`] thresholds.
fn workload_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    let mut db = Db::open(TINY);
    for op in workload() {
        let _ = run_apply(&mut db, &mut store, |db| op(db));
    }
    store
}

/// Written by format version 1 with CRC-32 checksums (the first stored format). Must load forever.
const FIXTURE_V1: &[u8] = include_bytes!("../fixtures/v1/workload.store");
/// Written by format version 2 with XXH3 checksums (manifests with graph chunk counts, no int8
/// codes). Must load forever.
const FIXTURE_V2: &[u8] = include_bytes!("../fixtures/v2/workload.store");
const FIXTURE_V3: &[u8] = include_bytes!("../fixtures/v3/workload.store");
/// What this build writes for the workload, re-blessed (LARCH_BLESS=1) when the writer changes.
const FIXTURE_CURRENT: &[u8] = include_bytes!("../fixtures/current/workload.store");

wasm_test! {
    fn format_v1_fixture_still_loads() {
        let store = MemoryStore::from_bytes(FIXTURE_V1).unwrap();
        assert_eq!(store.get("root").map(|b| b[7]), Some(0), "the v1 fixture uses CRC-32");
        let mut mem = Db::new();
        for op in workload() {
            let _ = op(&mut mem);
        }
        assert_eq!(snapshot_of(&store, TINY), snapshot_mem(&mut mem));
    }
}

wasm_test! {
    fn format_v2_fixture_still_loads() {
        let store = MemoryStore::from_bytes(FIXTURE_V2).unwrap();
        assert_eq!(store.get("root").map(|b| b[7]), Some(1), "the v2 fixture uses XXH3");
        let version = |k: &str| u16::from_le_bytes([store.get(k).unwrap()[4], store.get(k).unwrap()[5]]);
        assert!(store.keys().all(|k| version(k) == 2), "every blob of the fixture is version 2");
        let mut mem = Db::new();
        for op in workload() {
            let _ = op(&mut mem);
        }
        assert_eq!(snapshot_of(&store, TINY), snapshot_mem(&mut mem));
    }
}

wasm_test! {
    fn format_v3_fixture_still_loads() {
        let store = MemoryStore::from_bytes(FIXTURE_V3).unwrap();
        let version = |k: &str| u16::from_le_bytes([store.get(k).unwrap()[4], store.get(k).unwrap()[5]]);
        assert!(store.keys().all(|k| version(k) == 3), "every blob of the fixture is version 3");
        let mut mem = Db::new();
        for op in workload() {
            let _ = op(&mut mem);
        }
        assert_eq!(snapshot_of(&store, TINY), snapshot_mem(&mut mem));
    }
}

wasm_test! {
    fn the_same_operations_produce_the_same_bytes_on_every_target() {
        // The fixture was written natively (LARCH_BLESS=1); this test also runs on wasm32.
        let bytes = workload_store().to_bytes();
        assert!(bytes == FIXTURE_CURRENT, "bytes differ from tests/fixtures/current/workload.store");
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn bless_fixture_when_asked() {
    if std::env::var("LARCH_BLESS").is_ok() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/current/workload.store"
        );
        std::fs::write(path, workload_store().to_bytes()).unwrap();
    }
}

wasm_test! {
    fn snapshots_reject_damage() {
        let bytes = workload_store().to_bytes();
        assert!(MemoryStore::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(MemoryStore::from_bytes(b"junk").is_err());
        let mut flipped = bytes.clone();
        flipped[0] ^= 1;
        assert!(MemoryStore::from_bytes(&flipped).is_err());
    }
}

wasm_test! {
    fn idle_namespaces_are_evicted_least_recently_used_first_and_reload() {
        let mut store = MemoryStore::new();
        let mut db = Db::open(TINY);
        run_apply(&mut db, &mut store, |db| db.create_index(IndexConfig::dense("ix", 3, Metric::Cosine)).map(|_| ())).unwrap();
        for ns in ["a", "b", "c"] {
            run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.upsert(ns, vec![rec(ns, 1.0, "x")]).map(|_| ())).unwrap();
        }
        run(&mut db, &store, |db| db.index_mut("ix")?.load(Needs::Namespace("a"))).0.unwrap();
        assert_eq!(db.index("ix").unwrap().loaded_namespaces(), 3);
        assert_eq!(db.evict_idle(1), 2);
        let ix = db.index("ix").unwrap();
        assert!(ix.namespace("a").unwrap().is_some(), "the most recently used stays");
        assert!(matches!(ix.namespace("b"), Err(Error::NotLoaded { .. })));
        let got = run(&mut db, &store, |db| {
            let ix = db.index_mut("ix")?;
            ix.load(Needs::Namespace("b"))?;
            ix.fetch("b", &["b".to_string()])
        })
        .0
        .unwrap();
        assert_eq!(got[0].id, "b");
    }
}

wasm_test! {
    fn namespaces_survive_catalog_base_rewrites() {
        // More catalog changes than the delta budget forces base rewrites in between; every
        // created namespace must be visible to a fresh reader.
        let mut store = MemoryStore::new();
        let mut db = Db::open(TINY);
        run_apply(&mut db, &mut store, |db| db.create_index(IndexConfig::dense("ix", 3, Metric::Cosine)).map(|_| ())).unwrap();
        for i in 0..200 {
            let ns = format!("n{i:03}");
            run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.upsert(&ns, vec![rec("r", 1.0, "x")]).map(|_| ())).unwrap();
            if i % 3 == 0 {
                let victim = format!("n{:03}", i / 2);
                let _ = run_apply(&mut db, &mut store, |db| db.index_mut("ix")?.delete_namespace(&victim));
            }
        }
        let mut mem = Db::new();
        mem.create_index(IndexConfig::dense("ix", 3, Metric::Cosine)).unwrap();
        for i in 0..200 {
            mem.index_mut("ix").unwrap().upsert(&format!("n{i:03}"), vec![rec("r", 1.0, "x")]).unwrap();
            if i % 3 == 0 {
                let _ = mem.index_mut("ix").unwrap().delete_namespace(&format!("n{:03}", i / 2));
            }
        }
        assert_eq!(snapshot_of(&store, TINY), snapshot_mem(&mut mem));
    }
}

wasm_test! {
    fn every_control_route_loads_the_root_of_a_cold_database() {
        use larch::api::{Api, ApiOptions, Request};
        let mut store = MemoryStore::new();
        let create = br#"{"name":"ix","dimension":2,"metric":"cosine","spec":{"serverless":{"cloud":"aws","region":"us-east-1"}}}"#;
        let mut api = Api::open(ApiOptions::default(), TINY);
        let r = api.serve(&mut store, &Request { method: "POST", path: "/indexes", body: create, ..Request::default() });
        assert_eq!(r.status, 201);
        for (method, body) in [("GET", &b""[..]), ("PATCH", &br#"{"tags":{"a":"b"}}"#[..]), ("DELETE", &b""[..])] {
            let mut cold = Api::open(ApiOptions::default(), TINY);
            let r = cold.serve(&mut store, &Request { method, path: "/indexes/ix", body, ..Request::default() });
            assert!(r.status < 300, "{method}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
    }
}

wasm_test! {
    fn a_v1_store_gets_graphs_and_keeps_loading() {
        use larch::namespace::AnnConfig;
        let mut store = MemoryStore::from_bytes(FIXTURE_V1).unwrap();
        let expected = snapshot_of(&store, TINY);
        // Tiny segments: every one of them gets a graph.
        let ann = AnnConfig {
            merge_bytes: 0,
            min_records: 1,
            ..AnnConfig::default()
        };
        let load_all = |db: &mut Db, store: &mut MemoryStore| {
            let names: Vec<String> = run(db, store, |db| {
                Ok(db.list_indexes()?.map(|c| c.name.clone()).collect::<Vec<_>>())
            })
            .0
            .unwrap();
            for ix in names {
                run_apply(db, store, |db| db.index_mut(&ix)?.load(Needs::Everything)).unwrap();
            }
        };
        let mut db = Db::open(TINY);
        db.set_ann_config(ann);
        load_all(&mut db, &mut store);
        assert!(db.take_writes().is_empty(), "loading wrote nothing");
        assert!(db.index_step(3), "work is pending after loading a v1 store");
        while db.index_step(1000) {}
        for b in db.take_writes() {
            store.apply(&b);
        }
        assert!(store.keys().any(|k| k.contains("/g/")), "graphs were written");
        // Namespaces with segments were rewritten with the current version; the others stay
        // version 1.
        let version = |k: &str| u16::from_le_bytes([store.get(k).unwrap()[4], store.get(k).unwrap()[5]]);
        let manifests: Vec<u16> = store.keys().filter(|k| k.ends_with("/m")).map(version).collect();
        let current = larch::format::FORMAT_VERSION;
        assert!(manifests.contains(&current) && manifests.contains(&1), "{manifests:?}");
        assert!(
            store.keys().any(|k| k.contains("/s/") && store.get(k).unwrap()[4..6] == 1u16.to_le_bytes()),
            "v1 segment blobs are kept as they are"
        );
        assert_eq!(snapshot_of(&store, TINY), expected);
        // A cold database reads the graphs and has nothing to build.
        let mut cold = Db::open(TINY);
        cold.set_ann_config(ann);
        load_all(&mut cold, &mut store);
        assert!(!cold.index_step(usize::MAX));
        assert!(cold.take_writes().is_empty());
    }
}

wasm_test! {
    fn a_v2_store_opened_with_int8_searches_correctly_and_gets_codes_from_index_step() {
        use larch::db::{Query, QuerySource};
        use larch::namespace::{AnnConfig, QueryVector};
        let mut store = MemoryStore::from_bytes(FIXTURE_V2).unwrap();
        let expected = snapshot_of(&store, TINY);
        let mut mem = Db::new();
        for op in workload() {
            let _ = op(&mut mem);
        }
        // Tiny segments: every one of them gets a graph, then codes.
        let ann = AnnConfig {
            merge_bytes: 0,
            min_records: 1,
            int8: true,
            ..AnnConfig::default()
        };
        let queries: Vec<Query> = [[1.0, 1.0, -1.0], [40.0, 1.0, -40.0], [-3.0, 0.5, 2.0]]
            .into_iter()
            .map(|v| Query {
                vector: QuerySource::Vector(QueryVector { values: Some(v.to_vec()), sparse_values: None }),
                top_k: 4,
                filter: None,
                include_values: false,
                include_metadata: false,
            })
            .collect();
        let namespaces = ["a", "__default__", "empty"];
        let answers = |db: &mut Db, store: &MemoryStore| -> Vec<Vec<(String, u32)>> {
            let mut out = Vec::new();
            for ns in namespaces {
                for q in &queries {
                    let found = run(db, store, |db| {
                        let ix = db.index_mut("ix")?;
                        ix.load(Needs::Namespace(ns))?;
                        ix.query(ns, q)
                    })
                    .0
                    .unwrap();
                    out.push(found.into_iter().map(|m| (m.id, m.score.to_bits())).collect());
                }
            }
            out
        };
        let segments_and_codes = |db: &Db| -> (usize, usize, usize) {
            let ix = db.index("ix").unwrap();
            namespaces.iter().filter_map(|ns| ix.namespace(ns).unwrap()).fold((0, 0, 0), |(s, g, c), n| {
                (s + n.segment_count(), g + n.graph_count(), c + n.int8_count())
            })
        };
        let want = answers(&mut mem, &MemoryStore::new());
        let mut db = Db::open(TINY);
        db.set_ann_config(ann);
        assert_eq!(answers(&mut db, &store), want, "exact before any index_step");
        let (segments, graphs, codes) = segments_and_codes(&db);
        assert!(segments > 0);
        assert_eq!((graphs, codes), (0, 0), "loading builds nothing");
        assert!(db.take_writes().is_empty(), "loading wrote nothing");
        while db.index_step(1000) {}
        for b in db.take_writes() {
            store.apply(&b);
        }
        assert!(store.keys().any(|k| k.contains("/q/")), "codes were written");
        assert_eq!(segments_and_codes(&db), (segments, segments, segments));
        assert_eq!(answers(&mut db, &store), want, "on graphs and codes");
        assert_eq!(snapshot_of(&store, TINY), expected);
        // A cold database reads the graphs and codes and has nothing to build.
        let mut cold = Db::open(TINY);
        cold.set_ann_config(ann);
        assert_eq!(answers(&mut cold, &store), want);
        assert_eq!(segments_and_codes(&cold), (segments, segments, segments));
        assert!(!cold.index_step(usize::MAX));
        assert!(cold.take_writes().is_empty());
    }
}
