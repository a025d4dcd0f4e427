//! Pinecone's gRPC data plane (`VectorService`, `proto/db_data.proto`) over the same
//! `src/api/` as REST: each RPC becomes the REST request Pinecone documents for it (the
//! proto's own HTTP bindings), runs through the engine host, and its JSON answer becomes the
//! RPC's message. An error answer carries the numeric gRPC code that `src/api/error.rs` puts in
//! every data-plane error body, which becomes the RPC's status — one mapping for both
//! transports.
//!
//! Which index: gRPC clients dial the host of `describe_index` but send no path prefix (tonic
//! keeps only scheme and authority), so each index has a port of its own ([`crate::ports`])
//! whose RPCs go to it; the `x-larch-index` metadata entry names an index on any port, and on
//! the main port an RPC without it reaches the only index when the server has exactly one.

use std::collections::HashMap;
use std::sync::Arc;

use prost_types::value::Kind;
use serde_json::{Map, Value as Json, json};
use tonic::{Code, Request, Response, Status};

use crate::serve::{App, Call};

#[allow(clippy::all, missing_debug_implementations, deprecated, dead_code)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}

use pb::vector_service_server::VectorService;

/// The descriptor set of `proto/db_data.proto` (for `larch proto-descriptor`).
pub const DESCRIPTOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/db_data.fds"));

/// The gRPC service over the app.
#[derive(Debug, Clone)]
pub struct Grpc {
    pub app: Arc<App>,
    /// The index of the listener's port ([`crate::ports`]); `None` on the main port.
    pub index: Option<String>,
}

// ---- protobuf Struct <-> JSON ----------------------------------------------------------------

fn struct_to_json(s: &prost_types::Struct) -> Json {
    Json::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(v: &prost_types::Value) -> Json {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::NumberValue(n)) => {
            serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number)
        }
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::StructValue(s)) => struct_to_json(s),
        Some(Kind::ListValue(l)) => Json::Array(l.values.iter().map(value_to_json).collect()),
    }
}

fn json_to_struct(m: &Map<String, Json>) -> prost_types::Struct {
    prost_types::Struct {
        fields: m
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
    }
}

fn json_to_value(v: &Json) -> prost_types::Value {
    let kind = match v {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(json_to_value).collect(),
        }),
        Json::Object(m) => Kind::StructValue(json_to_struct(m)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn sparse_to_json(s: &pb::SparseValues) -> Json {
    json!({"indices": s.indices, "values": s.values})
}

fn sparse_from_json(v: &Json) -> Option<pb::SparseValues> {
    let indices = v.get("indices")?.as_array()?;
    let values = v.get("values")?.as_array()?;
    Some(pb::SparseValues {
        indices: indices
            .iter()
            .filter_map(|i| i.as_u64().and_then(|i| u32::try_from(i).ok()))
            .collect(),
        values: values
            .iter()
            .map(|x| x.as_f64().unwrap_or(0.0) as f32)
            .collect(),
    })
}

fn floats(v: &Json) -> Vec<f32> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect())
        .unwrap_or_default()
}

fn metadata_of(v: &Json) -> Option<prost_types::Struct> {
    v.as_object().map(json_to_struct)
}

fn vector_from_json(v: &Json, values: &mut Values) -> pb::Vector {
    let id = v["id"].as_str().unwrap_or_default().to_string();
    pb::Vector {
        values: values.of(&id, &v["values"]),
        id,
        metadata: metadata_of(&v["metadata"]),
        sparse_values: sparse_from_json(&v["sparseValues"]),
    }
}

fn usage(v: &Json) -> Option<pb::Usage> {
    let units = v.get("usage")?.get("readUnits")?.as_u64()?;
    Some(pb::Usage {
        read_units: u32::try_from(units).ok(),
    })
}

fn pagination(v: &Json) -> Option<pb::Pagination> {
    let next = v.get("pagination")?.get("next")?.as_str()?;
    Some(pb::Pagination {
        next: next.to_string(),
    })
}

