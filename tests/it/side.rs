//! Side-channel vectors (`Request::vectors`): the same request with its dense vectors beside
//! the body gets the same answer as with them in the JSON — successes and every error.

use larch::api::{Api, Request, Response, SideVectors};
use serde_json::{Value, json};

use crate::common::{VERSION, api, create_dense, create_sparse, text};
use crate::wasm_test;

/// The JSON body with its dense vectors moved beside it: the floats and one length per slot.
fn split(path: &str, body: &Value) -> (Value, Vec<f32>, Vec<u32>) {
    let mut body = body.clone();
    let mut floats = Vec::new();
    let mut lengths = Vec::new();
    let mut take = |slot: Option<&mut Value>, field: &str| {
        let values = slot
            .and_then(|o| o.as_object_mut())
            .and_then(|o| o.remove(field));
        match values {
            Some(Value::Array(vs)) => {
                lengths.push(vs.len() as u32);
                floats.extend(vs.iter().map(|v| v.as_f64().unwrap() as f32));
            }
            Some(other) => panic!("not an array: {other}"),
            None => lengths.push(SideVectors::ABSENT),
        }
    };
    if path.ends_with("/upsert") {
        let n = body["vectors"].as_array().map_or(0, Vec::len);
        for i in 0..n {
            take(body["vectors"].get_mut(i), "values");
        }
    } else if path.ends_with("/query") {
        take(Some(&mut body), "vector");
    } else {
        take(Some(&mut body), "values");
    }
    (body, floats, lengths)
}

fn send(api: &mut Api, path: &str, body: &[u8], vectors: Option<SideVectors<'_>>) -> Response {
    api.handle(&Request {
        method: "POST",
        path,
        body,
        api_version: Some(VERSION),
        vectors,
        ..Request::default()
    })
}

/// Sends `body` to two identical databases, once as JSON and once with its vectors beside it,
/// and asserts identical answers; returns the JSON one.
fn both(apis: &mut [Api; 2], path: &str, body: Value) -> Response {
    let json = send(
        &mut apis[0],
        path,
        &serde_json::to_vec(&body).unwrap(),
        None,
    );
    let (rest, floats, lengths) = split(path, &body);
    let rest = serde_json::to_vec(&rest).unwrap();
    let side = send(
        &mut apis[1],
        path,
        &rest,
        Some(SideVectors::new(&floats, &lengths)),
    );
    assert_eq!(
        (json.status, text(&json)),
        (side.status, text(&side)),
        "{path} {body}"
    );
    json
}

fn two_databases() -> [Api; 2] {
    [api(), api()].map(|mut a| {
        create_dense(&mut a, "dense", 3, "cosine");
        create_dense(&mut a, "hybrid", 3, "dotproduct");
        create_sparse(&mut a, "sparse");
        a
    })
}

const UPSERT: &str = "/index/dense/vectors/upsert";
const QUERY: &str = "/index/dense/query";
const UPDATE: &str = "/index/dense/vectors/update";

wasm_test! {
    fn side_vectors_answer_as_json_does() {
        let mut apis = two_databases();
        let ok = both(&mut apis, UPSERT, json!({"vectors": [
            {"id": "a", "values": [1.0, 0.0, 0.0], "metadata": {"k": "x"}},
            {"id": "b", "values": [0.25, 0.5, 0.125]},
            {"id": "c", "values": [0.1, 0.2, 0.3]},
        ], "namespace": "ns"}));
        assert_eq!(ok.status, 200, "{}", text(&ok));
        for body in [
            json!({"vector": [1.0, 0.0, 0.0], "topK": 3, "namespace": "ns", "includeValues": true}),
            json!({"vector": [0.1, 0.2, 0.3], "topK": 2, "namespace": "ns", "filter": {"k": "x"}}),
            json!({"id": "b", "topK": 3, "namespace": "ns", "includeValues": true}),
            json!({"id": "b", "vector": [], "topK": 3, "namespace": "ns"}),
        ] {
            assert_eq!(both(&mut apis, QUERY, body).status, 200);
        }
        assert_eq!(
            both(&mut apis, UPDATE, json!({"id": "c", "values": [0.0, 0.0, 1.0], "namespace": "ns"})).status,
            200
        );
        let q = both(&mut apis, QUERY, json!({"vector": [0.0, 0.0, 1.0], "topK": 1, "namespace": "ns", "includeValues": true}));
        assert_eq!(q.json_body()["matches"][0]["id"], "c");
        assert_eq!(q.json_body()["matches"][0]["values"], json!([0.0, 0.0, 1.0]));
    }
}

