//! Data plane: the vectors API (`/vectors/*`, `/query`, `/describe_index_stats`).
//!
//! Bodies use lowerCamelCase; snake_case aliases are accepted as Pinecone's gRPC-JSON gateway
//! does. Errors are gRPC-status bodies (see `api/error.rs`).

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::body::Body;
use super::limits::{FETCH_BY_METADATA_DEFAULT, FETCH_BY_METADATA_MAX, LIST_DEFAULT, LIST_MAX};
use super::side::{SideValues, Values};
use super::wire::{self, QueryParams, SparseJson, metadata_from};
use super::{Ctx, Request, Response, namespaces};
use crate::db::{DEFAULT_NAMESPACE, DeleteSelector, Index, Query, QuerySource};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::namespace::QueryVector;
use crate::record::Record;
use crate::sort::SmallSort;

/// A data-plane operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Upsert,
    Query,
    Fetch,
    FetchByMetadata,
    Update,
    Delete,
    List,
    Stats,
    Namespaces(namespaces::Op),
    Records(super::records::Op),
}

impl Op {
    /// Resolves a data-plane path (segments after the index prefix, if any).
    pub fn parse(method: &str, rest: &[&str]) -> Result<Option<Op>> {
        Ok(match (method, rest) {
            ("POST", ["vectors", "upsert"]) => Some(Op::Upsert),
            ("POST", ["query"]) => Some(Op::Query),
            ("GET", ["vectors", "fetch"]) => Some(Op::Fetch),
            ("POST", ["vectors", "fetch_by_metadata"]) => Some(Op::FetchByMetadata),
            ("POST", ["vectors", "update"]) => Some(Op::Update),
            ("POST" | "DELETE", ["vectors", "delete"]) => Some(Op::Delete),
            ("GET", ["vectors", "list"]) => Some(Op::List),
            ("POST" | "GET", ["describe_index_stats"]) => Some(Op::Stats),
            (_, ["namespaces", ..]) => {
                namespaces::Op::parse(method, &rest[1..])?.map(Op::Namespaces)
            }
            (_, ["bulk", "imports", ..]) => {
                return Err(Error::Unimplemented {
                    what: "Bulk import".into(),
                });
            }
            (_, ["records", rest @ ..]) => {
                super::records::Op::parse(method, rest)?.map(Op::Records)
            }
            _ => None,
        })
    }
}

pub(crate) fn handle(
    index: &mut Index,
    ctx: Ctx<'_>,
    op: Op,
    req: &Request<'_>,
) -> Result<Response> {
    let (query, body) = (req.query, req.body);
    if req.vectors.is_some() && !matches!(op, Op::Upsert | Op::Query | Op::Update) {
        return Err(Error::Malformed {
            reason: "side-channel vectors: this route takes none".into(),
        });
    }
    match op {
        Op::Upsert => upsert(index, req),
        Op::Query => query_op(index, req),
        Op::Fetch => fetch(index, req),
        Op::FetchByMetadata => fetch_by_metadata(index, body),
        Op::Update => update(index, req),
        Op::Delete => delete(index, body),
        Op::List => list(index, query),
        Op::Stats => stats(index, ctx, body),
        Op::Namespaces(op) => namespaces::handle(index, ctx, op, query, body),
        #[cfg(feature = "integrated")]
        Op::Records(op) => super::records::handle(index, ctx.embeddings, op, body),
        #[cfg(not(feature = "integrated"))]
        Op::Records(_) => Err(super::embed::module_required("The records API")),
    }
}

/// `usage.readUnits` for a query: 1 per started GiB of the namespace, at least 1.
fn query_read_units(bytes: usize) -> u64 {
    const GIB: usize = 1 << 30;
    bytes.div_ceil(GIB).max(1) as u64
}

fn write_response(index: &Index, namespace: &str, body: Json) -> Response {
    let lsn = index.namespace_lsn(namespace).to_string();
    let mut r = Response::json(200, &body);
    r.headers = vec![
        ("x-pinecone-request-lsn", lsn.clone()),
        ("x-pinecone-max-indexed-lsn", lsn.clone()),
        ("x-pinecone-lsn-committed", lsn.clone()),
        ("x-pinecone-lsn-reconciled", lsn),
    ];
    r
}