fn namespace_description(v: &Json) -> pb::NamespaceDescription {
    let schema = v
        .get("schema")
        .and_then(Json::as_object)
        .map(|s| pb::MetadataSchema {
            fields: s
                .get("fields")
                .and_then(Json::as_object)
                .map(|f| {
                    f.iter()
                        .map(|(k, p)| {
                            let filterable = p.get("filterable").and_then(Json::as_bool);
                            (
                                k.clone(),
                                pb::MetadataFieldProperties {
                                    filterable: filterable.unwrap_or(false),
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    let indexed_fields = v
        .get("indexed_fields")
        .and_then(|f| f.get("fields"))
        .and_then(Json::as_array)
        .map(|a| pb::IndexedFields {
            fields: a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
        });
    pb::NamespaceDescription {
        name: v["name"].as_str().unwrap_or_default().to_string(),
        record_count: v["record_count"].as_u64().unwrap_or(0),
        schema,
        indexed_fields,
    }
}

/// `key=value` pairs as a query string, percent-encoded.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- the service -------------------------------------------------------------------------

impl Grpc {
    /// Runs one RPC as its REST request; the JSON answer or the status it maps to.
    async fn call<T>(
        &self,
        req: &Request<T>,
        method: &str,
        path: String,
        query: String,
        body: Json,
    ) -> Result<Json, Status> {
        self.call_side(req, method, path, query, body, None, false)
            .await
            .map(|(v, _)| v)
    }

    /// [`Grpc::call`] with dense vectors beside the JSON (the request's, as
    /// `(floats, lengths)`) and, with `side_values`, the response's values beside it: floats
    /// are then neither printed nor parsed as JSON, and the JSON body stays within the REST
    /// body bound for every message the proto allows.
    #[allow(clippy::too_many_arguments)]
    async fn call_side<T>(
        &self,
        req: &Request<T>,
        method: &str,
        path: String,
        query: String,
        body: Json,
        vectors: Option<(Vec<f32>, Vec<u32>)>,
        side_values: bool,
    ) -> Result<(Json, Values), Status> {
        let meta = req.metadata();
        let text = |k: &str| {
            meta.get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if !self
            .app
            .authorized(meta.get("api-key").map(|v| v.as_bytes()))
        {
            return Err(Status::unauthenticated("Unauthorized"));
        }
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).map_err(|e| Status::internal(e.to_string()))?
        };
        let call = Call {
            method: method.to_string(),
            path,
            query,
            body,
            api_version: text("x-pinecone-api-version"),
            index: text("x-larch-index").or_else(|| self.index.clone()),
            only_index: true,
            vectors,
            side_values,
        };
        let r = self.app.run(call).await;
        if r.status == 401 {
            return Err(Status::unauthenticated("Unauthorized"));
        }
        let v = r.json_body();
        if r.status >= 400 {
            let code = v["code"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok())
                .map_or(Code::Unknown, Code::from_i32);
            let message = v["message"]
                .as_str()
                .or_else(|| v["error"]["message"].as_str())
                .unwrap_or("request failed");
            return Err(Status::new(code, message));
        }
        Ok((v, Values::new(r.vectors.as_deref())))
    }
}

/// Dense values returned beside a response's JSON, by id.
#[derive(Debug, Default)]
struct Values(HashMap<String, Vec<f32>>);

impl Values {
    fn new(side: Option<&larch::api::SideValues>) -> Self {
        let Some(side) = side else {
            return Values::default();
        };
        let mut out = HashMap::with_capacity(side.ids.len());
        let mut rest = side.floats.as_slice();
        for (id, &len) in side.ids.iter().zip(&side.lengths) {
            if len == larch::api::SideVectors::ABSENT {
                continue;
            }
            let (head, tail) = rest.split_at((len as usize).min(rest.len()));
            out.insert(id.clone(), head.to_vec());
            rest = tail;
        }
        Values(out)
    }

    /// The values of `id`: beside the JSON, or in it.
    fn of(&mut self, id: &str, json: &Json) -> Vec<f32> {
        self.0.remove(id).unwrap_or_else(|| floats(json))
    }
}

/// One side slot per vector: its values, or absent when it has none.
fn side_slots<'a>(values: impl Iterator<Item = &'a [f32]>) -> (Vec<f32>, Vec<u32>) {
    let mut floats = Vec::new();
    let mut lengths = Vec::new();
    for v in values {
        if v.is_empty() {
            lengths.push(larch::api::SideVectors::ABSENT);
        } else {
            floats.extend_from_slice(v);
            lengths.push(u32::try_from(v.len()).unwrap_or(u32::MAX - 1));
        }
    }
    (floats, lengths)
}

fn put(body: &mut Json, key: &str, value: Json) {
    body[key] = value;
}

fn filter_json(f: &Option<prost_types::Struct>) -> Option<Json> {
    f.as_ref().map(struct_to_json)
}

fn scored(v: &Json, values: &mut Values) -> pb::ScoredVector {
    let id = v["id"].as_str().unwrap_or_default().to_string();
    pb::ScoredVector {
        score: v["score"].as_f64().unwrap_or(0.0) as f32,
        values: values.of(&id, &v["values"]),
        id,
        metadata: metadata_of(&v["metadata"]),
        sparse_values: sparse_from_json(&v["sparseValues"]),
    }
}

fn vectors_map(v: &Json, values: &mut Values) -> HashMap<String, pb::Vector> {
    v["vectors"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), vector_from_json(v, values)))
                .collect()
        })
        .unwrap_or_default()
}

fn scored_matches(r: &Json, values: &mut Values) -> Vec<pb::ScoredVector> {
    r["matches"]
        .as_array()
        .map(|a| a.iter().map(|m| scored(m, values)).collect())
        .unwrap_or_default()
}

fn string(v: &Json, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

#[tonic::async_trait]
impl VectorService for Grpc {
    async fn upsert(
        &self,
        req: Request<pb::UpsertRequest>,
    ) -> Result<Response<pb::UpsertResponse>, Status> {
        let m = req.get_ref();
        let vectors: Vec<Json> = m
            .vectors
            .iter()
            .map(|v| {
                let mut o = json!({"id": v.id});
                if let Some(s) = &v.sparse_values {
                    put(&mut o, "sparseValues", sparse_to_json(s));
                }
                if let Some(md) = &v.metadata {
                    put(&mut o, "metadata", struct_to_json(md));
                }
                o
            })
            .collect();
        let body = json!({"vectors": vectors, "namespace": m.namespace});
        let side = side_slots(m.vectors.iter().map(|v| v.values.as_slice()));
        let (r, _) = self
            .call_side(
                &req,
                "POST",
                "/vectors/upsert".into(),
                String::new(),
                body,
                Some(side),
                false,
            )
            .await?;
        Ok(Response::new(pb::UpsertResponse {
            upserted_count: r["upsertedCount"].as_u64().unwrap_or(0) as u32,
        }))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let m = req.get_ref();
        let mut body = json!({"namespace": m.namespace});
        if !m.ids.is_empty() {
            put(&mut body, "ids", json!(m.ids));
        }
        if m.delete_all {
            put(&mut body, "deleteAll", json!(true));
        }
        if let Some(f) = filter_json(&m.filter) {
            put(&mut body, "filter", f);
        }
        self.call(&req, "POST", "/vectors/delete".into(), String::new(), body)
            .await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn fetch(
        &self,
        req: Request<pb::FetchRequest>,
    ) -> Result<Response<pb::FetchResponse>, Status> {
        let m = req.get_ref();
        let mut pairs: Vec<(&str, &str)> = m.ids.iter().map(|id| ("ids", id.as_str())).collect();
        pairs.push(("namespace", &m.namespace));
        let (r, mut values) = self
            .call_side(
                &req,
                "GET",
                "/vectors/fetch".into(),
                query_string(&pairs),
                Json::Null,
                None,
                true,
            )
            .await?;
        Ok(Response::new(pb::FetchResponse {
            vectors: vectors_map(&r, &mut values),
            namespace: string(&r, "namespace"),
            usage: usage(&r),
        }))
    }

    async fn list(
        &self,
        req: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let m = req.get_ref();
        let limit = m.limit.map(|l| l.to_string());
        let mut pairs: Vec<(&str, &str)> = vec![("namespace", &m.namespace)];
        if let Some(p) = &m.prefix {
            pairs.push(("prefix", p));
        }
        if let Some(l) = &limit {
            pairs.push(("limit", l));
        }
        if let Some(t) = &m.pagination_token {
            pairs.push(("paginationToken", t));
        }
        let r = self
            .call(
                &req,
                "GET",
                "/vectors/list".into(),
                query_string(&pairs),
                Json::Null,
            )
            .await?;
        let vectors = r["vectors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| pb::ListItem {
                        id: string(v, "id"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Response::new(pb::ListResponse {
            vectors,
            pagination: pagination(&r),
            namespace: string(&r, "namespace"),
            usage: usage(&r),
        }))
    }

    async fn query(
        &self,
        req: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::QueryResponse>, Status> {
        let m = req.get_ref();
        let mut body = json!({
            "namespace": m.namespace,
            "topK": m.top_k,
            "includeValues": m.include_values,
            "includeMetadata": m.include_metadata,
        });
        if let Some(f) = filter_json(&m.filter) {
            put(&mut body, "filter", f);
        }
        if let Some(s) = &m.sparse_vector {
            put(&mut body, "sparseVector", sparse_to_json(s));
        }
        if !m.id.is_empty() {
            put(&mut body, "id", json!(m.id));
        }
        #[allow(deprecated)]
        let queries = &m.queries;
        if !queries.is_empty() {
            // The deprecated batch form: one query per entry, each with its overrides.
            let mut results = Vec::with_capacity(queries.len());
            let mut units = 0u64;
            for q in queries {
                let mut b = body.clone();
                if let Some(s) = &q.sparse_values {
                    put(&mut b, "sparseVector", sparse_to_json(s));
                }
                if q.top_k > 0 {
                    put(&mut b, "topK", json!(q.top_k));
                }
                if !q.namespace.is_empty() {
                    put(&mut b, "namespace", json!(q.namespace));
                }
                if let Some(f) = filter_json(&q.filter) {
                    put(&mut b, "filter", f);
                }
                let side = side_slots(std::iter::once(q.values.as_slice()));
                let (r, mut values) = self
                    .call_side(
                        &req,
                        "POST",
                        "/query".into(),
                        String::new(),
                        b,
                        Some(side),
                        m.include_values,
                    )
                    .await?;
                units += r["usage"]["readUnits"].as_u64().unwrap_or(0);
                results.push(pb::SingleQueryResults {
                    matches: scored_matches(&r, &mut values),
                    namespace: string(&r, "namespace"),
                });
            }
            #[allow(deprecated)]
            return Ok(Response::new(pb::QueryResponse {
                results,
                matches: Vec::new(),
                namespace: m.namespace.clone(),
                usage: Some(pb::Usage {
                    read_units: u32::try_from(units).ok(),
                }),
            }));
        }
        let side = side_slots(std::iter::once(m.vector.as_slice()));
        let (r, mut values) = self
            .call_side(
                &req,
                "POST",
                "/query".into(),
                String::new(),
                body,
                Some(side),
                m.include_values,
            )
            .await?;
        #[allow(deprecated)]
        Ok(Response::new(pb::QueryResponse {
            results: Vec::new(),
            matches: scored_matches(&r, &mut values),
            namespace: string(&r, "namespace"),
            usage: usage(&r),
        }))
    }

    async fn update(
        &self,
        req: Request<pb::UpdateRequest>,
    ) -> Result<Response<pb::UpdateResponse>, Status> {
        let m = req.get_ref();
        let mut body = json!({"namespace": m.namespace});
        if !m.id.is_empty() {
            put(&mut body, "id", json!(m.id));
        }
        if let Some(s) = &m.sparse_values {
            put(&mut body, "sparseValues", sparse_to_json(s));
        }
        if let Some(md) = &m.set_metadata {
            put(&mut body, "setMetadata", struct_to_json(md));
        }
        if let Some(f) = filter_json(&m.filter) {
            put(&mut body, "filter", f);
        }
        if let Some(d) = m.dry_run {
            put(&mut body, "dryRun", json!(d));
        }
        let side = side_slots(std::iter::once(m.values.as_slice()));
        let (r, _) = self
            .call_side(
                &req,
                "POST",
                "/vectors/update".into(),
                String::new(),
                body,
                Some(side),
                false,
            )
            .await?;
        Ok(Response::new(pb::UpdateResponse {
            matched_records: r["matchedRecords"]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok()),
        }))
    }

    async fn describe_index_stats(
        &self,
        req: Request<pb::DescribeIndexStatsRequest>,
    ) -> Result<Response<pb::DescribeIndexStatsResponse>, Status> {
        let mut body = json!({});
        if let Some(f) = filter_json(&req.get_ref().filter) {
            put(&mut body, "filter", f);
        }
        let r = self
            .call(
                &req,
                "POST",
                "/describe_index_stats".into(),
                String::new(),
                body,
            )
            .await?;
        let namespaces = r["namespaces"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let n = v["vectorCount"].as_u64().unwrap_or(0);
                        (
                            k.clone(),
                            pb::NamespaceSummary {
                                vector_count: u32::try_from(n).unwrap_or(u32::MAX),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Response::new(pb::DescribeIndexStatsResponse {
            namespaces,
            dimension: r["dimension"].as_u64().and_then(|d| u32::try_from(d).ok()),
            index_fullness: r["indexFullness"].as_f64().unwrap_or(0.0) as f32,
            total_vector_count: r["totalVectorCount"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            metric: r["metric"].as_str().map(str::to_string),
            vector_type: r["vectorType"].as_str().map(str::to_string),
            memory_fullness: None,
            storage_fullness: None,
        }))
    }

    async fn list_namespaces(
        &self,
        req: Request<pb::ListNamespacesRequest>,
    ) -> Result<Response<pb::ListNamespacesResponse>, Status> {
        let m = req.get_ref();
        let limit = m.limit.map(|l| l.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(t) = &m.pagination_token {
            pairs.push(("paginationToken", t));
        }
        if let Some(l) = &limit {
            pairs.push(("limit", l));
        }
        if let Some(p) = &m.prefix {
            pairs.push(("prefix", p));
        }
        let r = self
            .call(
                &req,
                "GET",
                "/namespaces".into(),
                query_string(&pairs),
                Json::Null,
            )
            .await?;
        Ok(Response::new(pb::ListNamespacesResponse {
            namespaces: r["namespaces"]
                .as_array()
                .map(|a| a.iter().map(namespace_description).collect())
                .unwrap_or_default(),
            pagination: pagination(&r),
            total_count: r["total_count"]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(0),
        }))
    }

    async fn describe_namespace(
        &self,
        req: Request<pb::DescribeNamespaceRequest>,
    ) -> Result<Response<pb::NamespaceDescription>, Status> {
        let path = format!("/namespaces/{}", percent_encode(&req.get_ref().namespace));
        let r = self
            .call(&req, "GET", path, String::new(), Json::Null)
            .await?;
        Ok(Response::new(namespace_description(&r)))
    }

    async fn delete_namespace(
        &self,
        req: Request<pb::DeleteNamespaceRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let path = format!("/namespaces/{}", percent_encode(&req.get_ref().namespace));
        self.call(&req, "DELETE", path, String::new(), Json::Null)
            .await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn create_namespace(
        &self,
        req: Request<pb::CreateNamespaceRequest>,
    ) -> Result<Response<pb::NamespaceDescription>, Status> {
        let m = req.get_ref();
        let mut body = json!({"name": m.name});
        if let Some(s) = &m.schema {
            let fields: Map<String, Json> = s
                .fields
                .iter()
                .map(|(k, p)| (k.clone(), json!({"filterable": p.filterable})))
                .collect();
            put(&mut body, "schema", json!({"fields": fields}));
        }
        let r = self
            .call(&req, "POST", "/namespaces".into(), String::new(), body)
            .await?;
        Ok(Response::new(namespace_description(&r)))
    }

    async fn fetch_by_metadata(
        &self,
        req: Request<pb::FetchByMetadataRequest>,
    ) -> Result<Response<pb::FetchByMetadataResponse>, Status> {
        let m = req.get_ref();
        let mut body = json!({"namespace": m.namespace});
        if let Some(f) = filter_json(&m.filter) {
            put(&mut body, "filter", f);
        }
        if let Some(l) = m.limit {
            put(&mut body, "limit", json!(l));
        }
        if let Some(t) = &m.pagination_token {
            put(&mut body, "paginationToken", json!(t));
        }
        let (r, mut values) = self
            .call_side(
                &req,
                "POST",
                "/vectors/fetch_by_metadata".into(),
                String::new(),
                body,
                None,
                true,
            )
            .await?;
        Ok(Response::new(pb::FetchByMetadataResponse {
            vectors: vectors_map(&r, &mut values),
            namespace: string(&r, "namespace"),
            usage: usage(&r),
            pagination: pagination(&r),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use prost_types::{DescriptorProto, FileDescriptorSet, ServiceDescriptorProto};

    /// A message with every option dropped (HTTP annotations, field behaviour, deprecation
    /// notes: none reaches the wire), nested types and fields kept in order.
    fn bare_message(mut m: DescriptorProto) -> DescriptorProto {
        m.options = None;
        for f in &mut m.field {
            f.options = None;
        }
        for o in &mut m.oneof_decl {
            o.options = None;
        }
        m.field.sort_by_key(|f| f.number);
        m.nested_type = m.nested_type.into_iter().map(bare_message).collect();
        m
    }

    fn bare_service(mut s: ServiceDescriptorProto) -> ServiceDescriptorProto {
        s.options = None;
        for m in &mut s.method {
            m.options = None;
        }
        s
    }

    /// The wire-relevant parts of a file: messages by name, enums, services.
    fn contract(
        fds: FileDescriptorSet,
        file: &str,
    ) -> (Vec<DescriptorProto>, Vec<ServiceDescriptorProto>, String) {
        let f = fds
            .file
            .into_iter()
            .find(|f| f.name() == file)
            .unwrap_or_else(|| panic!("{file} not in the descriptor set"));
        let mut messages: Vec<_> = f.message_type.into_iter().map(bare_message).collect();
        messages.sort_by(|a, b| a.name().cmp(b.name()));
        let services = f.service.into_iter().map(bare_service).collect();
        (messages, services, f.package.unwrap_or_default())
    }

    /// Our `proto/db_data.proto` against Pinecone's published file: the same package, messages,
    /// fields (names, numbers, types, labels, proto3 `optional`), maps, oneofs and methods.
    /// The published file lives in the workplace's shared reference (`LARCH_PINECONE_PROTO`
    /// names another directory); the server-e2e stage sets `LARCH_REQUIRE_PINECONE_PROTO`
    /// whenever that reference sits beside the repository, so that there a missing or moved
    /// file fails instead of passing unchecked (a user's clone has no reference to compare).
    #[test]
    fn the_proto_matches_pinecones_published_contract() {
        let dir = std::env::var_os("LARCH_PINECONE_PROTO")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../shared/reference/proto")
            });
        let name = "db_data_2025-10.proto";
        if !dir.join(name).exists() {
            assert!(
                std::env::var_os("LARCH_REQUIRE_PINECONE_PROTO").is_none(),
                "Pinecone's published proto is not at {} (set LARCH_PINECONE_PROTO)",
                dir.display()
            );
            eprintln!("not compared: no {name} in {}", dir.display());
            return;
        }
        let theirs = protox::compile([name], [&dir]).expect("the published proto compiles");
        let ours = FileDescriptorSet::decode(DESCRIPTOR).expect("our descriptor set decodes");
        let (their_messages, their_services, their_package) = contract(theirs, name);
        let (our_messages, our_services, our_package) = contract(ours, "db_data.proto");
        assert_eq!(our_package, their_package);
        let names =
            |m: &[DescriptorProto]| m.iter().map(|m| m.name().to_string()).collect::<Vec<_>>();
        assert_eq!(names(&our_messages), names(&their_messages));
        for (o, t) in our_messages.iter().zip(&their_messages) {
            assert_eq!(o, t, "message {}", t.name());
        }
        assert_eq!(our_services, their_services);
    }

    #[test]
    fn metadata_round_trips_through_struct() {
        let v =
            json!({"genre": "drama", "year": 2020.0, "ok": true, "tags": ["a", "b"], "none": null});
        let s = json_to_struct(v.as_object().unwrap());
        assert_eq!(struct_to_json(&s), v);
    }

    #[test]
    fn query_strings_are_percent_encoded() {
        assert_eq!(
            query_string(&[("ids", "a b"), ("ids", "é&"), ("namespace", "")]),
            "ids=a%20b&ids=%C3%A9%26&namespace="
        );
    }
}
