//! Control plane: `/indexes` and `/indexes/{name}`.
//!
//! Create accepts both request shapes the SDKs send: the classic body (`dimension`, `metric`,
//! `spec.serverless`, `vector_type`) and the 2026-07 body (`schema.fields._values`,
//! `deployment`). Descriptions carry both field sets so every SDK version accepts them.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::{Ctx, Response};
use crate::config::{DeletionProtection, IndexConfig, ReadCapacity, VectorType};
use crate::db::{ConfigureIndex, Db};
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::metadata::json_kind;

/// A control-plane operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    List,
    Create,
    CreateForModel,
    Describe(String),
    Configure(String),
    Delete(String),
}

impl Op {
    /// Resolves the path segments after `/indexes`.
    pub fn parse(method: &str, rest: &[&str]) -> Result<Option<Op>> {
        Ok(match (method, rest) {
            ("GET", []) => Some(Op::List),
            ("POST", []) => Some(Op::Create),
            ("POST", ["create-for-model"]) => Some(Op::CreateForModel),
            ("GET", [name]) => Some(Op::Describe(super::wire::percent_decode(name)?)),
            ("PATCH", [name]) => Some(Op::Configure(super::wire::percent_decode(name)?)),
            ("DELETE", [name]) => Some(Op::Delete(super::wire::percent_decode(name)?)),
            _ => None,
        })
    }
}

pub(crate) fn handle(db: &mut Db, ctx: Ctx<'_>, op: Op, body: &[u8]) -> Result<Response> {
    // A persistent database reads its root first (a no-op once loaded).
    db.prepare()?;
    match op {
        Op::List => {
            let indexes: Vec<Json> = db.list_indexes()?.map(|c| index_model(ctx, c)).collect();
            Ok(Response::json(200, &json!({ "indexes": indexes })))
        }
        Op::Create => {
            let body: Json = super::parse_body(body)?;
            let config = parse_create(&body)?;
            let config = db.create_index(config)?;
            Ok(Response::json(201, &index_model(ctx, config)))
        }
        Op::CreateForModel => {
            if !cfg!(feature = "integrated") {
                return Err(super::embed::module_required(
                    "Creating an index for a model",
                ));
            }
            let body: Json = super::parse_body(body)?;
            let config = parse_create_for_model(&body)?;
            let config = db.create_index(config)?;
            Ok(Response::json(201, &index_model(ctx, config)))
        }
        Op::Describe(name) => Ok(Response::json(
            200,
            &index_model(ctx, db.index(&name)?.config()),
        )),
        Op::Configure(name) => {
            let current = db.index(&name)?.config().clone();
            let body: Json = super::parse_body(body)?;
            let mut change = parse_configure(&body)?;
            if let Some(e) = body.get("embed").filter(|e| !e.is_null()) {
                if !cfg!(feature = "integrated") {
                    return Err(super::embed::module_required("Configuring embedding"));
                }
                change.embed = Some(configure_embed(&current, e)?);
            }
            if ctx.options.shard_host
                && let Some(rc) = &change.read_capacity
                && rc.shards() != current.read_capacity.shards()
            {
                return Err(Error::Unimplemented {
                    what: format!(
                        "Changing the shard count of index '{name}' (from {} to {})",
                        current.read_capacity.shards(),
                        rc.shards()
                    ),
                });
            }
            let config = db.configure_index(&name, change)?;
            Ok(Response::json(202, &index_model(ctx, config)))
        }
        Op::Delete(name) => {
            db.delete_index(&name)?;
            Ok(Response::empty(202))
        }
    }
}

