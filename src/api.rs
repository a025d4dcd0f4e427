//! Pinecone's REST API, implemented once.
//!
//! [`Api::handle`] takes a transport-neutral [`Request`] (method, path, query string, body,
//! API version) and returns a [`Response`] (status, JSON body, headers). Hosts — the Worker,
//! the npm package, tests — add transport, auth and storage only.
//!
//! Routes:
//! - control plane: `GET/POST /indexes`, `GET/PATCH/DELETE /indexes/{name}`;
//! - data plane of an index, addressed either by [`Request::index`] (the host resolved it from
//!   the hostname) or by the path prefix `/index/{name}`: `/vectors/upsert`, `/query`,
//!   `/vectors/fetch`, `/vectors/fetch_by_metadata`, `/vectors/update`, `/vectors/delete`,
//!   `/vectors/list`, `/describe_index_stats`, `/namespaces`, `/namespaces/{ns}`, `/bulk/imports…`,
//!   and the records API of integrated indexes, `/records/namespaces/{ns}/{upsert,search}`;
//! - inference: `POST /embed`, `GET /models`, `GET /models/{model}`, `POST /rerank`.
//!
//! Requests that need text embedded go through [`Api::step`] ([`Step::Embed`], see `embed.rs`).

mod body;
mod classify;
mod control;
mod data;
// Without `integrated` only the types and the route parsing of these two are used.
#[cfg_attr(not(feature = "integrated"), allow(dead_code))]
mod embed;
mod error;
mod namespaces;
#[cfg_attr(not(feature = "integrated"), allow(dead_code))]
mod records;
mod shard;
mod side;
mod wire;

use crate::db::Db;
use crate::error::{Error, Result};
use crate::host::{Provide, Rounds, with_store};
use crate::storage::MemoryStore;

pub use classify::{RouteInfo, Scope};
pub use embed::{Embedded, InputType, MODELS, ModelInfo};
pub use error::{Plane, error_body, error_status};
pub use namespaces::KnownNamespaces;
pub use shard::{ShardAnswer, ShardRequest, ShardStep, shard_of};
pub use side::{SideValues, SideVectors};
pub use wire::{decode_token, encode_token};

/// API versions Larch answers (the `X-Pinecone-Api-Version` header). Shapes are the same for
/// all of them except where noted in the route handlers.
pub const SUPPORTED_API_VERSIONS: &[&str] = &[
    "2024-07", "2024-10", "2025-01", "2025-04", "2025-10", "2026-04", "2026-07",
];

/// The API version assumed when a request names none.
pub const DEFAULT_API_VERSION: &str = "2025-04";

/// A transport-neutral HTTP request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path without the query string, e.g. `/vectors/upsert`.
    pub path: &'a str,
    /// The raw query string without `?`, e.g. `ids=a&ids=b&namespace=ns`.
    pub query: &'a str,
    pub body: &'a [u8],
    /// The `X-Pinecone-Api-Version` header, if sent.
    pub api_version: Option<&'a str>,
    /// The index a data-plane request targets, when the host resolved it from the hostname.
    pub index: Option<&'a str>,
    /// The target index's namespaces as the host knows them: stats and namespace listings
    /// are rendered from these instead of the engine's catalog (see [`KnownNamespaces`]).
    pub namespaces: Option<&'a KnownNamespaces>,
    /// Dense vectors carried beside the body instead of inside the JSON, for hosts in the
    /// engine's process ([`SideVectors`]); `None` for every request from the wire.
    pub vectors: Option<SideVectors<'a>>,
    /// Check the request as if to run it and answer as it would, but change nothing (hosts
    /// that split one large upsert into several validate every part before applying any).
    /// Only upserts honour it; never set from the wire.
    pub validate_only: bool,
    /// Return the dense values of query matches and fetched records beside the body
    /// ([`Response::vectors`]) instead of in the JSON; never set from the wire.
    pub side_values: bool,
}

/// A transport-neutral HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    /// `application/json`, or `text/plain` for the data plane's 401.
    pub content_type: &'static str,
    /// JSON (or plain text), possibly empty.
    pub body: Vec<u8>,
    /// Extra headers (freshness LSNs).
    pub headers: Vec<(&'static str, String)>,
    /// The dense values left out of the JSON when the request asked for
    /// [`Request::side_values`].
    pub vectors: Option<Box<SideValues>>,
}

