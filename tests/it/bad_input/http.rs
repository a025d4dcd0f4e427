//! Bad requests at the HTTP level, which reached a 500 through the Worker before: invalid
//! percent-encoding in the path or the query string, bodies over their route's limit, names
//! no route could address again, single-valued query parameters given twice, and a filter on
//! serverless `describe_index_stats`. Each asserts the status, the whole body, and that
//! nothing changed in either index.

use larch::api::{Api, Response, max_body_bytes};
use serde_json::{Value, json};

use super::{IX, SP, fixture, snapshot};
use crate::common::{control, data, raw, text};
use crate::wasm_test;

/// Everything observable in both indexes (and the list of indexes).
fn world(api: &mut Api) -> Value {
    json!([snapshot(api, IX), snapshot(api, SP)])
}

/// Asserts Pinecone's data-plane 400 with exactly `message`, and that nothing changed.
fn assert_data_400(api: &mut Api, before: &Value, r: &Response, message: &str) {
    assert_eq!(r.status, 400, "{}", text(r));
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.json_body(),
        json!({"code": 3, "message": message, "details": []})
    );
    assert_eq!(
        world(api),
        *before,
        "state changed after a rejected request"
    );
}

/// Asserts Pinecone's control-plane 400 with exactly `message`, and that nothing changed.
fn assert_control_400(api: &mut Api, before: &Value, r: &Response, message: &str) {
    assert_eq!(r.status, 400, "{}", text(r));
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.json_body(),
        json!({"error": {"code": "INVALID_ARGUMENT", "message": message}, "status": 400})
    );
    assert_eq!(
        world(api),
        *before,
        "state changed after a rejected request"
    );
}

fn bad_encoding(what: &str, raw: &str) -> String {
    format!(
        "Invalid percent-encoding in {what} '{raw}': each '%' must start an escape of two hex \
         digits, and the escapes must decode to UTF-8"
    )
}

fn too_large(size: usize) -> String {
    format!("Request size {size} bytes exceeds the maximum supported size of 2097152 bytes")
}

fn bad_namespace(name: &str) -> String {
    format!(
        "Invalid namespace name '{name}': '.' and '..' are not allowed, as URL paths cannot \
         carry them (clients and runtimes remove them), so /namespaces/{{namespace}} could \
         never reach such a namespace"
    )
}

fn repeated(name: &str, count: usize) -> String {
    format!("Query parameter '{name}' was given {count} times; it takes a single value")
}

const QUERY: &[u8] = br#"{"namespace":"ns","topK":1,"vector":[1,0,0]}"#;

// ---- percent-encoding ---------------------------------------------------------------------

wasm_test! {
    fn index_name_in_the_path_with_invalid_percent_encoding() {
        let mut api = fixture();
        let before = world(&mut api);
        for segment in ["%FF", "%E0%A4%A", "%", "%C3%28", "ix%2"] {
            let path = format!("/index/{segment}/query");
            let r = raw(&mut api, None, "POST", &path, QUERY);
            assert_data_400(&mut api, &before, &r, &bad_encoding("path segment", segment));
        }
    }
}

wasm_test! {
    fn namespace_name_in_the_path_with_invalid_percent_encoding() {
        let mut api = fixture();
        let before = world(&mut api);
        for (index, method, path, segment) in [
            (None, "DELETE", "/index/ix/namespaces/%FF", "%FF"),
            (None, "GET", "/index/ix/namespaces/%E0%A4%A", "%E0%A4%A"),
            (Some(IX), "DELETE", "/namespaces/%FF", "%FF"),
            (Some(IX), "GET", "/namespaces/n%", "n%"),
        ] {
            let r = raw(&mut api, index, method, path, b"");
            assert_data_400(&mut api, &before, &r, &bad_encoding("path segment", segment));
        }
    }
}