/// The IndexModel: classic fields (dimension, metric, spec, host, status, vector_type) and the
/// 2026-07 fields (schema, deployment).
pub(crate) fn index_model(ctx: Ctx<'_>, c: &IndexConfig) -> Json {
    let host = ctx.options.host_of(&c.name);
    let mut m = Map::new();
    m.insert("name".into(), json!(c.name));
    if let VectorType::Dense { dimension } = c.vector_type {
        m.insert("dimension".into(), json!(dimension));
    }
    m.insert("metric".into(), json!(c.metric.as_str()));
    m.insert("host".into(), json!(host));
    m.insert("vector_type".into(), json!(c.vector_type.as_str()));
    m.insert(
        "deletion_protection".into(),
        json!(c.deletion_protection.as_str()),
    );
    m.insert(
        "tags".into(),
        if c.tags.is_empty() {
            Json::Null
        } else {
            json!(c.tags)
        },
    );
    m.insert(
        "spec".into(),
        json!({"serverless": {
            "cloud": c.cloud,
            "region": c.region,
            "read_capacity": read_capacity_json(&c.read_capacity),
        }}),
    );
    m.insert("status".into(), json!({"ready": true, "state": "Ready"}));
    let field = match c.vector_type {
        // 2026-07 IndexSchema: dense vectors-API indexes always report both reserved fields.
        VectorType::Dense { dimension } => json!({
            "_values": {"type": "dense_vector", "dimension": dimension, "metric": c.metric.as_str()},
            "_sparse_values": {"type": "sparse_vector"},
        }),
        VectorType::Sparse => json!({"_sparse_values": {"type": "sparse_vector"}}),
    };
    m.insert("schema".into(), json!({ "fields": field }));
    // 2026-07: read capacity beside the deployment (the spec's copy above is the older shape).
    m.insert("read_capacity".into(), read_capacity_json(&c.read_capacity));
    m.insert(
        "deployment".into(),
        json!({"deployment_type": "managed", "cloud": c.cloud, "region": c.region}),
    );
    if let Some(e) = &c.embed {
        let mut embed = json!({
            "model": e.model,
            "metric": c.metric.as_str(),
            "vector_type": c.vector_type.as_str(),
            "field_map": {"text": e.field},
            "read_parameters": e.read_parameters,
            "write_parameters": e.write_parameters,
        });
        if let VectorType::Dense { dimension } = c.vector_type {
            embed["dimension"] = json!(dimension);
        }
        m.insert("embed".into(), embed);
    }
    Json::Object(m)
}

fn read_capacity_json(rc: &ReadCapacity) -> Json {
    match rc {
        ReadCapacity::OnDemand => json!({"mode": "OnDemand", "status": {"state": "Ready"}}),
        ReadCapacity::Dedicated {
            node_type,
            replicas,
            shards,
        } => json!({
            "mode": "Dedicated",
            "dedicated": {
                "node_type": node_type,
                "scaling": "Manual",
                "manual": {"replicas": replicas, "shards": shards},
            },
            "status": {"state": "Ready", "current_replicas": replicas, "current_shards": shards},
        }),
    }
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::Malformed {
        reason: reason.into(),
    }
}

fn obj<'a>(v: &'a Json, what: &str) -> Result<&'a Map<String, Json>> {
    v.as_object()
        .ok_or_else(|| malformed(format!("{what}: expected an object, got {}", json_kind(v))))
}

fn opt_str<'a>(m: &'a Map<String, Json>, key: &str) -> Result<Option<&'a str>> {
    match m.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(other) => Err(malformed(format!(
            "{key}: invalid type: {}, expected a string",
            json_kind(other)
        ))),
    }
}

fn parse_metric(s: &str) -> Result<Metric> {
    match s {
        "cosine" => Ok(Metric::Cosine),
        "euclidean" => Ok(Metric::Euclidean),
        "dotproduct" => Ok(Metric::DotProduct),
        other => Err(Error::invalid(format!(
            "Invalid metric '{other}'. Expected one of 'cosine', 'euclidean' or 'dotproduct'."
        ))),
    }
}

fn parse_dimension(v: &Json) -> Result<u32> {
    match v.as_u64() {
        Some(d) => u32::try_from(d)
            .map_err(|_| Error::invalid(format!("Dimension must be between 1 and 20000, got {d}"))),
        None if v.is_number() => Err(Error::invalid(format!(
            "Dimension must be between 1 and 20000, got {v}"
        ))),
        None => Err(malformed(format!(
            "dimension: invalid type: {}, expected an integer",
            json_kind(v)
        ))),
    }
}

fn parse_tags(v: Option<&Json>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(out);
    };
    for (k, val) in obj(v, "tags")? {
        let s = val.as_str().ok_or_else(|| {
            malformed(format!(
                "tags.{k}: invalid type: {}, expected a string",
                json_kind(val)
            ))
        })?;
        out.insert(k.clone(), s.to_string());
    }
    Ok(out)
}

