//! JS ⇄ Rust shapes of the binding: engine options in; responses and write batches out as
//! plain JS objects (serde-wasm-bindgen's JSON-compatible serializer — objects, not `Map`s —
//! except that byte strings stay `Uint8Array`s rather than arrays of numbers).

use std::collections::BTreeMap;

use larch::api::{
    ApiOptions, KnownNamespaces, Plane, Response, RouteInfo, Scope, ShardAnswer, ShardStep,
};
use larch::namespace::{AnnConfig, StorageConfig};
use larch::storage::WriteBatch;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::invalid_argument;

/// Options of `new Engine(options)`; every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EngineOptions {
    /// Persistent (blobs live in a host store; see `handle`/`provide`/`takeWrites`) or
    /// in-memory only.
    pub persistent: bool,
    /// Template of an index's `host`; `{name}` is replaced by the index name.
    pub host_template: Option<String>,
    /// Seal the memtable into a segment at this many records.
    pub seal_records: Option<usize>,
    /// Seal at this many unsealed write-log entries.
    pub max_log_entries: Option<usize>,
    /// Merge the smallest segments beyond this many.
    pub max_segments: Option<usize>,
    /// Sealed segments of at least this many records get an HNSW graph (built by
    /// `indexStep`).
    pub ann_min_records: Option<usize>,
    /// Also keep int8 codes of segments with a graph and search on them, rescoring in f32
    /// (`AnnConfig::int8`; quantized by `indexStep`, stored with the segment). On by default
    /// in the npm package and the Worker: a persistent engine then pages the f32 rows and
    /// metadata of indexed segments out of memory (read back by row group on demand).
    pub int8: Option<bool>,
    /// Bytes of row groups of paged segments each namespace keeps in memory between
    /// requests (`StorageConfig::row_cache_bytes`).
    pub row_cache_bytes: Option<usize>,
    /// Consolidate sealed segments into one only while their vectors take at most this many
    /// bytes (`AnnConfig::merge_bytes`; a consolidation copies its inputs' rows into memory,
    /// so the peak is about the inputs' rows plus the output's). 0: never.
    pub merge_bytes: Option<usize>,
    /// Refuse upserts that would take a namespace beyond this many resident bytes
    /// (`Db::set_namespace_budget`), with Pinecone's quota error.
    pub max_namespace_bytes: Option<usize>,
    /// The host spreads namespaces over engines of its own and enforces read capacity
    /// itself (`ApiOptions::shard_host`: the Worker).
    pub shard_host: bool,
}

impl EngineOptions {
    /// Reads the options object (`undefined` and `null` mean all defaults).
    pub fn from_js(value: JsValue) -> Result<Self, JsValue> {
        if value.is_undefined() || value.is_null() {
            return Ok(Self::default());
        }
        serde_wasm_bindgen::from_value(value)
            .map_err(|e| invalid_argument(&format!("invalid engine options: {e}")))
    }

    pub fn api_options(&self) -> ApiOptions {
        let mut o = ApiOptions::default();
        if let Some(t) = &self.host_template {
            o.host_template = t.clone();
        }
        o.shard_host = self.shard_host;
        o
    }

    /// The approximate-search configuration: the engine's, with int8 codes on unless asked
    /// otherwise.
    pub fn ann_config(&self) -> Option<AnnConfig> {
        let mut c = AnnConfig::default();
        if let Some(v) = self.ann_min_records {
            c.min_records = v.max(1);
        }
        c.int8 = self.int8.unwrap_or(true);
        if let Some(v) = self.merge_bytes {
            c.merge_bytes = v;
        }
        Some(c)
    }

    pub fn storage_config(&self) -> StorageConfig {
        let mut c = StorageConfig::default();
        if let Some(v) = self.seal_records {
            c.seal_records = v.max(1);
        }
        if let Some(v) = self.max_log_entries {
            c.max_log_entries = v.max(1);
        }
        if let Some(v) = self.max_segments {
            c.max_segments = v.max(1);
        }
        if let Some(v) = self.row_cache_bytes {
            c.row_cache_bytes = v;
        }
        c
    }
}

