//! The control plane (`/indexes…`) route by route, against the OpenAPI shapes.
//!
//! Required-field lists are hard-coded from the specifications (no YAML parser is a
//! dev-dependency); each list names the schema and the file it comes from.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is a test failure.

use larch::api::{Api, Response};
use serde_json::{Value, json};

use crate::common::{VERSION, api, control, create_dense, data, raw, raw_versioned, text};
use crate::wasm_test;

/// `components.schemas.IndexModel.required` in `openapi/db_control_2025-10.oas.yaml` (the same
/// list in `db_control_2026-04.oas.yaml`).
const INDEX_MODEL_REQUIRED: &[&str] = &["name", "metric", "status", "spec", "host", "vector_type"];
/// `IndexModel.properties.status.required`, same file.
const INDEX_STATUS_REQUIRED: &[&str] = &["ready", "state"];
/// `IndexModel.properties.status.properties.state.x-enum`, same file.
const INDEX_STATES: &[&str] = &[
    "Initializing",
    "InitializationFailed",
    "ScalingUp",
    "ScalingDown",
    "ScalingUpPodSize",
    "ScalingDownPodSize",
    "Terminating",
    "Ready",
    "Disabled",
];
/// `components.schemas.ServerlessSpecResponse.required`, same file.
const SERVERLESS_SPEC_RESPONSE_REQUIRED: &[&str] = &["cloud", "region", "read_capacity"];
/// `ReadCapacityOnDemandSpecResponse.required` (additionalProperties: false), same file.
const READ_CAPACITY_ON_DEMAND_REQUIRED: &[&str] = &["mode", "status"];
/// `ReadCapacityDedicatedSpecResponse.required` (additionalProperties: false), same file.
const READ_CAPACITY_DEDICATED_REQUIRED: &[&str] = &["mode", "dedicated", "status"];
/// `ReadCapacityStatus.required`, same file.
const READ_CAPACITY_STATUS_REQUIRED: &[&str] = &["state"];
/// `IndexModel.required` in `pinecone-io/pinecone-api` `2026-07/db_control_2026-07.oas.yaml`
/// (the shape Python SDK 10 decodes strictly; see toolchain.md §7).
const INDEX_MODEL_REQUIRED_2026_07: &[&str] = &[
    "name",
    "host",
    "status",
    "deployment",
    "schema",
    "deletion_protection",
];
/// `IndexSchema.required`, 2026-07 file.
const INDEX_SCHEMA_REQUIRED_2026_07: &[&str] = &["fields"];
/// `ManagedDeployment.required`, 2026-07 file.
const MANAGED_DEPLOYMENT_REQUIRED_2026_07: &[&str] = &["deployment_type", "cloud", "region"];
/// `DenseVectorField.required`, 2026-07 file.
const DENSE_VECTOR_FIELD_REQUIRED_2026_07: &[&str] = &["type", "dimension", "metric"];

const SERVERLESS: &str = r#"{"serverless":{"cloud":"aws","region":"us-east-1"}}"#;

fn spec() -> Value {
    serde_json::from_str(SERVERLESS).unwrap()
}

fn require(obj: &Value, fields: &[&str], what: &str) {
    let map = obj
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {obj}"));
    for f in fields {
        match map.get(*f) {
            None => panic!("{what} lacks required field `{f}`: {obj}"),
            Some(Value::Null) => panic!("{what}.{f} is null (omit or set it): {obj}"),
            Some(_) => {}
        }
    }
}

fn str_in(v: &Value, allowed: &[&str], what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(
        allowed.contains(&s),
        "{what} = {s:?}, expected one of {allowed:?}"
    );
}

/// What an index description must say, beyond being schema-valid.
struct Expect<'a> {
    name: &'a str,
    /// `Some(d)` for dense indexes, `None` for sparse.
    dimension: Option<u64>,
    metric: &'a str,
    cloud: &'a str,
    region: &'a str,
    deletion_protection: &'a str,
}

impl<'a> Expect<'a> {
    fn dense(name: &'a str, dimension: u64, metric: &'a str) -> Self {
        Expect {
            name,
            dimension: Some(dimension),
            metric,
            cloud: "aws",
            region: "us-east-1",
            deletion_protection: "disabled",
        }
    }

    fn sparse(name: &'a str) -> Self {
        Expect {
            name,
            dimension: None,
            metric: "dotproduct",
            cloud: "aws",
            region: "us-east-1",
            deletion_protection: "disabled",
        }
    }
}

