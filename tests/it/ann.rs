//! Approximate search of sealed segments: HNSW graphs built in bounded steps, persisted with
//! their segments, searched in place after a cold open, and exact whenever they cannot be.

use std::collections::{BTreeMap, BTreeSet};

use larch::api::{Api, ApiOptions, Request};
use larch::format::{self, BlobKind};
use larch::index::hnsw::HnswConfig;
use larch::namespace::{AnnConfig, QueryVector, StorageConfig};
use larch::storage::{MemoryStore, keys};
use larch::{Error, Filter, Metadata, Metric, Namespace, Record, SparseVector};
use serde_json::{Value, json};

use crate::common::VERSION;
use crate::wasm_test;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.unit()).collect()
    }
}

fn record(i: usize, values: Vec<f32>) -> Record {
    Record {
        id: format!("r{i:05}"),
        values,
        sparse_values: None,
        metadata: Some(
            Metadata::from_json(&json!({
                "g": format!("{}", i % 10),
                "odd": i % 2 == 1,
                "u": i,
            }))
            .unwrap(),
        ),
    }
}

/// Seal only when asked.
const NEVER_SEAL: StorageConfig = StorageConfig {
    seal_records: usize::MAX,
    max_log_entries: usize::MAX,
    max_segments: 8,
    row_cache_bytes: 16 << 20,
};

fn ann(min_records: usize) -> AnnConfig {
    AnnConfig {
        min_records,
        hnsw: HnswConfig {
            m: 12,
            ef_construction: 64,
            ef_search: 48,
            ..HnswConfig::default()
        },
        // These tests are about one segment's graph; consolidation has its own tests.
        merge_bytes: 0,
        ..AnnConfig::default()
    }
}

/// A namespace with one sealed segment of `n` records plus `extra` in the memtable, graphs
/// pending (not built).
fn namespace(metric: Metric, dim: usize, n: usize, extra: usize, seed: u64) -> Namespace {
    let mut rng = Rng(seed);
    let mut ns = Namespace::with_config(dim, metric, NEVER_SEAL);
    ns.set_ann_config(ann(500));
    let records: Vec<Record> = (0..n).map(|i| record(i, rng.vector(dim))).collect();
    for chunk in records.chunks(1000) {
        ns.upsert(chunk.to_vec());
    }
    ns.seal();
    let more: Vec<Record> = (n..n + extra).map(|i| record(i, rng.vector(dim))).collect();
    if !more.is_empty() {
        ns.upsert(more);
    }
    ns
}

fn build_all(ns: &mut Namespace) {
    while ns.index_step(1000) {}
}

fn ids(ns: &Namespace, q: &QueryVector, k: usize, f: Option<&Filter>) -> Vec<String> {
    ns.query(q, k, f)
        .unwrap()
        .iter()
        .map(|s| ns.id(s.loc).to_string())
        .collect()
}

fn dense(v: Vec<f32>) -> QueryVector {
    QueryVector {
        values: Some(v),
        sparse_values: None,
    }
}

