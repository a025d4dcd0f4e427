//! The records API of indexes with integrated embedding:
//! `POST /records/namespaces/{namespace}/upsert` (NDJSON) and
//! `POST /records/namespaces/{namespace}/search`. Bodies and errors are snake_case with the
//! control-plane error shape (reference §2). Texts are embedded through the host protocol of
//! `api::embed`.

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::embed::{self, InputType, Provided, Truncate};
use super::wire::metadata_from;
use super::{Response, wire};
use crate::config::EmbedConfig;
use crate::db::{Index, Query, QuerySource};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::namespace::QueryVector;
use crate::record::Record;

/// Records per upsert with text (Pinecone's limit, reference §5).
pub const MAX_TEXT_RECORDS: usize = 96;

/// A records operation on one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Upsert(String),
    Search(String),
}

impl Op {
    /// Resolves the segments after `records`.
    pub fn parse(method: &str, rest: &[&str]) -> Result<Option<Op>> {
        Ok(match (method, rest) {
            ("POST", ["namespaces", ns, "upsert"]) => Some(Op::Upsert(wire::percent_decode(ns)?)),
            ("POST", ["namespaces", ns, "search"]) => Some(Op::Search(wire::percent_decode(ns)?)),
            _ => None,
        })
    }
}

pub(crate) fn handle(
    index: &mut Index,
    provided: &Provided,
    op: Op,
    body: &[u8],
) -> Result<Response> {
    match op {
        Op::Upsert(ns) => upsert(index, provided, &ns, body),
        Op::Search(ns) => search(index, provided, &ns, body),
    }
}

fn embed_config(index: &Index) -> Result<EmbedConfig> {
    index.config().embed.clone().ok_or_else(|| {
        Error::invalid(format!(
            "Index '{}' is not configured for integrated embedding: create it with \
             create-for-model or configure it with embed",
            index.config().name
        ))
    })
}

fn upsert(index: &mut Index, provided: &Provided, ns: &str, body: &[u8]) -> Result<Response> {
    let embed = embed_config(index)?;
    let model = embed::model(&embed.model)?;
    let text = std::str::from_utf8(body).map_err(|e| Error::Malformed {
        reason: format!("the NDJSON body is not UTF-8: {e}"),
    })?;
    let mut rows = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(line).map_err(|e| Error::Malformed {
            reason: format!("line {}: {e}", line_no + 1),
        })?;
        let Json::Object(mut fields) = v else {
            return Err(Error::Malformed {
                reason: format!("line {}: a record must be a JSON object", line_no + 1),
            });
        };
        let id = match (fields.remove("_id"), fields.remove("id")) {
            (Some(Json::String(id)), None) | (None, Some(Json::String(id))) => id,
            (Some(_), Some(_)) => {
                return Err(Error::invalid(format!(
                    "line {}: a record has either '_id' or 'id', not both",
                    line_no + 1
                )));
            }
            (None, None) => {
                return Err(Error::invalid(format!(
                    "line {}: a record needs an '_id' (or 'id')",
                    line_no + 1
                )));
            }
            _ => {
                return Err(Error::invalid(format!(
                    "line {}: '_id' must be a string",
                    line_no + 1
                )));
            }
        };
        let source = match fields.get(&embed.field) {
            Some(Json::String(s)) => s.clone(),
            _ => {
                return Err(Error::MissingTextField {
                    id,
                    field: embed.field.clone(),
                    model: model.name.to_string(),
                });
            }
        };
        // Every field, the embedded text among them, is kept as metadata (hits return it).
        let metadata = metadata_from(Some(&Json::Object(fields)))?;
        rows.push((id, source, metadata));
    }
    if rows.is_empty() {
        return Err(Error::invalid("the upsert holds no records"));
    }
    if rows.len() > MAX_TEXT_RECORDS {
        return Err(Error::invalid(format!(
            "Upsert of {} records exceeds the maximum of {MAX_TEXT_RECORDS} records with text per request",
            rows.len()
        )));
    }
    // Every record checked (ids, metadata) before asking the host for any vector.
    let probe: Vec<Record> = rows
        .iter()
        .map(|(id, _, md)| Record {
            id: id.clone(),
            values: vec![0.5; model.dimension as usize],
            sparse_values: None,
            metadata: md.clone(),
        })
        .collect();
    index.validate_upsert(ns, probe)?;
    let truncate = Truncate::from_parameters(&embed.write_parameters)?;
    let texts: Vec<&str> = rows.iter().map(|(_, t, _)| t.as_str()).collect();
    let vectors = embed::embed(provided, model, InputType::Passage, truncate, &texts)?;
    let records: Vec<Record> = rows
        .into_iter()
        .zip(vectors)
        .map(|((id, _, metadata), e)| Record {
            id,
            values: e.values.clone(),
            sparse_values: None,
            metadata,
        })
        .collect();
    index.upsert(ns, records)?;
    Ok(Response::empty(201))
}