/// Checks a read-capacity response object against the 2025-10 `ReadCapacityResponse` oneOf.
fn check_read_capacity(rc: &Value) {
    let mode = rc["mode"].as_str().unwrap_or_default();
    match mode {
        "OnDemand" => {
            require(rc, READ_CAPACITY_ON_DEMAND_REQUIRED, "read_capacity");
            let keys: Vec<&String> = rc.as_object().unwrap().keys().collect();
            assert!(
                keys.iter()
                    .all(|k| READ_CAPACITY_ON_DEMAND_REQUIRED.contains(&k.as_str())),
                "OnDemand read_capacity has extra keys (additionalProperties: false): {rc}"
            );
        }
        "Dedicated" => {
            require(rc, READ_CAPACITY_DEDICATED_REQUIRED, "read_capacity");
            let keys: Vec<&String> = rc.as_object().unwrap().keys().collect();
            assert!(
                keys.iter()
                    .all(|k| READ_CAPACITY_DEDICATED_REQUIRED.contains(&k.as_str())),
                "Dedicated read_capacity has extra keys (additionalProperties: false): {rc}"
            );
        }
        // TS 8.2 throws on any other mode (reference §8).
        other => panic!("read_capacity.mode must be OnDemand or Dedicated, got {other:?}: {rc}"),
    }
    require(
        &rc["status"],
        READ_CAPACITY_STATUS_REQUIRED,
        "read_capacity.status",
    );
}

/// Asserts that `m` is a valid IndexModel for both the 2025-10 and the 2026-07 schemas and
/// describes the expected index.
fn check_index_model(m: &Value, e: &Expect<'_>) {
    // 2025-10 / 2026-04 IndexModel.
    require(m, INDEX_MODEL_REQUIRED, "IndexModel");
    assert_eq!(m["name"], e.name, "{m}");
    str_in(
        &m["metric"],
        &["cosine", "euclidean", "dotproduct"],
        "metric",
    );
    assert_eq!(m["metric"], e.metric, "{m}");
    require(&m["status"], INDEX_STATUS_REQUIRED, "status");
    assert!(m["status"]["ready"].is_boolean(), "{m}");
    str_in(&m["status"]["state"], INDEX_STATES, "status.state");
    assert_eq!(m["status"], json!({"ready": true, "state": "Ready"}), "{m}");
    assert!(m["host"].as_str().is_some_and(|h| !h.is_empty()), "{m}");
    let spec = m["spec"].as_object().expect("spec is an object");
    assert_eq!(spec.len(), 1, "spec holds exactly one deployment: {m}");
    let serverless = &m["spec"]["serverless"];
    require(
        serverless,
        SERVERLESS_SPEC_RESPONSE_REQUIRED,
        "spec.serverless",
    );
    assert_eq!(serverless["cloud"], e.cloud, "{m}");
    assert_eq!(serverless["region"], e.region, "{m}");
    check_read_capacity(&serverless["read_capacity"]);
    str_in(&m["vector_type"], &["dense", "sparse"], "vector_type");
    // Non-nullable for Python 9 (reference §8).
    str_in(
        &m["deletion_protection"],
        &["enabled", "disabled"],
        "deletion_protection",
    );
    assert_eq!(m["deletion_protection"], e.deletion_protection, "{m}");
    match e.dimension {
        Some(d) => {
            assert_eq!(m["vector_type"], "dense", "{m}");
            assert_eq!(m["dimension"], d, "{m}");
        }
        None => {
            assert_eq!(m["vector_type"], "sparse", "{m}");
            assert!(
                m.get("dimension").is_none_or(Value::is_null),
                "sparse indexes have no dimension: {m}"
            );
        }
    }
    // Tags: absent, null, or a string map (IndexTags).
    match m.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(t)) => assert!(t.values().all(Value::is_string), "{m}"),
        Some(other) => panic!("tags must be an object or null, got {other}"),
    }
    // TS resolves `privateHost || host`: an unreachable private host would break it.
    assert!(m.get("private_host").is_none_or(Value::is_null), "{m}");

    // 2026-07 IndexModel (Python 10).
    require(m, INDEX_MODEL_REQUIRED_2026_07, "IndexModel (2026-07)");
    require(&m["schema"], INDEX_SCHEMA_REQUIRED_2026_07, "schema");
    let fields = m["schema"]["fields"]
        .as_object()
        .expect("schema.fields is an object");
    match e.dimension {
        Some(d) => {
            let f = &fields["_values"];
            require(
                f,
                DENSE_VECTOR_FIELD_REQUIRED_2026_07,
                "schema.fields._values",
            );
            assert_eq!(f["type"], "dense_vector", "{m}");
            assert_eq!(f["dimension"], d, "{m}");
            assert_eq!(f["metric"], e.metric, "{m}");
        }
        None => {
            assert_eq!(fields["_sparse_values"]["type"], "sparse_vector", "{m}");
            assert!(!fields.contains_key("_values"), "{m}");
        }
    }
    let deployment = &m["deployment"];
    require(
        deployment,
        MANAGED_DEPLOYMENT_REQUIRED_2026_07,
        "deployment",
    );
    assert_eq!(deployment["deployment_type"], "managed", "{m}");
    assert_eq!(deployment["cloud"], e.cloud, "{m}");
    assert_eq!(deployment["region"], e.region, "{m}");
}

