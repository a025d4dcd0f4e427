//! The binding's engine and memory store, under wasm-bindgen-test (Node by default; the same
//! tests pass in a browser, e.g. `wasm-pack test --headless --chrome pkg-js`).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // tests fail by panicking

use js_sys::{Array, JSON, Reflect, Uint8Array};
use larch_js::{Engine, MemoryStore};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap()
}

fn options(json: &str) -> JsValue {
    JSON::parse(json).unwrap()
}

/// Sends a request, loading blobs from `store` until the engine answers; applies the writes.
fn send(
    engine: &mut Engine,
    store: Option<&mut MemoryStore>,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut store = store;
    loop {
        let r = engine
            .handle(
                method,
                path,
                query,
                body.as_bytes(),
                Some("2026-04".into()),
                JsValue::UNDEFINED,
            )
            .unwrap();
        let needs = get(&r, "needs");
        if !needs.is_undefined() {
            let store = store
                .as_deref_mut()
                .expect("an in-memory engine never needs blobs");
            let keys: Vec<String> = Array::from(&needs)
                .iter()
                .map(|k| k.as_string().unwrap())
                .collect();
            let blobs = store.get(keys.clone());
            for (i, k) in keys.into_iter().enumerate() {
                let b = blobs.get(i as u32);
                engine.provide(k, b.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec));
            }
            continue;
        }
        let writes = engine.take_writes().unwrap();
        if let Some(store) = store.as_deref_mut() {
            store.apply(Array::from(&writes).iter().collect()).unwrap();
        } else {
            assert_eq!(
                Array::from(&writes).length(),
                0,
                "in-memory engines write nothing"
            );
        }
        let status = get(&r, "status").as_f64().unwrap() as u16;
        assert_eq!(
            get(&r, "contentType").as_string().unwrap(),
            "application/json"
        );
        let body = get(&r, "body").dyn_into::<Uint8Array>().unwrap().to_vec();
        let json = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        return (status, json);
    }
}

const CREATE: &str = r#"{"name":"docs","dimension":3,"metric":"cosine","spec":{"serverless":{"cloud":"aws","region":"us-east-1"}}}"#;

#[wasm_bindgen_test]
fn simd_is_enabled() {
    assert!(Engine::simd());
}

#[wasm_bindgen_test]
fn in_memory_engine_answers_rest_requests() {
    let mut e = Engine::new(JsValue::UNDEFINED).unwrap();
    assert!(!e.persistent());
    let (s, j) = send(&mut e, None, "POST", "/indexes", "", CREATE);
    assert_eq!(s, 201, "{j}");
    let (s, j) = send(
        &mut e,
        None,
        "POST",
        "/index/docs/vectors/upsert",
        "",
        r#"{"vectors":[{"id":"a","values":[1,0,0]},{"id":"b","values":[0,1,0]}],"namespace":"t1"}"#,
    );
    assert_eq!((s, j["upsertedCount"].as_u64()), (200, Some(2)));
    let (s, j) = send(
        &mut e,
        None,
        "POST",
        "/index/docs/query",
        "",
        r#"{"topK":1,"vector":[0.9,0.1,0],"namespace":"t1"}"#,
    );
    assert_eq!(s, 200);
    assert_eq!(j["matches"][0]["id"], "a");
    let (s, j) = send(
        &mut e,
        None,
        "GET",
        "/index/docs/vectors/fetch",
        "ids=b&namespace=t1",
        "",
    );
    assert_eq!(s, 200);
    assert_eq!(
        j["vectors"]["b"]["values"],
        serde_json::json!([0.0, 1.0, 0.0])
    );
}

#[wasm_bindgen_test]
fn engine_errors_are_pinecone_responses() {
    let mut e = Engine::new(JsValue::UNDEFINED).unwrap();
    let (s, j) = send(&mut e, None, "GET", "/indexes/missing", "", "");
    assert_eq!(s, 404);
    assert_eq!(j["error"]["code"], "NOT_FOUND");
    send(&mut e, None, "POST", "/indexes", "", CREATE);
    let (s, _) = send(&mut e, None, "POST", "/indexes", "", CREATE);
    assert_eq!(s, 409);
    let (s, j) = send(
        &mut e,
        None,
        "POST",
        "/index/docs/vectors/upsert",
        "",
        r#"{"vectors":[{"id":"a","values":[1,0]}]}"#,
    );
    assert_eq!(s, 400);
    assert_eq!(j["code"], 3);
}