fn parse_read_capacity(v: &Json) -> Result<ReadCapacity> {
    let m = obj(v, "read_capacity")?;
    match opt_str(m, "mode")? {
        Some("OnDemand") => Ok(ReadCapacity::OnDemand),
        Some("Dedicated") => {
            let d = m.get("dedicated").ok_or_else(|| {
                Error::invalid("read_capacity.dedicated is required for mode Dedicated")
            })?;
            let d = obj(d, "read_capacity.dedicated")?;
            let node_type = opt_str(d, "node_type")?.unwrap_or("b1");
            if !matches!(node_type, "b1" | "t1") {
                return Err(Error::invalid(format!(
                    "Invalid node_type '{node_type}'. Expected 'b1' or 't1'."
                )));
            }
            if let Some(s) = opt_str(d, "scaling")?.filter(|s| *s != "Manual") {
                return Err(Error::invalid(format!(
                    "Invalid scaling '{s}'. Expected 'Manual'."
                )));
            }
            let manual = d
                .get("manual")
                .map(|m| obj(m, "read_capacity.dedicated.manual"));
            let (replicas, shards) = match manual.transpose()? {
                Some(man) => (
                    man.get("replicas").and_then(Json::as_u64).unwrap_or(1),
                    man.get("shards").and_then(Json::as_u64).unwrap_or(1),
                ),
                None => (1, 1),
            };
            if shards < 1 {
                return Err(Error::invalid("read_capacity shards must be at least 1"));
            }
            Ok(ReadCapacity::Dedicated {
                node_type: node_type.to_string(),
                replicas: u32::try_from(replicas).unwrap_or(u32::MAX),
                shards: u32::try_from(shards).unwrap_or(u32::MAX),
            })
        }
        Some(other) => Err(Error::invalid(format!(
            "Invalid read_capacity mode '{other}'. Expected 'OnDemand' or 'Dedicated'."
        ))),
        None => Err(malformed("read_capacity: missing field `mode`")),
    }
}

/// Parses either create body into a configuration (validated later by the engine).
pub(crate) fn parse_create(body: &Json) -> Result<IndexConfig> {
    let m = obj(body, "body")?;
    let name = opt_str(m, "name")?.ok_or_else(|| malformed("missing field `name`"))?;
    let mut config = IndexConfig::dense(name, 1, Metric::Cosine);
    if let Some(dp) = opt_str(m, "deletion_protection")? {
        config.deletion_protection = DeletionProtection::parse(dp)?;
    }
    config.tags = parse_tags(m.get("tags"))?;
    if m.contains_key("deployment") || m.contains_key("schema") {
        parse_create_2026_07(m, &mut config)?;
    } else {
        parse_create_classic(m, &mut config)?;
    }
    if let Some(rc) = m.get("read_capacity").filter(|v| !v.is_null()) {
        config.read_capacity = parse_read_capacity(rc)?;
    }
    Ok(config)
}

/// `POST /indexes/create-for-model`: `name`, `cloud`, `region`, `embed` (`model`,
/// `field_map`, `metric`?, `dimension`?, `read_parameters`?, `write_parameters`?), and the
/// optional `deletion_protection`, `tags`, `read_capacity`.
fn parse_create_for_model(body: &Json) -> Result<IndexConfig> {
    let m = obj(body, "body")?;
    let name = opt_str(m, "name")?.ok_or_else(|| malformed("missing field `name`"))?;
    let mut config = IndexConfig::dense(name, 1, Metric::Cosine);
    config.cloud = opt_str(m, "cloud")?
        .ok_or_else(|| malformed("missing field `cloud`"))?
        .to_string();
    config.region = opt_str(m, "region")?
        .ok_or_else(|| malformed("missing field `region`"))?
        .to_string();
    if let Some(dp) = opt_str(m, "deletion_protection")? {
        config.deletion_protection = DeletionProtection::parse(dp)?;
    }
    config.tags = parse_tags(m.get("tags"))?;
    if let Some(rc) = m.get("read_capacity").filter(|v| !v.is_null()) {
        config.read_capacity = parse_read_capacity(rc)?;
    }
    let e = obj(
        m.get("embed")
            .ok_or_else(|| malformed("missing field `embed`"))?,
        "embed",
    )?;
    let model_name =
        opt_str(e, "model")?.ok_or_else(|| malformed("embed: missing field `model`"))?;
    let model = super::embed::model(model_name)?;
    let field = parse_field_map(e.get("field_map"))?
        .ok_or_else(|| malformed("embed: missing field `field_map`"))?;
    let metric = opt_str(e, "metric")?
        .map(parse_metric)
        .transpose()?
        .unwrap_or(parse_metric(model.default_metric)?);
    if let Some(d) = e.get("dimension").filter(|v| !v.is_null())
        && parse_dimension(d)? != model.dimension
    {
        return Err(Error::invalid(format!(
            "Dimension {} is not supported by model {}: it embeds into {} dimensions",
            d, model.name, model.dimension
        )));
    }
    config.vector_type = VectorType::Dense {
        dimension: model.dimension,
    };
    config.metric = metric;
    config.embed = Some(crate::config::EmbedConfig {
        model: model.name.to_string(),
        field,
        read_parameters: parse_parameters(e.get("read_parameters"), "read_parameters")?,
        write_parameters: parse_parameters(e.get("write_parameters"), "write_parameters")?,
    });
    Ok(config)
}

