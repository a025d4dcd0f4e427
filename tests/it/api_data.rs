//! The data plane route by route: vectors API, describe_index_stats and the namespaces API.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is a test failure.

use std::collections::BTreeSet;

use larch::api::{Api, Response};
use serde_json::{Value, json};

use crate::common::{api, control, create_dense, create_sparse, data, raw, raw_versioned, text};
use crate::wasm_test;

const IX: &str = "ix";

fn post(api: &mut Api, path: &str, body: Value) -> Response {
    data(api, IX, "POST", path, Some(body))
}

fn ok(r: Response) -> Value {
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.content_type, "application/json");
    r.json_body()
}

fn upsert(api: &mut Api, body: Value) -> Response {
    let r = post(api, "/vectors/upsert", body);
    assert_eq!(r.status, 200, "{}", text(&r));
    r
}

fn query(api: &mut Api, body: Value) -> Value {
    ok(post(api, "/query", body))
}

fn stats(api: &mut Api) -> Value {
    ok(post(api, "/describe_index_stats", json!({})))
}

fn fetch(api: &mut Api, qs: &str) -> Value {
    ok(data(api, IX, "GET", &format!("/vectors/fetch?{qs}"), None))
}

fn ids_of(matches: &Value) -> Vec<String> {
    matches
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {matches}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn scores_of(matches: &Value) -> Vec<f64> {
    matches
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["score"].as_f64().unwrap())
        .collect()
}

fn assert_scores(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "scores {got:?}, expected {want:?}");
    }
}

fn lsn(r: &Response, header: &str) -> u64 {
    r.header(header)
        .unwrap_or_else(|| panic!("missing header {header}: {:?}", r.headers))
        .parse()
        .unwrap_or_else(|_| panic!("{header} is not an integer: {:?}", r.header(header)))
}

/// A record count, which Pinecone may print as a number or (uint64 in the proto) a string.
fn count(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a count: {other}"),
    }
}

/// Asserts a data-plane error: status and `{"code":n,"message":…,"details":[]}`.
fn assert_data_error(r: &Response, status: u16, code: u64, needles: &[&str]) {
    assert_eq!(r.status, status, "{}", text(r));
    let b = r.json_body();
    let obj = b
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {b}"));
    assert_eq!(obj.len(), 3, "exactly code, message, details: {b}");
    assert_eq!(b["code"], code, "{b}");
    assert_eq!(b["details"], json!([]), "{b}");
    let msg = b["message"].as_str().unwrap();
    for n in needles {
        assert!(msg.contains(n), "message {msg:?} should mention {n:?}");
    }
}

/// Index `ix` (dimension 2, `metric`) holding a, b, c, d around the unit circle.
fn four_points(metric: &str) -> Api {
    let mut api = api();
    create_dense(&mut api, IX, 2, metric);
    upsert(
        &mut api,
        json!({"vectors": [
            {"id": "a", "values": [1.0, 0.0]},
            {"id": "b", "values": [1.0, 1.0]},
            {"id": "c", "values": [0.0, 1.0]},
            {"id": "d", "values": [-1.0, 0.0]},
            {"id": "e", "values": [1.0, 3.0]}
        ]}),
    );
    api
}

/// Index `ix` (dimension 2, cosine) with metadata records in namespace `movies`.
fn movies() -> Api {
    let mut api = api();
    create_dense(&mut api, IX, 2, "cosine");
    upsert(
        &mut api,
        json!({"namespace": "movies", "vectors": [
            {"id": "m1", "values": [1.0, 0.0], "metadata": {"genre": "drama", "year": 2019}},
            {"id": "m2", "values": [0.75, 0.25], "metadata": {"genre": "drama", "year": 2020, "tags": ["a", "b"]}},
            {"id": "m3", "values": [0.5, 0.5], "metadata": {"genre": "comedy", "year": 2021}},
            {"id": "m4", "values": [0.0, 1.0], "metadata": {"genre": "drama", "year": 2018}},
            {"id": "m5", "values": [0.25, 0.75]}
        ]}),
    );
    api
}

// ---- upsert -------------------------------------------------------------------------------

wasm_test! {
    fn upsert_returns_upserted_count_and_freshness_headers() {
        let mut api = api();
        create_dense(&mut api, IX, 3, "cosine");
        let r = upsert(
            &mut api,
            json!({"namespace": "ns", "vectors": [
                {"id": "a", "values": [0.1, 0.2, 0.3]},
                {"id": "b", "values": [0.3, 0.2, 0.1], "metadata": {"k": "v"}}
            ]}),
        );
        assert_eq!(r.json_body(), json!({"upsertedCount": 2}));
        let first = lsn(&r, "x-pinecone-request-lsn");
        assert!(first > 0);
        // Python 9 reads these two; the docs show the max-indexed one on writes too.
        for h in ["x-pinecone-max-indexed-lsn", "x-pinecone-lsn-committed", "x-pinecone-lsn-reconciled"] {
            assert!(lsn(&r, h) >= first, "{h}");
        }
        let r = upsert(&mut api, json!({"namespace": "ns", "vectors": [{"id": "c", "values": [1, 1, 1]}]}));
        assert_eq!(r.json_body(), json!({"upsertedCount": 1}));
        let second = lsn(&r, "x-pinecone-request-lsn");
        assert!(second > first, "LSNs grow: {first} then {second}");
        // A query reflects the write: its max-indexed LSN has reached the write's LSN.
        let q = post(&mut api, "/query", json!({"namespace": "ns", "topK": 5, "vector": [1, 1, 1]}));
        assert_eq!(q.status, 200);
        assert!(lsn(&q, "x-pinecone-max-indexed-lsn") >= second);
        assert_eq!(ids_of(&q.json_body()["matches"]).len(), 3);
    }
}

