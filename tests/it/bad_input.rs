//! Bad input, one test per case. Each asserts the HTTP status, the data-plane error body (gRPC
//! code and a message naming the offending value) and that the index is exactly as it was:
//! the same describe_index_stats, the same namespaces and the same fetched records.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is a test failure.

use larch::api::{Api, Response};
use serde_json::{Value, json};

use crate::common::{api, control, create_dense, create_sparse, data, raw, text};
use crate::wasm_test;

mod http;

/// Dense index, dimension 3, cosine.
const IX: &str = "ix";
/// Sparse index.
const SP: &str = "sp";
/// Every id a test below may try to write, plus the stored ones.
const IDS: &[&str] = &["a", "b", "c", "d", "big", "new", "dup", "x", "s1", "s2"];
/// Every namespace a test below may touch.
const NAMESPACES: &[&str] = &["ns", "__default__", "fresh", "ghost"];

/// Two indexes with a few records: `ix` (ns: a, b, c, big; default: d) and `sp` (s1, s2).
fn fixture() -> Api {
    let mut api = api();
    create_dense(&mut api, IX, 3, "cosine");
    create_sparse(&mut api, SP);
    let r = data(
        &mut api,
        IX,
        "POST",
        "/vectors/upsert",
        Some(json!({"namespace": "ns", "vectors": [
            {"id": "a", "values": [1.0, 0.0, 0.0], "metadata": {"genre": "drama", "year": 2019}},
            {"id": "b", "values": [0.0, 1.0, 0.0], "metadata": {"genre": "comedy", "year": 2020, "tags": ["x"]}},
            {"id": "c", "values": [0.0, 0.0, 1.0]},
            {"id": "big", "values": [1.0, 1.0, 1.0], "metadata": {"genre": "drama", "blob": "z".repeat(30_000)}}
        ]})),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = data(
        &mut api,
        IX,
        "POST",
        "/vectors/upsert",
        Some(
            json!({"vectors": [{"id": "d", "values": [0.5, 0.5, 0.0], "metadata": {"genre": "drama"}}]}),
        ),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = data(
        &mut api,
        SP,
        "POST",
        "/vectors/upsert",
        Some(json!({"vectors": [
            {"id": "s1", "sparseValues": {"indices": [1, 2], "values": [0.5, 1.0]}, "metadata": {"genre": "drama"}},
            {"id": "s2", "sparseValues": {"indices": [3], "values": [2.0]}}
        ]})),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    api
}

/// Everything observable about an index's contents.
fn snapshot(api: &mut Api, index: &str) -> Value {
    let stats = data(api, index, "POST", "/describe_index_stats", Some(json!({})));
    assert_eq!(stats.status, 200, "{}", text(&stats));
    let namespaces = data(api, index, "GET", "/namespaces", None);
    assert_eq!(namespaces.status, 200, "{}", text(&namespaces));
    let ids: String = IDS.iter().map(|id| format!("ids={id}&")).collect();
    let mut fetched = serde_json::Map::new();
    for ns in NAMESPACES {
        let r = data(
            api,
            index,
            "GET",
            &format!("/vectors/fetch?{ids}namespace={ns}"),
            None,
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        fetched.insert((*ns).to_string(), r.json_body()["vectors"].clone());
    }
    let indexes = control(api, "GET", "/indexes", None);
    json!({
        "stats": stats.json_body(),
        "namespaces": namespaces.json_body(),
        "records": fetched,
        "indexes": indexes.json_body(),
    })
}

/// True when `msg` contains `number` as a whole token (not inside a longer number).
fn has_number(msg: &str, number: &str) -> bool {
    let is_num = |c: char| c.is_ascii_digit() || c == '.';
    msg.match_indices(number).any(|(i, _)| {
        let before = msg[..i].chars().next_back();
        let after = msg[i + number.len()..].chars().next();
        !before.is_some_and(is_num) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// What an error message must contain.
enum Needle<'a> {
    Text(&'a str),
    Number(&'a str),
    /// At least one of these texts.
    AnyOf(&'a [&'a str]),
}
use Needle::{AnyOf, Number, Text};

/// Asserts a data-plane error body and that nothing changed in `index`.
fn assert_rejected(
    api: &mut Api,
    index: &str,
    before: &Value,
    r: &Response,
    status: u16,
    code: u64,
    needles: &[Needle<'_>],
) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(r.content_type, "application/json");
    let b = r.json_body();
    let obj = b
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {}", text(r)));
    assert_eq!(obj.len(), 3, "exactly code, message, details: {b}");
    assert_eq!(b["code"], code, "{b}");
    assert_eq!(b["details"], json!([]), "{b}");
    let msg = b["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {b}"));
    for n in needles {
        match n {
            Text(t) => assert!(msg.contains(t), "message {msg:?} should mention {t:?}"),
            Number(d) => assert!(
                has_number(msg, d),
                "message {msg:?} should mention the number {d}"
            ),
            AnyOf(ts) => assert!(
                ts.iter().any(|t| msg.contains(t)),
                "message {msg:?} should mention one of {ts:?}"
            ),
        }
    }
    let after = snapshot(api, index);
    assert!(
        after == *before,
        "state changed after a rejected request:\nbefore {before}\nafter  {after}"
    );
}

fn post(api: &mut Api, index: &str, path: &str, body: Value) -> Response {
    data(api, index, "POST", path, Some(body))
}

// ---- dimensions ---------------------------------------------------------------------------

wasm_test! {
    fn upsert_with_the_wrong_dimension() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [
                {"id": "x", "values": [1.0, 1.0, 1.0]},
                {"id": "new", "values": [1.0, 2.0]}
            ]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("dimension"), Number("2"), Number("3")]);
    }
}

wasm_test! {
    fn query_with_the_wrong_dimension() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/query", json!({"namespace": "ns", "topK": 2, "vector": [1.0, 0.0, 0.0, 0.0]}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("dimension"), Number("4"), Number("3")]);
    }
}

wasm_test! {
    fn update_with_the_wrong_dimension() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/update",
            json!({"namespace": "ns", "id": "a", "values": [1.0, 2.0, 3.0, 4.0, 5.0], "setMetadata": {"genre": "x"}}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("dimension"), Number("5"), Number("3")]);
    }
}