/// A response as JS sees it: `{status, contentType, body: Uint8Array, headers: {name: value}}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: ByteBuf,
    pub headers: BTreeMap<&'static str, String>,
}

impl From<Response> for JsResponse {
    fn from(r: Response) -> Self {
        // Inserted one by one: `collect()` into a BTreeMap costs a sort and a bulk build in
        // the wasm (larch's `sort::CollectTree`).
        let mut headers = BTreeMap::new();
        for (k, v) in r.headers {
            headers.insert(k, v);
        }
        JsResponse {
            status: r.status,
            content_type: r.content_type,
            body: ByteBuf::from(r.body),
            headers,
        }
    }
}

/// `Engine.handle`'s response object; with side values (`Request::side_values`) also
/// `valueIds`, `values` (Float32Array) and `valueLengths` (Uint32Array).
pub fn response_js(mut r: Response) -> Result<JsValue, JsValue> {
    let side = r.vectors.take();
    let out = to_js(&JsResponse::from(r))?;
    if let Some(s) = side {
        let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v).map(|_| ());
        set("valueIds", to_js(&s.ids)?)?;
        set("values", js_sys::Float32Array::from(&s.floats[..]).into())?;
        set(
            "valueLengths",
            js_sys::Uint32Array::from(&s.lengths[..]).into(),
        )?;
    }
    Ok(out)
}

/// The answer of `Engine.handle` when blobs must be fetched first: `{needs: [key, ...]}`.
#[derive(Debug, Serialize)]
pub struct JsNeeds {
    pub needs: Vec<String>,
}

/// The answer of `Engine.handle` when this build leaves out what the request needs:
/// `{module: feature}` — run the request on an engine of the full build (`Engine.full()`).
#[derive(Debug, Serialize)]
pub struct JsModuleNeed {
    pub module: &'static str,
}

/// The answer of `Engine.handle` when texts must be embedded first:
/// `{embed: {model, inputType: "passage" | "query", texts: [text, ...]}}`.
#[derive(Debug, Serialize)]
pub struct JsEmbedNeed {
    pub embed: JsEmbedTexts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsEmbedTexts {
    pub model: String,
    pub input_type: &'static str,
    pub texts: Vec<String>,
}

/// A write batch as JS sees it:
/// `{puts: [[key, Uint8Array], ...], deletes: [key, ...], deletePrefixes: [prefix, ...]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JsWriteBatch {
    pub puts: Vec<(String, ByteBuf)>,
    pub deletes: Vec<String>,
    pub delete_prefixes: Vec<String>,
}

impl From<WriteBatch> for JsWriteBatch {
    fn from(b: WriteBatch) -> Self {
        JsWriteBatch {
            puts: b
                .puts
                .into_iter()
                .map(|(k, v)| (k, ByteBuf::from(v)))
                .collect(),
            deletes: b.deletes,
            delete_prefixes: b.delete_prefixes,
        }
    }
}

impl From<JsWriteBatch> for WriteBatch {
    fn from(b: JsWriteBatch) -> Self {
        WriteBatch {
            puts: b.puts.into_iter().map(|(k, v)| (k, v.into_vec())).collect(),
            deletes: b.deletes,
            delete_prefixes: b.delete_prefixes,
        }
    }
}

impl JsWriteBatch {
    /// Reads a batch object made by `Engine.takeWrites` (or by hand, in tests).
    pub fn from_js(value: JsValue) -> Result<Self, JsValue> {
        serde_wasm_bindgen::from_value(value)
            .map_err(|e| invalid_argument(&format!("invalid write batch: {e}")))
    }
}

/// Serializes to a JSON-compatible JS value (plain objects, never `Map`), bytes as `Uint8Array`.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    const SERIALIZER: serde_wasm_bindgen::Serializer =
        serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false);
    value
        .serialize(&SERIALIZER)
        .map_err(|e| invalid_argument(&format!("cannot convert to JS: {e}")))
}