wasm_test! {
    fn upsert_with_a_repeated_id_keeps_its_last_occurrence() {
        // Pinecone accepts a batch that repeats an id; the record is the last occurrence, as if
        // the vectors were upserted one after another. `upsertedCount` counts the request's
        // vectors.
        let mut api = movies();
        let r = upsert(
            &mut api,
            json!({"namespace": "movies", "vectors": [
                {"id": "new", "values": [1, 1]},
                {"id": "dup", "values": [1, 0], "metadata": {"n": 1}},
                {"id": "m1", "values": [0, 1], "metadata": {"n": 2}},
                {"id": "dup", "values": [0, 1], "metadata": {"n": 3}},
                {"id": "m1", "values": [1, 1]},
                {"id": "dup", "values": [0.5, 0.5], "metadata": {"n": 4}}
            ]}),
        );
        assert_eq!(r.json_body(), json!({"upsertedCount": 6}));
        let f = fetch(&mut api, "ids=new&ids=dup&ids=m1&namespace=movies");
        assert_eq!(
            f["vectors"],
            json!({
                "new": {"id": "new", "values": [1.0, 1.0]},
                "dup": {"id": "dup", "values": [0.5, 0.5], "metadata": {"n": 4}},
                "m1": {"id": "m1", "values": [1.0, 1.0]},
            })
        );
        // Five records before, two new ids.
        assert_eq!(stats(&mut api)["namespaces"]["movies"]["vectorCount"], 7);
        let q = query(&mut api, json!({"namespace": "movies", "topK": 10, "vector": [1, 1]}));
        let mut ids = ids_of(&q["matches"]);
        ids.sort();
        assert_eq!(ids, ["dup", "m1", "m2", "m3", "m4", "m5", "new"]);
        // A repeated id in a new namespace, and across the default namespace's aliases.
        let r = upsert(&mut api, json!({"vectors": [{"id": "x", "values": [1, 0]}, {"id": "x", "values": [0, 1]}]}));
        assert_eq!(r.json_body(), json!({"upsertedCount": 2}));
        assert_eq!(fetch(&mut api, "ids=x")["vectors"]["x"]["values"], json!([0.0, 1.0]));
        assert_eq!(stats(&mut api)["namespaces"]["__default__"]["vectorCount"], 1);
    }
}

wasm_test! {
    fn request_lsn_keeps_growing_across_every_kind_of_write() {
        // D-fresh: LSNs are per namespace and monotonic.
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        let mut last = 0;
        let mut step = |api: &mut Api, path: &str, body: Value| {
            let r = post(api, path, body);
            assert_eq!(r.status, 200, "{path}: {}", text(&r));
            let now = lsn(&r, "x-pinecone-request-lsn");
            assert!(now > last, "{path}: request LSN went from {last} to {now}");
            last = now;
        };
        let v = json!({"namespace": "n", "vectors": [{"id": "a", "values": [1, 0], "metadata": {"g": "x"}}]});
        step(&mut api, "/vectors/upsert", v.clone());
        step(&mut api, "/vectors/update", json!({"namespace": "n", "id": "a", "setMetadata": {"g": "y"}}));
        step(&mut api, "/vectors/upsert", json!({"namespace": "n", "vectors": [{"id": "b", "values": [0, 1]}]}));
        step(&mut api, "/vectors/delete", json!({"namespace": "n", "ids": ["b"]}));
        step(&mut api, "/vectors/delete", json!({"namespace": "n", "deleteAll": true}));
        step(&mut api, "/vectors/upsert", v);
    }
}

wasm_test! {
    fn upsert_replaces_the_whole_record() {
        let mut api = movies();
        upsert(&mut api, json!({"namespace": "movies", "vectors": [{"id": "m1", "values": [0.5, 0.5]}]}));
        let f = fetch(&mut api, "ids=m1&namespace=movies");
        assert_eq!(f["vectors"]["m1"], json!({"id": "m1", "values": [0.5, 0.5]}), "{f}");
        assert_eq!(stats(&mut api)["namespaces"]["movies"]["vectorCount"], 5);
    }
}

// ---- query --------------------------------------------------------------------------------

wasm_test! {
    fn query_response_shape_without_and_with_include_flags() {
        let mut api = movies();
        let b = query(&mut api, json!({"namespace": "movies", "topK": 2, "vector": [1.0, 0.0]}));
        assert_eq!(b["namespace"], "movies", "{b}");
        let ru = &b["usage"]["readUnits"];
        assert!(ru.as_u64().is_some_and(|n| n >= 1), "usage.readUnits: {b}");
        let matches = b["matches"].as_array().unwrap();
        assert_eq!(matches.len(), 2, "topK bounds the matches: {b}");
        for m in matches {
            assert!(m["id"].is_string() && m["score"].is_number(), "{m}");
            // Not requested: values are empty (2026-07 ScoredVector), metadata absent.
            assert!(m.get("values").is_none_or(|v| v == &json!([])), "{m}");
            assert!(m.get("metadata").is_none(), "{m}");
        }
        let b = query(
            &mut api,
            json!({"namespace": "movies", "topK": 2, "vector": [1.0, 0.0], "includeValues": true, "includeMetadata": true}),
        );
        let m = &b["matches"];
        assert_eq!(ids_of(m), ["m1", "m2"]);
        assert_eq!(m[0]["values"], json!([1.0, 0.0]));
        assert_eq!(m[0]["metadata"], json!({"genre": "drama", "year": 2019}));
        assert_eq!(m[1]["values"], json!([0.75, 0.25]));
        assert_eq!(m[1]["metadata"], json!({"genre": "drama", "year": 2020, "tags": ["a", "b"]}));
    }
}

wasm_test! {
    fn cosine_scores_are_similarities_in_descending_order() {
        let mut api = four_points("cosine");
        // A non-unit query: cosine normalises both sides.
        let b = query(&mut api, json!({"topK": 10, "vector": [2.0, 0.0]}));
        assert_eq!(ids_of(&b["matches"]), ["a", "b", "e", "c", "d"]);
        let e = 1.0 / 10f64.sqrt();
        assert_scores(&scores_of(&b["matches"]), &[1.0, std::f64::consts::FRAC_1_SQRT_2, e, 0.0, -1.0]);
    }
}

wasm_test! {
    fn dotproduct_scores_are_inner_products_in_descending_order() {
        let mut api = four_points("dotproduct");
        let b = query(&mut api, json!({"topK": 10, "vector": [2.0, 1.0]}));
        // a: 2, b: 3, c: 1, d: -2, e: 5.
        assert_eq!(ids_of(&b["matches"]), ["e", "b", "a", "c", "d"]);
        assert_scores(&scores_of(&b["matches"]), &[5.0, 3.0, 2.0, 1.0, -2.0]);
    }
}