/// Mean recall@k of `approx` against `exact` over `queries`.
fn recall(
    approx: &Namespace,
    exact: &Namespace,
    queries: &[QueryVector],
    k: usize,
    f: Option<&Filter>,
) -> f64 {
    let mut hit = 0usize;
    let mut total = 0usize;
    for q in queries {
        let truth: BTreeSet<String> = ids(exact, q, k, f).into_iter().collect();
        let got = ids(approx, q, k, f);
        assert_eq!(got.len(), truth.len(), "ANN returned a short answer");
        total += truth.len();
        hit += got.iter().filter(|id| truth.contains(*id)).count();
    }
    if total == 0 {
        return 1.0;
    }
    hit as f64 / total as f64
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn namespace_recall_at_10_against_exact_scan() {
    for (metric, seed) in [
        (Metric::Cosine, 1),
        (Metric::Euclidean, 2),
        (Metric::DotProduct, 3),
    ] {
        let exact = namespace(metric, 24, 4000, 150, seed);
        let mut approx = exact.clone();
        assert_eq!(approx.graph_count(), 0);
        build_all(&mut approx);
        assert_eq!(approx.graph_count(), 1);
        let mut rng = Rng(seed + 100);
        let queries: Vec<QueryVector> = (0..60).map(|_| dense(rng.vector(24))).collect();
        let r = recall(&approx, &exact, &queries, 10, None);
        assert!(r >= 0.9, "{metric:?}: recall@10 {r}");
        // A deliberately weak graph misses neighbours: proof that queries use the graph.
        let mut weak = exact.clone();
        weak.set_ann_config(AnnConfig::disabled());
        weak.set_ann_config(AnnConfig {
            min_records: 500,
            hnsw: HnswConfig {
                m: 2,
                ef_construction: 4,
                ef_search: 10,
                ..HnswConfig::default()
            },
            // Its own calibration (and the scan's cost at this size) would send every query to
            // the exact scan.
            auto_ef: false,
            ..AnnConfig::default()
        });
        build_all(&mut weak);
        let w = recall(&weak, &exact, &queries, 10, None);
        assert!(w < r, "{metric:?}: weak graph recall {w}, default {r}");
        // Scores are the exact scan's: a result both return scores the same bits.
        let q = &queries[0];
        let a = approx.query(q, 10, None).unwrap();
        let e = exact.query(q, 10, None).unwrap();
        for s in &a {
            if let Some(t) = e.iter().find(|t| exact.id(t.loc) == approx.id(s.loc)) {
                assert_eq!(s.score.to_bits(), t.score.to_bits());
            }
        }
    }
}

wasm_test! {
    fn index_step_inserts_at_most_budget_nodes_per_call() {
        let mut ns = namespace(Metric::Cosine, 8, 1234, 0, 7);
        let mut calls = 0;
        assert_eq!(ns.graph_build_progress(), (0, 1234));
        loop {
            let (used, more) = ns.index_step_counted(100);
            assert!(used <= 100, "{used} nodes in one call");
            calls += 1;
            if !more {
                break;
            }
            assert_eq!(used, 100);
            assert_eq!(ns.graph_build_progress(), (100 * calls, 1234));
        }
        assert_eq!(ns.graph_build_progress(), (0, 0));
        assert_eq!(calls, 1234usize.div_ceil(100));
        assert_eq!(ns.graph_count(), 1);
        assert_eq!(ns.index_step_counted(100), (0, false));
        // Small segments and a disabled configuration get no graph.
        let mut small = namespace(Metric::Cosine, 8, 300, 0, 8);
        assert!(!small.index_step(100));
        let mut off = namespace(Metric::Cosine, 8, 800, 0, 9);
        off.set_ann_config(AnnConfig::disabled());
        assert!(!off.index_step(100));
        assert_eq!(off.graph_count(), 0);
    }
}

wasm_test! {
    fn filtered_and_tombstoned_graph_queries_are_exact_where_they_must_be() {
        let dim = 12;
        let exact = namespace(Metric::Euclidean, dim, 6000, 40, 11);
        let mut approx = exact.clone();
        build_all(&mut approx);
        let mut exact = exact;
        // Tombstones in the segment: deletes and overwrites (the new versions live in the
        // memtable).
        let deleted: Vec<String> = (0..6000).step_by(7).map(|i| format!("r{i:05}")).collect();
        let mut rng = Rng(12);
        let overwritten: Vec<Record> = (1..6000)
            .step_by(13)
            .map(|i| record(i, rng.vector(dim)))
            .collect();
        for ns in [&mut exact, &mut approx] {
            ns.delete_ids(deleted.iter().map(String::as_str));
            ns.upsert(overwritten.clone());
        }
        assert_eq!(approx.graph_count(), 1, "tombstones keep the graph");
        // Ids deleted and not upserted again since.
        let deleted: BTreeSet<String> = deleted
            .into_iter()
            .filter(|id| overwritten.iter().all(|r| r.id != *id))
            .collect();
        let filters = [
            json!({"g": {"$eq": "3"}}),
            json!({"g": {"$in": ["1", "2", "5"]}}),
            json!({"g": {"$ne": "0"}}),
            json!({"odd": true}),
            json!({"u": {"$eq": 42}}),
            json!({"u": {"$eq": 43}}),
            json!({"u": {"$lt": 30}}),
            json!({"g": {"$eq": "nope"}}),
            json!({"$and": [{"odd": false}, {"g": {"$in": ["2", "4"]}}]}),
        ];
        let queries: Vec<QueryVector> = (0..20).map(|_| dense(rng.vector(dim))).collect();
        for fj in &filters {
            let f = Filter::parse(fj).unwrap();
            let matching = approx.count(Some(&f));
            assert_eq!(matching, exact.count(Some(&f)));
            for k in [1, 10, 100] {
                for q in &queries {
                    let got = approx.query(q, k, Some(&f)).unwrap();
                    assert_eq!(got.len(), k.min(matching), "{fj} k {k}");
                    for s in &got {
                        let id = approx.id(s.loc);
                        assert!(!deleted.contains(id), "deleted {id} returned for {fj}");
                        assert_eq!(approx.locate(id), Some(s.loc), "stale version of {id}");
                        assert!(f.matches(approx.metadata(s.loc).unwrap()), "{id} does not match {fj}");
                    }
                }
            }
            let r = recall(&approx, &exact, &queries, 10, Some(&f));
            assert!(r >= 0.9, "{fj}: filtered recall@10 {r}");
        }
        // Unfiltered, with tombstones.
        let r = recall(&approx, &exact, &queries, 10, None);
        assert!(r >= 0.9, "recall@10 with tombstones {r}");
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// A random sparse vector of `nnz` distinct indices below `vocab`, values in [0, 2).
fn sparse(rng: &mut Rng, vocab: u32, nnz: usize) -> SparseVector {
    let mut idx: Vec<u32> = Vec::new();
    while idx.len() < nnz {
        let i = (rng.next() % vocab as u64) as u32;
        if !idx.contains(&i) {
            idx.push(i);
        }
    }
    let values = (0..nnz).map(|_| rng.unit() + 1.0).collect();
    SparseVector::new(idx, values).unwrap()
}

#[cfg(not(target_arch = "wasm32"))]
/// A dotproduct namespace of one sealed segment of `n` records (every other one with sparse
/// values) plus `extra` in the memtable, graphs pending.
fn hybrid_namespace(dim: usize, n: usize, extra: usize, seed: u64) -> Namespace {
    let mut rng = Rng(seed);
    let mut ns = Namespace::with_config(dim, Metric::DotProduct, NEVER_SEAL);
    ns.set_ann_config(ann(500));
    let mut make = |i: usize| {
        let mut r = record(i, rng.vector(dim));
        if i.is_multiple_of(2) {
            r.sparse_values = Some(sparse(&mut rng, 400, 6));
        }
        r
    };
    let records: Vec<Record> = (0..n).map(&mut make).collect();
    for chunk in records.chunks(1000) {
        ns.upsert(chunk.to_vec());
    }
    ns.seal();
    let more: Vec<Record> = (n..n + extra).map(&mut make).collect();
    if !more.is_empty() {
        ns.upsert(more);
    }
    ns
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn hybrid_graph_queries_score_exactly_and_recall_against_exact_hybrid() {
    let dim = 16;
    let exact = hybrid_namespace(dim, 4000, 100, 21);
    let mut approx = exact.clone();
    build_all(&mut approx);
    assert_eq!(approx.graph_count(), 1);
    let mut exact = exact;
    let deleted: Vec<String> = (0..4000).step_by(9).map(|i| format!("r{i:05}")).collect();
    for ns in [&mut exact, &mut approx] {
        ns.delete_ids(deleted.iter().map(String::as_str));
    }
    let deleted: BTreeSet<String> = deleted.into_iter().collect();
    let mut rng = Rng(22);
    let queries: Vec<QueryVector> = (0..60)
        .map(|_| QueryVector {
            values: Some(rng.vector(dim)),
            sparse_values: Some(sparse(&mut rng, 400, 12)),
        })
        .collect();
    let filters = [
        None,
        Some(Filter::parse(&json!({"g": {"$in": ["1", "2", "4", "7"]}})).unwrap()),
        Some(Filter::parse(&json!({"odd": false})).unwrap()),
    ];
    for f in &filters {
        let r = recall(&approx, &exact, &queries, 10, f.as_ref());
        assert!(r >= 0.9, "{f:?}: hybrid recall@10 {r}");
        for q in &queries {
            let a = approx.query(q, 10, f.as_ref()).unwrap();
            let e = exact.query(q, 10, f.as_ref()).unwrap();
            assert_eq!(a.len(), e.len());
            for s in &a {
                let id = approx.id(s.loc);
                assert!(!deleted.contains(id), "deleted {id} returned");
                assert!(
                    f.as_ref()
                        .is_none_or(|f| f.matches(approx.metadata(s.loc).unwrap()))
                );
                // The exact hybrid score of this id, whether or not the exact top-10 has it.
                let big = exact.query(q, 4100, f.as_ref()).unwrap();
                let t = big.iter().find(|t| exact.id(t.loc) == id).unwrap();
                assert_eq!(s.score.to_bits(), t.score.to_bits(), "score of {id}");
            }
        }
    }
    // A deliberately weak graph loses dense-only neighbours: proof hybrid queries use it.
    let mut weak = exact.clone();
    weak.set_ann_config(AnnConfig::disabled());
    weak.set_ann_config(AnnConfig {
        min_records: 500,
        hnsw: HnswConfig {
            m: 2,
            ef_construction: 4,
            ef_search: 2,
            ..HnswConfig::default()
        },
        // Its own calibration (and the scan's cost at this size) would send every query to
        // the exact scan.
        auto_ef: false,
        ..AnnConfig::default()
    });
    build_all(&mut weak);
    let w = recall(&weak, &exact, &queries, 10, None);
    assert!(w < 1.0, "weak graph hybrid recall {w}");
}

wasm_test! {
    fn hybrid_graph_queries_find_a_strong_sparse_match_with_a_poor_dense_score() {
        let dim = 12;
        let mut rng = Rng(31);
        let q: Vec<f32> = rng.vector(dim);
        let mut ns = Namespace::with_config(dim, Metric::DotProduct, NEVER_SEAL);
        ns.set_ann_config(ann(500));
        let mut records: Vec<Record> = (0..3000).map(|i| record(i, rng.vector(dim))).collect();
        // The worst possible dense score, but a sparse match that outweighs everything.
        let needle = 1234;
        records[needle].values = q.iter().map(|x| -x).collect();
        records[needle].sparse_values = Some(SparseVector::new(vec![77], vec![1000.0]).unwrap());
        ns.upsert(records);
        ns.seal();
        build_all(&mut ns);
        assert_eq!(ns.graph_count(), 1);
        let query = QueryVector {
            values: Some(q),
            sparse_values: Some(SparseVector::new(vec![77, 5], vec![1.0, 1.0]).unwrap()),
        };
        let got = ns.query(&query, 5, None).unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(ns.id(got[0].loc), "r01234");
        // Filtered out, it is not returned.
        let f = Filter::parse(&json!({"g": {"$ne": "4"}})).unwrap();
        let got = ns.query(&query, 5, Some(&f)).unwrap();
        assert!(got.iter().all(|s| ns.id(s.loc) != "r01234"));
        // Deleted, neither.
        ns.delete_ids(["r01234"]);
        let got = ns.query(&query, 5, None).unwrap();
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|s| ns.id(s.loc) != "r01234"));
    }
}

/// Commits `ns` into `store`.
fn commit(ns: &mut Namespace, store: &mut MemoryStore) {
    if let Some(b) = ns.commit() {
        store.apply(&b);
    }
}

fn reload(
    store: &MemoryStore,
    prefix: &str,
    metric: Metric,
    dim: usize,
    ann_config: AnnConfig,
) -> larch::Result<Namespace> {
    let m = Namespace::decode_manifest("m", store.get(&keys::manifest(prefix)).unwrap())?;
    let blobs: BTreeMap<String, Vec<u8>> = Namespace::required_keys(prefix, &m, ann_config)
        .into_iter()
        .map(|k| {
            let v = store.get(&k).unwrap_or_default().to_vec();
            (k, v)
        })
        .collect();
    Namespace::load(
        dim,
        metric,
        NEVER_SEAL,
        ann_config,
        prefix.to_string(),
        m,
        blobs,
    )
}

wasm_test! {
    fn graphs_are_persisted_and_searched_after_reopen_without_rebuilding() {
        let (dim, metric, prefix) = (10, Metric::Cosine, "n/00000000/00000000/");
        let mut store = MemoryStore::new();
        let mut ns = Namespace::new_persistent(dim, metric, NEVER_SEAL, prefix.into(), 0);
        ns.set_ann_config(ann(500));
        let mut rng = Rng(21);
        let records: Vec<Record> = (0..1500).map(|i| record(i, rng.vector(dim))).collect();
        for chunk in records.chunks(500) {
            ns.upsert(chunk.to_vec());
            commit(&mut ns, &mut store);
        }
        ns.seal();
        commit(&mut ns, &mut store);
        let graph_key = keys::graph(prefix, 0, 0);
        assert!(store.get(&graph_key).is_none(), "no graph before index_step");
        // Reopened before the graph is built: it is scheduled again, not lost.
        let mut early = reload(&store, prefix, metric, dim, ann(500)).unwrap();
        assert!(early.index_step(0));

        while ns.index_step(400) {
            assert!(ns.commit().is_none(), "nothing to write until a graph completes");
        }
        let batch = ns.commit().expect("the completed graph is written");
        assert!(batch.puts.iter().any(|(k, _)| *k == graph_key));
        assert_eq!(batch.puts.last().unwrap().0, keys::manifest(prefix));
        store.apply(&batch);
        assert!(ns.commit().is_none());

        let mut back = reload(&store, prefix, metric, dim, ann(500)).unwrap();
        assert_eq!(back.graph_count(), 1, "the graph is read, not rebuilt");
        assert_eq!(back.index_step_counted(usize::MAX), (0, false));
        let queries: Vec<QueryVector> = (0..25).map(|_| dense(rng.vector(dim))).collect();
        let f = Filter::parse(&json!({"g": {"$in": ["1", "7"]}})).unwrap();
        for q in &queries {
            assert_eq!(ids(&back, q, 10, None), ids(&ns, q, 10, None));
            assert_eq!(ids(&back, q, 10, Some(&f)), ids(&ns, q, 10, Some(&f)));
        }
        let off = reload(&store, prefix, metric, dim, AnnConfig::disabled()).unwrap();
        assert_eq!(off.graph_count(), 1, "a loaded graph is kept even when ANN is off");

        // Merging the segment away sends its graph chunks to garbage.
        let ids_all: Vec<String> = (0..1500).map(|i| format!("r{i:05}")).collect();
        back.delete_ids(ids_all[..1000].iter().map(String::as_str));
        back.seal();
        let b = back.commit().unwrap();
        store.apply(&b);
        assert!(b.deletes.iter().all(|k| !k.is_empty()));
        let b2 = {
            back.upsert(vec![record(9999, rng.vector(dim))]);
            back.commit().unwrap()
        };
        store.apply(&b2);
        assert!(store.get(&graph_key).is_none(), "the merged segment's graph is garbage");
        assert!(store.keys().all(|k| !k.starts_with(&format!("{prefix}g/00000000/"))));
    }
}

wasm_test! {
    fn graphs_scheduled_at_load_use_the_configured_hnsw_parameters() {
        let (dim, metric, prefix) = (6, Metric::Euclidean, "h/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 1, 600, ann(500), 101);
        commit(&mut ns, &mut store);
        assert!(store.get(&keys::graph(prefix, 0, 0)).is_none());
        // Reopened before the graph was built: the pending build takes the loading
        // configuration (m 12, ef_construction 64), not the default one.
        let mut back = reload(&store, prefix, metric, dim, ann(500)).unwrap();
        build_all(&mut back);
        commit(&mut back, &mut store);
        let blob = store.get(&keys::graph(prefix, 0, 0)).unwrap();
        let bytes = format::open_blob("g", BlobKind::GraphChunk, blob).unwrap();
        let view = larch::index::hnsw::HnswView::from_bytes(bytes).unwrap();
        assert_eq!(view.config(), ann(500).hnsw);
    }
}

wasm_test! {
    fn a_damaged_graph_blob_is_corrupt() {
        let (dim, metric, prefix) = (6, Metric::Euclidean, "p/");
        let mut store = MemoryStore::new();
        let mut ns = Namespace::new_persistent(dim, metric, NEVER_SEAL, prefix.into(), 0);
        ns.set_ann_config(ann(500));
        let mut rng = Rng(31);
        ns.upsert((0..600).map(|i| record(i, rng.vector(dim))).collect());
        ns.seal();
        build_all(&mut ns);
        commit(&mut ns, &mut store);
        let key = keys::graph(prefix, 0, 0);
        let good = store.get(&key).unwrap().to_vec();
        assert!(reload(&store, prefix, metric, dim, ann(500)).is_ok());
        // A valid blob whose graph is wrong: an out-of-range neighbour.
        // A blob with a valid header and checksum whose graph is wrong: every word after the
        // header (counts above capacity, neighbours out of range).
        let payload = format::open_blob("g", BlobKind::GraphChunk, &good)
            .unwrap()
            .to_vec();
        let damaged_counts = {
            let mut p = payload.clone();
            for w in p[56..].chunks_exact_mut(4) {
                w.copy_from_slice(&u32::MAX.to_le_bytes());
            }
            p
        };
        let mut bad2 = store.clone();
        bad2.apply(&larch::storage::WriteBatch {
            puts: vec![(key.clone(), format::seal_blob(BlobKind::GraphChunk, &damaged_counts))],
            ..Default::default()
        });
        let r2 = reload(&bad2, prefix, metric, dim, ann(500));
        assert!(matches!(r2, Err(Error::Corrupt { ref what, .. }) if *what == key), "{r2:?}");
        // A truncated blob.
        let mut bad3 = store.clone();
        bad3.apply(&larch::storage::WriteBatch {
            puts: vec![(key.clone(), good[..good.len() - 1].to_vec())],
            ..Default::default()
        });
        assert!(matches!(
            reload(&bad3, prefix, metric, dim, ann(500)),
            Err(Error::Corrupt { .. })
        ));
    }
}

fn request<'a>(
    method: &'a str,
    path: &'a str,
    index: Option<&'a str>,
    body: &'a [u8],
) -> Request<'a> {
    Request {
        method,
        path,
        query: "",
        body,
        api_version: Some(VERSION),
        index,
        namespaces: None,
        ..Request::default()
    }
}

fn call(
    api: &mut Api,
    store: &mut MemoryStore,
    method: &str,
    path: &str,
    index: Option<&str>,
    body: Value,
) -> Value {
    let body = serde_json::to_vec(&body).unwrap();
    let r = api.serve(store, &request(method, path, index, &body));
    assert!(
        r.status < 300,
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    if r.body.is_empty() {
        Value::Null
    } else {
        r.json_body()
    }
}

wasm_test! {
    fn api_index_step_persists_graphs_that_a_cold_api_searches() {
        let storage = StorageConfig {
            seal_records: 700,
            max_log_entries: 64,
            max_segments: 8,
        row_cache_bytes: 16 << 20,
        };
        let mut store = MemoryStore::new();
        let mut api = Api::open(ApiOptions::default(), storage);
        api.db_mut().set_ann_config(ann(500));
        call(&mut api, &mut store, "POST", "/indexes", None, json!({
            "name": "ann", "dimension": 8, "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}
        }));
        let mut rng = Rng(41);
        for batch in 0..3 {
            let vectors: Vec<Value> = (batch * 500..(batch + 1) * 500)
                .map(|i| json!({"id": format!("v{i:05}"), "values": rng.vector(8), "metadata": {"g": i % 4}}))
                .collect();
            call(&mut api, &mut store, "POST", "/vectors/upsert", Some("ann"), json!({"vectors": vectors, "namespace": "ns"}));
        }
        let queries: Vec<Value> = (0..10)
            .map(|_| json!({"vector": rng.vector(8), "topK": 7, "namespace": "ns", "includeMetadata": true, "filter": {"g": {"$lt": 3}}}))
            .collect();
        let exact: Vec<Value> = queries
            .iter()
            .map(|q| call(&mut api, &mut store, "POST", "/query", Some("ann"), q.clone())["matches"].clone())
            .collect();
        let mut steps = 0;
        while api.index_step(300) {
            steps += 1;
            assert!(steps < 100);
        }
        for b in api.take_writes() {
            store.apply(&b);
        }
        assert!(store.keys().any(|k| k.contains("/g/")), "graph chunks were written");
        let warm: Vec<Value> = queries
            .iter()
            .map(|q| call(&mut api, &mut store, "POST", "/query", Some("ann"), q.clone())["matches"].clone())
            .collect();
        for (w, e) in warm.iter().zip(&exact) {
            assert_eq!(w.as_array().unwrap().len(), e.as_array().unwrap().len());
        }
        // A cold API over the same store loads the graphs and has nothing to build.
        let mut cold = Api::open(ApiOptions::default(), storage);
        cold.db_mut().set_ann_config(ann(500));
        let again: Vec<Value> = queries
            .iter()
            .map(|q| call(&mut cold, &mut store, "POST", "/query", Some("ann"), q.clone())["matches"].clone())
            .collect();
        assert_eq!(again, warm);
        assert!(!cold.index_step(usize::MAX));
        assert!(cold.take_writes().is_empty(), "reopening wrote nothing");
    }
}

wasm_test! {
    fn a_crash_at_any_step_of_a_graph_commit_leaves_a_loadable_namespace() {
        let (dim, metric, prefix) = (6, Metric::DotProduct, "c/");
        let mut store = MemoryStore::new();
        let mut ns = Namespace::new_persistent(dim, metric, NEVER_SEAL, prefix.into(), 0);
        ns.set_ann_config(ann(500));
        let mut rng = Rng(51);
        ns.upsert((0..700).map(|i| record(i, rng.vector(dim))).collect());
        ns.seal();
        commit(&mut ns, &mut store);
        let q = dense(rng.vector(dim));
        // 1. The batch writing a completed graph; 2. the batch merging that segment away.
        build_all(&mut ns);
        let graph_batch = ns.commit().unwrap();
        let doomed: Vec<String> = (0..400).map(|i| format!("r{i:05}")).collect();
        ns.delete_ids(doomed.iter().map(String::as_str));
        ns.seal();
        let merge_batch = ns.commit().unwrap();
        for (batch, before, after) in [(&graph_batch, 700, 700), (&merge_batch, 700, 300)] {
            let steps = batch.steps();
            for cut in 0..=steps.len() {
                let mut s = store.clone();
                for step in &steps[..cut] {
                    s.apply_step(*step);
                }
                let back = reload(&s, prefix, metric, dim, ann(500))
                    .unwrap_or_else(|e| panic!("cut {cut}/{}: {e:?}", steps.len()));
                let n = back.len();
                assert!(n == before || n == after, "cut {cut}: {n} records");
                assert_eq!(back.query(&q, 10, None).unwrap().len(), 10);
                if cut == steps.len() && std::ptr::eq(batch, &graph_batch) {
                    assert_eq!(back.graph_count(), 1);
                }
            }
            store.apply(batch);
        }
    }
}

fn ann_int8(min_records: usize) -> AnnConfig {
    AnnConfig {
        int8: true,
        ..ann(min_records)
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn int8_segments_rescore_exactly_and_recall_against_exact_scan() {
    for (metric, seed) in [
        (Metric::Cosine, 31),
        (Metric::Euclidean, 32),
        (Metric::DotProduct, 33),
    ] {
        let dim = 24;
        let exact = namespace(metric, dim, 4000, 150, seed);
        let mut f32_graph = exact.clone();
        build_all(&mut f32_graph);
        let mut approx = exact.clone();
        approx.set_ann_config(ann_int8(500));
        assert_eq!(approx.int8_count(), 0, "no codes before the graph is ready");
        build_all(&mut approx);
        assert_eq!((approx.graph_count(), approx.int8_count()), (1, 1));
        // Bytes per vector: f32 vs codes (plus one f32 offset for cosine / dot product).
        let norm = if metric == Metric::Cosine { 4 } else { 0 };
        let offset = if metric == Metric::Euclidean { 0 } else { 4 };
        let bytes = approx.bytes_per_vector();
        assert_eq!(bytes.f32, dim * 4 + norm);
        assert_eq!(bytes.int8, Some(dim + offset));
        assert_eq!(f32_graph.bytes_per_vector().int8, None);
        assert!(
            approx.approximate_bytes() >= f32_graph.approximate_bytes() + 4000 * (dim + offset),
            "codes are counted"
        );
        let mut rng = Rng(seed + 100);
        let queries: Vec<QueryVector> = (0..60).map(|_| dense(rng.vector(dim))).collect();
        let r = recall(&approx, &exact, &queries, 10, None);
        assert!(r >= 0.9, "{metric:?}: int8 recall@10 {r}");
        // Rescored: every id both paths return has the exact path's score, bit for bit.
        for q in &queries {
            let e = exact.query(q, 10, None).unwrap();
            for s in approx.query(q, 10, None).unwrap() {
                if let Some(t) = e.iter().find(|t| exact.id(t.loc) == approx.id(s.loc)) {
                    assert_eq!(s.score.to_bits(), t.score.to_bits(), "{metric:?}");
                }
            }
        }
        // Turning the option off drops the codes and keeps the graph.
        approx.set_ann_config(ann(500));
        assert_eq!((approx.graph_count(), approx.int8_count()), (1, 0));
        assert_eq!(approx.approximate_bytes(), f32_graph.approximate_bytes());
    }
}

wasm_test! {
    fn int8_filtered_and_tombstoned_queries_never_return_rejected_records_and_are_never_short() {
        let dim = 12;
        let exact = namespace(Metric::Cosine, dim, 6000, 40, 41);
        let mut approx = exact.clone();
        approx.set_ann_config(ann_int8(500));
        build_all(&mut approx);
        assert_eq!(approx.int8_count(), 1);
        let mut exact = exact;
        let deleted: Vec<String> = (0..6000).step_by(7).map(|i| format!("r{i:05}")).collect();
        let mut rng = Rng(42);
        let overwritten: Vec<Record> = (1..6000)
            .step_by(13)
            .map(|i| record(i, rng.vector(dim)))
            .collect();
        for ns in [&mut exact, &mut approx] {
            ns.delete_ids(deleted.iter().map(String::as_str));
            ns.upsert(overwritten.clone());
        }
        assert_eq!(approx.int8_count(), 1, "tombstones keep the codes");
        let deleted: BTreeSet<String> = deleted
            .into_iter()
            .filter(|id| overwritten.iter().all(|r| r.id != *id))
            .collect();
        let filters = [
            json!({"g": {"$eq": "3"}}),
            json!({"g": {"$in": ["1", "2", "5"]}}),
            json!({"g": {"$ne": "0"}}),
            json!({"odd": true}),
            json!({"u": {"$eq": 42}}),
            json!({"u": {"$lt": 30}}),
            json!({"g": {"$eq": "nope"}}),
            json!({"$and": [{"odd": false}, {"g": {"$in": ["2", "4"]}}]}),
        ];
        let queries: Vec<QueryVector> = (0..20).map(|_| dense(rng.vector(dim))).collect();
        for fj in &filters {
            let f = Filter::parse(fj).unwrap();
            let matching = approx.count(Some(&f));
            assert_eq!(matching, exact.count(Some(&f)));
            for k in [1, 10, 100] {
                for q in &queries {
                    let got = approx.query(q, k, Some(&f)).unwrap();
                    assert_eq!(got.len(), k.min(matching), "{fj} k {k}");
                    let want = exact.query(q, k, Some(&f)).unwrap();
                    for s in &got {
                        let id = approx.id(s.loc);
                        assert!(!deleted.contains(id), "deleted {id} returned for {fj}");
                        assert_eq!(approx.locate(id), Some(s.loc), "stale version of {id}");
                        assert!(f.matches(approx.metadata(s.loc).unwrap()), "{id} does not match {fj}");
                        if let Some(t) = want.iter().find(|t| exact.id(t.loc) == id) {
                            assert_eq!(s.score.to_bits(), t.score.to_bits(), "{fj} {id}");
                        }
                    }
                }
            }
            let r = recall(&approx, &exact, &queries, 10, Some(&f));
            assert!(r >= 0.9, "{fj}: int8 filtered recall@10 {r}");
        }
        let r = recall(&approx, &exact, &queries, 10, None);
        assert!(r >= 0.9, "int8 recall@10 with tombstones {r}");
    }
}

/// A persistent namespace of `segments` sealed segments of `per` records each, graphs pending.
fn persistent(
    metric: Metric,
    dim: usize,
    prefix: &str,
    segments: usize,
    per: usize,
    config: AnnConfig,
    seed: u64,
) -> Namespace {
    let mut rng = Rng(seed);
    let mut ns = Namespace::new_persistent(dim, metric, NEVER_SEAL, prefix.into(), 0);
    ns.set_ann_config(config);
    for s in 0..segments {
        ns.upsert(
            (s * per..(s + 1) * per)
                .map(|i| record(i, rng.vector(dim)))
                .collect(),
        );
        ns.seal();
    }
    ns
}

/// Runs `op` on a namespace whose segments may be paged, providing the row groups it asks
/// for from `store` until it answers (the host loop, for a bare namespace), then ends the
/// request.
fn with_rows<T>(
    ns: &mut Namespace,
    store: &MemoryStore,
    op: impl Fn(&Namespace) -> larch::Result<T>,
) -> T {
    loop {
        match op(ns) {
            Ok(t) => {
                ns.end_request();
                return t;
            }
            Err(larch::Error::NotLoaded { keys }) => {
                assert!(!keys.is_empty());
                for k in keys {
                    let bytes = store.get(&k).map(<[u8]>::to_vec);
                    ns.provide_rows(&k, bytes).unwrap();
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Runs background work to completion, providing the row groups merges wait for from `store`.
fn index_with_rows(ns: &mut Namespace, store: &MemoryStore) {
    loop {
        let needs = ns.index_needs();
        for k in &needs {
            let bytes = store.get(k).map(<[u8]>::to_vec);
            ns.provide_rows(k, bytes).unwrap();
        }
        if !ns.index_step(1000) && needs.is_empty() && !ns.indexing_pending() {
            ns.end_request();
            return;
        }
    }
}

/// [`scored`] on a namespace whose rows may be paged.
fn scored_paged(
    ns: &mut Namespace,
    store: &MemoryStore,
    q: &QueryVector,
    k: usize,
    f: Option<&Filter>,
) -> Vec<(String, u32)> {
    with_rows(ns, store, |ns| {
        Ok(ns
            .query(q, k, f)?
            .iter()
            .map(|s| (ns.id(s.loc).to_string(), s.score.to_bits()))
            .collect())
    })
}

/// The ids and score bits of a query.
fn scored(ns: &Namespace, q: &QueryVector, k: usize, f: Option<&Filter>) -> Vec<(String, u32)> {
    ns.query(q, k, f)
        .unwrap()
        .iter()
        .map(|s| (ns.id(s.loc).to_string(), s.score.to_bits()))
        .collect()
}

fn codes_keys(store: &MemoryStore, prefix: &str) -> Vec<String> {
    let q = format!("{prefix}q/");
    store
        .keys()
        .filter(|k| k.starts_with(&q))
        .map(str::to_string)
        .collect()
}

wasm_test! {
    fn int8_codes_are_persisted_and_searched_after_reopen_without_quantizing() {
        let (dim, metric, prefix) = (10, Metric::DotProduct, "n/00000000/00000001/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 2, 700, ann_int8(500), 51);
        commit(&mut ns, &mut store);
        build_all(&mut ns);
        assert_eq!((ns.graph_count(), ns.int8_count()), (2, 2));
        let batch = ns.commit().expect("graphs and codes are written");
        for seg in 0..2 {
            let (g, q) = (keys::graph(prefix, seg, 0), keys::codes(prefix, seg, 0));
            let at = |k: &str| batch.puts.iter().position(|(p, _)| p == k).unwrap();
            assert!(at(&g) < at(&q), "a segment's codes follow its graph");
        }
        assert_eq!(batch.puts.last().unwrap().0, keys::manifest(prefix));
        store.apply(&batch);
        assert_eq!(codes_keys(&store, prefix).len(), 2);
        assert!(ns.commit().is_none());

        // Reopened with int8 on: every segment searches on codes at once, nothing to build.
        let mut back = reload(&store, prefix, metric, dim, ann_int8(500)).unwrap();
        assert_eq!((back.graph_count(), back.int8_count()), (2, back.segment_count()));
        assert_eq!(back.bytes_per_vector(), ns.bytes_per_vector());
        let mut rng = Rng(52);
        let f = Filter::parse(&json!({"g": {"$in": ["1", "7"]}})).unwrap();
        for _ in 0..20 {
            let q = dense(rng.vector(dim));
            let (a, b) = (&mut back, &mut ns);
            assert_eq!(scored_paged(a, &store, &q, 10, None), scored_paged(b, &store, &q, 10, None));
            assert_eq!(
                scored_paged(a, &store, &q, 10, Some(&f)),
                scored_paged(b, &store, &q, 10, Some(&f))
            );
        }
        assert_eq!(back.index_step_counted(usize::MAX), (0, false));
        assert!(back.commit().is_none(), "loading wrote nothing");

        // Reopened with int8 off: the codes are not even read.
        let keys_off = Namespace::required_keys(
            prefix,
            &Namespace::decode_manifest("m", store.get(&keys::manifest(prefix)).unwrap()).unwrap(),
            ann(500),
        );
        assert!(keys_off.iter().all(|k| !k.contains("/q/")), "{keys_off:?}");
        let mut off = reload(&store, prefix, metric, dim, ann(500)).unwrap();
        assert_eq!((off.graph_count(), off.int8_count()), (2, 0));
        // Switched on again before any commit: quantized by index_step, not rewritten.
        off.set_ann_config(ann_int8(500));
        assert_eq!(off.int8_count(), 0, "switching on quantizes nothing by itself");
        let (used, more) = off.index_step_counted(usize::MAX);
        assert!(used > 0 && !more);
        assert_eq!(off.int8_count(), 2);
        for _ in 0..5 {
            let q = dense(rng.vector(dim));
            assert_eq!(scored(&off, &q, 10, None), scored(&ns, &q, 10, None));
        }
        assert!(off.commit().is_none(), "the stored codes are still named");
    }
}

wasm_test! {
    fn codes_of_many_pages_are_stored_a_page_per_blob_and_read_back() {
        // Pinecone's largest dimension, 20,000: 64 slots per page of codes (the most that fit
        // one blob, as a power of two), so 150 records make three pages, stored after one
        // head blob (header, dimension offsets, vector offsets).
        let (dim, metric, prefix) = (20_000, Metric::Cosine, "n/00000000/00000003/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 1, 150, ann_int8(100), 71);
        build_all(&mut ns);
        commit(&mut ns, &mut store);
        let keys = codes_keys(&store, prefix);
        assert_eq!(keys.len(), 4, "{keys:?}");
        let pages: Vec<usize> = keys[1..].iter().map(|k| store.get(k).unwrap().len()).collect();
        let header = larch::format::HEADER_LEN;
        assert_eq!(pages, vec![64 * dim + header, 64 * dim + header, 22 * dim + header]);
        let mut back = reload(&store, prefix, metric, dim, ann_int8(100)).unwrap();
        assert_eq!(back.int8_count(), 1);
        assert_eq!(back.paged_count(), 1, "its rows are read on demand");
        let mut rng = Rng(72);
        for _ in 0..10 {
            let q = dense(rng.vector(dim));
            let (a, b) = (&mut back, &mut ns);
            assert_eq!(scored_paged(a, &store, &q, 10, None), scored_paged(b, &store, &q, 10, None));
        }
    }
}

wasm_test! {
    fn turning_int8_off_then_committing_deletes_the_codes_keys() {
        let (dim, metric, prefix) = (8, Metric::Cosine, "n/00000000/00000002/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 2, 600, ann_int8(500), 61);
        build_all(&mut ns);
        commit(&mut ns, &mut store);
        let stored = codes_keys(&store, prefix);
        assert_eq!(stored.len(), 2);

        ns.set_ann_config(ann(500));
        // Paged segments keep their codes in memory (they search on them without their
        // rows); the stored codes still become garbage.
        assert_eq!((ns.graph_count(), ns.int8_count()), (2, 2));
        let batch = ns.commit().expect("dropping stored codes is a commit");
        assert!(batch.puts.iter().all(|(k, _)| !k.contains("/q/")));
        for k in &stored {
            assert!(batch.deletes.contains(k), "{k} is garbage");
        }
        store.apply(&batch);
        assert!(codes_keys(&store, prefix).is_empty());
        let m = Namespace::decode_manifest("m", store.get(&keys::manifest(prefix)).unwrap()).unwrap();
        assert!(m.segments.iter().all(|s| s.codes_chunks == 0 && s.graph_chunks > 0));
        assert!(Namespace::required_keys(prefix, &m, ann_int8(500)).iter().all(|k| !k.contains("/q/")));

        // On again: quantized by index_step and written under the same keys, which the
        // previous manifest still lists as garbage: this batch must not delete them.
        ns.set_ann_config(ann_int8(500));
        build_all(&mut ns);
        let batch = ns.commit().expect("the codes are written again");
        assert!(batch.deletes.iter().all(|k| !k.contains("/q/")), "{:?}", batch.deletes);
        store.apply(&batch);
        assert_eq!(codes_keys(&store, prefix), stored);
        let back = reload(&store, prefix, metric, dim, ann_int8(500)).unwrap();
        assert_eq!(back.int8_count(), 2);

        // Off and on again with no commit in between: the stored codes stay named and are
        // neither deleted nor rewritten.
        ns.set_ann_config(ann(500));
        ns.set_ann_config(ann_int8(500));
        build_all(&mut ns);
        assert_eq!(ns.int8_count(), 2);
        let batch = ns.commit().expect("switching off marked the namespace dirty");
        assert!(batch.puts.iter().all(|(k, _)| !k.contains("/q/")));
        assert!(batch.deletes.iter().all(|k| !k.contains("/q/")));
        store.apply(&batch);
        assert_eq!(codes_keys(&store, prefix), stored);

        // Merged away, a segment's codes are garbage with its other blobs.
        let doomed: Vec<String> = (0..400).map(|i| format!("r{i:05}")).collect();
        ns.delete_ids(doomed.iter().map(String::as_str));
        ns.seal();
        index_with_rows(&mut ns, &store);
        commit(&mut ns, &mut store);
        ns.upsert(vec![record(9999, Rng(62).vector(dim))]);
        commit(&mut ns, &mut store);
        assert!(store.get(&keys::codes(prefix, 0, 0)).is_none(), "merged segment's codes");
        assert!(store.get(&keys::codes(prefix, 1, 0)).is_some());
    }
}

wasm_test! {
    fn index_step_quantizes_in_bounded_slices_after_the_graph() {
        let dim = 16;
        let mut ns = namespace(Metric::Euclidean, dim, 2000, 0, 71);
        ns.set_ann_config(ann_int8(500));
        let mut graph_calls = 0;
        while ns.graph_count() == 0 {
            // 2000 nodes in budgets of 500, then the calibration in budgets of 1.
            let budget = if graph_calls < 4 { 500 } else { 1 };
            let (used, more) = ns.index_step_counted(budget);
            assert!(used <= budget && more);
            graph_calls += 1;
        }
        assert!(graph_calls > 4, "the calibration follows the insertions");
        // The call that completed the graph used its whole budget on it: no codes yet.
        assert_eq!(ns.int8_count(), 0);
        let mut code_nodes = 0;
        loop {
            let (used, more) = ns.index_step_counted(10);
            assert!((1..=10).contains(&used), "{used}");
            code_nodes += used;
            if !more {
                break;
            }
            assert_eq!(ns.int8_count(), 0, "codes are searched only once complete");
        }
        assert_eq!(ns.int8_count(), 1);
        // Two row passes per vector, 32 per node.
        assert_eq!(code_nodes, (2 * 2000usize).div_ceil(32));
        assert_eq!(ns.index_step_counted(10), (0, false));
    }
}

wasm_test! {
    fn a_damaged_codes_blob_is_corrupt() {
        let (dim, metric, prefix) = (4, Metric::DotProduct, "d/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 1, 60, ann_int8(50), 81);
        build_all(&mut ns);
        commit(&mut ns, &mut store);
        let key = keys::codes(prefix, 0, 0);
        let good = store.get(&key).unwrap().to_vec();
        assert!(reload(&store, prefix, metric, dim, ann_int8(50)).is_ok());
        let with = |bytes: Vec<u8>| {
            let mut s = store.clone();
            s.apply(&larch::storage::WriteBatch {
                puts: vec![(key.clone(), bytes)],
                ..Default::default()
            });
            s
        };
        let is_corrupt = |s: &MemoryStore, what: &str| {
            let r = reload(s, prefix, metric, dim, ann_int8(50));
            matches!(r, Err(Error::Corrupt { what: ref w, .. }) if w == what)
        };
        // Any flipped byte, any truncation.
        for i in 0..good.len() {
            for mask in [0x01, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= mask;
                assert!(is_corrupt(&with(bad), &key), "flip {mask:#x} at {i} of {}", good.len());
            }
        }
        for n in [0, 15, 16, 40, good.len() - 1] {
            assert!(is_corrupt(&with(good[..n].to_vec()), &key), "truncated to {n}");
        }
        // A valid blob holding wrong codes: a non-finite scale, too few vectors, codes of
        // another metric or dimension.
        let payload = format::open_blob("q", BlobKind::CodesChunk, &good).unwrap().to_vec();
        let mut nan_scale = payload.clone();
        nan_scale[20..24].copy_from_slice(&f32::NAN.to_le_bytes());
        let short = payload[..payload.len() - dim].to_vec();
        let vectors: Vec<f32> = (0..60 * dim).map(|i| i as f32).collect();
        let euclid = larch::index::quant::Int8Index::new(Metric::Euclidean, dim, larch::index::dense::Dense::flat(&vectors, dim), &[]).unwrap();
        let wide = larch::index::quant::Int8Index::new(metric, dim * 2, larch::index::dense::Dense::flat(&[1.0; 120 * 4], dim * 2), &[]).unwrap();
        for p in [nan_scale, short, euclid.to_bytes(), wide.to_bytes()] {
            assert!(is_corrupt(&with(format::seal_blob(BlobKind::CodesChunk, &p)), &key));
        }
        // A graph blob where codes belong is refused by its kind.
        let graph = store.get(&keys::graph(prefix, 0, 0)).unwrap().to_vec();
        assert!(is_corrupt(&with(graph), &key));
        // A missing blob.
        let mut gone = store.clone();
        gone.apply(&larch::storage::WriteBatch { deletes: vec![key.clone()], ..Default::default() });
        assert!(is_corrupt(&gone, &key));
        // With int8 off the codes are not read, so the damage does not matter.
        assert!(reload(&gone, prefix, metric, dim, ann(50)).is_ok());
        // A manifest naming codes for a segment without a graph.
        let mkey = keys::manifest(prefix);
        let mut m = Namespace::decode_manifest("m", store.get(&mkey).unwrap()).unwrap();
        m.segments[0].graph_chunks = 0;
        let mut no_graph = store.clone();
        no_graph.apply(&larch::storage::WriteBatch {
            puts: vec![(mkey, format::encode_chunked(BlobKind::Manifest, &m).concat())],
            ..Default::default()
        });
        assert!(is_corrupt(&no_graph, &key));
    }
}

wasm_test! {
    fn a_crash_at_any_step_of_a_codes_commit_leaves_a_loadable_namespace() {
        let (dim, metric, prefix) = (6, Metric::Cosine, "k/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 1, 700, ann_int8(500), 91);
        commit(&mut ns, &mut store);
        let q = dense(Rng(92).vector(dim));
        // 1. graph + codes; 2. int8 off (codes become garbage); 3. on again (rewritten under the
        // same keys); 4. the segment merged away.
        build_all(&mut ns);
        let written = ns.commit().unwrap();
        ns.set_ann_config(ann(500));
        let dropped = ns.commit().unwrap();
        ns.set_ann_config(ann_int8(500));
        build_all(&mut ns);
        let rewritten = ns.commit().unwrap();
        let doomed: Vec<String> = (0..400).map(|i| format!("r{i:05}")).collect();
        ns.delete_ids(doomed.iter().map(String::as_str));
        ns.seal();
        // The segment is paged: it is rewritten in the background, which asks for its rows
        // one group at a time.
        assert_eq!(ns.segment_count(), 1);
        let mut so_far = store.clone();
        for b in [&written, &dropped, &rewritten] {
            so_far.apply(b);
        }
        assert!(ns.indexing_pending() && ns.index_needs().is_empty());
        ns.index_step(0);
        assert!(!ns.index_needs().is_empty(), "the merge asks for row groups");
        index_with_rows(&mut ns, &so_far);
        let merged = ns.commit().unwrap();
        let batches = [
            (&written, 700, 700, 1),
            (&dropped, 700, 700, 0),
            (&rewritten, 700, 700, 1),
            (&merged, 700, 300, 0),
        ];
        for (b, (batch, before, after, codes_after)) in batches.into_iter().enumerate() {
            let steps = batch.steps();
            for cut in 0..=steps.len() {
                let mut s = store.clone();
                for step in &steps[..cut] {
                    s.apply_step(*step);
                }
                let mut back = reload(&s, prefix, metric, dim, ann_int8(500))
                    .unwrap_or_else(|e| panic!("batch {b} cut {cut}/{}: {e:?}", steps.len()));
                let n = back.len();
                assert!(n == before || n == after, "batch {b} cut {cut}: {n} records");
                assert_eq!(scored_paged(&mut back, &s, &q, 10, None).len(), 10);
                if cut == steps.len() {
                    assert_eq!(back.int8_count(), codes_after, "batch {b}");
                }
            }
            store.apply(batch);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Consolidation: sealed segments merged into one in the background (AnnConfig::merge_bytes).

fn ann_merging(min_records: usize) -> AnnConfig {
    AnnConfig {
        merge_bytes: 1 << 30,
        ..ann(min_records)
    }
}

/// `segments` sealed segments of `per` records each (ids r00000…), graphs built, no
/// consolidation yet; and the same records in an exact-only namespace.
fn segmented(
    metric: Metric,
    dim: usize,
    segments: usize,
    per: usize,
    seed: u64,
    prefix: Option<&str>,
) -> (Namespace, Namespace) {
    let mut rng = Rng(seed);
    let mut ns = match prefix {
        Some(p) => Namespace::new_persistent(dim, metric, NEVER_SEAL, p.into(), 0),
        None => Namespace::with_config(dim, metric, NEVER_SEAL),
    };
    ns.set_ann_config(ann(300));
    let mut exact = Namespace::with_config(dim, metric, NEVER_SEAL);
    exact.set_ann_config(AnnConfig::disabled());
    for s in 0..segments {
        let batch: Vec<Record> = (s * per..(s + 1) * per)
            .map(|i| record(i, rng.vector(dim)))
            .collect();
        ns.upsert(batch.clone());
        ns.seal();
        exact.upsert(batch);
    }
    build_all(&mut ns);
    assert_eq!((ns.segment_count(), ns.graph_count()), (segments, segments));
    ns.set_ann_config(ann_merging(300));
    (ns, exact)
}

wasm_test! {
    fn segments_consolidate_into_one_graph_in_bounded_steps_and_answer_like_before() {
        let dim = 12;
        let (mut ns, exact) = segmented(Metric::Cosine, dim, 4, 400, 61, None);
        let mut rng = Rng(62);
        let queries: Vec<QueryVector> = (0..30).map(|_| dense(rng.vector(dim))).collect();
        let before: Vec<Vec<String>> = queries.iter().map(|q| ids(&ns, q, 10, None)).collect();
        // Bounded: each call inserts at most its budget, and the old segments answer meanwhile.
        let mut calls = 0;
        loop {
            let (done, more) = ns.index_step_counted(100);
            assert!(done <= 100, "index_step({done}) over its budget");
            calls += 1;
            if ns.consolidating() {
                assert_eq!(ns.segment_count(), 4, "inputs serve queries until the swap");
                let q = &queries[calls % queries.len()];
                assert_eq!(ids(&ns, q, 10, None), before[calls % queries.len()]);
            }
            if !more {
                break;
            }
        }
        assert!(calls >= 1600 / 100, "{calls} calls for 1,600 nodes at 100 per call");
        assert_eq!((ns.segment_count(), ns.graph_count(), ns.len()), (1, 1, 1600));
        let r = recall(&ns, &exact, &queries, 10, None);
        assert!(r >= 0.9, "recall@10 after consolidation {r}");
        let f = Filter::parse(&json!({"g": {"$in": ["1", "7"]}})).unwrap();
        assert_eq!(ns.count(Some(&f)), exact.count(Some(&f)));
        let r = recall(&ns, &exact, &queries, 10, Some(&f));
        assert!(r >= 0.9, "filtered recall@10 after consolidation {r}");
        // One large segment and few small ones do not consolidate (the rebuild would not pay).
        let mut more = Rng(63);
        ns.upsert((1600..1700).map(|i| record(i, more.vector(dim))).collect());
        ns.seal();
        build_all(&mut ns);
        assert_eq!(ns.segment_count(), 2);
    }
}

wasm_test! {
    fn deletes_and_overwrites_made_during_a_consolidation_are_carried_over() {
        let dim = 8;
        let (mut ns, mut exact) = segmented(Metric::Euclidean, dim, 3, 400, 71, None);
        while !ns.consolidating() {
            assert!(ns.index_step(50), "a consolidation starts");
        }
        ns.index_step(200);
        assert!(ns.consolidating());
        // Meanwhile: deletes, overwrites (new vectors), deletes of ids overwritten earlier in a
        // segment, a delete by filter and new records.
        let mut rng = Rng(72);
        let deleted: Vec<String> = (0..1200).step_by(9).map(|i| format!("r{i:05}")).collect();
        let overwritten: Vec<Record> = (1..1200)
            .step_by(11)
            .filter(|i| i % 9 != 0)
            .map(|i| record(i, rng.vector(dim)))
            .collect();
        let fresh: Vec<Record> = (5000..5050).map(|i| record(i, rng.vector(dim))).collect();
        let f = Filter::parse(&json!({"g": "3"})).unwrap();
        for n in [&mut ns, &mut exact] {
            n.delete_ids(deleted.iter().map(String::as_str));
            n.upsert(overwritten.clone());
            n.upsert(fresh.clone());
            n.delete_where(&f);
        }
        build_all(&mut ns);
        assert!(!ns.consolidating());
        assert_eq!(ns.segment_count(), 1);
        assert_eq!(ns.len(), exact.len());
        for i in (0..1200).chain(5000..5050) {
            let id = format!("r{i:05}");
            let (a, e) = (ns.locate(&id), exact.locate(&id));
            assert_eq!(a.is_some(), e.is_some(), "{id}: live in one and not the other");
            if let (Some(a), Some(e)) = (a, e) {
                assert_eq!(ns.record(a).unwrap(), exact.record(e).unwrap(), "{id}: a stale version");
            }
        }
        let mut rng = Rng(73);
        let queries: Vec<QueryVector> = (0..30).map(|_| dense(rng.vector(dim))).collect();
        for q in &queries {
            for s in ns.query(q, 20, None).unwrap() {
                let id = ns.id(s.loc);
                assert_eq!(ns.locate(id), Some(s.loc), "{id}: dead or stale version returned");
            }
        }
        assert!(recall(&ns, &exact, &queries, 10, None) >= 0.9);
    }
}

wasm_test! {
    fn a_consolidation_is_dropped_when_compaction_takes_an_input_and_data_stays_intact() {
        let dim = 8;
        let (mut ns, mut exact) = segmented(Metric::DotProduct, dim, 3, 400, 81, None);
        while !ns.consolidating() {
            assert!(ns.index_step(50));
        }
        // Kill most of the first segment: the next seal's compaction rewrites it.
        let doomed: Vec<String> = (0..400).filter(|i| i % 5 != 0).map(|i| format!("r{i:05}")).collect();
        let mut rng = Rng(82);
        let fresh: Vec<Record> = (9000..9010).map(|i| record(i, rng.vector(dim))).collect();
        for n in [&mut ns, &mut exact] {
            n.delete_ids(doomed.iter().map(String::as_str));
            n.upsert(fresh.clone());
            n.seal();
        }
        build_all(&mut ns);
        assert_eq!(ns.len(), exact.len());
        let mut rng = Rng(83);
        let queries: Vec<QueryVector> = (0..20).map(|_| dense(rng.vector(dim))).collect();
        for q in &queries {
            for s in ns.query(q, 10, None).unwrap() {
                assert_eq!(ns.locate(ns.id(s.loc)), Some(s.loc));
            }
        }
        assert!(recall(&ns, &exact, &queries, 10, None) >= 0.9);
        for id in &doomed {
            assert!(ns.locate(id).is_none(), "{id} came back");
        }
    }
}

wasm_test! {
    fn a_consolidated_segment_is_committed_and_reloads_and_its_inputs_become_garbage() {
        let (dim, metric, prefix) = (10, Metric::Cosine, "n/00000000/00000002/");
        let mut store = MemoryStore::new();
        let (mut ns, _) = segmented(metric, dim, 3, 400, 91, Some(prefix));
        commit(&mut ns, &mut store);
        let old_keys: Vec<String> = store.keys().map(str::to_string).collect();
        while !ns.consolidating() {
            assert!(ns.index_step(50));
        }
        ns.delete_ids(["r00007", "r00408"]);
        // A commit in the middle writes the delete, nothing of the consolidation.
        commit(&mut ns, &mut store);
        let mid = reload(&store, prefix, metric, dim, ann(300)).unwrap();
        assert_eq!((mid.segment_count(), mid.len()), (3, 1198));
        build_all(&mut ns);
        ns.delete_ids(["r00801"]);
        commit(&mut ns, &mut store);
        let back = reload(&store, prefix, metric, dim, ann(300)).unwrap();
        assert_eq!((back.segment_count(), back.graph_count(), back.len()), (1, 1, 1197));
        for id in ["r00007", "r00408", "r00801"] {
            assert!(back.locate(id).is_none(), "{id} came back after reload");
        }
        let mut rng = Rng(92);
        for _ in 0..10 {
            let q = dense(rng.vector(dim));
            assert_eq!(scored(&back, &q, 10, None), scored(&ns, &q, 10, None));
        }
        // The inputs' blobs are deleted by that commit.
        let segment_blobs = |k: &&String| k.contains("/s/") || k.contains("/v/") || k.contains("/g/");
        assert!(old_keys.iter().filter(segment_blobs).count() >= 9, "{old_keys:?}");
        for k in old_keys.iter().filter(segment_blobs) {
            assert!(store.get(k).is_none(), "{k} of an input segment is still stored");
        }
    }
}

wasm_test! {
    fn a_due_consolidation_skips_its_inputs_graphs_and_builds_only_the_merged_one() {
        let dim = 6;
        let mut rng = Rng(101);
        let mut ns = Namespace::with_config(dim, Metric::Euclidean, NEVER_SEAL);
        let mut exact = Namespace::with_config(dim, Metric::Euclidean, NEVER_SEAL);
        exact.set_ann_config(AnnConfig::disabled());
        ns.set_ann_config(ann_merging(300));
        for s in 0..2 {
            let batch: Vec<Record> =
                (s * 400..(s + 1) * 400).map(|i| record(i, rng.vector(dim))).collect();
            ns.upsert(batch.clone());
            ns.seal();
            exact.upsert(batch);
        }
        // Half the work: the inputs have no graph and answer exactly meanwhile.
        assert_eq!(ns.index_step_counted(400), (400, true));
        assert!(ns.consolidating());
        assert_eq!((ns.segment_count(), ns.graph_count()), (2, 0));
        let queries: Vec<QueryVector> = (0..10).map(|_| dense(rng.vector(dim))).collect();
        for q in &queries {
            assert_eq!(scored(&ns, q, 10, None), scored(&exact, q, 10, None));
        }
        // One build of the merged segment (800 nodes) plus copying its 800 records (a node of
        // budget per 128), none of the inputs' graphs: 807 nodes of budget, and the merged
        // graph's calibration.
        let mut used = 400;
        loop {
            let (n, more) = ns.index_step_counted(100);
            used += n;
            if !more {
                break;
            }
        }
        // Plus 8 for the merged graph's calibration (64 samples of 800 rows).
        assert_eq!(used, 815);
        assert_eq!((ns.segment_count(), ns.graph_count(), ns.len()), (1, 1, 800));
        assert!(!ns.index_step(1000), "nothing left");
    }
}

wasm_test! {
    fn a_consolidation_swapped_in_between_seals_keeps_the_memtable_and_its_write_log() {
        // Found by the model proptest: the swap marked the namespace as sealed, so the next
        // commit folded (deleted) the write log although the memtable still held its records.
        let (dim, metric, prefix) = (4, Metric::Cosine, "n/00000000/00000009/");
        let config = StorageConfig {
            seal_records: 2,
            max_log_entries: 1,
            max_segments: 2,
        row_cache_bytes: 16 << 20,
        };
        let ann = AnnConfig {
            min_records: 1,
            merge_bytes: 1 << 20,
            ..AnnConfig::default()
        };
        let mut store = MemoryStore::new();
        let mut ns = Namespace::new_persistent(dim, metric, config, prefix.into(), 0);
        ns.set_ann_config(ann);
        let r = |i: usize| record(i, vec![1.0, 0.0, 0.0, i as f32]);
        for batch in [vec![r(0), r(5)], vec![r(0), r(1)], vec![r(0)]] {
            ns.upsert(batch);
            commit(&mut ns, &mut store);
        }
        build_all(&mut ns);
        assert_eq!((ns.segment_count(), ns.len()), (1, 3));
        commit(&mut ns, &mut store);
        let back = reload(&store, prefix, metric, dim, ann).unwrap();
        assert_eq!(back.len(), 3);
        for i in [0, 1, 5] {
            let id = format!("r{i:05}");
            let (a, b) = (ns.locate(&id).unwrap(), back.locate(&id).unwrap());
            assert_eq!(back.record(b).unwrap(), ns.record(a).unwrap(), "{id}");
        }
    }
}

wasm_test! {
    fn a_crash_at_any_step_of_a_consolidation_commit_leaves_a_loadable_namespace() {
        let (dim, metric, prefix) = (6, Metric::Euclidean, "n/00000000/0000000a/");
        let mut store = MemoryStore::new();
        let (mut ns, _) = segmented(metric, dim, 3, 300, 111, Some(prefix));
        // Unsealed writes ride along: a delete during the merge, then an upsert.
        let mut rng = Rng(112);
        commit(&mut ns, &mut store);
        while !ns.consolidating() {
            assert!(ns.index_step(50));
        }
        ns.delete_ids(["r00003"]);
        commit(&mut ns, &mut store);
        build_all(&mut ns);
        ns.upsert(vec![record(7000, rng.vector(dim))]);
        let q = dense(rng.vector(dim));
        let want = scored(&ns, &q, 10, None);
        let batch = ns.commit().unwrap();
        let steps = batch.steps();
        for cut in 0..=steps.len() {
            let mut s = store.clone();
            for step in &steps[..cut] {
                s.apply_step(*step);
            }
            let back = reload(&s, prefix, metric, dim, ann(300))
                .unwrap_or_else(|e| panic!("cut {cut}/{}: {e:?}", steps.len()));
            // Before the manifest: the three inputs without the upsert; after: the new
            // segment with it. Never a loss, never the deleted record.
            let n = back.len();
            assert!(n == 899 || n == 900, "cut {cut}: {n} records");
            assert!(back.locate("r00003").is_none(), "cut {cut}: a deleted record is back");
            if n == 900 {
                assert_eq!(back.segment_count(), 1, "cut {cut}");
                assert_eq!(scored(&back, &q, 10, None), want, "cut {cut}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Probing for background work without doing any (Namespace::indexing_pending).

wasm_test! {
    fn indexing_pending_reports_what_index_step_would_do_without_doing_it() {
        let dim = 8;
        let (mut ns, _) = segmented(Metric::Cosine, dim, 3, 400, 81, None);
        // A new segment's graph is pending, and a consolidation is due: index_step(0) would
        // start the consolidation and drop that build; the probe does neither.
        let mut rng = Rng(82);
        ns.upsert((1200..1500).map(|i| record(i, rng.vector(dim))).collect());
        ns.seal();
        assert!(ns.indexing_pending());
        assert!(!ns.consolidating(), "the probe plans nothing");
        let mut probe = ns.clone();
        assert!(probe.index_step(0));
        assert!(probe.consolidating(), "index_step(0) starts the due consolidation");
        // The probe agrees with index_step(0) at every state until nothing is left to do.
        let mut budget = 7;
        loop {
            let pending = ns.indexing_pending();
            assert_eq!(pending, ns.clone().index_step(0));
            if !pending {
                break;
            }
            budget = budget * 3 % 250 + 1;
            ns.index_step(budget);
        }
        assert_eq!((ns.segment_count(), ns.graph_count()), (1, 1));
        assert!(!ns.index_step(usize::MAX));
        // Db and Index answer for their loaded namespaces.
        let mut db = larch::Db::open(StorageConfig { seal_records: 400, ..NEVER_SEAL });
        db.provide(larch::storage::ROOT_KEY.into(), None);
        db.set_ann_config(ann(300));
        db.create_index(larch::IndexConfig::dense("ix", dim as u32, Metric::Cosine)).unwrap();
        assert!(!db.indexing_pending());
        let batch: Vec<Record> = (0..400).map(|i| record(i, rng.vector(dim))).collect();
        db.index_mut("ix").unwrap().upsert("n", batch).unwrap();
        assert!(db.indexing_pending() && db.index("ix").unwrap().indexing_pending());
        assert_eq!(db.graph_build_progress(), (0, 400));
        db.index_step(150);
        assert_eq!(db.graph_build_progress(), (150, 400));
        while db.index_step(1000) {}
        assert!(!db.indexing_pending());
        assert_eq!(db.graph_build_progress(), (0, 0));
    }
}

// ---------------------------------------------------------------------------------------------
// Memory: what a namespace keeps resident (Namespace::resident_bytes).

wasm_test! {
    fn resident_bytes_count_records_graphs_codes_and_indexes_as_they_appear() {
        let (dim, n) = (16, 2000);
        let mut ns = Namespace::with_config(dim, Metric::Cosine, NEVER_SEAL);
        ns.set_ann_config(ann_int8(500));
        let empty = ns.resident_bytes();
        let mut rng = Rng(91);
        let records: Vec<Record> = (0..n).map(|i| record(i, rng.vector(dim))).collect();
        let estimate: usize = records.iter().map(Namespace::estimate_record_bytes).sum();
        assert!(estimate >= n * (dim * 4 + 4 + 6), "at least the vectors, norms and ids: {estimate}");
        ns.upsert(records);
        // The estimate leaves out only the buffers' spare capacity (they at most double).
        let grown = ns.resident_bytes() - empty;
        assert!(grown >= estimate && grown <= 2 * estimate, "{grown} resident for an estimate of {estimate}");
        ns.seal();
        let sealed = ns.resident_bytes();
        assert!(sealed - empty >= n * (dim * 4 + 4), "{sealed}");
        // Graphs and codes, built in the background, are counted once built.
        let approx = ns.approximate_bytes();
        build_all(&mut ns);
        assert_eq!((ns.graph_count(), ns.int8_count()), (1, 1));
        let built = ns.resident_bytes();
        // (Less the empty graph builder counted before.)
        let data = ns.approximate_bytes() - approx;
        assert!(built - sealed >= data * 9 / 10, "graph and codes: {built} after {sealed}, {data} of data");
        assert!(built - sealed >= n * dim, "the codes alone take {} bytes", n * dim);
        // The metadata index, built by the first filtered read.
        let f = Filter::parse(&json!({"g": "3"})).unwrap();
        assert_eq!(ns.count(Some(&f)), n / 10);
        assert!(ns.resident_bytes() > built, "postings are counted once built");
        // Deleting memtable records frees their share.
        let mut more = Rng(92);
        ns.upsert((n..n + 100).map(|i| record(i, more.vector(dim))).collect());
        let with_more = ns.resident_bytes();
        let ids: Vec<String> = (n..n + 100).map(|i| format!("r{i:05}")).collect();
        ns.delete_ids(ids.iter().map(String::as_str));
        assert!(ns.resident_bytes() < with_more);
    }
}

wasm_test! {
    fn a_query_over_several_paged_segments_names_all_their_missing_rows_in_one_round() {
        // Found in the Worker at 30k × 384: each paged segment stopped the query with its own
        // NotLoaded, so S segments took S + 1 rounds (and re-ran S(S+1)/2 graph searches).
        let (dim, metric, prefix) = (12, Metric::Cosine, "n/00000000/0000000b/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 4, 600, ann_int8(500), 91);
        commit(&mut ns, &mut store);
        build_all(&mut ns);
        commit(&mut ns, &mut store);
        let mut rng = Rng(92);
        for _ in 0..5 {
            // Freshly loaded, so no row group is in memory.
            let mut back = reload(&store, prefix, metric, dim, ann_int8(500)).unwrap();
            assert_eq!((back.segment_count(), back.int8_count()), (4, 4));
            let q = dense(rng.vector(dim));
            let mut rounds = 0;
            let got = loop {
                match back.query(&q, 10, None) {
                    Ok(found) => break found,
                    Err(larch::Error::NotLoaded { keys }) => {
                        rounds += 1;
                        let segments: BTreeSet<&str> =
                            keys.iter().map(|k| k.rsplit_once('/').unwrap().0).collect();
                        assert!(segments.len() > 1, "rows of one segment only: {keys:?}");
                        for k in keys {
                            let bytes = store.get(&k).map(<[u8]>::to_vec);
                            back.provide_rows(&k, bytes).unwrap();
                        }
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            assert_eq!(rounds, 1, "one round of row groups for all segments");
            let got: Vec<(String, u32)> =
                got.iter().map(|s| (back.id(s.loc).to_string(), s.score.to_bits())).collect();
            back.end_request();
            assert_eq!(got, scored_paged(&mut ns, &store, &q, 10, None));
        }
    }
}

wasm_test! {
    fn the_round_after_a_paged_query_gets_its_rows_rescores_without_searching_again() {
        let (dim, metric, prefix) = (12, Metric::Cosine, "n/00000000/0000000c/");
        let mut store = MemoryStore::new();
        let mut ns = persistent(metric, dim, prefix, 4, 600, ann_int8(500), 93);
        commit(&mut ns, &mut store);
        build_all(&mut ns);
        commit(&mut ns, &mut store);
        let mut rng = Rng(94);
        let provide = |ns: &mut Namespace, keys: Vec<String>| {
            for k in keys {
                let bytes = store.get(&k).map(<[u8]>::to_vec);
                ns.provide_rows(&k, bytes).unwrap();
            }
        };
        let searches = |ns: &Namespace| ns.rows_touched().graph_searches;
        let ids = |ns: &Namespace, found: &[larch::namespace::Scored]| -> Vec<(String, u32)> {
            found.iter().map(|s| (ns.id(s.loc).to_string(), s.score.to_bits())).collect()
        };
        let filter = Filter::parse(&json!({"odd": true})).unwrap();
        for f in [None, Some(&filter)] {
            let mut back = reload(&store, prefix, metric, dim, ann_int8(500)).unwrap();
            let q = dense(rng.vector(dim));
            let Err(larch::Error::NotLoaded { keys }) = back.query(&q, 10, f) else {
                panic!("a freshly loaded paged namespace has no rows in memory")
            };
            assert_eq!(searches(&back), 4, "one search per segment");
            provide(&mut back, keys);
            let got = back.query(&q, 10, f).unwrap();
            assert_eq!(searches(&back), 4, "the second round only rescores");
            let got = ids(&back, &got);
            back.end_request();
            assert_eq!(got, scored_paged(&mut ns, &store, &q, 10, f));
            // Its rows are cached now: the same query again is a new search, in one round.
            let again = back.query(&q, 10, f).unwrap();
            assert_eq!((searches(&back), ids(&back, &again)), (8, got));
        }

        // A pending search is for one query against one state.
        let mut back = reload(&store, prefix, metric, dim, ann_int8(500)).unwrap();
        let (q, other) = (dense(rng.vector(dim)), dense(rng.vector(dim)));
        let Err(larch::Error::NotLoaded { .. }) = back.query(&q, 10, None) else { panic!() };
        let Err(larch::Error::NotLoaded { keys }) = back.query(&other, 10, None) else { panic!() };
        assert_eq!(searches(&back), 8);
        provide(&mut back, keys);
        let got = back.query(&other, 10, None).unwrap();
        assert_eq!(ids(&back, &got), scored_paged(&mut ns, &store, &other, 10, None));
        assert_eq!(searches(&back), 8, "the pending search of the last query is used");
        // (Its rows may all be in memory by now: a search either way.)
        let _ = back.query(&q, 5, None);
        assert_eq!(searches(&back), 12, "another k is another query");
        // A write between the rounds: the next round searches again and sees it.
        let mut back = reload(&store, prefix, metric, dim, ann_int8(500)).unwrap();
        let q = dense(rng.vector(dim));
        let Err(larch::Error::NotLoaded { keys }) = back.query(&q, 10, None) else { panic!() };
        provide(&mut back, keys);
        let before = searches(&back);
        back.upsert(vec![record(90_000, q.values.clone().unwrap())]);
        let got = loop {
            match back.query(&q, 10, None) {
                Ok(found) => break found,
                Err(larch::Error::NotLoaded { keys }) => provide(&mut back, keys),
                Err(e) => panic!("{e}"),
            }
        };
        assert!(searches(&back) > before, "searched again after the write");
        assert_eq!(back.id(got[0].loc), "r90000", "the new record is the best match");
        // The end of a request forgets a pending search.
        let mut back = reload(&store, prefix, metric, dim, ann_int8(500)).unwrap();
        let q = dense(rng.vector(dim));
        let Err(larch::Error::NotLoaded { keys }) = back.query(&q, 10, None) else { panic!() };
        back.end_request();
        provide(&mut back, keys);
        let before = searches(&back);
        back.query(&q, 10, None).unwrap();
        assert_eq!(searches(&back), before + 4, "searched again after the request ended");
    }
}

wasm_test! {
    fn a_full_seal_reserves_the_next_memtable_until_index_work_is_done() {
        let config = StorageConfig {
            seal_records: 600,
            ..NEVER_SEAL
        };
        let mut ns = Namespace::with_config(16, Metric::Cosine, config);
        ns.set_ann_config(ann(500));
        let mut rng = Rng(81);
        ns.upsert((0..600).map(|i| record(i, rng.vector(16))).collect());
        assert_eq!((ns.segment_count(), ns.len()), (1, 600));
        let reserved = ns.memory_report().memtable;
        // The dense values grow a page at a time; the other columns are reserved.
        let per_record = size_of::<String>() + 4;
        assert!(reserved >= 600 * per_record, "room for the next 600 records: {reserved}");
        // Writes fill the reserved room.
        ns.upsert((600..700).map(|i| record(i, rng.vector(16))).collect());
        let ids: Vec<String> = (600..700).map(|i| record(i, vec![0.0; 16]).id).collect();
        assert_eq!(ns.delete_ids(ids.iter().map(String::as_str)), 100);
        // Records left in the memtable keep only their own room.
        ns.upsert((700..710).map(|i| record(i, rng.vector(16))).collect());
        build_all(&mut ns);
        let kept = ns.memory_report().memtable;
        assert!(ns.graph_count() == 1 && kept < reserved / 4, "given back: {kept} of {reserved}");
        let ids: Vec<String> = (700..710).map(|i| record(i, vec![0.0; 16]).id).collect();
        assert_eq!(ns.delete_ids(ids.iter().map(String::as_str)), 10);
        build_all(&mut ns);
        assert_eq!(ns.memory_report().memtable, 0, "an empty memtable holds nothing");
        assert_eq!(ns.memory_report().total(), ns.resident_bytes());
    }
}

wasm_test! {
    fn index_steps_report_work_until_none_is_pending_including_a_consolidation_they_made_due() {
        // What a host does: step while `index_step` says more. When it says no more,
        // nothing may be pending, or the work is left to whichever process loads next.
        let dim = 12;
        let mut rng = Rng(71);
        let mut ns = Namespace::with_config(dim, Metric::Cosine, NEVER_SEAL);
        ns.set_ann_config(ann_merging(300));
        let mut next = 0;
        let mut seal = |ns: &mut Namespace, n: usize| {
            ns.upsert((next..next + n).map(|i| record(i, rng.vector(dim))).collect());
            ns.seal();
            next += n;
        };
        seal(&mut ns, 400);
        seal(&mut ns, 400);
        while !ns.consolidating() {
            assert!(ns.index_step(100), "a consolidation starts");
        }
        // Segments sealed while it runs make the next consolidation due when it swaps in.
        seal(&mut ns, 600);
        seal(&mut ns, 600);
        let mut steps = 0;
        while ns.index_step(100) {
            steps += 1;
            assert!(steps < 10_000, "index_step never ends");
        }
        assert!(!ns.indexing_pending(), "index_step said done with work pending");
        assert_eq!((ns.segment_count(), ns.graph_count()), (1, 1), "consolidated");
    }
}
