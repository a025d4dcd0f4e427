//! What hosts rely on: routing a request to the right engine (`Api::classify`), rendering stats
//! and namespace listings from host-supplied counts (`KnownNamespaces`), the per-namespace
//! memory budget, the loop's termination rule, the pure indexing probe, and the bodies hosts
//! send without asking an engine (401, 500).

use larch::api::{Api, ApiOptions, KnownNamespaces, Plane, Request, Scope};
use larch::db::Db;
use larch::namespace::{AnnConfig, Namespace, StorageConfig};
use larch::storage::MemoryStore;
use larch::{Error, IndexConfig, Metric, Record};
use serde_json::{Value, json};

use crate::common::*;
use crate::wasm_test;

fn req<'a>(method: &'a str, path: &'a str, query: &'a str, body: &'a [u8]) -> Request<'a> {
    Request {
        method,
        path,
        query,
        body,
        api_version: Some(VERSION),
        ..Request::default()
    }
}

fn scope(method: &str, path: &str, query: &str, body: Value) -> Scope {
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    Api::classify(&req(method, path, query, &body))
        .unwrap_or_else(|r| panic!("{method} {path}: {}", text(&r)))
        .scope
}

fn ns(index: &str, namespace: &str, write: bool) -> Scope {
    Scope::Namespace {
        index: index.into(),
        namespace: namespace.into(),
        write,
    }
}

wasm_test! {
    fn classify_names_the_namespace_of_every_vectors_operation() {
        let body = json!({"namespace": "t1", "vectors": []});
        assert_eq!(scope("POST", "/index/docs/vectors/upsert", "", body.clone()), ns("docs", "t1", true));
        assert_eq!(scope("POST", "/index/docs/query", "", json!({"topK": 1})), ns("docs", "__default__", false));
        assert_eq!(scope("POST", "/index/docs/vectors/update", "", json!({"id": "a", "namespace": ""})), ns("docs", "__default__", true));
        assert_eq!(scope("DELETE", "/index/docs/vectors/delete", "", json!({"deleteAll": true, "namespace": "t2"})), ns("docs", "t2", true));
        assert_eq!(scope("POST", "/index/docs/vectors/fetch_by_metadata", "", json!({"namespace": "t3"})), ns("docs", "t3", false));
        assert_eq!(scope("GET", "/index/docs/vectors/fetch", "ids=a&namespace=t4", Value::Null), ns("docs", "t4", false));
        assert_eq!(scope("GET", "/index/docs/vectors/list", "", Value::Null), ns("docs", "__default__", false));
        assert_eq!(scope("GET", "/index/docs/namespaces/t%205", "", Value::Null), ns("docs", "t 5", false));
        assert_eq!(scope("DELETE", "/index/docs/namespaces/__default__", "", Value::Null), ns("docs", "__default__", true));
        assert_eq!(scope("POST", "/index/docs/namespaces", "", json!({"name": "t6"})), ns("docs", "t6", true));
    }
}

wasm_test! {
    fn classify_sends_index_wide_and_undecidable_requests_elsewhere() {
        let index = Scope::Index { index: "docs".into() };
        assert_eq!(scope("POST", "/index/docs/describe_index_stats", "", json!({})), index);
        assert_eq!(scope("GET", "/index/docs/namespaces", "limit=5", Value::Null), index);
        assert_eq!(scope("GET", "/indexes", "", Value::Null), Scope::Control);
        assert_eq!(scope("POST", "/indexes", "", json!({"name": "x"})), Scope::Control);
        // A body whose namespace cannot be read goes where no namespace changes; that engine
        // answers with the same error the namespace's own would.
        assert_eq!(scope("POST", "/index/docs/vectors/upsert", "", json!({"namespace": 7})), Scope::Control);
        let garbage = Api::classify(&req("POST", "/index/docs/query", "", b"{not json")).unwrap();
        assert_eq!((garbage.plane, garbage.scope), (Plane::Data, Scope::Control));
        // A route that does not exist is answered without any engine's state as well.
        let unknown = Api::classify(&req("GET", "/index/docs/nowhere", "", b"")).unwrap_err();
        assert_eq!(unknown.status, 404);
    }
}