wasm_test! {
    fn side_vectors_fail_as_json_does() {
        let mut apis = two_databases();
        let big = "x".repeat(41 * 1024);
        let many: Vec<Value> = (0..1001).map(|i| json!({"id": format!("r{i}"), "values": [1.0, 0.0, 0.0]})).collect();
        let bad_upserts = [
            json!({"vectors": [{"id": "a", "values": [1.0, 0.0]}]}),
            json!({"vectors": [{"id": "a", "values": [1.0, 0.0, 0.0, 1.0]}]}),
            json!({"vectors": [{"id": "a", "values": [0.0, 0.0, 0.0]}]}),
            json!({"vectors": [{"id": "a", "values": []}]}),
            json!({"vectors": [{"id": "a"}]}),
            json!({"vectors": [{"id": "", "values": [1.0, 0.0, 0.0]}]}),
            json!({"vectors": [{"id": "ok", "values": [1.0, 0.0, 0.0]}, {"id": "b", "values": [1.0]}]}),
            json!({"vectors": [{"id": "a", "values": [1.0, 0.0, 0.0], "metadata": {"k": big}}]}),
            json!({"vectors": [{"id": "a", "values": [1.0, 0.0, 0.0], "metadata": {"k": {"nested": 1}}}]}),
            json!({"vectors": [{"id": "a", "values": [1.0, 0.0, 0.0], "sparseValues": {"indices": [1], "values": [0.5]}}]}),
            json!({"vectors": []}),
            json!({"vectors": many}),
            json!({"vectors": [{"id": "a", "values": [1.0, 0.0, 0.0]}], "namespace": "\u{0}"}),
        ];
        for body in bad_upserts {
            let r = both(&mut apis, UPSERT, body.clone());
            assert!(r.status >= 400, "{body}: {}", text(&r));
        }
        let bad_queries = [
            json!({"vector": [1.0, 0.0], "topK": 3}),
            json!({"vector": [1.0, 0.0, 0.0]}),
            json!({"vector": [1.0, 0.0, 0.0], "topK": 0}),
            json!({"vector": [1.0, 0.0, 0.0], "topK": 10001}),
            json!({"vector": [1.0, 0.0, 0.0], "id": "a", "topK": 3}),
            json!({"vector": [1.0, 0.0, 0.0], "topK": 3, "filter": {"$bad": 1}}),
            json!({"vector": [], "topK": 3}),
        ];
        for body in bad_queries {
            let r = both(&mut apis, QUERY, body.clone());
            assert!(r.status >= 400, "{body}: {}", text(&r));
        }
        let bad_updates = [
            json!({"id": "a", "values": [1.0, 0.0]}),
            json!({"id": "missing", "values": [1.0, 0.0, 0.0]}),
            json!({"filter": {"k": "x"}, "values": [1.0, 0.0, 0.0], "setMetadata": {"a": 1}}),
            json!({"values": [1.0, 0.0, 0.0]}),
        ];
        for body in bad_updates {
            let r = both(&mut apis, UPDATE, body.clone());
            assert!(r.status >= 400 || body["id"] == "missing", "{body}: {}", text(&r));
        }
        // A sparse index refuses dense values from either source.
        let r = both(&mut apis, "/index/sparse/vectors/upsert", json!({"vectors": [
            {"id": "a", "values": [1.0], "sparseValues": {"indices": [1], "values": [0.5]}}
        ]}));
        assert_eq!(r.status, 400, "{}", text(&r));
    }
}

wasm_test! {
    fn non_finite_side_values_are_refused_naming_them() {
        let mut a = api();
        create_dense(&mut a, "dense", 3, "cosine");
        let body = br#"{"vectors":[{"id":"a"}]}"#;
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let floats = [1.0, x, 0.0];
            let r = send(&mut a, UPSERT, body, Some(SideVectors::new(&floats, &[3])));
            assert_eq!(r.status, 400, "{}", text(&r));
            assert!(text(&r).contains("values of 'a': value"), "{}", text(&r));
            let r = send(&mut a, QUERY, br#"{"topK":1}"#, Some(SideVectors::new(&floats, &[3])));
            assert_eq!(r.status, 400, "{}", text(&r));
            assert!(text(&r).contains("query vector: value"), "{}", text(&r));
        }
        let r = send(&mut a, "/index/dense/describe_index_stats", b"{}", None);
        assert_eq!(r.json_body()["totalVectorCount"], 0);
    }
}

