//! Helpers shared by the integration tests.

#![allow(dead_code)]

use larch::api::{Api, ApiOptions, Request, Response};
use serde_json::Value;

/// The API version the newest TypeScript SDK sends.
pub const VERSION: &str = "2026-04";

/// A fresh API with the default options.
pub fn api() -> Api {
    Api::new(ApiOptions::default())
}

/// Sends a control-plane request (`/indexes…`).
pub fn control(api: &mut Api, method: &str, path: &str, body: Option<Value>) -> Response {
    let body = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    api.handle(&Request {
        method,
        path,
        query: "",
        body: &body,
        api_version: Some(VERSION),
        index: None,
        namespaces: None,
        ..Request::default()
    })
}

/// Sends a data-plane request to `index`; `path` may carry a query string after `?`.
pub fn data(api: &mut Api, index: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    let body = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    api.handle(&Request {
        method,
        path,
        query,
        body: &body,
        api_version: Some(VERSION),
        index: Some(index),
        namespaces: None,
        ..Request::default()
    })
}

/// Creates a serverless dense index through the API and asserts success.
pub fn create_dense(api: &mut Api, name: &str, dimension: u32, metric: &str) {
    let r = control(
        api,
        "POST",
        "/indexes",
        Some(serde_json::json!({
            "name": name, "dimension": dimension, "metric": metric,
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}
        })),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// Marks a test to run natively and, on wasm32, under wasm-bindgen-test.
#[macro_export]
macro_rules! wasm_test {
    ($(#[$m:meta])* fn $name:ident() $body:block) => {
        $(#[$m])*
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        fn $name() $body
    };
}

/// Sends a request with a raw body (which need not be valid JSON) and an explicit API version.
/// `index` is the index the host resolved from the hostname (`None` for the control plane or
/// for path-prefix addressing, `/index/{name}/…`); `path` may carry a query string after `?`.
pub fn raw_versioned(
    api: &mut Api,
    version: Option<&str>,
    index: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Response {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    api.handle(&Request {
        method,
        path,
        query,
        body,
        api_version: version,
        index,
        namespaces: None,
        ..Request::default()
    })
}

/// Sends a request with a raw body at [`VERSION`]; see [`raw_versioned`].
pub fn raw(api: &mut Api, index: Option<&str>, method: &str, path: &str, body: &[u8]) -> Response {
    raw_versioned(api, Some(VERSION), index, method, path, body)
}

/// Creates a serverless sparse index (dotproduct) through the API and asserts success.
pub fn create_sparse(api: &mut Api, name: &str) {
    let r = control(
        api,
        "POST",
        "/indexes",
        Some(serde_json::json!({
            "name": name, "vector_type": "sparse", "metric": "dotproduct",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}
        })),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// The response body as text, for assertion messages.
pub fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}