/// Asserts a control-plane error: status, `{"error":{"code","message"},"status"}` and that the
/// message contains every needle.
fn assert_control_error(r: &Response, status: u16, code: &str, needles: &[&str]) {
    assert_eq!(r.status, status, "{}", text(r));
    assert_eq!(r.content_type, "application/json");
    let b = r.json_body();
    let obj = b
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {b}"));
    assert_eq!(obj.len(), 2, "exactly `error` and `status`: {b}");
    assert_eq!(b["status"], status, "{b}");
    assert_eq!(b["error"]["code"], code, "{b}");
    let msg = b["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {b}"));
    for n in needles {
        assert!(msg.contains(n), "message {msg:?} should mention {n:?}");
    }
}

fn create(api: &mut Api, body: Value) -> Response {
    control(api, "POST", "/indexes", Some(body))
}

fn create_2026_07(api: &mut Api, body: Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap();
    raw_versioned(api, Some("2026-07"), None, "POST", "/indexes", &bytes)
}

fn describe(api: &mut Api, name: &str) -> Response {
    control(api, "GET", &format!("/indexes/{name}"), None)
}

fn list_names(api: &mut Api) -> Vec<String> {
    let r = control(api, "GET", "/indexes", None);
    assert_eq!(r.status, 200, "{}", text(&r));
    r.json_body()["indexes"]
        .as_array()
        .expect("indexes is a list")
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

// ---- create -------------------------------------------------------------------------------

wasm_test! {
    fn create_with_the_typescript_sdk_body() {
        // Verbatim from toolchain.md §7 (TS 8.2.0, API 2026-04).
        let mut api = api();
        let r = raw(
            &mut api,
            None,
            "POST",
            "/indexes",
            br#"{"name":"test-index","dimension":8,"metric":"cosine","spec":{"serverless":{"cloud":"aws","region":"us-east-1"}}}"#,
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        assert_eq!(r.content_type, "application/json");
        check_index_model(&r.json_body(), &Expect::dense("test-index", 8, "cosine"));
    }
}

wasm_test! {
    fn create_with_the_python_9_body() {
        // Verbatim from toolchain.md §7 (Python 9.1.0, API 2025-10).
        let mut api = api();
        let r = raw_versioned(
            &mut api,
            Some("2025-10"),
            None,
            "POST",
            "/indexes",
            br#"{"name":"test-index","metric":"cosine","vector_type":"dense","deletion_protection":"disabled","dimension":8,"spec":{"serverless":{"cloud":"aws","region":"us-east-1"}}}"#,
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::dense("test-index", 8, "cosine"));
    }
}

wasm_test! {
    fn create_with_the_python_10_body_2026_07() {
        // Verbatim from toolchain.md §7 (Python 10.2.0, API 2026-07).
        let mut api = api();
        let r = raw_versioned(
            &mut api,
            Some("2026-07"),
            None,
            "POST",
            "/indexes",
            br#"{"schema":{"fields":{"_values":{"type":"dense_vector","dimension":8,"metric":"cosine"}}},"name":"test-index","deployment":{"deployment_type":"managed","cloud":"aws","region":"us-east-1"}}"#,
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::dense("test-index", 8, "cosine"));
    }
}

wasm_test! {
    fn create_2026_07_carries_metric_cloud_and_region_into_both_shapes() {
        let mut api = api();
        let r = create_2026_07(
            &mut api,
            json!({
                "name": "eu",
                "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 3, "metric": "euclidean"}}},
                "deployment": {"deployment_type": "managed", "cloud": "gcp", "region": "europe-west4"},
                "deletion_protection": "enabled",
                "tags": {"team": "search"}
            }),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        let m = r.json_body();
        check_index_model(
            &m,
            &Expect {
                name: "eu",
                dimension: Some(3),
                metric: "euclidean",
                cloud: "gcp",
                region: "europe-west4",
                deletion_protection: "enabled",
            },
        );
        assert_eq!(m["tags"], json!({"team": "search"}));
    }
}

wasm_test! {
    fn create_2026_07_without_deployment_defaults_to_aws_us_east_1() {
        // CreateIndexRequest (2026-07): "`deployment` … defaults to managed (serverless) on AWS
        // `us-east-1` if omitted."
        let mut api = api();
        let r = create_2026_07(
            &mut api,
            json!({"name": "d", "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 4, "metric": "dotproduct"}}}}),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::dense("d", 4, "dotproduct"));
    }
}

wasm_test! {
    fn describe_dense_reports_both_reserved_vector_fields_2026_07() {
        // IndexSchema.fields (2026-07): "Dense vectors-API indexes always report both `_values`
        // and `_sparse_values`, regardless of how they were created."
        let mut api = api();
        create_dense(&mut api, "hy", 4, "dotproduct");
        let m = describe(&mut api, "hy").json_body();
        let fields = &m["schema"]["fields"];
        assert_eq!(fields["_values"]["type"], "dense_vector", "{m}");
        assert_eq!(fields["_sparse_values"]["type"], "sparse_vector", "{m}");
    }
}

wasm_test! {
    fn create_sparse_with_the_classic_body() {
        // The OpenAPI example `serverless-sparse-index` (2025-10), minus the pod-only fields.
        let mut api = api();
        let r = create(
            &mut api,
            json!({"name": "sparse-index", "vector_type": "sparse", "metric": "dotproduct", "spec": spec()}),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::sparse("sparse-index"));
    }
}

wasm_test! {
    fn create_sparse_classic_defaults_the_metric_to_dotproduct() {
        let mut api = api();
        let r = create(&mut api, json!({"name": "s", "vector_type": "sparse", "spec": spec()}));
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::sparse("s"));
    }
}

wasm_test! {
    fn create_sparse_with_the_2026_07_body() {
        let mut api = api();
        let r = create_2026_07(
            &mut api,
            json!({
                "name": "sparse-index",
                "schema": {"fields": {"_sparse_values": {"type": "sparse_vector"}}},
                "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}
            }),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::sparse("sparse-index"));
    }
}

wasm_test! {
    fn create_defaults_dense_metric_to_cosine_and_reports_every_metric() {
        let mut api = api();
        let r = create(&mut api, json!({"name": "def", "dimension": 3, "spec": spec()}));
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::dense("def", 3, "cosine"));
        for metric in ["cosine", "euclidean", "dotproduct"] {
            let name = format!("m-{metric}");
            let r = create(&mut api, json!({"name": name, "dimension": 3, "metric": metric, "spec": spec()}));
            assert_eq!(r.status, 201, "{}", text(&r));
            check_index_model(&r.json_body(), &Expect::dense(&name, 3, metric));
        }
    }
}

wasm_test! {
    fn create_keeps_tags_deletion_protection_and_dedicated_read_capacity() {
        let mut api = api();
        let r = create(
            &mut api,
            json!({
                "name": "ded", "dimension": 16, "metric": "cosine", "deletion_protection": "enabled",
                "tags": {"env": "dev", "owner": "a.b@c"},
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1", "read_capacity": {
                    "mode": "Dedicated",
                    "dedicated": {"node_type": "t1", "scaling": "Manual", "manual": {"replicas": 2, "shards": 3}}
                }}}
            }),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        let m = r.json_body();
        check_index_model(
            &m,
            &Expect { deletion_protection: "enabled", ..Expect::dense("ded", 16, "cosine") },
        );
        assert_eq!(m["tags"], json!({"env": "dev", "owner": "a.b@c"}));
        let rc = &m["spec"]["serverless"]["read_capacity"];
        assert_eq!(rc["mode"], "Dedicated");
        assert_eq!(rc["dedicated"]["node_type"], "t1");
        assert_eq!(rc["dedicated"]["scaling"], "Manual");
        assert_eq!(rc["dedicated"]["manual"], json!({"replicas": 2, "shards": 3}));
        assert_eq!(rc["status"]["state"], "Ready");
        // The description says the same.
        assert_eq!(describe(&mut api, "ded").json_body(), m);
    }
}

wasm_test! {
    fn create_host_addresses_the_data_plane_by_path_prefix() {
        let mut api = api();
        let m = create(&mut api, json!({"name": "routed", "dimension": 2, "spec": spec()})).json_body();
        let host = m["host"].as_str().unwrap().to_string();
        // With plain HTTP the host must carry its scheme (toolchain.md §7).
        assert!(host.starts_with("http://"), "{host}");
        let path = host.trim_start_matches("http://");
        let prefix = &path[path.find('/').expect("host has a path prefix")..];
        let r = raw(
            &mut api,
            None,
            "POST",
            &format!("{prefix}/vectors/upsert"),
            br#"{"vectors":[{"id":"a","values":[1,2]}]}"#,
        );
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(r.json_body(), json!({"upsertedCount": 1}));
    }
}

// ---- describe / list ----------------------------------------------------------------------

wasm_test! {
    fn describe_returns_the_created_model() {
        let mut api = api();
        let created = create(&mut api, json!({"name": "a", "dimension": 5, "metric": "euclidean", "spec": spec()}));
        let r = describe(&mut api, "a");
        assert_eq!(r.status, 200, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::dense("a", 5, "euclidean"));
        assert_eq!(r.json_body(), created.json_body());
    }
}

wasm_test! {
    fn describe_unknown_index_is_404_with_the_control_plane_body() {
        let mut api = api();
        let r = describe(&mut api, "example-index");
        assert_eq!(r.status, 404);
        // The example in db_control_2025-10.oas.yaml (describe_index 404).
        assert_eq!(
            r.json_body(),
            json!({"error": {"code": "NOT_FOUND", "message": "Index example-index not found."}, "status": 404})
        );
    }
}

wasm_test! {
    fn list_is_empty_then_holds_every_index() {
        let mut api = api();
        let r = control(&mut api, "GET", "/indexes", None);
        assert_eq!(r.status, 200);
        assert_eq!(r.json_body(), json!({"indexes": []}));
        create_dense(&mut api, "one", 3, "cosine");
        let r = create(&mut api, json!({"name": "two", "vector_type": "sparse", "spec": spec()}));
        assert_eq!(r.status, 201);
        let r = control(&mut api, "GET", "/indexes", None);
        let body = r.json_body();
        let models = body["indexes"].as_array().unwrap();
        assert_eq!(models.len(), 2, "{body}");
        for m in models {
            match m["name"].as_str().unwrap() {
                "one" => check_index_model(m, &Expect::dense("one", 3, "cosine")),
                "two" => check_index_model(m, &Expect::sparse("two")),
                other => panic!("unexpected index {other}"),
            }
        }
        // A trailing slash is the same route.
        let r = control(&mut api, "GET", "/indexes/", None);
        assert_eq!(r.json_body(), body);
    }
}

// ---- configure ----------------------------------------------------------------------------

wasm_test! {
    fn configure_deletion_protection_is_202_with_the_model() {
        let mut api = api();
        create_dense(&mut api, "c", 3, "cosine");
        let r = control(&mut api, "PATCH", "/indexes/c", Some(json!({"deletion_protection": "enabled"})));
        assert_eq!(r.status, 202, "{}", text(&r));
        let m = r.json_body();
        check_index_model(&m, &Expect { deletion_protection: "enabled", ..Expect::dense("c", 3, "cosine") });
        assert_eq!(describe(&mut api, "c").json_body(), m);
        let r = control(&mut api, "PATCH", "/indexes/c", Some(json!({"deletion_protection": "disabled"})));
        assert_eq!(r.status, 202);
        assert_eq!(describe(&mut api, "c").json_body()["deletion_protection"], "disabled");
    }
}

wasm_test! {
    fn configure_merges_tags_and_an_empty_value_removes_a_key() {
        let mut api = api();
        let r = create(
            &mut api,
            json!({"name": "t", "dimension": 3, "spec": spec(), "tags": {"a": "1", "b": "2"}}),
        );
        assert_eq!(r.status, 201);
        let r = control(&mut api, "PATCH", "/indexes/t", Some(json!({"tags": {"b": "", "c": "3"}})));
        assert_eq!(r.status, 202, "{}", text(&r));
        assert_eq!(r.json_body()["tags"], json!({"a": "1", "c": "3"}));
        assert_eq!(describe(&mut api, "t").json_body()["tags"], json!({"a": "1", "c": "3"}));
        // Other settings are untouched.
        check_index_model(&describe(&mut api, "t").json_body(), &Expect::dense("t", 3, "cosine"));
        // Removing every tag leaves no tags (null or absent).
        let r = control(&mut api, "PATCH", "/indexes/t", Some(json!({"tags": {"a": "", "c": ""}})));
        assert_eq!(r.status, 202);
        let tags = describe(&mut api, "t").json_body()["tags"].clone();
        assert!(
            tags.is_null() || tags == json!({}),
            "no tags left, got {tags}"
        );
    }
}

wasm_test! {
    fn configure_read_capacity_both_ways() {
        let mut api = api();
        create_dense(&mut api, "rc", 3, "cosine");
        // 2025-10 ConfigureIndexRequest: spec.serverless.read_capacity.
        let r = control(
            &mut api,
            "PATCH",
            "/indexes/rc",
            Some(json!({"spec": {"serverless": {"read_capacity": {
                "mode": "Dedicated",
                "dedicated": {"node_type": "b1", "scaling": "Manual", "manual": {"replicas": 1, "shards": 2}}
            }}}})),
        );
        assert_eq!(r.status, 202, "{}", text(&r));
        let m = r.json_body();
        check_index_model(&m, &Expect::dense("rc", 3, "cosine"));
        let rc = &m["spec"]["serverless"]["read_capacity"];
        assert_eq!(rc["mode"], "Dedicated");
        assert_eq!(rc["dedicated"]["node_type"], "b1");
        assert_eq!(rc["dedicated"]["manual"], json!({"replicas": 1, "shards": 2}));
        assert_eq!(describe(&mut api, "rc").json_body(), m);
        // 2026-07 ConfigureIndexRequest: top-level read_capacity.
        let r = control(
            &mut api,
            "PATCH",
            "/indexes/rc",
            Some(json!({"read_capacity": {"mode": "OnDemand"}})),
        );
        assert_eq!(r.status, 202, "{}", text(&r));
        assert_eq!(
            describe(&mut api, "rc").json_body()["spec"]["serverless"]["read_capacity"],
            json!({"mode": "OnDemand", "status": {"state": "Ready"}})
        );
    }
}

wasm_test! {
    fn configure_unknown_index_is_404() {
        let mut api = api();
        let r = control(&mut api, "PATCH", "/indexes/ghost", Some(json!({"deletion_protection": "enabled"})));
        assert_control_error(&r, 404, "NOT_FOUND", &["ghost"]);
    }
}

wasm_test! {
    fn configure_rejects_bad_values_and_leaves_the_index_as_is() {
        let mut api = api();
        create_dense(&mut api, "c", 3, "cosine");
        let before = describe(&mut api, "c").json_body();
        let r = control(&mut api, "PATCH", "/indexes/c", Some(json!({"deletion_protection": "sometimes"})));
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["sometimes"]);
        let r = control(&mut api, "PATCH", "/indexes/c", Some(json!({"tags": {"bad key!": "v"}})));
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["bad key!"]);
        let r = control(
            &mut api,
            "PATCH",
            "/indexes/c",
            Some(json!({"read_capacity": {"mode": "Turbo"}})),
        );
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["Turbo"]);
        let r = raw(&mut api, None, "PATCH", "/indexes/c", b"{\"tags\": ");
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &[]);
        assert_eq!(describe(&mut api, "c").json_body(), before);
    }
}

