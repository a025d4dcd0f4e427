//! Where a request goes, for hosts that spread one database over several engines.
//!
//! The Worker keeps each (index, namespace) in its own Durable Object and the control plane in
//! one catalog object. [`Api::classify`] tells it, from the request alone and without any
//! state, which of them serves a request — so routing tables, namespace extraction and the
//! canonical default-namespace name live here, once, and not in the host.

use serde::Deserialize;

use super::{Api, Plane, Request, Response, Route, data, error, namespaces, route};
use crate::db::canonical_namespace;

/// Which engine serves a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The control plane (`/indexes…`), and data-plane requests that fail before reaching
    /// any namespace (malformed bodies, unknown routes): the engine that holds the index
    /// configurations answers them.
    Control,
    /// One index as a whole: stats and the namespace listing. Hosts that keep namespaces
    /// apart pass their [`super::KnownNamespaces`] with the request.
    Index { index: String },
    /// One namespace of one index (canonical name: `""` is `__default__`): the vectors API
    /// and describe, create and delete of that namespace.
    Namespace {
        index: String,
        namespace: String,
        /// True when the request may change the namespace.
        write: bool,
    },
}

/// A request's plane and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub plane: Plane,
    pub scope: Scope,
}

/// The fields of a body that name its namespace (one type for every route, so one decoder).
#[derive(Deserialize)]
struct Names {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl Api {
    /// Classifies a request, or returns the error response for one that no engine needs to
    /// see (an oversized body, a malformed path). A request whose namespace cannot be read
    /// from its body (malformed JSON, a namespace that is not a string or not a valid name)
    /// is [`Scope::Control`]: any engine answers it with the same error as the namespace's
    /// own would, and none changes.
    pub fn classify(req: &Request<'_>) -> std::result::Result<RouteInfo, Response> {
        let (plane, route) = route(req).map_err(|(p, e)| error::respond(p, &e))?;
        let control = RouteInfo {
            plane,
            scope: Scope::Control,
        };
        let Route::Data { index, op } = route else {
            return Ok(control);
        };
        let from_body = || {
            super::parse_body::<Names>(req.body)
                .ok()
                .map(|b| b.namespace.unwrap_or_default())
        };
        // A query string the handler refuses (a repeated `namespace`, bad encoding) is left
        // to it.
        let from_query = || {
            super::wire::QueryParams::parse(req.query)
                .and_then(|p| p.one(&["namespace"]).map(|n| n.unwrap_or("").to_string()))
                .ok()
        };
        let (namespace, write) = match &op {
            data::Op::Upsert | data::Op::Update | data::Op::Delete => (from_body(), true),
            data::Op::Query | data::Op::FetchByMetadata => (from_body(), false),
            data::Op::Fetch | data::Op::List => (from_query(), false),
            data::Op::Stats | data::Op::Namespaces(namespaces::Op::List) => {
                return Ok(RouteInfo {
                    plane,
                    scope: Scope::Index { index },
                });
            }
            data::Op::Namespaces(namespaces::Op::Describe(ns)) => (Some(ns.clone()), false),
            data::Op::Records(super::records::Op::Upsert(ns)) => (Some(ns.clone()), true),
            data::Op::Records(super::records::Op::Search(ns)) => (Some(ns.clone()), false),
            data::Op::Namespaces(namespaces::Op::Delete(ns)) => (Some(ns.clone()), true),
            data::Op::Namespaces(namespaces::Op::Create) => (
                super::parse_body::<Names>(req.body)
                    .ok()
                    .and_then(|b| b.name)
                    .filter(|n| !n.is_empty()),
                true,
            ),
        };
        let Some(namespace) =
            namespace.and_then(|n| canonical_namespace(&n).ok().map(str::to_string))
        else {
            return Ok(control);
        };
        Ok(RouteInfo {
            plane,
            scope: Scope::Namespace {
                index,
                namespace,
                write,
            },
        })
    }

    /// The response a host sends when the request failed outside the engine (a platform
    /// error, a bug in the host), in the plane's error shape.
    pub fn internal_error(path: &str) -> Response {
        error::respond(error::plane_of(path), &crate::error::Error::HostFailure)
    }
}