/// A read's response: its body written by `body.rs`, and the namespace's freshness headers.
fn read_response(index: &Index, namespace: &str, body: Body) -> Response {
    let lsn = index.namespace_lsn(namespace).to_string();
    let mut r = Response::json_bytes(200, body.into_bytes());
    r.headers = vec![
        ("x-pinecone-max-indexed-lsn", lsn.clone()),
        ("x-pinecone-lsn-committed", lsn.clone()),
        ("x-pinecone-lsn-reconciled", lsn),
    ];
    r
}

fn parse_filter(json: Option<&Json>) -> Result<Option<Filter>> {
    match json {
        None | Some(Json::Null) => Ok(None),
        Some(j) => Filter::parse(j).map(Some),
    }
}

#[derive(Deserialize)]
struct UpsertBody {
    vectors: Vec<VectorBody>,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct VectorBody {
    id: String,
    #[serde(default)]
    values: Option<Vec<f64>>,
    #[serde(default, rename = "sparseValues", alias = "sparse_values")]
    sparse_values: Option<SparseJson>,
    #[serde(default)]
    metadata: Option<Json>,
}

/// One side slot per element of `n` (none when the request carries no side vectors).
fn side_slots<'a>(req: &Request<'a>, n: usize, what: &str) -> Result<Vec<Option<&'a [f32]>>> {
    match req.vectors {
        Some(side) => side.slots(n, what),
        None => Ok(vec![None; n]),
    }
}