// ---- non-finite values --------------------------------------------------------------------

/// A literal beyond f32 (1e39) is refused either when decoding ("number out of range") or, if
/// it decodes to infinity, by the finiteness check ("… got inf").
const OVERFLOW: Needle<'static> = AnyOf(&["out of range", "inf", "1e39"]);

wasm_test! {
    fn upsert_with_a_literal_that_overflows_to_infinity() {
        // JSON cannot carry NaN or Infinity; 1e39 is beyond f32.
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = raw(
            &mut api,
            Some(IX),
            "POST",
            "/vectors/upsert",
            br#"{"namespace":"ns","vectors":[{"id":"x","values":[1,1,1]},{"id":"new","values":[1e39,0,1]}]}"#,
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[OVERFLOW]);
    }
}

wasm_test! {
    fn upsert_with_the_string_nan() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = raw(
            &mut api,
            Some(IX),
            "POST",
            "/vectors/upsert",
            br#"{"namespace":"ns","vectors":[{"id":"new","values":["NaN",0,1]}]}"#,
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("NaN")]);
    }
}

wasm_test! {
    fn query_with_a_literal_that_overflows_to_infinity() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = raw(&mut api, Some(IX), "POST", "/query", br#"{"namespace":"ns","topK":2,"vector":[0,-1e39,1]}"#);
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[OVERFLOW]);
    }
}

wasm_test! {
    fn query_with_the_string_nan() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = raw(&mut api, Some(IX), "POST", "/query", br#"{"namespace":"ns","topK":2,"vector":[1,"NaN",0]}"#);
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("NaN")]);
    }
}

wasm_test! {
    fn sparse_value_that_overflows_to_infinity() {
        let mut api = fixture();
        let before = snapshot(&mut api, SP);
        let r = raw(
            &mut api,
            Some(SP),
            "POST",
            "/vectors/upsert",
            br#"{"vectors":[{"id":"new","sparseValues":{"indices":[1,4],"values":[1,1e39]}}]}"#,
        );
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[OVERFLOW]);
    }
}

wasm_test! {
    fn upsert_with_an_all_zero_dense_vector() {
        // Pinecone requires a value with magnitude >= 1e-8 (S-data-26.07).
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/vectors/upsert", json!({"namespace": "ns", "vectors": [{"id": "new", "values": [0, 0, 0]}]}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("new"), Text("non-zero")]);
    }
}

// ---- ids ----------------------------------------------------------------------------------

wasm_test! {
    fn upsert_with_an_empty_id() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [{"id": "x", "values": [1, 1, 1]}, {"id": "", "values": [1, 0, 0]}]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("\"\""), Text("empty")]);
    }
}

wasm_test! {
    fn upsert_with_an_id_of_513_characters() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let long = "k".repeat(513);
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [{"id": "x", "values": [1, 1, 1]}, {"id": long, "values": [1, 0, 0]}]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("kkkkkkkk"), Number("513"), Number("512")]);
    }
}