// ---- delete -------------------------------------------------------------------------------

wasm_test! {
    fn delete_is_202_with_an_empty_body_then_404() {
        let mut api = api();
        create_dense(&mut api, "gone", 3, "cosine");
        create_dense(&mut api, "kept", 3, "cosine");
        let r = control(&mut api, "DELETE", "/indexes/gone", None);
        assert_eq!(r.status, 202, "{}", text(&r));
        assert!(r.body.is_empty(), "delete_index answers an empty body: {}", text(&r));
        // Python 9 polls describe until 404 (reference §8): the delete is visible at once.
        assert_control_error(&describe(&mut api, "gone"), 404, "NOT_FOUND", &["gone"]);
        assert_eq!(list_names(&mut api), vec!["kept".to_string()]);
        let r = control(&mut api, "DELETE", "/indexes/gone", None);
        assert_control_error(&r, 404, "NOT_FOUND", &["gone"]);
        // Its data plane is gone too.
        let r = data(&mut api, "gone", "POST", "/describe_index_stats", Some(json!({})));
        assert_eq!(r.status, 404);
        // The name can be reused.
        create_dense(&mut api, "gone", 7, "euclidean");
        check_index_model(&describe(&mut api, "gone").json_body(), &Expect::dense("gone", 7, "euclidean"));
    }
}