/// Reads the host-supplied namespaces of `Engine.handle`: `[{name, recordCount}]`
/// (`undefined`: none).
pub fn known_namespaces(value: JsValue) -> Result<Option<KnownNamespaces>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let bad = || invalid_argument("namespaces must be an array of {name, recordCount, sizeBytes?}");
    let array: &js_sys::Array = value.dyn_ref().ok_or_else(bad)?;
    let mut items = Vec::with_capacity(array.length() as usize);
    for entry in array.iter() {
        let name = js_sys::Reflect::get(&entry, &"name".into())?
            .as_string()
            .ok_or_else(bad)?;
        let count = js_sys::Reflect::get(&entry, &"recordCount".into())?
            .as_f64()
            .filter(|n| *n >= 0.0 && n.fract() == 0.0)
            .ok_or_else(bad)?;
        let size = js_sys::Reflect::get(&entry, &"sizeBytes".into())?;
        let size = if size.is_undefined() {
            0.0
        } else {
            size.as_f64()
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .ok_or_else(bad)?
        };
        items.push((name, count as usize, size as u64));
    }
    KnownNamespaces::with_sizes(items)
        .map(Some)
        .map_err(|e| invalid_argument(&e.to_string()))
}

/// `Engine.classify`'s answer: `{plane, scope: "control"|"index"|"namespace", index?,
/// namespace?, write}`, or `{response}` when the request is answered without any engine.
pub fn route_js(r: Result<RouteInfo, Response>) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v).map(|_| ());
    let info = match r {
        Err(response) => {
            set("response", to_js(&JsResponse::from(response))?)?;
            return Ok(out.into());
        }
        Ok(info) => info,
    };
    let plane = match info.plane {
        Plane::Control => "control",
        Plane::Data => "data",
    };
    set("plane", plane.into())?;
    let (scope, index, namespace, write) = match info.scope {
        Scope::Control => ("control", None, None, false),
        Scope::Index { index } => ("index", Some(index), None, false),
        Scope::Namespace {
            index,
            namespace,
            write,
        } => ("namespace", Some(index), Some(namespace), write),
    };
    set("scope", scope.into())?;
    if let Some(index) = index {
        set("index", index.into())?;
    }
    if let Some(namespace) = namespace {
        set("namespace", namespace.into())?;
    }
    set("write", write.into())?;
    Ok(out.into())
}

/// A shard's answer as `Engine.shardStep` reads it: `{status, body: Uint8Array}` (an
/// `EngineResponse` will do; its other fields are ignored).
#[derive(Debug, Deserialize)]
pub struct JsShardAnswer {
    pub status: u16,
    pub body: ByteBuf,
}

/// Reads `Engine.shardStep`'s `rounds`: `[[{status, body}, ...], ...]`, oldest first.
pub fn shard_rounds(value: JsValue) -> Result<Vec<Vec<ShardAnswer>>, JsValue> {
    let rounds: Vec<Vec<JsShardAnswer>> = serde_wasm_bindgen::from_value(value)
        .map_err(|e| invalid_argument(&format!("invalid shard answers: {e}")))?;
    Ok(rounds
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|a| ShardAnswer {
                    status: a.status,
                    body: a.body.into_vec(),
                })
                .collect()
        })
        .collect())
}

#[derive(Debug, Serialize)]
struct JsShardRequest {
    shard: u32,
    method: String,
    path: String,
    query: String,
    body: ByteBuf,
}

/// `Engine.shardStep`'s answer: `{send: [{shard, method, path, query, body}]}`, `{pass: i}`
/// (answer with the last round's i-th answer as it is) or `{response}`.
pub fn shard_step_js(step: ShardStep) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Out {
        #[serde(rename = "send")]
        Send(Vec<JsShardRequest>),
        #[serde(rename = "pass")]
        Pass(u32),
        #[serde(rename = "response")]
        Response(JsResponse),
    }
    let out = match step {
        ShardStep::Send(parts) => Out::Send(
            parts
                .into_iter()
                .map(|p| JsShardRequest {
                    shard: p.shard,
                    method: p.method,
                    path: p.path,
                    query: p.query,
                    body: ByteBuf::from(p.body),
                })
                .collect(),
        ),
        ShardStep::Pass(i) => Out::Pass(i as u32),
        ShardStep::Respond(r) => Out::Response(JsResponse::from(r)),
    };
    to_js(&out)
}