wasm_test! {
    fn upsert_with_a_non_ascii_id() {
        // Ids are ASCII (D-limits).
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/vectors/upsert", json!({"namespace": "ns", "vectors": [{"id": "café", "values": [1, 0, 0]}]}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("café"), Text("ASCII")]);
    }
}

wasm_test! {
    fn upsert_without_vectors() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/vectors/upsert", json!({"namespace": "fresh", "vectors": []}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Number("0")]);
    }
}

// ---- metadata -----------------------------------------------------------------------------

wasm_test! {
    fn upsert_with_metadata_over_40_kb() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let blob = "m".repeat(41_000);
        // {"big":"…"} is 41,010 bytes.
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [{"id": "new", "values": [1, 0, 0], "metadata": {"big": blob}}]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Number("41010"), Number("40960")]);
    }
}

wasm_test! {
    fn update_by_id_whose_merged_metadata_exceeds_40_kb() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        // `big` already holds ~30 KB; 12 KB more is over the limit once merged.
        let r = post(
            &mut api,
            IX,
            "/vectors/update",
            json!({"namespace": "ns", "id": "big", "setMetadata": {"more": "y".repeat(12_000)}}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Number("40960")]);
    }
}

wasm_test! {
    fn update_by_filter_whose_merged_metadata_exceeds_40_kb() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        // Matches a (small) and big (~30 KB): big would exceed the limit once merged, so the
        // whole update must be refused, as update by id is.
        let r = post(
            &mut api,
            IX,
            "/vectors/update",
            json!({"namespace": "ns", "filter": {"genre": "drama"}, "setMetadata": {"more": "y".repeat(12_000)}}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Number("40960")]);
    }
}

wasm_test! {
    fn upsert_with_a_nested_metadata_object() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [{"id": "new", "values": [1, 0, 0], "metadata": {"ok": 1, "nested": {"a": 1}}}]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("nested"), Text("object")]);
    }
}

wasm_test! {
    fn upsert_with_a_null_metadata_value() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [{"id": "new", "values": [1, 0, 0], "metadata": {"gone": null}}]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("gone"), Text("null")]);
    }
}

wasm_test! {
    fn upsert_with_a_list_of_numbers_in_metadata() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [{"id": "new", "values": [1, 0, 0], "metadata": {"scores": [1, 2]}}]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("scores"), Text("number")]);
    }
}

wasm_test! {
    fn update_with_invalid_set_metadata() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/update",
            json!({"namespace": "ns", "id": "a", "setMetadata": {"genre": "x", "deep": {"k": "v"}}}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("deep")]);
    }
}

// ---- filters ------------------------------------------------------------------------------

/// Sends `filter` to every route that takes one; each must refuse it the same way.
/// (`describe_index_stats` refuses every non-empty filter without reading it: see
/// `describe_index_stats_with_a_filter`.)
fn every_filter_route(api: &mut Api, before: &Value, filter: Value, needles: &[Needle<'_>]) {
    let requests = [
        (
            "/query",
            json!({"namespace": "ns", "topK": 3, "vector": [1, 0, 0], "filter": filter}),
        ),
        (
            "/vectors/delete",
            json!({"namespace": "ns", "filter": filter}),
        ),
        (
            "/vectors/update",
            json!({"namespace": "ns", "filter": filter, "setMetadata": {"k": "v"}}),
        ),
        (
            "/vectors/fetch_by_metadata",
            json!({"namespace": "ns", "filter": filter}),
        ),
    ];
    for (path, body) in requests {
        let r = post(api, IX, path, body);
        assert_eq!(r.status, 400, "{path}: {}", text(&r));
        assert_rejected(api, IX, before, &r, 400, 3, needles);
    }
}

wasm_test! {
    fn filter_with_an_unknown_operator() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        every_filter_route(&mut api, &before, json!({"year": {"$foo": 1}}), &[Text("$foo")]);
    }
}

wasm_test! {
    fn filter_with_a_wrongly_typed_operand() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        every_filter_route(&mut api, &before, json!({"year": {"$gt": "x"}}), &[Text("$gt"), Text("year")]);
    }
}

wasm_test! {
    fn filter_with_in_not_a_list() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        every_filter_route(&mut api, &before, json!({"genre": {"$in": "drama"}}), &[Text("$in"), Text("genre")]);
    }
}

// ---- topK ---------------------------------------------------------------------------------

wasm_test! {
    fn top_k_of_zero() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/query", json!({"namespace": "ns", "topK": 0, "vector": [1, 0, 0]}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("topK"), Number("0")]);
    }
}