wasm_test! {
    fn euclidean_scores_are_squared_distances_in_ascending_order() {
        let mut api = four_points("euclidean");
        let b = query(&mut api, json!({"topK": 10, "vector": [1.0, 0.0]}));
        // Squared distances: a 0, b 1, c 2, d 4, e 9 (plain distances would be 0, 1, 1.41, 2, 3).
        assert_eq!(ids_of(&b["matches"]), ["a", "b", "c", "d", "e"]);
        assert_scores(&scores_of(&b["matches"]), &[0.0, 1.0, 2.0, 4.0, 9.0]);
        let b = query(&mut api, json!({"topK": 2, "vector": [1.0, 0.0]}));
        assert_eq!(ids_of(&b["matches"]), ["a", "b"], "topK keeps the nearest");
    }
}

wasm_test! {
    fn query_by_id_uses_the_stored_vector() {
        let mut api = four_points("euclidean");
        let b = query(&mut api, json!({"topK": 3, "id": "c", "includeValues": true}));
        assert_eq!(ids_of(&b["matches"]), ["c", "b", "a"]);
        assert_scores(&scores_of(&b["matches"]), &[0.0, 1.0, 2.0]);
        assert_eq!(b["matches"][0]["values"], json!([0.0, 1.0]));
        // An id that is not stored matches nothing.
        let b = query(&mut api, json!({"topK": 3, "id": "nope"}));
        assert_eq!(b["matches"], json!([]));
    }
}

wasm_test! {
    fn query_with_filter_returns_only_matching_records() {
        let mut api = movies();
        // The filter the SDKs send in toolchain.md §7.
        let b = query(
            &mut api,
            json!({"namespace": "movies", "topK": 10, "vector": [1.0, 0.0], "includeMetadata": true,
                   "filter": {"genre": {"$eq": "drama"}, "year": {"$gte": 2019}}}),
        );
        assert_eq!(ids_of(&b["matches"]), ["m1", "m2"]);
        let b = query(
            &mut api,
            json!({"namespace": "movies", "topK": 10, "vector": [1.0, 0.0],
                   "filter": {"$or": [{"genre": "comedy"}, {"tags": {"$in": ["b"]}}]}}),
        );
        assert_eq!(ids_of(&b["matches"]), ["m2", "m3"]);
        // An empty filter matches everything.
        let b = query(&mut api, json!({"namespace": "movies", "topK": 10, "vector": [1.0, 0.0], "filter": {}}));
        assert_eq!(ids_of(&b["matches"]).len(), 5);
    }
}

wasm_test! {
    fn query_on_a_sparse_index_scores_sparse_dot_products() {
        let mut api = api();
        create_sparse(&mut api, IX);
        let r = upsert(
            &mut api,
            json!({"vectors": [
                {"id": "s1", "sparseValues": {"indices": [1, 2], "values": [1.0, 2.0]}, "metadata": {"k": 1}},
                {"id": "s2", "sparseValues": {"indices": [2, 3], "values": [0.5, 4.0]}},
                {"id": "s3", "sparseValues": {"indices": [7], "values": [1.0]}}
            ]}),
        );
        assert_eq!(r.json_body(), json!({"upsertedCount": 3}));
        let b = query(
            &mut api,
            json!({"topK": 10, "sparseVector": {"indices": [2, 3], "values": [1.0, 1.0]},
                   "includeValues": true, "includeMetadata": true}),
        );
        // s2: 0.5 + 4 = 4.5; s1: 2; s3 shares no index and is not a candidate.
        assert_eq!(ids_of(&b["matches"]), ["s2", "s1"]);
        assert_scores(&scores_of(&b["matches"]), &[4.5, 2.0]);
        let m = &b["matches"][1];
        assert_eq!(m["sparseValues"], json!({"indices": [1, 2], "values": [1.0, 2.0]}));
        assert_eq!(m["metadata"], json!({"k": 1}));
        assert!(m.get("values").is_none_or(|v| v == &json!([])), "{m}");
        // Fetch returns the sparse values and empty dense values.
        let f = fetch(&mut api, "ids=s3");
        assert_eq!(f["vectors"]["s3"]["sparseValues"], json!({"indices": [7], "values": [1.0]}));
        assert!(f["vectors"]["s3"].get("values").is_none_or(|v| v == &json!([])));
        let s = stats(&mut api);
        assert_eq!(s["vectorType"], "sparse");
        assert_eq!(s["metric"], "dotproduct");
        assert!(s.get("dimension").is_none_or(Value::is_null), "{s}");
        assert_eq!(s["totalVectorCount"], 3);
    }
}

wasm_test! {
    fn hybrid_query_adds_dense_and_sparse_dot_products() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "dotproduct");
        upsert(
            &mut api,
            json!({"vectors": [
                {"id": "h1", "values": [1.0, 0.0], "sparseValues": {"indices": [1, 5], "values": [0.5, 1.0]}, "metadata": {"g": "x"}},
                {"id": "h2", "values": [0.0, 1.0], "sparseValues": {"indices": [5], "values": [2.0]}, "metadata": {"g": "y"}},
                {"id": "h3", "values": [0.5, 0.5], "metadata": {"g": "x"}}
            ]}),
        );
        let q = json!({"topK": 10, "vector": [1.0, 1.0], "sparseVector": {"indices": [5, 9], "values": [1.0, 3.0]},
                       "includeValues": true});
        let b = query(&mut api, q.clone());
        // h2: 1 + 2 = 3; h1: 1 + 1 = 2; h3: 1 + 0 = 1.
        assert_eq!(ids_of(&b["matches"]), ["h2", "h1", "h3"]);
        assert_scores(&scores_of(&b["matches"]), &[3.0, 2.0, 1.0]);
        assert_eq!(b["matches"][0]["sparseValues"], json!({"indices": [5], "values": [2.0]}));
        assert_eq!(b["matches"][0]["values"], json!([0.0, 1.0]));
        // With a filter.
        let mut fq = q;
        fq["filter"] = json!({"g": "x"});
        let b = query(&mut api, fq);
        assert_eq!(ids_of(&b["matches"]), ["h1", "h3"]);
        // Dense only on the same index.
        let b = query(&mut api, json!({"topK": 10, "vector": [1.0, 1.0]}));
        assert_scores(&scores_of(&b["matches"]), &[1.0, 1.0, 1.0]);
    }
}

wasm_test! {
    fn query_of_a_missing_namespace_is_empty() {
        let mut api = movies();
        let b = query(&mut api, json!({"namespace": "nobody", "topK": 3, "vector": [1.0, 0.0]}));
        assert_eq!(b["matches"], json!([]));
        assert_eq!(b["namespace"], "nobody");
    }
}

// ---- fetch --------------------------------------------------------------------------------