/// The body's size was checked against `api::limits` before routing got here.
fn upsert(index: &mut Index, http: &Request<'_>) -> Result<Response> {
    let req: UpsertBody = super::parse_body(http.body)?;
    let side = side_slots(http, req.vectors.len(), "vectors")?;
    let records = req
        .vectors
        .into_iter()
        .zip(side)
        .map(|(v, side)| {
            let what = format!("values of '{}'", v.id);
            let values = match Values::take(&what, v.values, side)? {
                Some(values) => values.into_f32s(&what)?,
                None => Vec::new(),
            };
            Ok(Record {
                id: v.id,
                values,
                sparse_values: v.sparse_values.map(SparseJson::into_sparse).transpose()?,
                metadata: metadata_from(v.metadata.as_ref())?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ns = req.namespace.unwrap_or_default();
    let n = if http.validate_only {
        index.validate_upsert(&ns, records)?
    } else {
        index.upsert(&ns, records)?
    };
    Ok(write_response(index, &ns, json!({ "upsertedCount": n })))
}

#[derive(Deserialize)]
struct QueryBody {
    #[serde(rename = "topK", alias = "top_k")]
    top_k: Option<i64>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    vector: Option<Vec<f64>>,
    #[serde(default, rename = "sparseVector", alias = "sparse_vector")]
    sparse_vector: Option<SparseJson>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    filter: Option<Json>,
    #[serde(default, rename = "includeValues", alias = "include_values")]
    include_values: Option<bool>,
    #[serde(default, rename = "includeMetadata", alias = "include_metadata")]
    include_metadata: Option<bool>,
    #[serde(default)]
    queries: Option<Json>,
}

fn query_op(index: &mut Index, http: &Request<'_>) -> Result<Response> {
    let req: QueryBody = super::parse_body(http.body)?;
    let side = side_slots(http, 1, "query vector")?[0];
    if req.queries.is_some() {
        return Err(Error::invalid(
            "The deprecated 'queries' parameter is not supported; send one query per request",
        ));
    }
    let top_k = req
        .top_k
        .ok_or_else(|| Error::invalid("topK is required: send an integer between 1 and 10000"))?;
    let top_k = usize::try_from(top_k).unwrap_or(0);
    let vector = Values::take("query vector", req.vector, side)?
        .filter(|v| !v.is_empty() || req.id.is_none())
        .map(|v| v.into_f32s("query vector"))
        .transpose()?;
    let source = match (vector, req.id, req.sparse_vector) {
        (Some(_), Some(_), _) => {
            return Err(Error::invalid(
                "A query must specify exactly one of 'vector' or 'id', not both",
            ));
        }
        (None, Some(_), Some(_)) => {
            return Err(Error::invalid(
                "A query by 'id' cannot also carry a 'sparseVector'",
            ));
        }
        (None, Some(id), None) => QuerySource::Id(id),
        (values, None, sparse) => QuerySource::Vector(QueryVector {
            values,
            sparse_values: sparse.map(SparseJson::into_sparse).transpose()?,
        }),
    };
    let query = Query {
        vector: source,
        top_k,
        filter: parse_filter(req.filter.as_ref())?,
        include_values: req.include_values.unwrap_or(false),
        include_metadata: req.include_metadata.unwrap_or(false),
    };
    let ns = req.namespace.unwrap_or_default();
    let matches = index.query(&ns, &query)?;
    let mut side = http.side_values.then(Box::<SideValues>::default);
    // Keys in sorted order, as serde_json's map would hold them (`body.rs`).
    let dim = matches
        .iter()
        .map(|m| m.values.as_ref().map_or(0, Vec::len))
        .sum::<usize>();
    let mut b = Body::with_capacity(64 * matches.len() + 12 * dim + 128);
    b.raw("{\"matches\":[");
    let mut first = true;
    for m in &matches {
        b.sep(&mut first).raw("{").key("id").str(&m.id);
        if let Some(md) = &m.metadata {
            b.raw(",").key("metadata").metadata(md);
        }
        b.raw(",").key("score").f32(m.score);
        if let Some(sv) = &m.sparse_values {
            b.raw(",").key("sparseValues").sparse(sv);
        }
        match (&mut side, &m.values) {
            (Some(side), Some(values)) => side.push(&m.id, values),
            _ => {
                let values = m.values.as_deref().unwrap_or_default();
                b.raw(",").key("values").f32s(values);
            }
        }
        b.raw("}");
    }
    let read_units = query_read_units(index.namespace_bytes(&ns));
    b.raw("],").key("namespace").str(&ns);
    b.raw(",\"results\":[],\"usage\":{\"readUnits\":")
        .uint(read_units)
        .raw("}}");
    let mut r = read_response(index, &ns, b);
    r.vectors = side;
    Ok(r)
}

fn fetch(index: &mut Index, http: &Request<'_>) -> Result<Response> {
    let params = QueryParams::parse(http.query)?;
    let ids: Vec<String> = params.all(&["ids", "ids[]"]).map(str::to_string).collect();
    let ns = params.one(&["namespace"])?.unwrap_or("").to_string();
    let records = index.fetch(&ns, &ids)?;
    let read_units = records.len().div_ceil(10).max(1);
    let mut side = http.side_values.then(Box::<SideValues>::default);
    for r in &records {
        if let Some(side) = &mut side {
            side.push(&r.id, &r.values);
        }
    }
    let mut b = records_body(&records, side.is_none());
    b.key("namespace").str(&ns);
    b.raw(",\"usage\":{\"readUnits\":").uint(read_units as u64);
    b.raw("},\"vectors\":");
    vectors_map(&mut b, &records, side.is_none());
    b.raw("}");
    let mut r = read_response(index, &ns, b);
    r.vectors = side;
    Ok(r)
}

/// An empty body sized for `records`, opened with `{`.
fn records_body(records: &[Record], with_values: bool) -> Body {
    let values: usize = records.iter().map(|r| r.values.len()).sum();
    let mut b =
        Body::with_capacity(128 + 96 * records.len() + if with_values { 12 * values } else { 0 });
    b.raw("{");
    b
}

/// `{id: record, …}` in id order, one entry per id (the last one of equal ids), as a
/// serde_json map of the records would serialize.
fn vectors_map(b: &mut Body, records: &[Record], with_values: bool) {
    let mut order: Vec<usize> = (0..records.len()).collect();
    // Stable by position, so the last of equal ids is the one kept, as a map's insert keeps it.
    order.small_sort_by(|&x, &y| records[x].id.cmp(&records[y].id).then(x.cmp(&y)));
    b.raw("{");
    let mut first = true;
    for (k, &i) in order.iter().enumerate() {
        let r = &records[i];
        if order.get(k + 1).is_some_and(|&j| records[j].id == r.id) {
            continue;
        }
        b.sep(&mut first).key(&r.id).record(r, with_values);
    }
    b.raw("}");
}

#[derive(Deserialize)]
struct FetchByMetadataBody {
    #[serde(default)]
    filter: Option<Json>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default, rename = "paginationToken", alias = "pagination_token")]
    pagination_token: Option<String>,
}

fn required_filter(json: Option<&Json>) -> Result<Filter> {
    match parse_filter(json)? {
        Some(f) if !f.is_match_all() => Ok(f),
        _ => Err(Error::invalid("A non-empty 'filter' is required")),
    }
}

fn fetch_by_metadata(index: &mut Index, body: &[u8]) -> Result<Response> {
    let req: FetchByMetadataBody = super::parse_body(body)?;
    let filter = required_filter(req.filter.as_ref())?;
    let limit = match req.limit {
        None => FETCH_BY_METADATA_DEFAULT,
        Some(n) if (1..=FETCH_BY_METADATA_MAX as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(Error::invalid(format!(
                "Invalid value for limit: {n}. It must be between 1 and {FETCH_BY_METADATA_MAX}"
            )));
        }
    };
    let after = match req.pagination_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(wire::decode_token(t)?),
    };
    let ns = req.namespace.unwrap_or_default();
    let page = index.fetch_where(&ns, &filter, after.as_deref(), limit)?;
    let read_units = page.items.len().div_ceil(10).max(1);
    let mut b = records_body(&page.items, true);
    b.key("namespace").str(&ns);
    pagination(&mut b, page.next_after.as_deref());
    b.raw(",\"usage\":{\"readUnits\":").uint(read_units as u64);
    b.raw("},\"vectors\":");
    vectors_map(&mut b, &page.items, true);
    b.raw("}");
    Ok(read_response(index, &ns, b))
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    values: Option<Vec<f64>>,
    #[serde(default, rename = "sparseValues", alias = "sparse_values")]
    sparse_values: Option<SparseJson>,
    #[serde(default, rename = "setMetadata", alias = "set_metadata")]
    set_metadata: Option<Json>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    filter: Option<Json>,
    #[serde(default, rename = "dryRun", alias = "dry_run")]
    dry_run: Option<bool>,
}

fn update(index: &mut Index, http: &Request<'_>) -> Result<Response> {
    let req: UpdateBody = super::parse_body(http.body)?;
    let side = side_slots(http, 1, "update values")?[0];
    let ns = req.namespace.unwrap_or_default();
    let set_metadata = metadata_from(req.set_metadata.as_ref())?;
    let values = Values::take("update values", req.values, side)?
        .filter(|v| !v.is_empty())
        .map(|v| v.into_f32s("update values"))
        .transpose()?;
    let matched = match (req.id, req.filter.filter(|f| !f.is_null())) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "An update must specify either 'id' or 'filter', not both",
            ));
        }
        (None, None) => {
            return Err(Error::invalid(
                "An update must specify either 'id' or 'filter'",
            ));
        }
        (Some(id), None) => {
            let sparse = req.sparse_values.map(SparseJson::into_sparse).transpose()?;
            index.update(&ns, &id, values, sparse, set_metadata)?
        }
        (None, Some(filter)) => {
            if values.is_some() || req.sparse_values.is_some() {
                return Err(Error::invalid(
                    "An update by filter can only set metadata, not 'values' or 'sparseValues'",
                ));
            }
            let filter = required_filter(Some(&filter))?;
            let md = set_metadata
                .ok_or_else(|| Error::invalid("An update by filter requires 'setMetadata'"))?;
            index.update_where(&ns, &filter, &md, req.dry_run.unwrap_or(false))?
        }
    };
    Ok(write_response(
        index,
        &ns,
        json!({ "matchedRecords": matched }),
    ))
}