wasm_test! {
    fn top_k_of_10001() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/query", json!({"namespace": "ns", "topK": 10001, "vector": [1, 0, 0]}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("topK"), Number("10001")]);
    }
}

wasm_test! {
    fn top_k_missing() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/query", json!({"namespace": "ns", "vector": [1, 0, 0]}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("topK")]);
    }
}

// ---- sparse -------------------------------------------------------------------------------

wasm_test! {
    fn sparse_indices_and_values_of_unequal_length() {
        let mut api = fixture();
        let before = snapshot(&mut api, SP);
        let r = post(
            &mut api,
            SP,
            "/vectors/upsert",
            json!({"vectors": [
                {"id": "x", "sparseValues": {"indices": [5], "values": [1.0]}},
                {"id": "new", "sparseValues": {"indices": [1, 2], "values": [1.0]}}
            ]}),
        );
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[Text("indices"), Number("2"), Number("1")]);
        let r = post(&mut api, SP, "/query", json!({"topK": 2, "sparseVector": {"indices": [1], "values": [1.0, 2.0, 3.0]}}));
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[Text("indices"), Number("1"), Number("3")]);
        let r = post(&mut api, SP, "/vectors/update", json!({"id": "s1", "sparseValues": {"indices": [], "values": [1.0]}}));
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[Text("indices"), Number("0"), Number("1")]);
    }
}

wasm_test! {
    fn dense_values_to_a_sparse_index() {
        let mut api = fixture();
        let before = snapshot(&mut api, SP);
        let r = post(
            &mut api,
            SP,
            "/vectors/upsert",
            json!({"vectors": [{"id": "new", "values": [1.0, 2.0, 3.0], "sparseValues": {"indices": [1], "values": [1.0]}}]}),
        );
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[Text("dense"), Text("sparse")]);
        let r = post(&mut api, SP, "/query", json!({"topK": 2, "vector": [1.0, 2.0, 3.0]}));
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[Text("dense"), Text("sparse")]);
        let r = post(&mut api, SP, "/vectors/update", json!({"id": "s1", "values": [1.0]}));
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[Text("dense"), Text("sparse")]);
    }
}

wasm_test! {
    fn sparse_values_to_a_cosine_dense_index() {
        // Hybrid records need the dotproduct metric.
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/upsert",
            json!({"namespace": "ns", "vectors": [{"id": "new", "values": [1, 0, 0], "sparseValues": {"indices": [1], "values": [1.0]}}]}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("dotproduct"), Text("cosine")]);
    }
}

wasm_test! {
    fn sparse_record_without_sparse_values() {
        let mut api = fixture();
        let before = snapshot(&mut api, SP);
        let r = post(&mut api, SP, "/vectors/upsert", json!({"vectors": [{"id": "new", "metadata": {"k": "v"}}]}));
        assert_rejected(&mut api, SP, &before, &r, 400, 3, &[Text("new")]);
    }
}

// ---- unknown things -----------------------------------------------------------------------

wasm_test! {
    fn unknown_index_on_the_data_plane() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let writes = [
            ("POST", "/vectors/upsert", Some(json!({"vectors": [{"id": "new", "values": [1, 0, 0]}]}))),
            ("POST", "/query", Some(json!({"topK": 1, "vector": [1, 0, 0]}))),
            ("GET", "/vectors/fetch?ids=a", None),
            ("POST", "/describe_index_stats", Some(json!({}))),
            ("POST", "/vectors/delete", Some(json!({"deleteAll": true}))),
            ("GET", "/namespaces", None),
        ];
        for (method, path, body) in writes {
            let r = data(&mut api, "nope", method, path, body);
            assert_rejected(&mut api, IX, &before, &r, 404, 5, &[Text("nope")]);
        }
    }
}

wasm_test! {
    fn describe_a_missing_namespace() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = data(&mut api, IX, "GET", "/namespaces/ghost", None);
        assert_rejected(&mut api, IX, &before, &r, 404, 5, &[Text("ghost")]);
    }
}

wasm_test! {
    fn delete_a_missing_namespace() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = data(&mut api, IX, "DELETE", "/namespaces/ghost", None);
        assert_rejected(&mut api, IX, &before, &r, 404, 5, &[Text("ghost")]);
    }
}

wasm_test! {
    fn delete_vectors_in_a_missing_namespace() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        for body in [
            json!({"namespace": "ghost", "ids": ["a"]}),
            json!({"namespace": "ghost", "deleteAll": true}),
            json!({"namespace": "ghost", "filter": {"genre": "drama"}}),
        ] {
            let r = post(&mut api, IX, "/vectors/delete", body);
            assert_rejected(&mut api, IX, &before, &r, 404, 5, &[Text("ghost")]);
        }
    }
}