impl Response {
    fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
    }

    /// A JSON body already written (`body.rs`).
    fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type: "application/json",
            body,
            headers: Vec::new(),
            vectors: None,
        }
    }

    fn empty(status: u16) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: Vec::new(),
            headers: Vec::new(),
            vectors: None,
        }
    }

    /// The body parsed as JSON (`Null` when empty). Convenient in tests and hosts.
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The value of an extra header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the API describes index hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiOptions {
    /// Template for an index's data-plane `host`; `{name}` is replaced with the index name.
    /// Pinecone returns a bare hostname; when serving plain HTTP, include `http://` so the SDKs
    /// keep it (they turn a bare host into `https://`).
    pub host_template: String,
    /// Hosts of particular indexes, in place of the template's (`larch serve` serves each
    /// index on a port of its own, as Pinecone Local does).
    pub hosts: std::collections::BTreeMap<String, String>,
    /// The host spreads namespaces over engines of its own (the Worker's shard objects): it
    /// routes by read capacity and enforces a pause itself (its namespace engines hold the
    /// configuration the index was created with), and a change of an index's shard count is
    /// refused, as such a host cannot move records between shards yet.
    pub shard_host: bool,
}

impl ApiOptions {
    /// The data-plane host of index `name`.
    pub fn host_of(&self, name: &str) -> String {
        match self.hosts.get(name) {
            Some(h) => h.clone(),
            None => self.host_template.replace("{name}", name),
        }
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            host_template: "http://127.0.0.1:8787/index/{name}".into(),
            hosts: std::collections::BTreeMap::new(),
            shard_host: false,
        }
    }
}

/// The REST API over a [`Db`].
#[derive(Debug, Default)]
pub struct Api {
    db: Db,
    options: ApiOptions,
    /// The blobs provided to the request in progress (the host loop's termination rule).
    rounds: Rounds,
    /// The embeddings provided to the request in progress.
    embeddings: embed::Provided,
    /// Texts asked of the host during the request in progress (asking again is a bug).
    asked: Vec<String>,
}

/// One attempt at a request ([`Api::step`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The answer.
    Done(Response),
    /// Provide these blobs ([`Api::provide`]), then call again with the same request.
    Blobs(Vec<String>),
    /// Embed these texts with the model ([`Api::provide_embeddings`]), then call again with
    /// the same request.
    Embed {
        model: String,
        input_type: InputType,
        texts: Vec<String>,
    },
    /// This build leaves out the code the request needs (the cargo feature named, off in the
    /// npm package's search module): run it, and what follows, on an engine of the full build
    /// over the same store. Nothing changed. Never returned by a full build.
    Module(&'static str),
}

/// Request context passed to route handlers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub api_version: &'a str,
    pub options: &'a ApiOptions,
    pub namespaces: Option<&'a KnownNamespaces>,
    /// Embeddings the host provided for this request.
    #[cfg_attr(not(feature = "integrated"), allow(dead_code))]
    pub embeddings: &'a embed::Provided,
}

impl Ctx<'_> {
    /// True for API versions before 2025-04, which report the default namespace as `""`.
    pub fn legacy_default_namespace(&self) -> bool {
        self.api_version < "2025-04"
    }

    /// True for API versions whose NamespaceDescription carries `size_bytes` (2026-07 and later).
    pub fn size_bytes(&self) -> bool {
        self.api_version >= "2026-07"
    }
}

impl Api {
    /// An API over an empty database.
    pub fn new(options: ApiOptions) -> Self {
        Api {
            db: Db::new(),
            options,
            ..Api::default()
        }
    }