#[derive(Deserialize)]
struct SearchBody {
    query: SearchQuery,
    #[serde(default)]
    fields: Option<Vec<String>>,
    #[serde(default)]
    rerank: Option<RerankSpec>,
}

#[derive(Deserialize)]
struct SearchQuery {
    top_k: Option<i64>,
    #[serde(default)]
    inputs: Option<SearchInputs>,
    #[serde(default)]
    vector: Option<SearchVector>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    filter: Option<Json>,
    #[serde(default)]
    match_terms: Option<Json>,
}

#[derive(Deserialize)]
struct SearchInputs {
    text: Option<String>,
}

#[derive(Deserialize)]
struct SearchVector {
    #[serde(default)]
    values: Option<Vec<f32>>,
    #[serde(default)]
    sparse_values: Option<Vec<f32>>,
    #[serde(default)]
    sparse_indices: Option<Vec<u32>>,
}

#[derive(Deserialize)]
struct RerankSpec {
    model: String,
}

fn search(index: &mut Index, provided: &Provided, ns: &str, body: &[u8]) -> Result<Response> {
    let req: SearchBody = super::parse_body(body)?;
    if let Some(rerank) = &req.rerank {
        return Err(embed::no_reranker(&rerank.model));
    }
    if req.query.match_terms.is_some() {
        return Err(Error::invalid(
            "match_terms is only supported for sparse indexes with pinecone-sparse-english-v0, \
             which Larch does not run",
        ));
    }
    let top_k = req
        .query
        .top_k
        .ok_or_else(|| Error::invalid("query.top_k is required"))?;
    let top_k = usize::try_from(top_k).unwrap_or(0);
    let filter = match &req.query.filter {
        None | Some(Json::Null) => None,
        Some(f) => Some(Filter::parse(f)?),
    };
    let text = req.query.inputs.as_ref().and_then(|i| i.text.clone());
    let given = [
        text.is_some(),
        req.query.vector.is_some(),
        req.query.id.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(Error::invalid(
            "A search query needs exactly one of query.inputs.text, query.vector or query.id",
        ));
    }
    let mut embed_tokens = None;
    let source = if let Some(text) = text {
        let embed = embed_config(index)?;
        let model = embed::model(&embed.model)?;
        let truncate = Truncate::from_parameters(&embed.read_parameters)?;
        let e = embed::embed(
            provided,
            model,
            InputType::Query,
            truncate,
            &[text.as_str()],
        )?;
        embed_tokens = Some(e[0].tokens);
        QuerySource::Vector(QueryVector {
            values: Some(e[0].values.clone()),
            sparse_values: None,
        })
    } else if let Some(v) = req.query.vector {
        let sparse = match (v.sparse_indices, v.sparse_values) {
            (Some(indices), Some(values)) => {
                Some(crate::index::sparse::SparseVector::new(indices, values)?)
            }
            (None, None) => None,
            _ => {
                return Err(Error::invalid(
                    "query.vector.sparse_indices and sparse_values go together",
                ));
            }
        };
        QuerySource::Vector(QueryVector {
            values: v.values,
            sparse_values: sparse,
        })
    } else {
        QuerySource::Id(req.query.id.unwrap_or_default())
    };
    let query = Query {
        vector: source,
        top_k,
        filter,
        include_values: false,
        include_metadata: true,
    };
    let matches = index.query(ns, &query)?;
    let hits: Vec<Json> = matches
        .into_iter()
        .map(|m| {
            let all = m
                .metadata
                .map(|md| md.to_json())
                .unwrap_or_else(|| json!({}));
            let fields = match (&req.fields, all) {
                (Some(wanted), Json::Object(all)) => Json::Object(
                    all.into_iter()
                        .filter(|(k, _)| wanted.contains(k))
                        .collect::<Map<_, _>>(),
                ),
                (_, all) => all,
            };
            json!({"_id": m.id, "_score": wire::f32_json(m.score), "fields": fields})
        })
        .collect();
    let mut usage = json!({"read_units": 1});
    if let Some(t) = embed_tokens {
        usage["embed_total_tokens"] = json!(t);
    }
    Ok(Response::json(
        200,
        &json!({"result": {"hits": hits}, "usage": usage}),
    ))
}