wasm_test! {
    fn fetch_returns_known_ids_and_omits_unknown_ones() {
        let mut api = movies();
        let b = fetch(&mut api, "ids=m1&ids=m5&ids=zzz&namespace=movies");
        assert_eq!(b["namespace"], "movies");
        assert!(b["usage"]["readUnits"].as_u64().is_some_and(|n| n >= 1), "{b}");
        let v = b["vectors"].as_object().unwrap();
        assert_eq!(v.keys().collect::<Vec<_>>(), ["m1", "m5"], "{b}");
        assert_eq!(v["m1"], json!({"id": "m1", "values": [1.0, 0.0], "metadata": {"genre": "drama", "year": 2019}}));
        assert_eq!(v["m5"], json!({"id": "m5", "values": [0.25, 0.75]}));
        // Another namespace holds none of them.
        let b = fetch(&mut api, "ids=m1&namespace=other");
        assert_eq!(b["vectors"], json!({}));
        // Percent-encoded ids decode.
        upsert(&mut api, json!({"namespace": "movies", "vectors": [{"id": "doc#1 a/b", "values": [1, 1]}]}));
        let b = fetch(&mut api, "ids=doc%231%20a%2Fb&namespace=movies");
        assert_eq!(b["vectors"]["doc#1 a/b"]["id"], "doc#1 a/b", "{b}");
    }
}

/// What serializing the body's `Value` form gives (serde_json's map sorts keys): the read
/// routes write their bodies straight into bytes and must produce exactly this.
fn assert_canonical(r: &Response) {
    assert_eq!(r.status, 200, "{}", text(r));
    let value: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(text(r), serde_json::to_string(&value).unwrap());
}

wasm_test! {
    fn read_bodies_are_what_their_value_form_serializes_to() {
        let mut api = api();
        create_dense(&mut api, IX, 3, "dotproduct");
        let floats = [0.0, -0.0, 1.0, 0.1, 1e-7, 3.0e-6, 2.5e13, 1e16, -3.4e38, 1.0e-40];
        let vectors: Vec<Value> = (0..12)
            .map(|i| {
                let v = |k: usize| floats[(i + k) % floats.len()];
                let mut r = json!({"id": format!("r\"{}\\{i:02}", i % 3), "values": [v(0), v(1), f64::from(i as u8) + v(2)]});
                if i % 2 == 0 {
                    r["metadata"] = json!({"z": "last", "a": [format!("t{i}")], "n": i, "f": v(3), "b": true});
                }
                if i % 3 == 0 {
                    r["sparseValues"] = json!({"indices": [i, 100 + i], "values": [v(4), v(5)]});
                }
                r
            })
            .collect();
        upsert(&mut api, json!({"namespace": "ns", "vectors": vectors}));
        let ids: String = (0..12).rev().chain([3, 3, 99])
            .map(|i| format!("ids={}&", larch_percent(&format!("r\"{}\\{i:02}", i % 3))))
            .collect();
        assert_canonical(&data(&mut api, IX, "GET", &format!("/vectors/fetch?{ids}namespace=ns"), None));
        for (values, metadata) in [(true, true), (false, true), (true, false), (false, false)] {
            let r = post(&mut api, "/query", json!({"namespace": "ns", "vector": [1.0, 0.5, -0.25], "topK": 12,
                "includeValues": values, "includeMetadata": metadata}));
            assert_canonical(&r);
            assert_eq!(r.json_body()["matches"].as_array().unwrap().len(), 12);
        }
        let r = post(&mut api, "/query", json!({"namespace": "ns", "vector": [1.0, 0.5, -0.25], "topK": 3,
            "sparseVector": {"indices": [0, 103], "values": [1.0, 0.5]}, "includeValues": true}));
        assert_canonical(&r);
        let r = post(&mut api, "/vectors/fetch_by_metadata", json!({"namespace": "ns", "filter": {"b": true}, "limit": 4}));
        assert_canonical(&r);
        assert!(r.json_body()["pagination"]["next"].is_string(), "{}", text(&r));
        let r = data(&mut api, IX, "GET", "/vectors/list?namespace=ns&limit=5", None);
        assert_canonical(&r);
        assert_eq!(r.json_body()["vectors"].as_array().unwrap().len(), 5);
        assert_canonical(&data(&mut api, IX, "GET", "/vectors/list?namespace=ns", None));
        assert_canonical(&data(&mut api, IX, "GET", "/vectors/fetch?ids=nobody&namespace=elsewhere", None));
    }
}

/// Percent-encodes everything but ASCII letters and digits.
fn larch_percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---- fetch_by_metadata ----------------------------------------------------------------------

wasm_test! {
    fn fetch_by_metadata_pages_through_every_match_once() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        let vectors: Vec<Value> = (0..20)
            .map(|i| json!({"id": format!("r{i:02}"), "values": [1.0, f64::from(i)], "metadata": {"n": i, "even": i % 2 == 0}}))
            .collect();
        upsert(&mut api, json!({"namespace": "ns", "vectors": vectors}));
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut body = json!({"namespace": "ns", "filter": {"even": {"$eq": true}}, "limit": 3});
            if let Some(t) = &token {
                body["paginationToken"] = json!(t);
            }
            let b = ok(post(&mut api, "/vectors/fetch_by_metadata", body));
            pages += 1;
            assert_eq!(b["namespace"], "ns");
            assert!(b["usage"]["readUnits"].is_u64(), "{b}");
            let v = b["vectors"].as_object().unwrap();
            assert!(v.len() <= 3, "{b}");
            for (id, rec) in v {
                assert_eq!(rec["id"], json!(id));
                assert_eq!(rec["metadata"]["even"], true, "{rec}");
                assert_eq!(rec["values"].as_array().unwrap().len(), 2);
                seen.push(id.clone());
            }
            match b.get("pagination") {
                Some(p) if !p.is_null() => token = Some(p["next"].as_str().unwrap().to_string()),
                _ => break,
            }
            assert!(pages < 10, "pagination does not end");
        }
        assert_eq!(pages, 4, "10 matches at 3 per page");
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no id twice: {seen:?}");
        let want: BTreeSet<String> = (0..20).step_by(2).map(|i| format!("r{i:02}")).collect();
        assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), want);
    }
}

// ---- update -------------------------------------------------------------------------------