/// `field_map`: `{"text": "<field>"}`.
fn parse_field_map(v: Option<&Json>) -> Result<Option<String>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let fm = obj(v, "embed.field_map")?;
    match fm.get("text") {
        Some(Json::String(f)) if !f.is_empty() => Ok(Some(f.clone())),
        _ => Err(Error::invalid(
            "embed.field_map must map 'text' to the name of the record field to embed",
        )),
    }
}

fn parse_parameters(v: Option<&Json>, what: &str) -> Result<Map<String, Json>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Map::new());
    };
    let p = obj(v, what)?.clone();
    super::embed::Truncate::from_parameters(&p)?;
    if let Some(t) = p.get("input_type") {
        match t.as_str() {
            Some("query" | "passage") => {}
            _ => {
                return Err(Error::invalid(format!(
                    "Invalid {what}.input_type {t}. Expected 'passage' or 'query'."
                )));
            }
        }
    }
    Ok(p)
}

fn parse_create_classic(m: &Map<String, Json>, config: &mut IndexConfig) -> Result<()> {
    let vector_type = opt_str(m, "vector_type")?.unwrap_or("dense");
    let metric = opt_str(m, "metric")?.map(parse_metric).transpose()?;
    match vector_type {
        "dense" => {
            let dim = m
                .get("dimension")
                .filter(|v| !v.is_null())
                .ok_or_else(|| Error::invalid("dimension is required for dense indexes"))?;
            config.vector_type = VectorType::Dense {
                dimension: parse_dimension(dim)?,
            };
            config.metric = metric.unwrap_or(Metric::Cosine);
        }
        "sparse" => {
            if m.get("dimension").is_some_and(|v| !v.is_null()) {
                return Err(Error::invalid(
                    "dimension must not be provided for sparse indexes",
                ));
            }
            config.vector_type = VectorType::Sparse;
            config.metric = metric.unwrap_or(Metric::DotProduct);
        }
        other => {
            return Err(Error::invalid(format!(
                "Invalid vector_type '{other}'. Expected 'dense' or 'sparse'."
            )));
        }
    }
    let spec = m
        .get("spec")
        .ok_or_else(|| malformed("missing field `spec`"))?;
    let spec = obj(spec, "spec")?;
    if let Some(serverless) = spec.get("serverless") {
        let s = obj(serverless, "spec.serverless")?;
        config.cloud = opt_str(s, "cloud")?
            .ok_or_else(|| malformed("spec.serverless: missing field `cloud`"))?
            .to_string();
        config.region = opt_str(s, "region")?
            .ok_or_else(|| malformed("spec.serverless: missing field `region`"))?
            .to_string();
        if let Some(rc) = s.get("read_capacity").filter(|v| !v.is_null()) {
            config.read_capacity = parse_read_capacity(rc)?;
        }
        Ok(())
    } else if spec.contains_key("pod") || spec.contains_key("byoc") {
        Err(Error::invalid(
            "Larch serves serverless indexes only; use spec.serverless with a cloud and region",
        ))
    } else {
        Err(malformed(
            "spec: expected exactly one of `serverless`, `pod` or `byoc`",
        ))
    }
}

fn parse_create_2026_07(m: &Map<String, Json>, config: &mut IndexConfig) -> Result<()> {
    let schema = m
        .get("schema")
        .ok_or_else(|| malformed("missing field `schema`"))?;
    let fields = obj(schema, "schema")?
        .get("fields")
        .ok_or_else(|| malformed("schema: missing field `fields`"))?;
    let mut vector_field = None;
    for (fname, f) in obj(fields, "schema.fields")? {
        let f = obj(f, &format!("schema.fields.{fname}"))?;
        match opt_str(f, "type")? {
            Some("dense_vector") => {
                let dim = f
                    .get("dimension")
                    .ok_or_else(|| Error::invalid("dimension is required for dense indexes"))?;
                let metric = opt_str(f, "metric")?.map(parse_metric).transpose()?;
                vector_field = Some((
                    VectorType::Dense {
                        dimension: parse_dimension(dim)?,
                    },
                    metric.unwrap_or(Metric::Cosine),
                ));
            }
            Some("sparse_vector") => {
                let metric = opt_str(f, "metric")?.map(parse_metric).transpose()?;
                vector_field = Some((VectorType::Sparse, metric.unwrap_or(Metric::DotProduct)));
            }
            // Metadata fields (`filterable`) are accepted; every field is filterable in Larch.
            _ => {}
        }
    }
    let (vector_type, metric) = vector_field.ok_or_else(|| {
        Error::invalid("schema.fields must define one dense_vector or sparse_vector field")
    })?;
    config.vector_type = vector_type;
    config.metric = metric;
    if let Some(d) = m.get("deployment").filter(|v| !v.is_null()) {
        let d = obj(d, "deployment")?;
        match opt_str(d, "deployment_type")? {
            None | Some("managed") | Some("serverless") => {}
            Some(other) => {
                return Err(Error::invalid(format!(
                    "Larch serves managed (serverless) indexes only, got deployment_type '{other}'"
                )));
            }
        }
        if let Some(cloud) = opt_str(d, "cloud")? {
            config.cloud = cloud.to_string();
        }
        if let Some(region) = opt_str(d, "region")? {
            config.region = region.to_string();
        }
    }
    Ok(())
}