// ---- request size -------------------------------------------------------------------------

wasm_test! {
    fn upsert_of_1001_vectors() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let vectors: Vec<Value> = (0..1001).map(|i| json!({"id": format!("v{i}"), "values": [1, 0, 0]})).collect();
        let r = post(&mut api, IX, "/vectors/upsert", json!({"namespace": "fresh", "vectors": vectors}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Number("1001"), Number("1000")]);
    }
}

wasm_test! {
    fn upsert_body_over_2_mb() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        // 800 valid records (under the 1000-record limit) of ~2.7 KB each.
        let pad = "p".repeat(2700);
        let vectors: Vec<Value> = (0..800)
            .map(|i| json!({"id": format!("v{i}"), "values": [1, 0, 0], "metadata": {"pad": pad}}))
            .collect();
        let body = serde_json::to_vec(&json!({"namespace": "fresh", "vectors": vectors})).unwrap();
        assert!(body.len() > 2 * 1024 * 1024);
        let size = body.len().to_string();
        let r = raw(&mut api, Some(IX), "POST", "/vectors/upsert", &body);
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Number(&size), Text("exceeds")]);
    }
}

wasm_test! {
    fn upsert_with_malformed_json() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = raw(&mut api, Some(IX), "POST", "/vectors/upsert", br#"{"namespace":"ns","vectors":[{"id":"new","values":[1,0,0]}"#);
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("JSON")]);
    }
}

// ---- malformed requests -------------------------------------------------------------------

wasm_test! {
    fn upsert_into_a_namespace_name_over_512_characters() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let ns = "n".repeat(513);
        let r = post(&mut api, IX, "/vectors/upsert", json!({"namespace": ns, "vectors": [{"id": "new", "values": [1, 0, 0]}]}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("nnnnnnnn"), Number("512")]);
    }
}

wasm_test! {
    fn query_with_both_vector_and_id() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(&mut api, IX, "/query", json!({"namespace": "ns", "topK": 2, "vector": [1, 0, 0], "id": "a"}));
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("vector"), Text("id")]);
    }
}

wasm_test! {
    fn delete_with_more_than_one_selector() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        for body in [
            json!({"namespace": "ns", "ids": ["a"], "deleteAll": true}),
            json!({"namespace": "ns", "ids": ["a"], "filter": {"genre": "drama"}}),
            json!({"namespace": "ns", "deleteAll": true, "filter": {"genre": "drama"}}),
            json!({"namespace": "ns"}),
        ] {
            let r = post(&mut api, IX, "/vectors/delete", body);
            assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("ids"), Text("deleteAll"), Text("filter")]);
        }
    }
}

wasm_test! {
    fn update_by_filter_with_values() {
        // Filter mode can only set metadata (S-data-26.07).
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = post(
            &mut api,
            IX,
            "/vectors/update",
            json!({"namespace": "ns", "filter": {"genre": "drama"}, "values": [1, 1, 1], "setMetadata": {"k": "v"}}),
        );
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("values")]);
    }
}

wasm_test! {
    fn fetch_by_metadata_without_a_filter() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        for body in [json!({"namespace": "ns"}), json!({"namespace": "ns", "filter": {}})] {
            let r = post(&mut api, IX, "/vectors/fetch_by_metadata", body);
            assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("filter")]);
        }
    }
}

wasm_test! {
    fn fetch_without_ids() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = data(&mut api, IX, "GET", "/vectors/fetch?namespace=ns", None);
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("ids"), Number("0")]);
    }
}

wasm_test! {
    fn list_with_an_out_of_range_limit() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        for (limit, shown) in [("0", "0"), ("101", "101"), ("-3", "-3"), ("ten", "ten")] {
            let r = data(&mut api, IX, "GET", &format!("/vectors/list?namespace=ns&limit={limit}"), None);
            assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("limit"), Text(shown)]);
        }
    }
}

wasm_test! {
    fn list_with_a_garbage_pagination_token() {
        let mut api = fixture();
        let before = snapshot(&mut api, IX);
        let r = data(&mut api, IX, "GET", "/vectors/list?namespace=ns&paginationToken=garbage!", None);
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("garbage!")]);
        let r = data(&mut api, IX, "GET", "/namespaces?paginationToken=garbage!", None);
        assert_rejected(&mut api, IX, &before, &r, 400, 3, &[Text("garbage!")]);
    }
}
