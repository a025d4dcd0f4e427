//! The IndexedDB store in headless Chromium: reads, one-transaction commits (all or nothing),
//! prefix deletes, the generation counter, and an engine persisted to IndexedDB and reopened.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // tests fail by panicking

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use larch_js::{Engine, IdbStore};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh(name: &str) -> IdbStore {
    IdbStore::delete_database(name.into()).await.unwrap();
    IdbStore::open(name.into()).await.unwrap()
}

async fn wait(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

fn batch(puts: &[(&str, JsValue)], deletes: &[&str], prefixes: &[&str]) -> JsValue {
    let b = js_sys::Object::new();
    let p = Array::new();
    for (k, v) in puts {
        p.push(&Array::of2(&JsValue::from_str(k), v));
    }
    let strs = |xs: &[&str]| xs.iter().map(|x| JsValue::from_str(x)).collect::<Array>();
    Reflect::set(&b, &"puts".into(), &p).unwrap();
    Reflect::set(&b, &"deletes".into(), &strs(deletes)).unwrap();
    Reflect::set(&b, &"deletePrefixes".into(), &strs(prefixes)).unwrap();
    b.into()
}

fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

async fn read(store: &IdbStore, keys: &[&str]) -> Vec<Option<Vec<u8>>> {
    let got = Array::from(
        &wait(store.get(keys.iter().map(|k| k.to_string()).collect()))
            .await
            .unwrap(),
    );
    got.iter()
        .map(|v| v.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec))
        .collect()
}

#[wasm_bindgen_test]
async fn put_then_get_round_trips_bytes() {
    let s = fresh("larch-test-put").await;
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let g = wait(s.apply(vec![batch(
        &[("a", bytes(b"alpha")), ("big", bytes(&big))],
        &[],
        &[],
    )]))
    .await
    .unwrap();
    assert_eq!(g.as_f64(), Some(1.0));
    assert_eq!(
        read(&s, &["a", "missing", "big"]).await,
        vec![Some(b"alpha".to_vec()), None, Some(big)]
    );
    s.close();
}

#[wasm_bindgen_test]
async fn generation_counts_commits() {
    let s = fresh("larch-test-gen").await;
    assert_eq!(wait(s.generation()).await.unwrap().as_f64(), Some(0.0));
    for i in 1..=3 {
        let g = wait(s.apply(vec![batch(&[("k", bytes(&[i as u8]))], &[], &[])]))
            .await
            .unwrap();
        assert_eq!(g.as_f64(), Some(i as f64));
    }
    // Several batches commit together and count once.
    let two = vec![
        batch(&[("x", bytes(b"1"))], &[], &[]),
        batch(&[("y", bytes(b"2"))], &["x"], &[]),
    ];
    assert_eq!(wait(s.apply(two)).await.unwrap().as_f64(), Some(4.0));
    assert_eq!(read(&s, &["x", "y"]).await, vec![None, Some(b"2".to_vec())]);
    // Another connection (another tab) sees the same counter.
    let other = IdbStore::open("larch-test-gen".into()).await.unwrap();
    assert_eq!(wait(other.generation()).await.unwrap().as_f64(), Some(4.0));
    other.close();
    s.close();
}

#[wasm_bindgen_test]
async fn prefix_delete_removes_exactly_the_prefix() {
    let s = fresh("larch-test-prefix").await;
    let keys = ["n/01/a", "n/01/b/c", "n/010", "n/02/a", "n/0"];
    let puts: Vec<(&str, JsValue)> = keys.iter().map(|k| (*k, bytes(k.as_bytes()))).collect();
    wait(s.apply(vec![batch(&puts, &[], &[])])).await.unwrap();
    wait(s.apply(vec![batch(&[], &[], &["n/01/"])]))
        .await
        .unwrap();
    let got = read(&s, &keys).await;
    assert_eq!(
        got.iter().map(Option::is_some).collect::<Vec<_>>(),
        vec![false, false, true, true, true]
    );
    s.close();
}