#[wasm_bindgen_test]
fn bad_options_fail_with_a_code() {
    let err = Engine::new(options(r#"{"persistent":"yes"}"#)).unwrap_err();
    assert_eq!(get(&err, "code").as_string().unwrap(), "INVALID_ARGUMENT");
    assert!(
        get(&err, "message")
            .as_string()
            .unwrap()
            .contains("engine options")
    );
}

#[wasm_bindgen_test]
fn persistent_engine_reloads_from_its_store() {
    let mut store = MemoryStore::new();
    let mut e = Engine::new(options(r#"{"persistent":true,"sealRecords":2}"#)).unwrap();
    assert!(e.persistent());
    assert_eq!(
        send(&mut e, Some(&mut store), "POST", "/indexes", "", CREATE).0,
        201
    );
    for (i, ns) in ["t1", "t2", "t1"].iter().enumerate() {
        let body = format!(
            r#"{{"vectors":[{{"id":"v{i}","values":[1,{i},0]}},{{"id":"w{i}","values":[0,1,{i}]}}],"namespace":"{ns}"}}"#
        );
        assert_eq!(
            send(
                &mut e,
                Some(&mut store),
                "POST",
                "/index/docs/vectors/upsert",
                "",
                &body
            )
            .0,
            200
        );
    }
    assert!(store.size() > 0);
    // A new engine over a snapshot of the store sees everything, loading lazily.
    let mut reopened = MemoryStore::from_bytes(&store.to_bytes()).unwrap();
    let mut e2 = Engine::new(options(r#"{"persistent":true}"#)).unwrap();
    let (s, j) = send(
        &mut e2,
        Some(&mut reopened),
        "POST",
        "/index/docs/describe_index_stats",
        "",
        "{}",
    );
    assert_eq!(s, 200);
    assert_eq!(j["namespaces"]["t1"]["vectorCount"], 4);
    assert_eq!(j["namespaces"]["t2"]["vectorCount"], 2);
    let (_, j) = send(
        &mut e2,
        Some(&mut reopened),
        "GET",
        "/index/docs/vectors/fetch",
        "ids=v2&namespace=t1",
        "",
    );
    assert_eq!(
        j["vectors"]["v2"]["values"],
        serde_json::json!([1.0, 2.0, 0.0])
    );
}

#[wasm_bindgen_test]
fn write_batches_are_plain_objects_with_bytes() {
    let mut e = Engine::new(options(r#"{"persistent":true}"#)).unwrap();
    let r = e
        .handle("GET", "/indexes", "", b"", None, JsValue::UNDEFINED)
        .unwrap();
    let needs = Array::from(&get(&r, "needs"));
    assert_eq!(needs.get(0).as_string().unwrap(), "root");
    e.provide("root".into(), None);
    e.handle(
        "POST",
        "/indexes",
        "",
        CREATE.as_bytes(),
        None,
        JsValue::UNDEFINED,
    )
    .unwrap();
    let writes = Array::from(&e.take_writes().unwrap());
    assert!(writes.length() >= 1);
    let batch = writes.get(0);
    let puts = Array::from(&get(&batch, "puts"));
    let first = Array::from(&puts.get(0));
    assert!(first.get(0).is_string());
    assert!(first.get(1).is_instance_of::<Uint8Array>());
    assert!(Array::is_array(&get(&batch, "deletes")));
    assert!(Array::is_array(&get(&batch, "deletePrefixes")));
    // Nothing left after taking.
    assert_eq!(Array::from(&e.take_writes().unwrap()).length(), 0);
}

#[wasm_bindgen_test]
fn damaged_snapshot_is_data_loss() {
    let err = MemoryStore::from_bytes(b"nope").unwrap_err();
    assert_eq!(get(&err, "code").as_string().unwrap(), "DATA_LOSS");
}

#[wasm_bindgen_test]
fn handle_vectors_takes_floats_beside_the_body_and_returns_them_so() {
    let mut e = Engine::new(JsValue::UNDEFINED).unwrap();
    assert_eq!(send(&mut e, None, "POST", "/indexes", "", CREATE).0, 201);
    let mut call = |path: &str,
                    query: &str,
                    body: &str,
                    floats: Option<Vec<f32>>,
                    lengths: Option<Vec<u32>>,
                    validate: bool,
                    side: bool| {
        let r = e
            .handle_vectors(
                if body.is_empty() { "GET" } else { "POST" },
                path,
                query,
                body.as_bytes(),
                Some("2026-04".into()),
                JsValue::UNDEFINED,
                floats.map(Vec::into_boxed_slice),
                lengths.map(Vec::into_boxed_slice),
                validate,
                side,
            )
            .unwrap();
        let body = get(&r, "body").dyn_into::<Uint8Array>().unwrap().to_vec();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (get(&r, "status").as_f64().unwrap() as u16, json, r)
    };
    let upsert = r#"{"vectors":[{"id":"a"},{"id":"b"}],"namespace":"t"}"#;
    let floats = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    // Validate only: answered, nothing applied.
    let (s, j, _) = call(
        "/index/docs/vectors/upsert",
        "",
        upsert,
        Some(floats.clone()),
        Some(vec![3, 3]),
        true,
        false,
    );
    assert_eq!((s, j["upsertedCount"].as_u64()), (200, Some(2)), "{j}");
    let (_, j, _) = call(
        "/index/docs/vectors/fetch",
        "ids=a&namespace=t",
        "",
        None,
        None,
        false,
        false,
    );
    assert_eq!(j["vectors"], serde_json::json!({}));
    let (s, _, _) = call(
        "/index/docs/vectors/upsert",
        "",
        upsert,
        Some(floats),
        Some(vec![3, 3]),
        false,
        false,
    );
    assert_eq!(s, 200);
    // A wrong dimension beside the body is the JSON path's error.
    let (s, j, _) = call(
        "/index/docs/vectors/upsert",
        "",
        r#"{"vectors":[{"id":"c"}]}"#,
        Some(vec![1.0]),
        Some(vec![1]),
        false,
        false,
    );
    assert_eq!(s, 400);
    assert!(
        j["message"].as_str().unwrap().contains("dimension 1"),
        "{j}"
    );
    // Values out: beside the JSON as a Float32Array.
    let (s, j, r) = call(
        "/index/docs/vectors/fetch",
        "ids=b&namespace=t",
        "",
        None,
        None,
        false,
        true,
    );
    assert_eq!(s, 200);
    assert!(j["vectors"]["b"].get("values").is_none(), "{j}");
    let values = get(&r, "values")
        .dyn_into::<js_sys::Float32Array>()
        .unwrap()
        .to_vec();
    assert_eq!(values, vec![0.0, 1.0, 0.0]);
    assert_eq!(
        get(&r, "valueLengths")
            .dyn_into::<js_sys::Uint32Array>()
            .unwrap()
            .to_vec(),
        vec![3]
    );
    assert_eq!(
        Array::from(&get(&r, "valueIds"))
            .get(0)
            .as_string()
            .unwrap(),
        "b"
    );
}