wasm_test! {
    fn side_vectors_that_do_not_match_the_body_are_refused() {
        let mut a = api();
        create_dense(&mut a, "dense", 3, "cosine");
        let two = br#"{"vectors":[{"id":"a"},{"id":"b"}]}"#;
        let floats = [1.0, 0.0, 0.0];
        for lengths in [&[3u32][..], &[3, 3], &[3, 0, 0], &[2, 0]] {
            let r = send(&mut a, UPSERT, two, Some(SideVectors::new(&floats, lengths)));
            assert!(r.status >= 400, "{lengths:?}: {}", text(&r));
        }
        // Values both in the JSON and beside it.
        let r = send(&mut a, UPSERT, br#"{"vectors":[{"id":"a","values":[1,0,0]}]}"#, Some(SideVectors::new(&floats, &[3])));
        assert!(r.status >= 400 && text(&r).contains("both"), "{}", text(&r));
        // A route without vectors.
        let r = send(&mut a, "/index/dense/vectors/delete", br#"{"ids":["a"]}"#, Some(SideVectors::new(&[], &[])));
        assert!(r.status >= 400, "{}", text(&r));
        let r = send(&mut a, "/index/dense/describe_index_stats", b"{}", None);
        assert_eq!(r.json_body()["totalVectorCount"], 0);
    }
}

wasm_test! {
    fn validate_only_upserts_check_everything_and_change_nothing() {
        let mut a = api();
        create_dense(&mut a, "dense", 3, "cosine");
        let check = |a: &mut Api, body: &[u8]| {
            a.handle(&Request {
                method: "POST",
                path: UPSERT,
                body,
                api_version: Some(VERSION),
                validate_only: true,
                ..Request::default()
            })
        };
        let good = br#"{"vectors":[{"id":"a","values":[1,0,0]},{"id":"a","values":[0,1,0]}],"namespace":"n"}"#;
        let r = check(&mut a, good);
        assert_eq!((r.status, r.json_body()["upsertedCount"].clone()), (200, json!(2)), "{}", text(&r));
        let bad = br#"{"vectors":[{"id":"a","values":[1,0]}]}"#;
        let r = check(&mut a, bad);
        assert_eq!(r.status, 400, "{}", text(&r));
        assert_eq!(text(&r), text(&send(&mut a, UPSERT, bad, None)));
        let r = send(&mut a, "/index/dense/describe_index_stats", b"{}", None);
        assert_eq!(r.json_body()["totalVectorCount"], 0, "{}", text(&r));
    }
}

wasm_test! {
    fn side_values_carry_what_the_json_would() {
        let mut a = api();
        create_dense(&mut a, "dense", 3, "cosine");
        let body = br#"{"vectors":[{"id":"a","values":[0.1,0.2,0.3],"metadata":{"k":1}},{"id":"10","values":[1,0,0]},{"id":"2","values":[0,1,0.5]}]}"#;
        assert_eq!(send(&mut a, UPSERT, body, None).status, 200);
        let out = |a: &mut Api, method: &str, path: &str, query: &str, body: &[u8], side: bool| {
            a.handle(&Request {
                method,
                path,
                query,
                body,
                api_version: Some(VERSION),
                side_values: side,
                ..Request::default()
            })
        };
        let q = br#"{"vector":[1,0.2,0.3],"topK":3,"includeValues":true,"includeMetadata":true}"#;
        let f = "ids=a&ids=10&ids=2&ids=none";
        for (method, path, query, body) in
            [("POST", QUERY, "", &q[..]), ("GET", "/index/dense/vectors/fetch", f, &b""[..])]
        {
            let json = out(&mut a, method, path, query, body, false);
            let side = out(&mut a, method, path, query, body, true);
            assert_eq!(json.vectors, None);
            let sv = side.vectors.clone().expect("side values");
            assert_eq!(sv.ids.len(), 3, "{path}");
            // Put the side values back into the JSON: it is then the JSON answer.
            let mut rebuilt = side.json_body();
            let mut at = 0;
            for (id, &len) in sv.ids.iter().zip(&sv.lengths) {
                let values: Vec<f32> = sv.floats[at..at + len as usize].to_vec();
                at += len as usize;
                let slot = if path == QUERY {
                    let m = rebuilt["matches"].as_array_mut().unwrap();
                    m.iter_mut().find(|m| m["id"] == json!(id)).unwrap()
                } else {
                    &mut rebuilt["vectors"][id]
                };
                assert!(slot.get("values").is_none(), "{path}: {slot}");
                let shortest: Vec<Value> = values
                    .iter()
                    .map(|v| Value::from(format!("{v}").parse::<f64>().unwrap()))
                    .collect();
                slot["values"] = Value::Array(shortest);
            }
            assert_eq!(rebuilt, json.json_body(), "{path}");
            assert_eq!(side.headers, json.headers);
        }
        // Without includeValues there is nothing beside the body, and `values` stays [].
        let bare = out(&mut a, "POST", QUERY, "", br#"{"vector":[1,0,0],"topK":1}"#, true);
        assert_eq!(bare.vectors.as_ref().map(|s| s.ids.len()), Some(0));
        assert_eq!(bare.json_body()["matches"][0]["values"], json!([]));
    }
}