wasm_test! {
    fn update_by_id_overwrites_values_and_merges_metadata() {
        let mut api = movies();
        let r = post(
            &mut api,
            "/vectors/update",
            json!({"namespace": "movies", "id": "m1", "values": [0.0, 1.0], "setMetadata": {"year": 2022, "rating": 4.5}}),
        );
        ok(r);
        let b = fetch(&mut api, "ids=m1&namespace=movies");
        assert_eq!(
            b["vectors"]["m1"],
            json!({"id": "m1", "values": [0.0, 1.0], "metadata": {"genre": "drama", "year": 2022, "rating": 4.5}})
        );
        // The new values are what queries see.
        let q = query(&mut api, json!({"namespace": "movies", "topK": 1, "vector": [0.0, 1.0], "filter": {"genre": "drama"}}));
        assert_eq!(ids_of(&q["matches"]), ["m1"]);
        // setMetadata on a record without metadata creates it.
        ok(post(&mut api, "/vectors/update", json!({"namespace": "movies", "id": "m5", "setMetadata": {"new": true}})));
        assert_eq!(fetch(&mut api, "ids=m5&namespace=movies")["vectors"]["m5"]["metadata"], json!({"new": true}));
        assert_eq!(stats(&mut api)["namespaces"]["movies"]["vectorCount"], 5);
    }
}

wasm_test! {
    fn update_by_id_sets_sparse_values() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "dotproduct");
        upsert(&mut api, json!({"vectors": [{"id": "a", "values": [1.0, 2.0]}]}));
        ok(post(&mut api, "/vectors/update", json!({"id": "a", "sparseValues": {"indices": [3], "values": [0.5]}})));
        let b = fetch(&mut api, "ids=a");
        assert_eq!(b["vectors"]["a"], json!({"id": "a", "values": [1.0, 2.0], "sparseValues": {"indices": [3], "values": [0.5]}}));
        let q = query(&mut api, json!({"topK": 1, "vector": [1.0, 0.0], "sparseVector": {"indices": [3], "values": [2.0]}}));
        assert_scores(&scores_of(&q["matches"]), &[2.0]);
    }
}

wasm_test! {
    fn update_by_filter_counts_and_dry_run_changes_nothing() {
        let mut api = movies();
        let before = fetch(&mut api, "ids=m1&ids=m2&ids=m3&ids=m4&ids=m5&namespace=movies");
        let b = ok(post(
            &mut api,
            "/vectors/update",
            json!({"namespace": "movies", "filter": {"genre": "drama"}, "setMetadata": {"seen": true}, "dryRun": true}),
        ));
        assert_eq!(b, json!({"matchedRecords": 3}));
        assert_eq!(fetch(&mut api, "ids=m1&ids=m2&ids=m3&ids=m4&ids=m5&namespace=movies"), before);
        let b = ok(post(
            &mut api,
            "/vectors/update",
            json!({"namespace": "movies", "filter": {"genre": "drama"}, "setMetadata": {"seen": true}}),
        ));
        assert_eq!(b, json!({"matchedRecords": 3}));
        let after = fetch(&mut api, "ids=m1&ids=m3&namespace=movies");
        assert_eq!(after["vectors"]["m1"]["metadata"], json!({"genre": "drama", "year": 2019, "seen": true}));
        assert_eq!(after["vectors"]["m3"]["metadata"], json!({"genre": "comedy", "year": 2021}));
        // No match: zero.
        let b = ok(post(
            &mut api,
            "/vectors/update",
            json!({"namespace": "movies", "filter": {"genre": "horror"}, "setMetadata": {"x": 1}}),
        ));
        assert_eq!(b, json!({"matchedRecords": 0}));
    }
}

// ---- delete -------------------------------------------------------------------------------

wasm_test! {
    fn delete_by_ids_filter_and_delete_all() {
        let mut api = movies();
        // Unknown ids are not an error.
        let b = ok(post(&mut api, "/vectors/delete", json!({"namespace": "movies", "ids": ["m5", "nope"]})));
        assert_eq!(b, json!({}));
        assert_eq!(stats(&mut api)["namespaces"]["movies"]["vectorCount"], 4);
        assert_eq!(fetch(&mut api, "ids=m5&namespace=movies")["vectors"], json!({}));
        // By filter.
        ok(post(&mut api, "/vectors/delete", json!({"namespace": "movies", "filter": {"year": {"$lt": 2020}}})));
        let b = fetch(&mut api, "ids=m1&ids=m2&ids=m3&ids=m4&namespace=movies");
        assert_eq!(b["vectors"].as_object().unwrap().keys().collect::<Vec<_>>(), ["m2", "m3"]);
        // Everything.
        upsert(&mut api, json!({"namespace": "keep", "vectors": [{"id": "k", "values": [1, 0]}]}));
        ok(post(&mut api, "/vectors/delete", json!({"namespace": "movies", "deleteAll": true})));
        let s = stats(&mut api);
        assert!(s["namespaces"].get("movies").is_none(), "{s}");
        assert_eq!(s["namespaces"]["keep"]["vectorCount"], 1);
        assert_eq!(s["totalVectorCount"], 1);
    }
}

wasm_test! {
    fn delete_accepts_the_http_delete_binding() {
        let mut api = movies();
        let r = data(&mut api, IX, "DELETE", "/vectors/delete", Some(json!({"namespace": "movies", "ids": ["m1"]})));
        assert_eq!(ok(r), json!({}));
        assert_eq!(stats(&mut api)["namespaces"]["movies"]["vectorCount"], 4);
    }
}

// ---- list ---------------------------------------------------------------------------------

fn list_page(api: &mut Api, qs: &str) -> (Vec<String>, Option<String>) {
    let b = ok(data(api, IX, "GET", &format!("/vectors/list?{qs}"), None));
    assert!(b["usage"]["readUnits"].is_u64(), "{b}");
    assert!(b["namespace"].is_string(), "{b}");
    let ids = b["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(
                v.as_object().unwrap().len(),
                1,
                "list items are {{id}}: {v}"
            );
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    let next = match b.get("pagination") {
        None | Some(Value::Null) => None,
        Some(p) => Some(p["next"].as_str().expect("pagination.next").to_string()),
    };
    (ids, next)
}

fn list_setup() -> (Api, Vec<String>) {
    let mut api = api();
    create_dense(&mut api, IX, 2, "cosine");
    let mut ids: Vec<String> = (1..=12).map(|i| format!("doc#{i}")).collect();
    ids.extend(["other1".to_string(), "other2".to_string()]);
    let vectors: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "values": [1, 2]}))
        .collect();
    upsert(&mut api, json!({"namespace": "ns", "vectors": vectors}));
    (api, ids)
}

