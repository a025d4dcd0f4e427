//! The one place engine errors become Pinecone's HTTP statuses and error bodies.
//!
//! Pinecone uses three body shapes (reference §2):
//! - control plane: `{"error":{"code":"NOT_FOUND","message":"…"},"status":404}`;
//! - data plane: gRPC status `{"code":5,"message":"…","details":[]}` (numeric gRPC code);
//! - the data plane's auth layer: plain text `Unauthorized`.

use serde_json::json;

use super::Response;
use crate::error::{Error, ErrorCode};

/// Which API family a request belongs to; it decides the error body shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// `/indexes…` (Pinecone's `api.pinecone.io`).
    Control,
    /// Everything served on an index host.
    Data,
}

/// The HTTP status for an error on a plane. Bodies that cannot be decoded are 422 on the
/// control plane (as Pinecone's gateway answers) and 400 on the data plane.
pub fn error_status(plane: Plane, err: &Error) -> u16 {
    match err.code() {
        ErrorCode::InvalidArgument => 400,
        ErrorCode::UnprocessableEntity => match plane {
            Plane::Control => 422,
            Plane::Data => 400,
        },
        ErrorCode::Unauthenticated => 401,
        ErrorCode::Forbidden | ErrorCode::QuotaExceeded => 403,
        ErrorCode::NotFound => 404,
        ErrorCode::AlreadyExists => 409,
        ErrorCode::Unimplemented => 501,
        // gRPC's FAILED_PRECONDITION is HTTP 400 (reference §2); Pinecone's control plane
        // answers it with 412.
        ErrorCode::FailedPrecondition => match plane {
            Plane::Control => 412,
            Plane::Data => 400,
        },
        ErrorCode::DataLoss | ErrorCode::Internal => 500,
        ErrorCode::Unavailable => 503,
    }
}

/// The numeric gRPC code Pinecone's data plane puts in `code`.
fn grpc_code(err: &Error) -> u32 {
    match err.code() {
        ErrorCode::InvalidArgument | ErrorCode::UnprocessableEntity => 3,
        ErrorCode::NotFound => 5,
        ErrorCode::AlreadyExists => 6,
        ErrorCode::Forbidden => 7,
        ErrorCode::QuotaExceeded => 8,
        ErrorCode::Unimplemented => 12,
        ErrorCode::FailedPrecondition => 9,
        ErrorCode::Internal => 13,
        ErrorCode::DataLoss => 15,
        ErrorCode::Unavailable => 14,
        ErrorCode::Unauthenticated => 16,
    }
}

/// The JSON error body for an error on a plane.
pub fn error_body(plane: Plane, err: &Error) -> serde_json::Value {
    let message = err.to_string();
    match plane {
        Plane::Control => {
            let code = match err {
                // Pinecone reports a protected delete as FORBIDDEN.
                Error::DeletionProtected { .. } => "FORBIDDEN",
                Error::Internal { .. } | Error::HostFailure => "UNKNOWN",
                _ => err.code().as_str(),
            };
            json!({"error": {"code": code, "message": message}, "status": error_status(plane, err)})
        }
        Plane::Data => json!({"code": grpc_code(err), "message": message, "details": []}),
    }
}

/// The full response for an error.
pub(crate) fn respond(plane: Plane, err: &Error) -> Response {
    if plane == Plane::Data && matches!(err, Error::Unauthenticated) {
        return Response {
            status: 401,
            content_type: "text/plain",
            body: b"Unauthorized".to_vec(),
            headers: Vec::new(),
            vectors: None,
        };
    }
    Response::json(error_status(plane, err), &error_body(plane, err))
}

/// The plane of a path, as the host sees it before routing.
pub(crate) fn plane_of(path: &str) -> Plane {
    if path.trim_start_matches('/').starts_with("indexes") {
        Plane::Control
    } else {
        Plane::Data
    }
}

impl super::Api {
    /// The response a host sends when authentication fails, shaped for the request's plane.
    pub fn unauthenticated(path: &str) -> Response {
        respond(plane_of(path), &Error::Unauthenticated)
    }

    /// The response a host that enforces read capacity itself ([`super::ApiOptions::shard_host`])
    /// sends for a data-plane request to a paused index (`replicas: 0`).
    pub fn index_paused(path: &str, index: &str) -> Response {
        respond(
            plane_of(path),
            &Error::IndexPaused {
                name: index.to_string(),
            },
        )
    }

    /// The response a host sends when it refuses a body of `size` bytes (from
    /// `Content-Length`, before reading it) because it exceeds
    /// [`max_body_bytes`](super::max_body_bytes) of the route: the same answer the engine gives
    /// when handed such a body.
    pub fn body_too_large(method: &str, path: &str, size: usize) -> Response {
        let limit = super::max_body_bytes(method, path);
        respond(plane_of(path), &Error::RequestTooLarge { size, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shapes() {
        let e = Error::IndexNotFound { name: "x".into() };
        assert_eq!(
            error_body(Plane::Control, &e),
            json!({"error": {"code": "NOT_FOUND", "message": "Index x not found."}, "status": 404})
        );
        let e = Error::DimensionMismatch {
            expected: 1536,
            got: 768,
        };
        assert_eq!(
            error_body(Plane::Data, &e),
            json!({"code": 3, "message": "Vector dimension 768 does not match the dimension of the index 1536", "details": []})
        );
        let r = super::super::Api::unauthenticated("/vectors/upsert");
        assert_eq!((r.status, r.content_type), (401, "text/plain"));
        let r = super::super::Api::unauthenticated("/indexes");
        assert_eq!(r.status, 401);
        assert_eq!(r.json_body()["error"]["code"], "UNAUTHENTICATED");
    }
}
