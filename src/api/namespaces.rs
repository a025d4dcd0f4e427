//! The namespaces API: `/namespaces` and `/namespaces/{namespace}` (snake_case bodies,
//! camelCase query parameters).

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::limits::{MAX_SCHEMA_FIELDS, NAMESPACES_LIST_DEFAULT, NAMESPACES_LIST_MAX};
use super::wire::{self, QueryParams};
use super::{Ctx, Response};
use crate::db::{DEFAULT_NAMESPACE, Index};
use crate::error::{Error, Result};

/// A namespaces operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    List,
    Create,
    Describe(String),
    Delete(String),
}

impl Op {
    /// Resolves the segments after `/namespaces`; the name is percent-decoded strictly.
    pub fn parse(method: &str, rest: &[&str]) -> Result<Option<Op>> {
        Ok(match (method, rest) {
            ("GET", []) => Some(Op::List),
            ("POST", []) => Some(Op::Create),
            ("GET", [ns]) => Some(Op::Describe(wire::percent_decode(ns)?)),
            ("DELETE", [ns]) => Some(Op::Delete(wire::percent_decode(ns)?)),
            _ => None,
        })
    }
}

fn display_name(ctx: Ctx<'_>, name: &str) -> String {
    if ctx.legacy_default_namespace() && name == DEFAULT_NAMESPACE {
        String::new()
    } else {
        name.to_string()
    }
}

fn description(ctx: Ctx<'_>, name: &str, count: usize) -> Json {
    json!({"name": display_name(ctx, name), "record_count": count})
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    schema: Option<Json>,
}

pub(crate) fn handle(
    index: &mut Index,
    ctx: Ctx<'_>,
    op: Op,
    query: &str,
    body: &[u8],
) -> Result<Response> {
    match op {
        Op::List => {
            let params = QueryParams::parse(query)?;
            let limit = params.int(&["limit"], NAMESPACES_LIST_DEFAULT, NAMESPACES_LIST_MAX)?;
            let prefix = params.one(&["prefix"])?.unwrap_or("");
            let after = params.token()?;
            let names = index.namespace_names_page(prefix, after.as_deref(), limit)?;
            index.prepare_manifests(&names)?;
            let page = index.list_namespaces(prefix, after.as_deref(), limit)?;
            let namespaces: Vec<Json> = page
                .items
                .iter()
                .map(|(name, n)| description(ctx, name, *n))
                .collect();
            let mut out = json!({
                "namespaces": namespaces,
                "total_count": index.count_namespaces(prefix)?,
            });
            if let Some(p) = wire::pagination(page.next_after.as_deref()) {
                out["pagination"] = p;
            }
            Ok(Response::json(200, &out))
        }
        Op::Create => {
            let req: CreateBody = super::parse_body(body)?;
            if req.name.is_empty() {
                return Err(Error::invalid("Namespace name must not be empty"));
            }
            if let Some(schema) = req.schema.as_ref().filter(|s| !s.is_null()) {
                validate_schema(schema)?;
            }
            let name = index.create_namespace(&req.name)?;
            Ok(Response::json(200, &description(ctx, &name, 0)))
        }
        Op::Describe(name) => {
            index.prepare_manifests(&[crate::db::canonical_namespace(&name)?.to_string()])?;
            let (name, count) = index.describe_namespace(&name)?;
            Ok(Response::json(200, &description(ctx, &name, count)))
        }
        Op::Delete(name) => {
            index.delete_namespace(&name)?;
            Ok(Response::json(200, &json!({})))
        }
    }
}

/// A namespace metadata schema: `{"fields": {"genre": {"filterable": true}}}`, at most 50
/// fields. Every field is filterable in Larch, so the schema is validated and not stored.
fn validate_schema(schema: &Json) -> Result<()> {
    let fields = schema
        .get("fields")
        .and_then(Json::as_object)
        .ok_or_else(|| Error::invalid("schema must be an object with a 'fields' object"))?;
    if fields.len() > MAX_SCHEMA_FIELDS {
        return Err(Error::invalid(format!(
            "A metadata schema may define at most {MAX_SCHEMA_FIELDS} fields, got {}",
            fields.len()
        )));
    }
    for (name, f) in fields {
        if name.starts_with('$') {
            return Err(Error::invalid(format!(
                "Schema field names may not start with '$': '{name}'"
            )));
        }
        if f.get("filterable") != Some(&Json::Bool(true)) {
            return Err(Error::invalid(format!(
                "Schema field '{name}' must set \"filterable\": true"
            )));
        }
    }
    Ok(())
}