#[derive(Deserialize)]
struct DeleteBody {
    #[serde(default)]
    ids: Option<Vec<String>>,
    #[serde(default, rename = "deleteAll", alias = "delete_all")]
    delete_all: Option<bool>,
    #[serde(default)]
    filter: Option<Json>,
    #[serde(default)]
    namespace: Option<String>,
}

fn delete(index: &mut Index, body: &[u8]) -> Result<Response> {
    let req: DeleteBody = super::parse_body(body)?;
    let ns = req.namespace.unwrap_or_default();
    let filter = req.filter.filter(|f| !f.is_null());
    let all = req.delete_all.unwrap_or(false);
    let selector = match (req.ids, all, filter) {
        (Some(ids), false, None) => DeleteSelector::Ids(ids),
        (None, true, None) => DeleteSelector::All,
        (None, false, Some(f)) => DeleteSelector::Filter(required_filter(Some(&f))?),
        (None, false, None) => {
            return Err(Error::invalid(
                "A delete must specify one of 'ids', 'deleteAll' or 'filter'",
            ));
        }
        _ => {
            return Err(Error::invalid(
                "A delete must specify exactly one of 'ids', 'deleteAll' or 'filter'",
            ));
        }
    };
    index.delete(&ns, &selector)?;
    Ok(write_response(index, &ns, json!({})))
}