/// `configure_index`'s `embed` over the index's current configuration: converts a dense
/// index whose dimension fits the model, or updates the field map and parameters of an
/// integrated one (whose model cannot change).
fn configure_embed(current: &IndexConfig, e: &Json) -> Result<crate::config::EmbedConfig> {
    let e = obj(e, "embed")?;
    let model_name = opt_str(e, "model")?;
    let mut embed = match (&current.embed, model_name) {
        (Some(old), Some(m)) if m != old.model => {
            return Err(Error::invalid(format!(
                "The embedding model of index '{}' is {} and cannot be changed to {m}",
                current.name, old.model
            )));
        }
        (Some(old), _) => old.clone(),
        (None, None) => {
            return Err(Error::invalid(
                "embed.model is required to configure integrated embedding on this index",
            ));
        }
        (None, Some(m)) => {
            let model = super::embed::model(m)?;
            match current.vector_type {
                VectorType::Dense { dimension } if dimension == model.dimension => {}
                VectorType::Dense { dimension } => {
                    return Err(Error::invalid(format!(
                        "Index '{}' has dimension {dimension}, but model {} embeds into {} \
                         dimensions",
                        current.name, model.name, model.dimension
                    )));
                }
                VectorType::Sparse => {
                    return Err(Error::invalid(format!(
                        "Index '{}' is sparse; model {} is dense",
                        current.name, model.name
                    )));
                }
            }
            crate::config::EmbedConfig {
                model: model.name.to_string(),
                field: String::new(),
                read_parameters: Map::new(),
                write_parameters: Map::new(),
            }
        }
    };
    if let Some(field) = parse_field_map(e.get("field_map"))? {
        embed.field = field;
    }
    if embed.field.is_empty() {
        return Err(Error::invalid(
            "embed.field_map is required to configure integrated embedding on this index",
        ));
    }
    if e.contains_key("read_parameters") {
        embed.read_parameters = parse_parameters(e.get("read_parameters"), "read_parameters")?;
    }
    if e.contains_key("write_parameters") {
        embed.write_parameters = parse_parameters(e.get("write_parameters"), "write_parameters")?;
    }
    if let Some(metric) = opt_str(e, "metric")?
        && parse_metric(metric)? != current.metric
    {
        return Err(Error::invalid(format!(
            "The metric of index '{}' is {} and cannot be changed",
            current.name,
            current.metric.as_str()
        )));
    }
    Ok(embed)
}

fn parse_configure(body: &Json) -> Result<ConfigureIndex> {
    let m = obj(body, "body")?;
    let mut change = ConfigureIndex::default();
    if let Some(dp) = opt_str(m, "deletion_protection")? {
        change.deletion_protection = Some(DeletionProtection::parse(dp)?);
    }
    if m.get("tags").is_some_and(|t| !t.is_null()) {
        change.tags = Some(parse_tags(m.get("tags"))?);
    }
    if let Some(spec) = m.get("spec").filter(|v| !v.is_null()) {
        let spec = obj(spec, "spec")?;
        if spec.contains_key("pod") {
            return Err(Error::invalid("Larch serves serverless indexes only"));
        }
        if let Some(s) = spec.get("serverless")
            && let Some(rc) = obj(s, "spec.serverless")?.get("read_capacity")
        {
            change.read_capacity = Some(parse_read_capacity(rc)?);
        }
    }
    if let Some(rc) = m.get("read_capacity").filter(|v| !v.is_null()) {
        change.read_capacity = Some(parse_read_capacity(rc)?);
    }
    Ok(change)
}