wasm_test! {
    fn index_name_on_the_control_plane_with_invalid_percent_encoding() {
        let mut api = fixture();
        let before = world(&mut api);
        for (method, segment, body) in [
            ("GET", "%FF", &b""[..]),
            ("PATCH", "%E0%A4%A", br#"{"tags":{"a":"b"}}"#),
            ("DELETE", "%", b""),
        ] {
            let r = raw(&mut api, None, method, &format!("/indexes/{segment}"), body);
            assert_control_400(&mut api, &before, &r, &bad_encoding("path segment", segment));
        }
    }
}

wasm_test! {
    fn query_string_with_invalid_percent_encoding() {
        let mut api = fixture();
        let before = world(&mut api);
        for (path, piece) in [
            ("/vectors/fetch?ids=a&namespace=%FF", "%FF"),
            ("/vectors/fetch?ids=%E0%A4%A&namespace=ns", "%E0%A4%A"),
            ("/vectors/list?namespace=ns&prefix=%", "%"),
            ("/namespaces?prefix=%C3%28", "%C3%28"),
        ] {
            let r = data(&mut api, IX, "GET", path, None);
            assert_data_400(&mut api, &before, &r, &bad_encoding("query string", piece));
        }
    }
}

// ---- request size -------------------------------------------------------------------------

/// `json` followed by spaces up to `len` bytes: valid JSON that parses as `json` does.
fn padded(json: &[u8], len: usize) -> Vec<u8> {
    let mut body = json.to_vec();
    body.resize(len, b' ');
    body
}

wasm_test! {
    fn every_route_refuses_a_body_over_2_mib_before_parsing_it() {
        let mut api = fixture();
        let before = world(&mut api);
        let limit = 2 * 1024 * 1024;
        let data_routes: &[(&str, &str, &[u8])] = &[
            // Would succeed at any size under the limit.
            ("POST", "/vectors/upsert", br#"{"namespace":"fresh","vectors":[{"id":"new","values":[1,0,0]}]}"#),
            ("POST", "/query", QUERY),
            ("GET", "/vectors/fetch?ids=a&namespace=ns", b"{}"),
            ("POST", "/vectors/fetch_by_metadata", br#"{"namespace":"ns","filter":{"genre":"drama"}}"#),
            ("POST", "/vectors/update", br#"{"namespace":"ns","id":"a","setMetadata":{"k":"v"}}"#),
            ("POST", "/vectors/delete", br#"{"namespace":"ns","ids":["a"]}"#),
            ("DELETE", "/vectors/delete", br#"{"namespace":"ns","deleteAll":true}"#),
            ("GET", "/vectors/list?namespace=ns", b"{}"),
            ("POST", "/describe_index_stats", b"{}"),
            ("GET", "/describe_index_stats", b"{}"),
            ("GET", "/namespaces", b"{}"),
            ("POST", "/namespaces", br#"{"name":"fresh"}"#),
            ("GET", "/namespaces/ns", b"{}"),
            ("DELETE", "/namespaces/ns", b"{}"),
            // Not JSON at all: the size is checked first.
            ("POST", "/query", b"{not json"),
        ];
        for (method, path, json) in data_routes {
            let (bare, _) = path.split_once('?').unwrap_or((path, ""));
            assert_eq!(max_body_bytes(method, bare), limit, "{method} {path}");
            assert_eq!(max_body_bytes(method, &format!("/index/ix{bare}")), limit);
            let body = padded(json, limit + 1);
            let r = raw(&mut api, Some(IX), method, path, &body);
            assert_data_400(&mut api, &before, &r, &too_large(limit + 1));
            // A host refusing from Content-Length answers the same.
            assert_eq!(r, Api::body_too_large(method, bare, limit + 1));
            // Addressed by the path prefix.
            let r = raw(&mut api, None, method, &format!("/index/ix{path}"), &body);
            assert_data_400(&mut api, &before, &r, &too_large(limit + 1));
        }
        let control_routes: &[(&str, &str, &[u8])] = &[
            ("GET", "/indexes", b"{}"),
            (
                "POST",
                "/indexes",
                br#"{"name":"other","dimension":3,"metric":"cosine","spec":{"serverless":{"cloud":"aws","region":"us-east-1"}}}"#,
            ),
            ("GET", "/indexes/ix", b"{}"),
            ("PATCH", "/indexes/ix", br#"{"tags":{"a":"b"}}"#),
            ("DELETE", "/indexes/ix", b""),
        ];
        for (method, path, json) in control_routes {
            assert_eq!(max_body_bytes(method, path), limit, "{method} {path}");
            let body = padded(json, limit + 1);
            let r = raw(&mut api, None, method, path, &body);
            assert_control_400(&mut api, &before, &r, &too_large(limit + 1));
            assert_eq!(r, Api::body_too_large(method, path, limit + 1));
        }
    }
}

wasm_test! {
    fn a_body_of_exactly_2_mib_is_accepted() {
        let mut api = fixture();
        let json = br#"{"namespace":"fresh","vectors":[{"id":"new","values":[1,0,0]}]}"#;
        let r = raw(&mut api, Some(IX), "POST", "/vectors/upsert", &padded(json, 2 * 1024 * 1024));
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(r.json_body(), json!({"upsertedCount": 1}));
        let f = data(&mut api, IX, "GET", "/vectors/fetch?ids=new&namespace=fresh", None);
        assert_eq!(f.json_body()["vectors"]["new"]["values"], json!([1.0, 0.0, 0.0]));
    }
}

// ---- names no route can address -----------------------------------------------------------

wasm_test! {
    fn namespaces_dot_and_dot_dot_are_refused_wherever_a_name_enters() {
        let mut api = fixture();
        let before = world(&mut api);
        for ns in [".", ".."] {
            let bodies = [
                ("/vectors/upsert", json!({"namespace": ns, "vectors": [{"id": "new", "values": [1, 0, 0]}]})),
                ("/query", json!({"namespace": ns, "topK": 1, "vector": [1, 0, 0]})),
                ("/query", json!({"namespace": ns, "topK": 1, "id": "a"})),
                ("/vectors/fetch_by_metadata", json!({"namespace": ns, "filter": {"genre": "drama"}})),
                ("/vectors/update", json!({"namespace": ns, "id": "a", "setMetadata": {"k": "v"}})),
                ("/vectors/update", json!({"namespace": ns, "filter": {"genre": "drama"}, "setMetadata": {"k": "v"}})),
                ("/vectors/delete", json!({"namespace": ns, "ids": ["a"]})),
                ("/vectors/delete", json!({"namespace": ns, "deleteAll": true})),
                ("/vectors/delete", json!({"namespace": ns, "filter": {"genre": "drama"}})),
                ("/namespaces", json!({"name": ns})),
            ];
            for (path, body) in bodies {
                let r = data(&mut api, IX, "POST", path, Some(body));
                assert_data_400(&mut api, &before, &r, &bad_namespace(ns));
            }
            let encoded = ns.replace('.', "%2E");
            for path in [
                format!("/vectors/fetch?ids=a&namespace={ns}"),
                format!("/vectors/fetch?ids=a&namespace={encoded}"),
                format!("/vectors/list?namespace={ns}"),
                format!("/namespaces/{encoded}"),
                format!("/namespaces/{ns}"),
            ] {
                let r = data(&mut api, IX, "GET", &path, None);
                assert_data_400(&mut api, &before, &r, &bad_namespace(ns));
            }
            for path in [format!("/index/ix/namespaces/{encoded}"), format!("/index/ix/namespaces/{ns}")] {
                let r = raw(&mut api, None, "DELETE", &path, b"");
                assert_data_400(&mut api, &before, &r, &bad_namespace(ns));
            }
        }
    }
}

wasm_test! {
    fn dot_dot_index_names_are_unknown_indexes() {
        // Pinecone's index names are `a-z0-9-`, so no index is ever named `.` or `..`.
        let mut api = fixture();
        let before = world(&mut api);
        let r = raw(&mut api, None, "GET", "/indexes/%2E%2E", b"");
        assert_eq!(r.status, 404, "{}", text(&r));
        assert_eq!(
            r.json_body(),
            json!({"error": {"code": "NOT_FOUND", "message": "Index .. not found."}, "status": 404})
        );
        let r = control(&mut api, "POST", "/indexes", Some(json!({
            "name": "..", "dimension": 3, "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}
        })));
        assert_eq!(r.status, 400, "{}", text(&r));
        assert_eq!(r.json_body()["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(world(&mut api), before);
    }
}

// ---- repeated query parameters ------------------------------------------------------------

wasm_test! {
    fn a_single_valued_query_parameter_given_twice() {
        let mut api = fixture();
        let before = world(&mut api);
        let t = larch::api::encode_token("a");
        let cases = [
            (SP, "/vectors/fetch?ids=s1&namespace=t1&namespace=t2".to_string(), "namespace", 2),
            (IX, "/vectors/fetch?ids=a&namespace=ns&namespace=&namespace=ns".into(), "namespace", 3),
            (IX, "/vectors/list?namespace=ns&namespace=__default__".into(), "namespace", 2),
            (IX, "/vectors/list?namespace=ns&limit=1&limit=2".into(), "limit", 2),
            (IX, "/vectors/list?namespace=ns&prefix=a&prefix=b".into(), "prefix", 2),
            (IX, format!("/vectors/list?namespace=ns&paginationToken={t}&paginationToken=")
                , "paginationToken", 2),
            // The snake_case alias is the same parameter.
            (IX, format!("/vectors/list?namespace=ns&paginationToken={t}&pagination_token={t}")
                , "paginationToken", 2),
            (IX, "/namespaces?limit=1&limit=1".into(), "limit", 2),
            (IX, "/namespaces?prefix=n&prefix=_".into(), "prefix", 2),
            (IX, format!("/namespaces?paginationToken={t}&paginationToken={t}"), "paginationToken", 2),
        ];
        for (index, path, name, count) in cases {
            let r = data(&mut api, index, "GET", &path, None);
            assert_data_400(&mut api, &before, &r, &repeated(name, count));
        }
        // `ids` is a list: repeating it is how fetch names several records.
        let r = data(&mut api, IX, "GET", "/vectors/fetch?ids=a&ids=b&ids=a&namespace=ns", None);
        assert_eq!(r.status, 200, "{}", text(&r));
        let mut got: Vec<String> = r.json_body()["vectors"].as_object().unwrap().keys().cloned().collect();
        got.sort();
        assert_eq!(got, ["a", "b"]);
    }
}

// ---- describe_index_stats -----------------------------------------------------------------

wasm_test! {
    fn describe_index_stats_with_a_filter() {
        // Serverless indexes refuse a metadata filter here, whatever it says (S-data-25.10);
        // the message is the one Pinecone's service sends.
        let mut api = fixture();
        let before = world(&mut api);
        let message = "Serverless and Starter indexes do not support describing index stats \
                       with metadata filtering.";
        for filter in [
            json!({"genre": "drama"}),
            json!({"genre": {"$eq": "drama"}, "year": {"$gte": 2000}}),
            json!({"year": {"$foo": 1}}),
        ] {
            for method in ["POST", "GET"] {
                let r = data(&mut api, IX, method, "/describe_index_stats", Some(json!({"filter": filter})));
                assert_data_400(&mut api, &before, &r, message);
            }
        }
        // A filter that is not an object cannot be decoded.
        let r = data(&mut api, IX, "POST", "/describe_index_stats", Some(json!({"filter": "drama"})));
        assert_eq!(r.status, 400, "{}", text(&r));
        let b = r.json_body();
        assert_eq!((&b["code"], &b["details"]), (&json!(3), &json!([])), "{b}");
        assert!(b["message"].as_str().unwrap().contains("invalid type: string \"drama\""), "{b}");
        assert_eq!(world(&mut api), before);
    }
}
