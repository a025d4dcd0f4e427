//! Any request never panics the REST layer.
#![no_main]

use larch::api::{Api, ApiOptions, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte picks the route, the rest is the body.
    let routes = [
        ("POST", "/indexes"),
        ("PATCH", "/indexes/ix"),
        ("POST", "/vectors/upsert"),
        ("POST", "/query"),
        ("POST", "/vectors/update"),
        ("POST", "/vectors/delete"),
        ("POST", "/vectors/fetch_by_metadata"),
        ("POST", "/describe_index_stats"),
        ("POST", "/namespaces"),
    ];
    let Some((&pick, body)) = data.split_first() else { return };
    let (method, path) = routes[pick as usize % routes.len()];
    let mut api = Api::new(ApiOptions::default());
    let create = br#"{"name":"ix","dimension":2,"metric":"dotproduct","spec":{"serverless":{"cloud":"aws","region":"r"}}}"#;
    api.handle(&Request { method: "POST", path: "/indexes", body: create, ..Request::default() });
    let _ = api.handle(&Request { method, path, body, index: Some("ix"), ..Request::default() });
    let query = std::str::from_utf8(body).unwrap_or("");
    let _ = api.handle(&Request { method: "GET", path: "/vectors/list", query, index: Some("ix"), ..Request::default() });
    let _ = api.handle(&Request { method: "GET", path: "/vectors/fetch", query, index: Some("ix"), ..Request::default() });
});