wasm_test! {
    fn delete_with_deletion_protection_is_403_forbidden_and_keeps_the_index() {
        let mut api = api();
        let r = create(
            &mut api,
            json!({"name": "prot", "dimension": 2, "deletion_protection": "enabled", "spec": spec()}),
        );
        assert_eq!(r.status, 201);
        let r = data(
            &mut api,
            "prot",
            "POST",
            "/vectors/upsert",
            Some(json!({"vectors": [{"id": "a", "values": [1.0, 2.0]}]})),
        );
        assert_eq!(r.status, 200);
        let r = control(&mut api, "DELETE", "/indexes/prot", None);
        // The example in db_control_2025-10.oas.yaml (delete_index 403).
        assert_eq!(r.status, 403);
        assert_eq!(
            r.json_body(),
            json!({"error": {"code": "FORBIDDEN", "message": "Deletion protection is enabled for this index. Disable deletion protection before retrying."}, "status": 403})
        );
        let m = describe(&mut api, "prot");
        assert_eq!(m.status, 200);
        assert_eq!(m.json_body()["deletion_protection"], "enabled");
        let stats = data(&mut api, "prot", "POST", "/describe_index_stats", Some(json!({})));
        assert_eq!(stats.json_body()["totalVectorCount"], 1);
        // Disable, then delete.
        let r = control(&mut api, "PATCH", "/indexes/prot", Some(json!({"deletion_protection": "disabled"})));
        assert_eq!(r.status, 202);
        let r = control(&mut api, "DELETE", "/indexes/prot", None);
        assert_eq!(r.status, 202, "{}", text(&r));
        assert_eq!(describe(&mut api, "prot").status, 404);
    }
}