#[wasm_bindgen_test]
async fn a_failing_batch_applies_nothing() {
    let s = fresh("larch-test-atomic").await;
    wait(s.apply(vec![batch(&[("keep", bytes(b"old"))], &[], &[])]))
        .await
        .unwrap();
    // The second put cannot be stored (functions are not cloneable): the whole transaction,
    // including the first put, the delete and the counter, must roll back.
    let uncloneable: JsValue = Function::new_no_args("return 1").into();
    let bad = batch(
        &[("new", bytes(b"new")), ("bad", uncloneable)],
        &["keep"],
        &[],
    );
    let err = wait(s.apply(vec![bad])).await.unwrap_err();
    assert_eq!(
        Reflect::get(&err, &"code".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "STORAGE_ERROR"
    );
    assert_eq!(
        read(&s, &["keep", "new", "bad"]).await,
        vec![Some(b"old".to_vec()), None, None]
    );
    assert_eq!(wait(s.generation()).await.unwrap().as_f64(), Some(1.0));
    s.close();
}

#[wasm_bindgen_test]
async fn malformed_batch_is_an_argument_error() {
    let s = fresh("larch-test-malformed").await;
    let b = js_sys::Object::new();
    Reflect::set(&b, &"puts".into(), &JsValue::from_str("nope")).unwrap();
    let err = wait(s.apply(vec![b.into()])).await.unwrap_err();
    assert_eq!(
        Reflect::get(&err, &"code".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "INVALID_ARGUMENT"
    );
    s.close();
}

/// The host loop of `pkg-js/js/host.ts`, reduced: provide blobs, then commit the writes.
async fn send(
    e: &mut Engine,
    s: &IdbStore,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
) -> serde_json::Value {
    loop {
        let r = e
            .handle(
                method,
                path,
                query,
                body.as_bytes(),
                None,
                JsValue::UNDEFINED,
            )
            .unwrap();
        let needs = Reflect::get(&r, &"needs".into()).unwrap();
        if needs.is_undefined() {
            let writes: Vec<JsValue> = Array::from(&e.take_writes().unwrap()).iter().collect();
            if !writes.is_empty() {
                wait(s.apply(writes)).await.unwrap();
            }
            let body = Reflect::get(&r, &"body".into())
                .unwrap()
                .dyn_into::<Uint8Array>()
                .unwrap()
                .to_vec();
            return serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        }
        let keys: Vec<String> = Array::from(&needs)
            .iter()
            .map(|k| k.as_string().unwrap())
            .collect();
        let got = Array::from(&wait(s.get(keys.clone())).await.unwrap());
        for (i, k) in keys.into_iter().enumerate() {
            e.provide(
                k,
                got.get(i as u32)
                    .dyn_ref::<Uint8Array>()
                    .map(Uint8Array::to_vec),
            );
        }
    }
}

#[wasm_bindgen_test]
async fn engine_persists_to_indexeddb_and_reopens_lazily() {
    let s = fresh("larch-test-engine").await;
    let opts = js_sys::JSON::parse(r#"{"persistent":true,"sealRecords":3}"#).unwrap();
    let mut e = Engine::new(opts.clone()).unwrap();
    send(&mut e, &s, "POST", "/indexes", "", r#"{"name":"docs","dimension":2,"metric":"euclidean","spec":{"serverless":{"cloud":"aws","region":"us-east-1"}}}"#).await;
    for ns in ["t1", "t2"] {
        for i in 0..4 {
            let body = format!(
                r#"{{"vectors":[{{"id":"{ns}-{i}","values":[{i},1]}}],"namespace":"{ns}"}}"#
            );
            send(&mut e, &s, "POST", "/index/docs/vectors/upsert", "", &body).await;
        }
    }
    s.close();
    // "Reload": a new connection and a new engine.
    let s2 = IdbStore::open("larch-test-engine".into()).await.unwrap();
    let mut e2 = Engine::new(opts).unwrap();
    let stats = send(
        &mut e2,
        &s2,
        "POST",
        "/index/docs/describe_index_stats",
        "",
        "{}",
    )
    .await;
    assert_eq!(stats["totalVectorCount"], 8);
    let q = send(
        &mut e2,
        &s2,
        "POST",
        "/index/docs/query",
        "",
        r#"{"topK":2,"vector":[3,1],"namespace":"t2"}"#,
    )
    .await;
    let ids: Vec<&str> = q["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t2-3", "t2-2"]);
    s2.close();
}

#[wasm_bindgen_test]
fn quota_errors_surface_with_their_own_code() {
    let dom =
        web_sys::DomException::new_with_message_and_name("quota", "QuotaExceededError").unwrap();
    let err = larch_js::error::storage_error("commit of 10 bytes", &dom.into());
    assert_eq!(
        Reflect::get(&err, &"code".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "QUOTA_EXCEEDED"
    );
    assert_eq!(
        Reflect::get(&err, &"name".into())
            .unwrap()
            .as_string()
            .unwrap(),
        "LarchQuotaExceededError"
    );
    let msg = Reflect::get(&err, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(msg.contains("navigator.storage.persist()"), "{msg}");
}