wasm_test! {
    fn list_pages_ids_with_a_prefix_in_lexicographic_order() {
        let (mut api, _) = list_setup();
        let (p1, next) = list_page(&mut api, "namespace=ns&prefix=doc%23&limit=5");
        assert_eq!(p1, ["doc#1", "doc#10", "doc#11", "doc#12", "doc#2"]);
        let t = next.expect("more pages");
        let (p2, next) = list_page(&mut api, &format!("namespace=ns&prefix=doc%23&limit=5&paginationToken={t}"));
        assert_eq!(p2, ["doc#3", "doc#4", "doc#5", "doc#6", "doc#7"]);
        let t = next.expect("more pages");
        let (p3, next) = list_page(&mut api, &format!("namespace=ns&prefix=doc%23&limit=5&paginationToken={t}"));
        assert_eq!(p3, ["doc#8", "doc#9"]);
        assert_eq!(next, None, "pagination is omitted on the last page");
    }
}

wasm_test! {
    fn list_omits_pagination_when_the_last_page_is_exactly_full() {
        let (mut api, _) = list_setup();
        let (ids, next) = list_page(&mut api, "namespace=ns&prefix=other&limit=2");
        assert_eq!(ids, ["other1", "other2"]);
        assert_eq!(next, None);
        let (ids, next) = list_page(&mut api, "namespace=ns&prefix=zzz");
        assert!(ids.is_empty());
        assert_eq!(next, None);
    }
}

wasm_test! {
    fn list_walk_returns_every_id_exactly_once() {
        let (mut api, mut all) = list_setup();
        all.sort();
        for limit in [1, 3, 4, 100] {
            let mut seen = Vec::new();
            let mut qs = format!("namespace=ns&limit={limit}");
            loop {
                let (ids, next) = list_page(&mut api, &qs);
                assert!(ids.len() <= limit);
                seen.extend(ids);
                match next {
                    Some(t) => qs = format!("namespace=ns&limit={limit}&paginationToken={t}"),
                    None => break,
                }
                assert!(seen.len() <= all.len(), "pagination does not end");
            }
            assert_eq!(seen, all, "limit {limit}");
        }
        // The default page size holds them all.
        let (ids, next) = list_page(&mut api, "namespace=ns");
        assert_eq!(ids, all);
        assert_eq!(next, None);
    }
}

// ---- describe_index_stats -------------------------------------------------------------------

wasm_test! {
    fn describe_index_stats_by_post_and_get() {
        let mut api = movies();
        upsert(&mut api, json!({"vectors": [{"id": "d1", "values": [1, 0]}]}));
        let b = stats(&mut api);
        assert_eq!(
            b["namespaces"],
            json!({"movies": {"vectorCount": 5}, "__default__": {"vectorCount": 1}})
        );
        assert_eq!(b["dimension"], 2);
        assert_eq!(b["totalVectorCount"], 6);
        assert_eq!(b["metric"], "cosine");
        assert_eq!(b["vectorType"], "dense");
        assert!(b["indexFullness"].is_number(), "{b}");
        // The GET binding (P-25.10) answers the same.
        let g = ok(data(&mut api, IX, "GET", "/describe_index_stats", None));
        assert_eq!(g, b);
        // Python sends `{}`; an empty body is the same.
        let e = ok(raw(&mut api, Some(IX), "POST", "/describe_index_stats", b""));
        assert_eq!(e, b);
    }
}

wasm_test! {
    fn describe_index_stats_with_an_empty_or_null_filter_counts_everything() {
        // Serverless refuses a non-empty filter (bad_input::http); `{}` and `null` are none.
        let mut api = movies();
        upsert(&mut api, json!({"namespace": "other", "vectors": [{"id": "o", "values": [1, 0], "metadata": {"genre": "drama"}}]}));
        let plain = stats(&mut api);
        assert_eq!(plain["totalVectorCount"], 6, "{plain}");
        for body in [json!({"filter": {}}), json!({"filter": null})] {
            for method in ["POST", "GET"] {
                let b = ok(data(&mut api, IX, method, "/describe_index_stats", Some(body.clone())));
                assert_eq!(b, plain, "{method} {body}");
            }
        }
    }
}

// ---- namespaces API -----------------------------------------------------------------------

wasm_test! {
    fn namespaces_create_describe_delete() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        let b = ok(post(&mut api, "/namespaces", json!({"name": "alpha"})));
        assert_eq!(b["name"], "alpha");
        assert_eq!(count(&b["record_count"]), 0);
        // Again: 409 ALREADY_EXISTS (gRPC 6).
        let r = post(&mut api, "/namespaces", json!({"name": "alpha"}));
        assert_data_error(&r, 409, 6, &["alpha"]);
        // Records make it count.
        upsert(&mut api, json!({"namespace": "alpha", "vectors": [{"id": "a", "values": [1, 0]}, {"id": "b", "values": [0, 1]}]}));
        let b = ok(data(&mut api, IX, "GET", "/namespaces/alpha", None));
        assert_eq!(b["name"], "alpha");
        assert_eq!(count(&b["record_count"]), 2);
        // Delete.
        let b = ok(data(&mut api, IX, "DELETE", "/namespaces/alpha", None));
        assert_eq!(b, json!({}));
        let r = data(&mut api, IX, "GET", "/namespaces/alpha", None);
        assert_data_error(&r, 404, 5, &["alpha"]);
        let r = data(&mut api, IX, "DELETE", "/namespaces/alpha", None);
        assert_data_error(&r, 404, 5, &["alpha"]);
        assert_eq!(stats(&mut api)["totalVectorCount"], 0);
        assert_eq!(fetch(&mut api, "ids=a&namespace=alpha")["vectors"], json!({}));
        // Created with a metadata schema.
        let b = ok(post(
            &mut api,
            "/namespaces",
            json!({"name": "beta", "schema": {"fields": {"genre": {"filterable": true}}}}),
        ));
        assert_eq!(b["name"], "beta");
    }
}

/// Percent-encodes every byte outside RFC 3986's unreserved set, as clients encode a path
/// segment.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