fn list(index: &mut Index, query: &str) -> Result<Response> {
    let params = QueryParams::parse(query)?;
    let ns = params.one(&["namespace"])?.unwrap_or("").to_string();
    let prefix = params.one(&["prefix"])?.unwrap_or("");
    let limit = params.int(&["limit"], LIST_DEFAULT, LIST_MAX)?;
    let after = params.token()?;
    let page = index.list(&ns, prefix, after.as_deref(), limit)?;
    let mut b = Body::with_capacity(128 + page.items.iter().map(|id| id.len() + 10).sum::<usize>());
    b.raw("{").key("namespace").str(&ns);
    pagination(&mut b, page.next_after.as_deref());
    b.raw(",\"usage\":{\"readUnits\":1},\"vectors\":[");
    let mut first = true;
    for id in &page.items {
        b.sep(&mut first).raw("{").key("id").str(id).raw("}");
    }
    b.raw("]}");
    Ok(read_response(index, &ns, b))
}

/// `,"pagination":{"next":token}` when there is a next page (`wire::pagination`).
fn pagination(b: &mut Body, next_after: Option<&str>) {
    if let Some(after) = next_after {
        b.raw(",\"pagination\":{\"next\":")
            .str(&wire::encode_token(after))
            .raw("}");
    }
}

#[derive(Deserialize)]
struct StatsBody {
    /// An object (a filter must be one); `null` reads as absent.
    #[serde(default)]
    filter: Option<Map<String, Json>>,
}

/// Every Larch index is serverless, and serverless indexes refuse a metadata filter here
/// (Pinecone's 400, whatever the filter says); an absent, `null` or empty `{}` filter is none.
fn stats(index: &mut Index, ctx: Ctx<'_>, body: &[u8]) -> Result<Response> {
    let req: StatsBody = super::parse_body(body)?;
    if req.filter.is_some_and(|f| !f.is_empty()) {
        return Err(Error::StatsFilterUnsupported);
    }
    let stats = match ctx.namespaces {
        Some(known) => known.stats(),
        None => index.stats(None)?,
    };
    let namespaces: Map<String, Json> = stats
        .namespaces
        .iter()
        .map(|(name, n)| {
            let key = if ctx.legacy_default_namespace() && name == DEFAULT_NAMESPACE {
                String::new()
            } else {
                name.clone()
            };
            (key, json!({ "vectorCount": n }))
        })
        .collect();
    let config = index.config();
    let mut out = json!({
        "namespaces": namespaces,
        "indexFullness": 0.0,
        "totalVectorCount": stats.total,
        "metric": config.metric.as_str(),
        "vectorType": config.vector_type.as_str(),
    });
    if let Some(d) = config.vector_type.dimension() {
        out["dimension"] = json!(d);
    }
    Ok(Response::json(200, &out))
}