// ---- create errors ------------------------------------------------------------------------

wasm_test! {
    fn create_duplicate_name_is_409_and_keeps_the_original() {
        let mut api = api();
        create_dense(&mut api, "dup", 3, "cosine");
        let r = create(&mut api, json!({"name": "dup", "dimension": 9, "metric": "euclidean", "spec": spec()}));
        // The example in db_control_2025-10.oas.yaml (create_index 409).
        assert_eq!(r.status, 409);
        assert_eq!(
            r.json_body(),
            json!({"error": {"code": "ALREADY_EXISTS", "message": "Resource already exists."}, "status": 409})
        );
        check_index_model(&describe(&mut api, "dup").json_body(), &Expect::dense("dup", 3, "cosine"));
    }
}

wasm_test! {
    fn create_malformed_json_is_422() {
        let mut api = api();
        let r = raw(&mut api, None, "POST", "/indexes", br#"{"name": "x", "dimension": 3,"#);
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &["Failed to deserialize the JSON body"]);
        let r = raw(&mut api, None, "POST", "/indexes", b"[1, 2]");
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &[]);
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn create_without_name_is_422() {
        let mut api = api();
        let r = create(&mut api, json!({"dimension": 3, "metric": "cosine", "spec": spec()}));
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &["name"]);
        let r = raw(&mut api, None, "POST", "/indexes", b"");
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &["name"]);
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn create_without_spec_is_422() {
        // CreateIndexRequest.required: [name, spec] (2025-10).
        let mut api = api();
        let r = create(&mut api, json!({"name": "nospec", "dimension": 3, "metric": "cosine"}));
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &["spec"]);
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn create_wrongly_typed_field_is_422() {
        let mut api = api();
        let r = create(&mut api, json!({"name": "typed", "dimension": "8", "spec": spec()}));
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &["dimension"]);
        let r = create(&mut api, json!({"name": 7, "dimension": 8, "spec": spec()}));
        assert_control_error(&r, 422, "UNPROCESSABLE_ENTITY", &["name"]);
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn create_bad_names_are_400() {
        let mut api = api();
        let long = "a".repeat(46);
        for bad in ["Movies", "under_score", "-lead", "trail-", "sp ace", "dot.ted", long.as_str(), ""] {
            let r = create(&mut api, json!({"name": bad, "dimension": 3, "spec": spec()}));
            assert_control_error(&r, 400, "INVALID_ARGUMENT", &[&format!("'{bad}'")]);
        }
        assert!(list_names(&mut api).is_empty());
        // The bounds themselves are fine.
        create_dense(&mut api, &"a".repeat(45), 3, "cosine");
        create_dense(&mut api, "a", 3, "cosine");
        create_dense(&mut api, "0-9", 3, "cosine");
    }
}