wasm_test! {
    fn namespace_names_with_url_syntax_round_trip_through_every_route() {
        // `/`, `?`, `#`, `%`, `\` and spaces travel percent-encoded in a path segment (URL
        // normalisation leaves `%2F` alone), so such namespaces can be described and deleted.
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        for ns in ["a/b", "/lead", "trail/", "q?x=1&y", "h#1", "p%20q", "back\\slash", " sp ", "a/../b", ".../"] {
            let enc = encode_segment(ns);
            upsert(&mut api, json!({"namespace": ns, "vectors": [{"id": "r", "values": [1, 0]}, {"id": "s", "values": [0, 1]}]}));
            let b = ok(data(&mut api, IX, "GET", &format!("/namespaces/{enc}"), None));
            assert_eq!(b, json!({"name": ns, "record_count": 2}), "{ns}");
            let b = ok(raw(&mut api, None, "GET", &format!("/index/ix/namespaces/{enc}"), b""));
            assert_eq!(b, json!({"name": ns, "record_count": 2}), "{ns}");
            let listed = ok(data(&mut api, IX, "GET", "/namespaces", None));
            assert!(listed["namespaces"].as_array().unwrap().iter().any(|d| d["name"] == ns), "{ns}: {listed}");
            let f = fetch(&mut api, &format!("ids=r&namespace={enc}"));
            assert_eq!(f["namespace"], ns);
            assert_eq!(f["vectors"]["r"]["values"], json!([1.0, 0.0]), "{ns}");
            let l = ok(data(&mut api, IX, "GET", &format!("/vectors/list?namespace={enc}"), None));
            assert_eq!(l["vectors"], json!([{"id": "r"}, {"id": "s"}]), "{ns}");
            let q = query(&mut api, json!({"namespace": ns, "topK": 1, "vector": [0, 1]}));
            assert_eq!(ids_of(&q["matches"]), ["s"], "{ns}");
            assert_eq!(stats(&mut api)["namespaces"][ns]["vectorCount"], 2, "{ns}");
            let b = ok(raw(&mut api, None, "DELETE", &format!("/index/ix/namespaces/{enc}"), b""));
            assert_eq!(b, json!({}));
            let r = data(&mut api, IX, "GET", &format!("/namespaces/{enc}"), None);
            assert_eq!(r.status, 404, "{ns}: {}", text(&r));
            assert!(fetch(&mut api, &format!("ids=r&namespace={enc}"))["vectors"].as_object().unwrap().is_empty());
            // Created explicitly, deleted through the host-addressed route.
            ok(post(&mut api, "/namespaces", json!({"name": ns})));
            ok(data(&mut api, IX, "DELETE", &format!("/namespaces/{enc}"), None));
        }
        assert_eq!(stats(&mut api)["totalVectorCount"], 0);
        // Unencoded, `a/b` is two path segments: no route, not the namespace.
        upsert(&mut api, json!({"namespace": "a/b", "vectors": [{"id": "r", "values": [1, 0]}]}));
        let r = data(&mut api, IX, "GET", "/namespaces/a/b", None);
        assert_eq!(r.status, 404, "{}", text(&r));
        assert_eq!(r.json_body()["message"], "Not found: GET /namespaces/a/b");
        assert_eq!(ok(data(&mut api, IX, "GET", "/namespaces/a%2fb", None))["record_count"], 1);
    }
}

wasm_test! {
    fn namespaces_list_pages_with_total_count() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        for ns in ["b1", "a2", "a1", "b2", "a3"] {
            upsert(&mut api, json!({"namespace": ns, "vectors": [{"id": "x", "values": [1, 0]}]}));
        }
        ok(post(&mut api, "/namespaces", json!({"name": "a0"})));
        let mut seen = Vec::new();
        let mut qs = "limit=2".to_string();
        loop {
            let b = ok(data(&mut api, IX, "GET", &format!("/namespaces?{qs}"), None));
            assert_eq!(b["total_count"], 6, "{b}");
            let page = b["namespaces"].as_array().unwrap();
            assert!(page.len() <= 2);
            for d in page {
                let name = d["name"].as_str().unwrap().to_string();
                let want = if name == "a0" { 0 } else { 1 };
                assert_eq!(count(&d["record_count"]), want, "{d}");
                seen.push(name);
            }
            match b.get("pagination") {
                Some(p) if !p.is_null() => qs = format!("limit=2&paginationToken={}", p["next"].as_str().unwrap()),
                _ => break,
            }
            assert!(seen.len() <= 6, "pagination does not end");
        }
        // Bytewise order, each once.
        assert_eq!(seen, ["a0", "a1", "a2", "a3", "b1", "b2"]);
        // With a prefix.
        let b = ok(data(&mut api, IX, "GET", "/namespaces?prefix=b", None));
        assert_eq!(b["total_count"], 2);
        let names: Vec<&str> = b["namespaces"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["b1", "b2"]);
        assert!(b.get("pagination").is_none_or(Value::is_null), "{b}");
    }
}

// ---- the default namespace ----------------------------------------------------------------

wasm_test! {
    fn empty_and_dunder_default_are_the_same_namespace() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        upsert(&mut api, json!({"namespace": "", "vectors": [{"id": "a", "values": [1, 0]}]}));
        // TS sends "__default__" everywhere.
        upsert(&mut api, json!({"namespace": "__default__", "vectors": [{"id": "b", "values": [0, 1]}]}));
        upsert(&mut api, json!({"vectors": [{"id": "c", "values": [1, 1]}]}));
        let s = stats(&mut api);
        assert_eq!(s["namespaces"], json!({"__default__": {"vectorCount": 3}}), "{s}");
        for ns in ["", "__default__"] {
            let f = fetch(&mut api, &format!("ids=a&ids=b&ids=c&namespace={ns}"));
            assert_eq!(f["vectors"].as_object().unwrap().len(), 3, "{ns:?}: {f}");
            let q = query(&mut api, json!({"namespace": ns, "topK": 10, "vector": [1, 0]}));
            assert_eq!(ids_of(&q["matches"]).len(), 3, "{ns:?}");
            let (ids, _) = list_page(&mut api, &format!("namespace={ns}"));
            assert_eq!(ids, ["a", "b", "c"], "{ns:?}");
        }
        let f = fetch(&mut api, "ids=a");
        assert_eq!(f["vectors"].as_object().unwrap().len(), 1);
        let d = ok(data(&mut api, IX, "GET", "/namespaces/__default__", None));
        assert_eq!(count(&d["record_count"]), 3);
        ok(post(&mut api, "/vectors/delete", json!({"namespace": "__default__", "ids": ["a"]})));
        ok(post(&mut api, "/vectors/update", json!({"namespace": "", "id": "b", "setMetadata": {"k": "v"}})));
        let f = fetch(&mut api, "ids=a&ids=b&namespace=__default__");
        assert_eq!(f["vectors"].as_object().unwrap().keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(f["vectors"]["b"]["metadata"], json!({"k": "v"}));
        ok(post(&mut api, "/vectors/delete", json!({"namespace": "", "deleteAll": true})));
        assert_eq!(stats(&mut api)["totalVectorCount"], 0);
    }
}

