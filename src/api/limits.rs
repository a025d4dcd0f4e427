//! Every bound a request is checked against, in one place.
//!
//! The HTTP-level bounds (body sizes, page sizes, schema size) are defined here. The bounds on
//! what a request carries (records per upsert, ids per fetch, `topK`, name and id lengths,
//! metadata size, filter size, dimension, sparse non-zeros) are enforced by the engine, so
//! they are defined beside the check that uses them and re-exported here: this module is the
//! one list of them all.
//!
//! | Bound | Value | Pinecone's source |
//! | --- | --- | --- |
//! | request body, every route | 2 MiB | upsert: D-limits; other routes: undocumented, same |
//! | records per upsert | 1000 | D-limits |
//! | ids per fetch / delete | 1000 | D-limits |
//! | `topK` | 1–10000 | D-limits |
//! | `/vectors/list` `limit` | 1–100, default 100 | S-data-26.07 |
//! | `/namespaces` `limit` | 1–100, default 100 | S-data-26.07 |
//! | `fetch_by_metadata` `limit` | 1–10000, default 100 | S-data-26.07 |
//! | namespace schema fields | 50 | S-data-26.07 |
//! | record id | 1–512 ASCII characters, no NUL | D-limits |
//! | namespace name | ≤ 512 ASCII characters, no NUL | D-limits |
//! | index name | 1–45 characters of `a-z0-9-` | D-limits |
//! | metadata per record | 40 KiB | D-limits |
//! | `$in` / `$nin` values | 10000 | D-limits |
//! | `$and` / `$or` nesting | 64 | none (Larch's guard against hostile input) |
//! | dense dimension | 1–20000 | D-limits |
//! | sparse non-zeros | 2048 | D-limits |

pub use crate::config::{MAX_DIMENSION, MAX_INDEX_NAME_LEN};
pub use crate::db::{MAX_IDS_PER_REQUEST, MAX_NAMESPACE_LEN, MAX_TOP_K, MAX_UPSERT_RECORDS};
pub use crate::filter::{MAX_DEPTH as MAX_FILTER_DEPTH, MAX_IN_VALUES};
pub use crate::index::sparse::MAX_SPARSE_NONZEROS;
pub use crate::metadata::MAX_METADATA_BYTES;
pub use crate::record::MAX_ID_LEN;

use super::{Request, Route};

/// Largest request body of any route: Pinecone's documented upsert limit (2 MB, which its
/// message spells out as 2097152 bytes). Pinecone documents no other request-size limit, so
/// every route uses this one.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Default and largest page size of `/vectors/list`.
pub const LIST_DEFAULT: usize = 100;
pub const LIST_MAX: usize = 100;
/// Default and largest page size of `GET /namespaces`.
pub const NAMESPACES_LIST_DEFAULT: usize = 100;
pub const NAMESPACES_LIST_MAX: usize = 100;
/// Default and largest page size of `/vectors/fetch_by_metadata`.
pub const FETCH_BY_METADATA_DEFAULT: usize = 100;
pub const FETCH_BY_METADATA_MAX: usize = 10_000;
/// Most fields a namespace's metadata schema may define.
pub const MAX_SCHEMA_FIELDS: usize = 50;

/// The largest body the route of `method` and `path` accepts, in bytes. `path` is as the
/// engine sees it (without the query string), on the control plane (`/indexes…`) or the data
/// plane, with or without the `/index/{name}` prefix. A host may refuse a larger
/// `Content-Length` before reading the body (answering [`super::Api::body_too_large`]); the
/// engine refuses it anyway, before parsing anything. Paths that match no route get the
/// largest limit (the engine answers them 404).
pub fn max_body_bytes(method: &str, path: &str) -> usize {
    // Tolerate a query string left on the path.
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let req = Request {
        method,
        path,
        // Stands for the index a host resolves from the hostname; only the route's shape
        // matters here.
        index: Some(""),
        ..Request::default()
    };
    match super::route_of(&req) {
        Ok((_, route)) => body_limit(&route),
        Err(_) => MAX_BODY_BYTES,
    }
}

/// The body limit of a resolved route.
pub(super) fn body_limit(route: &Route) -> usize {
    // One limit today; a route that needs another gets its own arm.
    match route {
        Route::Control(_) | Route::Inference(_) | Route::Data { .. } => MAX_BODY_BYTES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_the_two_mib_limit() {
        for (method, path) in [
            ("POST", "/vectors/upsert"),
            ("POST", "/index/ix/vectors/upsert"),
            ("POST", "/query"),
            ("POST", "/index/ix/query"),
            ("POST", "/vectors/update"),
            ("POST", "/vectors/delete"),
            ("DELETE", "/vectors/delete"),
            ("GET", "/vectors/fetch"),
            ("POST", "/vectors/fetch_by_metadata"),
            ("GET", "/vectors/list"),
            ("POST", "/describe_index_stats"),
            ("POST", "/namespaces"),
            ("DELETE", "/index/ix/namespaces/a%2Fb"),
            ("POST", "/indexes"),
            ("PATCH", "/indexes/ix"),
            ("GET", "/no/such/route"),
            ("GET", "/index/%FF/query"),
            ("GET", "/vectors/fetch?ids=a"),
        ] {
            assert_eq!(max_body_bytes(method, path), 2_097_152, "{method} {path}");
        }
    }
}