wasm_test! {
    fn create_bad_dimensions_are_400() {
        let mut api = api();
        for (bad, shown) in [
            (json!(0), "0"),
            (json!(20001), "20001"),
            (json!(-1), "-1"),
            (json!(1.5), "1.5"),
            (json!(1_099_511_627_776u64), "1099511627776"),
        ] {
            let r = create(&mut api, json!({"name": "dim", "dimension": bad, "spec": spec()}));
            assert_control_error(&r, 400, "INVALID_ARGUMENT", &[shown]);
        }
        // A dense index needs a dimension.
        let r = create(&mut api, json!({"name": "dim", "metric": "cosine", "spec": spec()}));
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["dimension"]);
        // 2026-07 body too.
        let r = create_2026_07(
            &mut api,
            json!({"name": "dim", "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 0, "metric": "cosine"}}}}),
        );
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["0"]);
        assert!(list_names(&mut api).is_empty());
        // The bounds themselves are fine.
        create_dense(&mut api, "one", 1, "cosine");
        create_dense(&mut api, "max", 20000, "cosine");
    }
}

wasm_test! {
    fn create_bad_metric_is_400() {
        let mut api = api();
        let r = create(&mut api, json!({"name": "m", "dimension": 3, "metric": "manhattan", "spec": spec()}));
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["manhattan"]);
        let r = create(&mut api, json!({"name": "m", "dimension": 3, "metric": "Cosine", "spec": spec()}));
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["Cosine"]);
        let r = create_2026_07(
            &mut api,
            json!({"name": "m", "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 3, "metric": "hamming"}}}}),
        );
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["hamming"]);
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn create_sparse_with_cosine_or_a_dimension_is_400() {
        let mut api = api();
        for metric in ["cosine", "euclidean"] {
            let r = create(
                &mut api,
                json!({"name": "sp", "vector_type": "sparse", "metric": metric, "spec": spec()}),
            );
            assert_control_error(&r, 400, "INVALID_ARGUMENT", &[metric, "dotproduct"]);
        }
        let r = create(
            &mut api,
            json!({"name": "sp", "vector_type": "sparse", "metric": "dotproduct", "dimension": 10, "spec": spec()}),
        );
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["dimension"]);
        let r = create_2026_07(
            &mut api,
            json!({"name": "sp", "schema": {"fields": {"_sparse_values": {"type": "sparse_vector", "metric": "cosine"}}}}),
        );
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["cosine"]);
        let r = create(&mut api, json!({"name": "sp", "vector_type": "binary", "dimension": 3, "spec": spec()}));
        assert_control_error(&r, 400, "INVALID_ARGUMENT", &["binary"]);
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn create_unknown_cloud_is_404_as_the_openapi_documents() {
        let mut api = api();
        let r = create(
            &mut api,
            json!({"name": "cl", "dimension": 3, "spec": {"serverless": {"cloud": "ibm", "region": "us-east-1"}}}),
        );
        assert_control_error(&r, 404, "NOT_FOUND", &["Resource cloud: ibm region: us-east-1 not found."]);
        let r = create_2026_07(
            &mut api,
            json!({
                "name": "cl",
                "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 3, "metric": "cosine"}}},
                "deployment": {"deployment_type": "managed", "cloud": "oracle", "region": "x"}
            }),
        );
        assert_control_error(&r, 404, "NOT_FOUND", &["oracle"]);
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn create_bad_tags_are_400() {
        let mut api = api();
        let long_key = "k".repeat(81);
        for tags in [
            json!({"bad key": "v"}),
            json!({ long_key.as_str(): "v" }),
            json!({"k": "v".repeat(121)}),
            json!({"k": "no/slash"}),
        ] {
            let r = create(&mut api, json!({"name": "tg", "dimension": 3, "spec": spec(), "tags": tags}));
            assert_control_error(&r, 400, "INVALID_ARGUMENT", &["tag"]);
        }
        assert!(list_names(&mut api).is_empty());
    }
}

wasm_test! {
    fn control_plane_unknown_route_is_404_with_the_control_body() {
        let mut api = api();
        create_dense(&mut api, "x", 3, "cosine");
        let r = control(&mut api, "GET", "/indexes/x/nothing", None);
        assert_control_error(&r, 404, "NOT_FOUND", &[]);
        let r = control(&mut api, "PUT", "/indexes", None);
        assert_control_error(&r, 404, "NOT_FOUND", &[]);
    }
}

wasm_test! {
    fn control_plane_works_without_a_version_header() {
        let mut api = api();
        let body = serde_json::to_vec(&json!({"name": "nov", "dimension": 3, "spec": spec()})).unwrap();
        let r = raw_versioned(&mut api, None, None, "POST", "/indexes", &body);
        assert_eq!(r.status, 201, "{}", text(&r));
        check_index_model(&r.json_body(), &Expect::dense("nov", 3, "cosine"));
        let r = raw_versioned(&mut api, Some(VERSION), None, "GET", "/indexes/nov", b"");
        assert_eq!(r.status, 200);
    }
}