wasm_test! {
    fn stats_and_listings_render_host_supplied_counts() {
        let mut api = api();
        create_dense(&mut api, "docs", 2, "cosine");
        let known = KnownNamespaces::new([
            ("b".to_string(), 3),
            ("".to_string(), 4),
            ("a".to_string(), 2),
        ])
        .unwrap();
        let with = |api: &mut Api, method: &str, path: &str, query: &str| {
            api.handle(&Request {
                namespaces: Some(&known),
                ..req(method, path, query, b"")
            })
        };
        let stats = with(&mut api, "POST", "/index/docs/describe_index_stats", "").json_body();
        assert_eq!(stats["totalVectorCount"], 9);
        assert_eq!(stats["namespaces"]["__default__"]["vectorCount"], 4);
        assert_eq!(stats["namespaces"]["a"]["vectorCount"], 2);
        assert_eq!(stats["dimension"], 2);
        let page = with(&mut api, "GET", "/index/docs/namespaces", "limit=2").json_body();
        assert_eq!(page["total_count"], 3);
        assert_eq!(page["namespaces"], json!([{"name": "__default__", "record_count": 4}, {"name": "a", "record_count": 2}]));
        let token = page["pagination"]["next"].as_str().unwrap().to_string();
        let next = with(&mut api, "GET", "/index/docs/namespaces", &format!("limit=2&paginationToken={token}")).json_body();
        assert_eq!(next["namespaces"], json!([{"name": "b", "record_count": 3}]));
        assert!(next.get("pagination").is_none(), "{next}");
        let one = with(&mut api, "GET", "/index/docs/namespaces/b", "");
        assert_eq!((one.status, one.json_body()["record_count"].clone()), (200, json!(3)));
        assert_eq!(with(&mut api, "GET", "/index/docs/namespaces/zz", "").status, 404);
        // The engine's own (empty) catalog answers when the host supplies nothing.
        assert_eq!(data(&mut api, "docs", "POST", "/describe_index_stats", None).json_body()["totalVectorCount"], 0);
    }
}

wasm_test! {
    fn an_upsert_past_the_namespace_budget_is_refused_and_writes_nothing() {
        let mut db = Db::new();
        db.set_namespace_budget(Some(64 * 1024));
        db.create_index(IndexConfig::dense("ix", 64, Metric::Cosine)).unwrap();
        let rec = |i: usize, md: &str| Record {
            id: format!("r{i}"),
            values: vec![1.0 + i as f32; 64],
            sparse_values: None,
            metadata: Some(larch::Metadata::from_json(&json!({"text": md})).unwrap()),
        };
        let ix = db.index_mut("ix").unwrap();
        let mut stored = 0;
        let refused = loop {
            let batch: Vec<Record> = (stored..stored + 10).map(|i| rec(i, "short")).collect();
            match ix.upsert("big", batch) {
                Ok(n) => stored += n,
                Err(e) => break e,
            }
            assert!(stored < 10_000, "the budget never applied");
        };
        assert!(matches!(refused, Error::LimitExceeded { .. }), "{refused:?}");
        assert!(refused.to_string().contains("'big'"), "{refused}");
        assert_eq!(ix.describe_namespace("big").unwrap().1, stored, "nothing of the refused batch was written");
        // Metadata counts: fewer records fit when each carries more of it.
        let mut fat = Db::new();
        fat.set_namespace_budget(Some(64 * 1024));
        fat.create_index(IndexConfig::dense("ix", 64, Metric::Cosine)).unwrap();
        let fx = fat.index_mut("ix").unwrap();
        let mut fat_stored = 0;
        while fx.upsert("big", (fat_stored..fat_stored + 10).map(|i| rec(i, &"x".repeat(400))).collect()).is_ok() {
            fat_stored += 10;
        }
        assert!(fat_stored < stored, "metadata bytes count toward the budget ({fat_stored} vs {stored})");
        // Overwrites that do not grow the namespace and deletes still succeed at the limit.
        assert_eq!(ix.upsert("big", vec![rec(0, "short")]).unwrap(), 1);
        assert_eq!(ix.delete("big", &larch::db::DeleteSelector::Ids(vec!["r1".into()])).unwrap(), 1);
        // Through the API it is Pinecone's quota error.
        let mut api = Api::new(ApiOptions::default());
        api.db_mut().set_namespace_budget(Some(1024));
        create_dense(&mut api, "docs", 64, "cosine");
        let vectors: Vec<Value> = (0..20).map(|i| json!({"id": format!("v{i}"), "values": vec![0.5; 64]})).collect();
        let r = data(&mut api, "docs", "POST", "/vectors/upsert", Some(json!({"vectors": vectors})));
        assert_eq!(r.status, 403, "{}", text(&r));
        assert_eq!(r.json_body()["code"], 8);
        assert_eq!(data(&mut api, "docs", "POST", "/describe_index_stats", None).json_body()["totalVectorCount"], 0);
    }
}