// ---- snake_case aliases -------------------------------------------------------------------

wasm_test! {
    fn snake_case_aliases_are_accepted() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "dotproduct");
        upsert(
            &mut api,
            json!({"namespace": "n", "vectors": [
                {"id": "a", "values": [1, 0], "sparse_values": {"indices": [1], "values": [2.0]}, "metadata": {"g": "x"}},
                {"id": "b", "values": [0, 1], "metadata": {"g": "y"}}
            ]}),
        );
        let b = query(
            &mut api,
            json!({"namespace": "n", "top_k": 1, "vector": [1, 0], "sparse_vector": {"indices": [1], "values": [1.0]},
                   "include_metadata": true, "include_values": true}),
        );
        assert_eq!(ids_of(&b["matches"]), ["a"]);
        assert_scores(&scores_of(&b["matches"]), &[3.0]);
        assert_eq!(b["matches"][0]["metadata"], json!({"g": "x"}));
        assert_eq!(b["matches"][0]["sparseValues"], json!({"indices": [1], "values": [2.0]}));
        assert_eq!(b["matches"][0]["values"], json!([1.0, 0.0]));
        ok(post(
            &mut api,
            "/vectors/update",
            json!({"namespace": "n", "id": "b", "set_metadata": {"h": 1}, "sparse_values": {"indices": [4], "values": [1.0]}}),
        ));
        let f = fetch(&mut api, "ids=b&namespace=n");
        assert_eq!(f["vectors"]["b"]["metadata"], json!({"g": "y", "h": 1}));
        assert_eq!(f["vectors"]["b"]["sparseValues"], json!({"indices": [4], "values": [1.0]}));
        let b = ok(post(
            &mut api,
            "/vectors/update",
            json!({"namespace": "n", "filter": {"g": "x"}, "set_metadata": {"z": 1}, "dry_run": true}),
        ));
        assert_eq!(b, json!({"matchedRecords": 1}));
        assert!(fetch(&mut api, "ids=a&namespace=n")["vectors"]["a"]["metadata"].get("z").is_none());
        ok(post(&mut api, "/vectors/delete", json!({"namespace": "n", "delete_all": true})));
        assert_eq!(stats(&mut api)["totalVectorCount"], 0);
    }
}

// ---- errors and routing -------------------------------------------------------------------

wasm_test! {
    fn data_plane_errors_use_the_rpc_status_body() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        let r = post(&mut api, "/vectors/upsert", json!({"vectors": [{"id": "a", "values": [1, 2, 3]}]}));
        // The real body quoted in reference §2, with this index's numbers.
        assert_eq!(r.status, 400);
        assert_eq!(r.content_type, "application/json");
        assert_eq!(
            r.json_body(),
            json!({"code": 3, "message": "Vector dimension 3 does not match the dimension of the index 2", "details": []})
        );
        // Undecodable bodies are 400 on the data plane (not 422).
        let r = raw(&mut api, Some(IX), "POST", "/query", b"{\"topK\": ");
        assert_data_error(&r, 400, 3, &[]);
    }
}

wasm_test! {
    fn path_prefix_addressing_reaches_the_data_plane() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "euclidean");
        let r = raw(&mut api, None, "POST", "/index/ix/vectors/upsert", br#"{"vectors":[{"id":"a","values":[1,0]},{"id":"b","values":[0,1]}]}"#);
        assert_eq!(ok(r), json!({"upsertedCount": 2}));
        let r = raw(&mut api, None, "POST", "/index/ix/query", br#"{"topK":1,"vector":[1,0]}"#);
        let b = ok(r);
        assert_eq!(ids_of(&b["matches"]), ["a"]);
        // The same as addressing by host.
        assert_eq!(b, query(&mut api, json!({"topK": 1, "vector": [1, 0]})));
        let r = raw(&mut api, None, "GET", "/index/ix/vectors/fetch?ids=b", b"");
        assert_eq!(ok(r)["vectors"]["b"]["values"], json!([0.0, 1.0]));
        let r = raw(&mut api, None, "GET", "/index/ix/describe_index_stats", b"");
        assert_eq!(ok(r)["totalVectorCount"], 2);
        // An unknown index behind the prefix is a data-plane 404.
        let r = raw(&mut api, None, "POST", "/index/nope/query", br#"{"topK":1,"vector":[1,0]}"#);
        assert_data_error(&r, 404, 5, &["nope"]);
    }
}

wasm_test! {
    fn unknown_data_plane_route_is_404() {
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        let r = data(&mut api, IX, "GET", "/nothing/here", None);
        assert_data_error(&r, 404, 5, &[]);
        let r = data(&mut api, IX, "GET", "/query", None);
        assert_data_error(&r, 404, 5, &[]);
        // No index named by host or path.
        let r = raw(&mut api, None, "POST", "/vectors/upsert", br#"{"vectors":[{"id":"a","values":[1,0]}]}"#);
        assert_data_error(&r, 404, 5, &[]);
        assert_eq!(stats(&mut api)["totalVectorCount"], 0);
        // The control plane is unaffected.
        assert_eq!(control(&mut api, "GET", "/indexes", None).status, 200);
    }
}

wasm_test! {
    fn legacy_api_versions_report_the_default_namespace_as_empty() {
        // Before 2025-04 Pinecone reported the default namespace as "" (reference §5).
        let mut api = api();
        create_dense(&mut api, IX, 2, "cosine");
        upsert(&mut api, json!({"vectors": [{"id": "a", "values": [1, 0]}]}));
        let r = raw_versioned(&mut api, Some("2025-01"), Some(IX), "POST", "/describe_index_stats", b"{}");
        assert_eq!(ok(r)["namespaces"], json!({"": {"vectorCount": 1}}));
        let r = raw_versioned(&mut api, Some("2025-10"), Some(IX), "POST", "/describe_index_stats", b"{}");
        assert_eq!(ok(r)["namespaces"], json!({"__default__": {"vectorCount": 1}}));
    }
}
