//! The namespaces API: `/namespaces` and `/namespaces/{namespace}` (snake_case bodies,
//! camelCase query parameters).

use std::ops::Bound;

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::limits::{MAX_SCHEMA_FIELDS, NAMESPACES_LIST_DEFAULT, NAMESPACES_LIST_MAX};
use super::wire::{self, QueryParams};
use super::{Ctx, Response};
use crate::db::{DEFAULT_NAMESPACE, Index, IndexStats, Page, name_page, page_start};
use crate::error::{Error, Result};
use crate::sort::SmallSort;

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
            (_, [_, "documents", ..]) => {
                return Err(Error::Unimplemented {
                    what: "The documents API (full-text search indexes)".into(),
                });
            }
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

/// A NamespaceDescription. `size` is rendered as `size_bytes` (a decimal string, like
/// Pinecone's uint64 fields) only in API versions that carry it (2026-07 and later).
fn description(ctx: Ctx<'_>, name: &str, count: usize, size: u64) -> Json {
    let mut d = json!({"name": display_name(ctx, name), "record_count": count});
    if ctx.size_bytes() {
        d["size_bytes"] = Json::String(size.to_string());
    }
    d
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
            let (page, total) = match ctx.namespaces {
                Some(known) => known.page(prefix, after.as_deref(), limit),
                None => {
                    let page = index.list_namespaces(prefix, after.as_deref(), limit)?;
                    let total = index.count_namespaces(prefix)?;
                    let mut items = Vec::with_capacity(page.items.len());
                    for (name, n) in page.items {
                        let size = if ctx.size_bytes() {
                            index.namespace_size_bytes(&name)?
                        } else {
                            0
                        };
                        items.push((name, n, size));
                    }
                    let page = Page {
                        items,
                        next_after: page.next_after,
                    };
                    (page, total)
                }
            };
            let namespaces: Vec<Json> = page
                .items
                .iter()
                .map(|(name, n, size)| description(ctx, name, *n, *size))
                .collect();
            let mut out = json!({
                "namespaces": namespaces,
                "total_count": total,
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
            Ok(Response::json(200, &description(ctx, &name, 0, 0)))
        }
        Op::Describe(name) => {
            let (name, count, size) = match ctx.namespaces {
                Some(known) => known.describe(&name)?,
                None => {
                    let (name, count) = index.describe_namespace(&name)?;
                    let size = if ctx.size_bytes() {
                        index.namespace_size_bytes(&name)?
                    } else {
                        0
                    };
                    (name, count, size)
                }
            };
            Ok(Response::json(200, &description(ctx, &name, count, size)))
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

/// The namespaces of the target index as the host knows them, for hosts that keep an index's
/// namespaces in separate engines (the Worker: one Durable Object per namespace, which reports
/// its committed record count and its size). A request that carries them gets stats, namespace
/// listings and namespace descriptions rendered from them instead of from the engine's own
/// catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownNamespaces {
    /// Canonical names in byte order, each once, with their record counts and sizes in bytes
    /// (`size_bytes`).
    items: Vec<(String, usize, u64)>,
}

impl KnownNamespaces {
    /// Namespaces and record counts in any order; `""` and `"__default__"` are one namespace
    /// (the last count wins). Fails on a name no namespace can have. Sizes are 0.
    pub fn new(items: impl IntoIterator<Item = (String, usize)>) -> Result<Self> {
        Self::with_sizes(items.into_iter().map(|(name, n)| (name, n, 0)))
    }

    /// Like [`KnownNamespaces::new`], each namespace also with its size in bytes (rendered as
    /// `size_bytes` where the API version has it; the Worker reports resident bytes).
    pub fn with_sizes(items: impl IntoIterator<Item = (String, usize, u64)>) -> Result<Self> {
        let mut items = items
            .into_iter()
            .enumerate()
            .map(|(i, (name, count, size))| {
                Ok((
                    crate::db::canonical_namespace(&name)?.to_string(),
                    count,
                    size,
                    i,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // A name's entries stay in input order (the position breaks ties); the last one's
        // count is kept.
        items.small_sort_by(|a, b| a.0.cmp(&b.0).then(a.3.cmp(&b.3)));
        items.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = later.1;
                kept.2 = later.2;
            }
            same
        });
        let items = items.into_iter().map(|(n, c, s, _)| (n, c, s)).collect();
        Ok(KnownNamespaces { items })
    }

    pub(crate) fn stats(&self) -> IndexStats {
        IndexStats {
            namespaces: self.items.iter().map(|(n, c, _)| (n.clone(), *c)).collect(),
            total: self.items.iter().map(|(_, n, _)| n).sum(),
        }
    }

    fn describe(&self, name: &str) -> Result<(String, usize, u64)> {
        let canon = crate::db::canonical_namespace(name)?;
        match self
            .items
            .binary_search_by(|(n, _, _)| n.as_str().cmp(canon))
        {
            Ok(i) => Ok(self.items[i].clone()),
            Err(_) => Err(Error::NamespaceNotFound {
                name: canon.to_string(),
            }),
        }
    }

    /// A page of [`Op::List`] and the number of namespaces with `prefix`.
    fn page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> (Page<(String, usize, u64)>, usize) {
        let names = || self.items.iter().map(|(n, _, _)| n.as_str());
        let from = match page_start(prefix, after) {
            Bound::Included(s) => names().position(|n| n >= s),
            Bound::Excluded(s) => names().position(|n| n > s),
            Bound::Unbounded => Some(0),
        }
        .unwrap_or(self.items.len());
        let (page, more) = name_page(names().skip(from), prefix, limit);
        let items: Vec<(String, usize, u64)> = self.items[from..from + page.len()].to_vec();
        let total = names().filter(|n| n.starts_with(prefix)).count();
        (Page::of(items, more, |(n, _, _)| n.clone()), total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_namespaces_are_sorted_canonical_and_the_last_count_wins() {
        let known = KnownNamespaces::new([
            ("b".to_string(), 1),
            ("".to_string(), 2),
            ("a".to_string(), 3),
            ("b".to_string(), 4),
            ("__default__".to_string(), 5),
            ("b".to_string(), 6),
        ])
        .unwrap();
        let items = [("__default__", 5), ("a", 3), ("b", 6)].map(|(n, c)| (n.to_string(), c, 0));
        assert_eq!(known.items, items);
        assert!(KnownNamespaces::new([("a\0b".to_string(), 1)]).is_err());
    }
}