wasm_test! {
    fn a_request_that_keeps_asking_for_a_provided_blob_ends_with_an_internal_error() {
        // A store that lost the catalog the root names: the engine asks for it, gets nothing,
        // reports corruption or asks again; either way the host's loop ends.
        let mut store = MemoryStore::new();
        let mut api = Api::open(ApiOptions::default(), StorageConfig::default());
        create_persistent(&mut api, &mut store);
        let r = api.serve(&mut store, &req("POST", "/index/docs/vectors/upsert", "", br#"{"vectors":[{"id":"a","values":[1,2]}]}"#));
        assert_eq!(r.status, 200, "{}", text(&r));
        let catalog: Vec<String> = store.keys().filter(|k| k.starts_with("c/")).map(str::to_string).collect();
        assert!(!catalog.is_empty());
        let mut damaged = store.clone();
        for k in &catalog {
            damaged.apply(&larch::storage::WriteBatch { deletes: vec![k.clone()], ..Default::default() });
        }
        let mut cold = Api::open(ApiOptions::default(), StorageConfig::default());
        let q = req("GET", "/index/docs/vectors/fetch", "ids=a", b"");
        let mut rounds = 0;
        let response = loop {
            match cold.try_handle(&q) {
                Ok(r) => break r,
                Err(keys) => {
                    rounds += 1;
                    assert!(rounds < 10, "the host loop did not end");
                    for k in keys {
                        let bytes = damaged.get(&k).map(<[u8]>::to_vec);
                        cold.provide(k, bytes);
                    }
                }
            }
        };
        assert!(response.status >= 500, "{}", text(&response));
        // The same engine answers the next request normally once the blobs are back.
        let mut healthy = Api::open(ApiOptions::default(), StorageConfig::default());
        assert_eq!(healthy.serve(&mut store, &q).json_body()["vectors"]["a"]["id"], "a");
    }
}

wasm_test! {
    fn the_indexing_probe_changes_nothing() {
        let seal = StorageConfig { seal_records: 300, max_log_entries: usize::MAX, max_segments: 8, row_cache_bytes: 16 << 20 };
        let mut ns = Namespace::with_config(8, Metric::Euclidean, seal);
        ns.set_ann_config(AnnConfig { min_records: 100, ..AnnConfig::default() });
        assert!(!ns.indexing_pending(), "nothing to index in an empty namespace");
        let recs: Vec<Record> = (0..1000)
            .map(|i| Record {
                id: format!("{i:04}"),
                values: (0..8).map(|d| ((i * 7 + d * 3) % 13) as f32).collect(),
                sparse_values: None,
                metadata: None,
            })
            .collect();
        for chunk in recs.chunks(100) {
            ns.upsert(chunk.to_vec());
        }
        assert!(ns.segment_count() >= 3, "sealed segments with graphs to build");
        let before = format!("{ns:?}");
        for _ in 0..3 {
            assert!(ns.indexing_pending());
        }
        assert_eq!(format!("{ns:?}"), before, "probing changed the namespace");
        // Half a build: still pending, and probing keeps the builder's progress.
        ns.index_step(150);
        let halfway = format!("{ns:?}");
        assert!(ns.indexing_pending());
        assert_eq!(format!("{ns:?}"), halfway);
        while ns.index_step(10_000) {}
        assert!(!ns.indexing_pending(), "done once index_step says so");
    }
}

wasm_test! {
    fn hosts_answer_failed_authentication_and_host_failures_in_the_planes_shape() {
        let control = Api::unauthenticated("/indexes/docs");
        assert_eq!((control.status, control.json_body()), (401, json!({"error": {"code": "UNAUTHENTICATED", "message": "Invalid API key."}, "status": 401})));
        let data = Api::unauthenticated("/index/docs/query");
        assert_eq!((data.status, data.content_type, data.body.as_slice()), (401, "text/plain", b"Unauthorized".as_slice()));
        let control = Api::internal_error("/indexes");
        assert_eq!((control.status, control.json_body()), (500, json!({"error": {"code": "UNKNOWN", "message": "Internal server error"}, "status": 500})));
        let data = Api::internal_error("/index/docs/query");
        assert_eq!((data.status, data.json_body()), (500, json!({"code": 13, "message": "Internal server error", "details": []})));
    }
}

fn create_persistent(api: &mut Api, store: &mut MemoryStore) {
    let body = serde_json::to_vec(&json!({
        "name": "docs", "dimension": 2, "metric": "cosine",
        "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}
    }))
    .unwrap();
    let r = api.serve(store, &req("POST", "/indexes", "", &body));
    assert_eq!(r.status, 201, "{}", text(&r));
}

wasm_test! {
    fn namespace_descriptions_carry_size_bytes_from_api_2026_07_on() {
        let mut api = api();
        create_dense(&mut api, "docs", 2, "cosine");
        let upsert = json!({"namespace": "a", "vectors": [{"id": "x", "values": [1.0, 2.0]}]});
        assert_eq!(data(&mut api, "docs", "POST", "/vectors/upsert", Some(upsert)).status, 200);
        let at = |api: &mut Api, path: &str, version: &'static str, known: Option<&KnownNamespaces>| {
            api.handle(&Request {
                api_version: Some(version),
                namespaces: known,
                ..req("GET", path, "", b"")
            })
            .json_body()
        };
        // The engine's own catalog: the namespace's resident bytes, as a decimal string.
        let resident = api.db().resident_bytes();
        assert!(resident > 0);
        let one = at(&mut api, "/index/docs/namespaces/a", "2026-07", None);
        assert_eq!(one, json!({"name": "a", "record_count": 1, "size_bytes": resident.to_string()}));
        let list = at(&mut api, "/index/docs/namespaces", "2026-07", None);
        assert_eq!(list["namespaces"][0]["size_bytes"], json!(resident.to_string()));
        // Earlier versions do not have the field.
        for v in ["2025-10", "2026-04"] {
            assert!(at(&mut api, "/index/docs/namespaces/a", v, None).get("size_bytes").is_none(), "{v}");
        }
        // Host-supplied sizes (the Worker's namespace objects report theirs).
        let known = KnownNamespaces::with_sizes([("a".to_string(), 5, 1234), ("b".to_string(), 1, 7)]).unwrap();
        let list = at(&mut api, "/index/docs/namespaces", "2026-07", Some(&known));
        assert_eq!(
            list["namespaces"],
            json!([
                {"name": "a", "record_count": 5, "size_bytes": "1234"},
                {"name": "b", "record_count": 1, "size_bytes": "7"}
            ])
        );
        let list = at(&mut api, "/index/docs/namespaces", "2026-04", Some(&known));
        assert_eq!(list["namespaces"][1], json!({"name": "b", "record_count": 1}));
    }
}

wasm_test! {
    fn a_catalog_engine_that_forgets_its_namespaces_sees_other_engines_writes() {
        // `larch serve`'s split over one store: a catalog engine creates the namespace, a
        // namespace engine (its own `Api` over the same keys) writes it; the catalog engine's
        // stats are stale until it forgets its copy, then read the committed manifest.
        let mut store = MemoryStore::new();
        let opts = ApiOptions::default();
        let storage = StorageConfig::default();
        let mut catalog = Api::open(opts.clone(), storage);
        create_persistent(&mut catalog, &mut store);
        let upsert = |id: &str| {
            serde_json::to_vec(&json!({"namespace": "a", "vectors": [{"id": id, "values": [1.0, 0.5]}]})).unwrap()
        };
        let body = upsert("x");
        let r = catalog.serve(&mut store, &req("POST", "/index/docs/vectors/upsert", "", &body));
        assert_eq!(r.status, 200, "{}", text(&r));
        let count = |api: &mut Api, store: &mut MemoryStore| {
            api.serve(store, &req("POST", "/index/docs/describe_index_stats", "", b"{}")).json_body()
                ["namespaces"]["a"]["vectorCount"]
                .clone()
        };
        assert_eq!(count(&mut catalog, &mut store), json!(1));
        let mut namespace = Api::open(opts, storage);
        for id in ["y", "z"] {
            let body = upsert(id);
            let r = namespace.serve(&mut store, &req("POST", "/index/docs/vectors/upsert", "", &body));
            assert_eq!(r.status, 200, "{}", text(&r));
        }
        // The namespace engine's writes stay inside the namespace's own keys.
        assert_eq!(count(&mut catalog, &mut store), json!(1), "the catalog engine's copy is stale");
        assert!(catalog.forget_namespaces());
        assert_eq!(count(&mut catalog, &mut store), json!(3));
        assert_eq!(count(&mut namespace, &mut store), json!(3));
    }
}

wasm_test! {
    fn an_index_host_set_by_the_host_replaces_the_template() {
        let mut store = MemoryStore::new();
        let mut api = Api::open(ApiOptions::default(), StorageConfig::default());
        api.set_index_host("docs", Some("http://127.0.0.1:5081".into()));
        create_persistent(&mut api, &mut store);
        let describe = |api: &mut Api, store: &mut MemoryStore| {
            api.serve(store, &req("GET", "/indexes/docs", "", b"")).json_body()["host"].clone()
        };
        assert_eq!(describe(&mut api, &mut store), json!("http://127.0.0.1:5081"));
        let list = api.serve(&mut store, &req("GET", "/indexes", "", b"")).json_body();
        assert_eq!(list["indexes"][0]["host"], json!("http://127.0.0.1:5081"));
        api.set_index_host("docs", None);
        assert_eq!(describe(&mut api, &mut store), json!("http://127.0.0.1:8787/index/docs"));
    }
}
