//! Pinecone's REST API (control and data plane) over HTTP: authentication, body bounds and
//! transport only — every route, validation and error body is `src/api/`'s, exactly as in the
//! Worker (`worker/src/index.ts`). Index hosts are each index's own port ([`crate::ports`]), or
//! `{origin}/index/{name}` with `--index-ports off`. One route is the
//! server's own: [`STATUS`].

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use larch::api::{Api, Response as ApiResponse};

use crate::grpc::Grpc;
use crate::grpc::pb::vector_service_server::VectorServiceServer;
use crate::serve::{App, Call};

/// The server's own status route (not Pinecone's): background indexing progress, commits,
/// memory. Authenticated like every route.
pub const STATUS: &str = "/larch/status";

/// The routes of one listener: gRPC's `VectorService` methods, and REST for everything else.
/// `index` is the index of an index port ([`crate::ports`]): its data plane without the
/// `/index/{name}` prefix, over REST and gRPC.
pub fn router(app: Arc<App>, index: Option<String>) -> axum::Router {
    let grpc = VectorServiceServer::new(Grpc {
        app: app.clone(),
        index: index.clone(),
    })
    .max_decoding_message_size(8 * 1024 * 1024)
    .max_encoding_message_size(64 * 1024 * 1024);
    tonic::service::Routes::new(grpc)
        .prepare()
        .into_axum_router()
        .fallback(move |req: axum::extract::Request| handle(app.clone(), index.clone(), req))
}

fn to_http(r: ApiResponse) -> axum::response::Response {
    let mut out = axum::response::Response::new(Body::from(r.body));
    *out.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = out.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    for (k, v) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    out
}

async fn handle(
    app: Arc<App>,
    index: Option<String>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    // Never log keys: nothing here logs requests or headers.
    if !app.authorized(parts.headers.get("api-key").map(HeaderValue::as_bytes)) {
        return to_http(Api::unauthenticated(&path));
    }
    let method = parts.method.as_str().to_ascii_uppercase();
    if method == "GET" && path == STATUS {
        let body = serde_json::to_vec(&app.status().await).unwrap_or_default();
        let mut r = axum::response::Response::new(Body::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return r;
    }
    let limit = larch::api::max_body_bytes(&method, &path);
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if declared > limit {
        return to_http(Api::body_too_large(&method, &path, declared));
    }
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b.to_vec(),
        Err(_) => return to_http(Api::body_too_large(&method, &path, limit + 1)),
    };
    let api_version = parts
        .headers
        .get("x-pinecone-api-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let call = Call {
        method,
        path,
        query,
        body,
        api_version,
        index,
        ..Call::default()
    };
    to_http(app.run(call).await)
}
