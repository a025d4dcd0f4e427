//! Larch in one screen: create an index, upsert two tenants into their own namespaces and query
//! each, through the same Pinecone REST semantics the Worker serves.
//!
//! Run with `cargo run --release --example quickstart`.

use larch::api::{Api, ApiOptions, Request, Response};
use serde_json::{Value, json};

fn call(api: &mut Api, method: &str, path: &str, index: Option<&str>, body: Value) -> Response {
    let body = serde_json::to_vec(&body).expect("JSON encodes");
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    api.handle(&Request {
        method,
        path,
        query,
        body: &body,
        api_version: Some("2025-10"),
        index,
        namespaces: None,
        ..Request::default()
    })
}

fn show(label: &str, r: &Response) {
    println!(
        "{label} -> {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
}

fn main() {
    let mut api = Api::new(ApiOptions::default());
    let r = call(
        &mut api,
        "POST",
        "/indexes",
        None,
        json!({"name": "movies", "dimension": 4, "metric": "cosine",
               "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}}),
    );
    show("create_index", &r);

    let tenants = [
        (
            "tenant-a",
            [
                ("a-1", [1.0, 0.0, 0.0, 0.0], "drama"),
                ("a-2", [0.9, 0.1, 0.0, 0.0], "comedy"),
            ],
        ),
        (
            "tenant-b",
            [
                ("b-1", [0.0, 1.0, 0.0, 0.0], "drama"),
                ("b-2", [0.0, 0.0, 1.0, 0.0], "drama"),
            ],
        ),
    ];
    for (ns, records) in &tenants {
        let vectors: Vec<Value> = records
            .iter()
            .map(|(id, v, genre)| json!({"id": id, "values": v, "metadata": {"genre": genre}}))
            .collect();
        let r = call(
            &mut api,
            "POST",
            "/vectors/upsert",
            Some("movies"),
            json!({"vectors": vectors, "namespace": ns}),
        );
        show(&format!("upsert {ns}"), &r);
    }
    for (ns, _) in &tenants {
        let r = call(
            &mut api,
            "POST",
            "/query",
            Some("movies"),
            json!({"namespace": ns, "vector": [1.0, 0.2, 0.0, 0.0], "topK": 3,
                   "filter": {"genre": {"$eq": "drama"}}, "includeMetadata": true}),
        );
        show(&format!("query {ns}"), &r);
    }
    let r = call(
        &mut api,
        "POST",
        "/describe_index_stats",
        Some("movies"),
        json!({}),
    );
    show("describe_index_stats", &r);
}