    /// An API over a persistent database whose blobs the host provides (see
    /// [`Api::try_handle`]).
    pub fn open(options: ApiOptions, storage: crate::namespace::StorageConfig) -> Self {
        Api {
            db: Db::open(storage),
            options,
            ..Api::default()
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The database, mutably.
    pub fn db_mut(&mut self) -> &mut Db {
        &mut self.db
    }

    /// Handles one request over an in-memory database (or a persistent one whose blobs are
    /// all loaded). Never panics on any input; every failure becomes Pinecone's error body for
    /// the request's plane.
    pub fn handle(&mut self, req: &Request<'_>) -> Response {
        match self.try_handle(req) {
            Ok(r) => r,
            Err(keys) => error::respond(Plane::Data, &Error::NotLoaded { keys }),
        }
    }

    /// Handles one request, or names the blobs the host must [`Api::provide`] before calling
    /// again with the same request. Nothing changes before every needed blob is present. A
    /// request that asks again for a blob it was given is answered with an internal error
    /// ([`Rounds`]), so a host loops only while this returns keys.
    ///
    /// A request that needs text embedded is answered with an internal error: hosts that run
    /// models call [`Api::step`].
    pub fn try_handle(&mut self, req: &Request<'_>) -> std::result::Result<Response, Vec<String>> {
        match self.step(req) {
            Step::Done(r) => Ok(r),
            Step::Blobs(keys) => Err(keys),
            Step::Embed { model, .. } => {
                self.end_request();
                let e = Error::Internal {
                    message: format!("this host does not run the embedding model {model}"),
                };
                Ok(error::respond(error::plane_of(req.path), &e))
            }
            Step::Module(feature) => {
                let e = Error::ModuleRequired {
                    feature,
                    what: "This request",
                };
                Ok(error::respond(error::plane_of(req.path), &e))
            }
        }
    }

    /// One attempt at a request: its answer, or what the host must provide (blobs, or
    /// embeddings of texts) before calling again with the same request. Nothing changes
    /// before everything needed is present. Asking again for a blob or a text that was
    /// provided ends the request with an internal error, so a host loops only while this
    /// asks for something.
    pub fn step(&mut self, req: &Request<'_>) -> Step {
        match self.dispatch(req) {
            Err((plane, Error::NotLoaded { keys })) => match self.rounds.next(keys) {
                Ok(keys) => Step::Blobs(keys),
                Err(e) => {
                    self.end_request();
                    Step::Done(error::respond(plane, &e))
                }
            },
            Err((
                plane,
                Error::NeedsEmbeddings {
                    model,
                    input_type,
                    texts,
                },
            )) => {
                if let Some(t) = texts.iter().find(|t| self.asked.contains(*t)) {
                    let e = Error::Internal {
                        message: format!("text {t:?} is still to embed after it was provided"),
                    };
                    self.end_request();
                    return Step::Done(error::respond(plane, &e));
                }
                self.asked.extend(texts.iter().cloned());
                Step::Embed {
                    model,
                    input_type,
                    texts,
                }
            }
            Err((_, Error::ModuleRequired { feature, .. })) => {
                self.end_request();
                Step::Module(feature)
            }
            other => {
                self.end_request();
                Step::Done(other.unwrap_or_else(|(plane, e)| error::respond(plane, &e)))
            }
        }
    }

    /// Hands over the embeddings of texts a [`Step::Embed`] asked for, in its order.
    pub fn provide_embeddings(
        &mut self,
        model: &str,
        input_type: InputType,
        texts: Vec<String>,
        embedded: Vec<Embedded>,
    ) {
        for (text, e) in texts.into_iter().zip(embedded) {
            self.embeddings.insert(model, input_type, text, e);
        }
    }

    /// The request answered: forget what was provided for it.
    fn end_request(&mut self) {
        self.rounds.reset();
        self.embeddings.clear();
        self.asked.clear();
        self.db.end_request();
    }

    /// Handles one request over an in-memory host store (the host loop of [`crate::host`]):
    /// provides blobs until the request runs, then applies its writes to the store.
    pub fn serve(&mut self, store: &mut MemoryStore, req: &Request<'_>) -> Response {
        let mut plane = Plane::Data;
        let r = with_store(self, store, |api| {
            api.dispatch(req).or_else(|(p, e)| {
                plane = p;
                match e {
                    Error::NotLoaded { .. } => Err(e),
                    e => Ok(error::respond(p, &e)),
                }
            })
        });
        for batch in self.take_writes() {
            store.apply(&batch);
        }
        r.unwrap_or_else(|e| error::respond(plane, &e))
    }

    /// Evicts idle namespaces until at most `keep` per index stay in memory; they reload
    /// from the host on next use. Call it after applying the writes.
    pub fn evict_idle(&mut self, keep: usize) -> usize {
        self.db.evict_idle(keep)
    }

    /// Sets (or, with `None`, removes) the host index `name` is described with, in place of
    /// [`ApiOptions::host_template`]'s.
    pub fn set_index_host(&mut self, name: &str, host: Option<String>) {
        match host {
            Some(h) => self.options.hosts.insert(name.to_string(), h),
            None => self.options.hosts.remove(name),
        };
    }

    /// Drops every namespace's state, manifests included ([`Db::forget_namespaces`]): for a
    /// host's catalog engine whose namespaces other engines write. Call it after applying
    /// the writes.
    pub fn forget_namespaces(&mut self) -> bool {
        self.db.forget_namespaces()
    }

    /// Background work between requests: advances pending HNSW builds, int8 quantization and
    /// consolidation by at most `budget` inserted nodes (see [`Db::index_step`];
    /// [`crate::host::INDEX_STEP_BUDGET`] is the hosts' budget); the host then applies
    /// [`Api::take_writes`]. Returns true while more work is pending.
    pub fn index_step(&mut self, budget: usize) -> bool {
        self.db.index_step(budget)
    }

    /// True when [`Api::index_step`] has work to do. A pure probe, cheap enough to call after
    /// every request.
    pub fn indexing_pending(&self) -> bool {
        self.db.indexing_pending()
    }

    /// The blobs background work waits for ([`Db::index_needs`]): provide them, then call
    /// [`Api::index_step`].
    pub fn index_needs(&self) -> Vec<String> {
        self.db.index_needs()
    }

    /// Background graph builds as (nodes inserted, nodes in all) ([`Db::graph_build_progress`]).
    pub fn indexing_progress(&self) -> (usize, usize) {
        self.db.graph_build_progress()
    }

    /// Hands over a blob the host fetched (`None` when the store has no such key).
    pub fn provide(&mut self, key: String, bytes: Option<Vec<u8>>) {
        self.db.provide(key, bytes);
    }

    /// The write batches of everything handled since the last call; the host applies each in
    /// one atomic step before acknowledging the requests.
    pub fn take_writes(&mut self) -> Vec<crate::storage::WriteBatch> {
        self.db.take_writes()
    }

    /// One attempt at a request: its response, or the error (with its plane) that stopped it.
    fn dispatch(&mut self, req: &Request<'_>) -> std::result::Result<Response, (Plane, Error)> {
        let (plane, route) = route(req)?;
        let api_version = req.api_version.unwrap_or(DEFAULT_API_VERSION);
        let ctx = Ctx {
            api_version,
            options: &self.options,
            namespaces: req.namespaces,
            embeddings: &self.embeddings,
        };
        let result = match route {
            Route::Control(c) => control::handle(&mut self.db, ctx, c, req.body),
            #[cfg(feature = "integrated")]
            Route::Inference(op) => embed::handle(&self.embeddings, ctx, op, req.body),
            #[cfg(not(feature = "integrated"))]
            Route::Inference(_) => Err(embed::module_required("Inference")),
            Route::Data { index, op } => self.db.index_mut(&index).and_then(|ix| {
                if !self.options.shard_host && ix.config().read_capacity.paused() {
                    return Err(Error::IndexPaused { name: index });
                }
                data::handle(ix, ctx, op, req)
            }),
        };
        result.map_err(|e| (plane, e))
    }
}

/// A resolved route.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Control(control::Op),
    Inference(embed::Op),
    Data { index: String, op: data::Op },
}

fn route(req: &Request<'_>) -> std::result::Result<(Plane, Route), (Plane, Error)> {
    let method = req.method.to_ascii_uppercase();
    let path = req.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let not_found = |plane| {
        (
            plane,
            Error::RouteNotFound {
                method: method.clone(),
                path: req.path.to_string(),
            },
        )
    };
    // Control plane.
    if segments.first() == Some(&"indexes") {
        let op = control::Op::parse(&method, &segments[1..])
            .map_err(|e| (Plane::Control, e))?
            .ok_or_else(|| not_found(Plane::Control))?;
        return within_body_limit(req, Plane::Control, Route::Control(op));
    }
    // Inference (Pinecone's api.pinecone.io, control-plane error shape).
    if matches!(segments.first(), Some(&("embed" | "models" | "rerank"))) {
        let op = embed::Op::parse(&method, &segments)
            .map_err(|e| (Plane::Control, e))?
            .ok_or_else(|| not_found(Plane::Control))?;
        return within_body_limit(req, Plane::Control, Route::Inference(op));
    }
    // Data plane, addressed by path prefix or by the host.
    let (index, rest) = match segments.as_slice() {
        ["index", name, rest @ ..] => (
            wire::percent_decode(name).map_err(|e| (Plane::Data, e))?,
            rest,
        ),
        rest => match req.index {
            Some(name) => (name.to_string(), rest),
            None => return Err(not_found(Plane::Data)),
        },
    };
    // The records API answers errors in the control-plane shape (reference §2).
    let plane = if rest.first() == Some(&"records") {
        Plane::Control
    } else {
        Plane::Data
    };
    let op = data::Op::parse(&method, rest)
        .map_err(|e| (plane, e))?
        .ok_or_else(|| not_found(plane))?;
    within_body_limit(req, plane, Route::Data { index, op })
}

/// Parses a JSON body, mapping syntax errors to [`Error::Malformed`].
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| Error::Malformed {
        reason: e.to_string(),
    })
}

impl Provide for Api {
    fn provide(&mut self, key: String, bytes: Option<Vec<u8>>) {
        Api::provide(self, key, bytes);
    }

    fn end_request(&mut self) {
        self.db.end_request();
    }
}

pub mod limits;

pub use limits::max_body_bytes;

/// Resolves a request's route without looking at its body (for [`limits::max_body_bytes`]).
fn route_of(req: &Request<'_>) -> std::result::Result<(Plane, Route), (Plane, Error)> {
    route(&Request { body: &[], ..*req })
}

/// The route, unless the body is over its limit (checked before anything parses the body).
fn within_body_limit(
    req: &Request<'_>,
    plane: Plane,
    route: Route,
) -> std::result::Result<(Plane, Route), (Plane, Error)> {
    let limit = limits::body_limit(&route);
    if req.body.len() > limit {
        return Err((
            plane,
            Error::RequestTooLarge {
                size: req.body.len(),
                limit,
            },
        ));
    }
    Ok((plane, route))
}
