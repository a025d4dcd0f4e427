//! Integrated embedding: the models Larch runs, the inference routes (`POST /embed`,
//! `GET /models`, `GET /models/{model}`) and the host protocol that embeds text.
//!
//! **The protocol.** The engine never links a model: the model runs in its own module
//! (`pkg-js/embed`, crate `larch-embed`), loaded by the host only when a request needs it. An
//! operation that needs text embedded fails with [`Error::NeedsEmbeddings`] naming the model,
//! the input type and the texts; [`super::Api::step`] hands that to the host as
//! [`super::Step::Embed`]; the host runs the model and calls [`super::Api::provide_embeddings`],
//! then runs the same request again, which now finds every vector. Nothing is stored before
//! every vector is present, exactly as with [`Error::NotLoaded`] and blobs. Vectors provided
//! for a request are dropped when it answers.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::{Ctx, Response};
use crate::error::{Error, Result};

/// What a text is embedded for (Pinecone's `input_type`): stored (`passage`) or searched
/// with (`query`). all-MiniLM-L6-v2 embeds both alike; the sparse model does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputType {
    Passage,
    Query,
}

impl InputType {
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::Passage => "passage",
            InputType::Query => "query",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "passage" => Ok(InputType::Passage),
            "query" => Ok(InputType::Query),
            other => Err(Error::invalid(format!(
                "Invalid input_type '{other}'. Expected 'passage' or 'query'."
            ))),
        }
    }
}

/// The error of a request for integrated embedding in a build without it (the npm package's
/// search module): the host runs it on the full build.
pub(crate) fn module_required(what: &'static str) -> Error {
    Error::ModuleRequired {
        feature: "integrated",
        what,
    }
}

/// A model Larch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub dimension: u32,
    /// Tokens the model reads, with its special tokens.
    pub max_tokens: usize,
    /// Texts per `/embed` request and per records upsert.
    pub max_batch: usize,
    /// The metric an index created for the model gets when the request names none.
    pub default_metric: &'static str,
}

/// Every model Larch runs.
pub const MODELS: &[ModelInfo] = &[ModelInfo {
    name: "all-minilm-l6-v2",
    description: "sentence-transformers all-MiniLM-L6-v2: English sentence embeddings, 384 \
                  dimensions, run locally (larch-embed, candle on wasm32+simd128)",
    dimension: 384,
    max_tokens: 256,
    max_batch: 96,
    default_metric: "cosine",
}];

/// The model named `name`, or Pinecone's "not found" error listing the available ones.
pub fn model(name: &str) -> Result<&'static ModelInfo> {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Error::ModelNotFound {
            model: name.to_string(),
            available: MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
        })
}

/// One text as the host embedded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// The dense vector (of the model's dimension).
    pub values: Vec<f32>,
    /// Tokens the model read (after truncation, with the special tokens).
    pub tokens: u32,
    /// Tokens the text has untruncated: more than the model's limit fails a request with
    /// `truncate: NONE`.
    pub untruncated_tokens: u32,
}

/// Vectors the host provided for the request in progress.
#[derive(Default, Clone)]
pub(crate) struct Provided {
    entries: Vec<((String, InputType, String), Embedded)>,
}

/// Counts only: printing the vectors would pull float formatting into the wasm.
impl std::fmt::Debug for Provided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provided")
            .field("texts", &self.entries.len())
            .finish()
    }
}

impl Provided {
    pub fn insert(&mut self, model: &str, input_type: InputType, text: String, e: Embedded) {
        let key = (model.to_string(), input_type, text);
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = e,
            None => self.entries.push((key, e)),
        }
    }

    fn get(&self, model: &str, input_type: InputType, text: &str) -> Option<&Embedded> {
        self.entries
            .iter()
            .find(|((m, t, s), _)| m == model && *t == input_type && s == text)
            .map(|(_, e)| e)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Truncation of texts longer than the model reads (Pinecone's `truncate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Truncate {
    End,
    None,
}

impl Truncate {
    pub fn from_parameters(p: &serde_json::Map<String, Json>) -> Result<Self> {
        match p.get("truncate").and_then(Json::as_str) {
            None | Some("END") => Ok(Truncate::End),
            Some("NONE") => Ok(Truncate::None),
            Some(other) => Err(Error::invalid(format!(
                "Invalid truncate '{other}'. Expected 'END' or 'NONE'."
            ))),
        }
    }
}

/// The embeddings of `texts`, in order, from what the host provided; every text not yet
/// provided is named in one [`Error::NeedsEmbeddings`].
pub(crate) fn embed<'p>(
    provided: &'p Provided,
    model: &ModelInfo,
    input_type: InputType,
    truncate: Truncate,
    texts: &[&str],
) -> Result<Vec<&'p Embedded>> {
    let missing: Vec<String> = texts
        .iter()
        .filter(|t| provided.get(model.name, input_type, t).is_none())
        .map(|t| t.to_string())
        .collect();
    if !missing.is_empty() {
        let mut unique: Vec<String> = Vec::with_capacity(missing.len());
        for t in missing {
            if !unique.contains(&t) {
                unique.push(t);
            }
        }
        return Err(Error::NeedsEmbeddings {
            model: model.name.to_string(),
            input_type,
            texts: unique,
        });
    }
    let out: Vec<&Embedded> = texts
        .iter()
        .filter_map(|t| provided.get(model.name, input_type, t))
        .collect();
    for (i, e) in out.iter().enumerate() {
        if e.values.len() != model.dimension as usize {
            return Err(Error::Internal {
                message: format!(
                    "the host embedded a text with {} values for {} ({} dimensions)",
                    e.values.len(),
                    model.name,
                    model.dimension
                ),
            });
        }
        if truncate == Truncate::None && e.untruncated_tokens as usize > model.max_tokens {
            return Err(Error::TextTooLong {
                input: i,
                tokens: e.untruncated_tokens as usize,
                limit: model.max_tokens,
                model: model.name.to_string(),
            });
        }
    }
    Ok(out)
}

/// An inference-plane operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Embed,
    ListModels,
    DescribeModel(String),
    Rerank,
}

impl Op {
    pub fn parse(method: &str, segments: &[&str]) -> Result<Option<Op>> {
        Ok(match (method, segments) {
            ("POST", ["embed"]) => Some(Op::Embed),
            ("GET", ["models"]) => Some(Op::ListModels),
            ("GET", ["models", name]) => {
                Some(Op::DescribeModel(super::wire::percent_decode(name)?))
            }
            ("POST", ["rerank"]) => Some(Op::Rerank),
            _ => None,
        })
    }
}

#[derive(Deserialize)]
struct EmbedBody {
    model: String,
    inputs: Vec<EmbedInput>,
    #[serde(default)]
    parameters: serde_json::Map<String, Json>,
}

#[derive(Deserialize)]
struct EmbedInput {
    text: String,
}

#[derive(Deserialize)]
struct RerankBody {
    model: String,
}

pub(crate) fn handle(provided: &Provided, _ctx: Ctx<'_>, op: Op, body: &[u8]) -> Result<Response> {
    match op {
        Op::ListModels => {
            let models: Vec<Json> = MODELS.iter().map(model_json).collect();
            Ok(Response::json(200, &json!({ "models": models })))
        }
        Op::DescribeModel(name) => Ok(Response::json(200, &model_json(model(&name)?))),
        Op::Rerank => {
            let req: RerankBody = super::parse_body(body)?;
            Err(no_reranker(&req.model))
        }
        Op::Embed => {
            let req: EmbedBody = super::parse_body(body)?;
            let m = model(&req.model)?;
            if req.inputs.is_empty() {
                return Err(Error::invalid("inputs must contain at least one text"));
            }
            if req.inputs.len() > m.max_batch {
                return Err(Error::invalid(format!(
                    "Batch size {} exceeds the maximum of {} inputs for model {}",
                    req.inputs.len(),
                    m.max_batch,
                    m.name
                )));
            }
            let input_type = match req.parameters.get("input_type").and_then(Json::as_str) {
                Some(s) => InputType::parse(s)?,
                None => InputType::Passage,
            };
            let truncate = Truncate::from_parameters(&req.parameters)?;
            let texts: Vec<&str> = req.inputs.iter().map(|i| i.text.as_str()).collect();
            let embedded = embed(provided, m, input_type, truncate, &texts)?;
            let total: u64 = embedded.iter().map(|e| u64::from(e.tokens)).sum();
            let data: Vec<Json> = embedded
                .iter()
                .map(|e| json!({"values": super::wire::f32s_json(&e.values), "vector_type": "dense"}))
                .collect();
            Ok(Response::json(
                200,
                &json!({"model": m.name, "vector_type": "dense", "data": data, "usage": {"total_tokens": total}}),
            ))
        }
    }
}

/// Rerank: Larch runs no cross-encoder, so every reranking model is one it does not have.
pub(crate) fn no_reranker(model: &str) -> Error {
    Error::ModelNotFound {
        model: model.to_string(),
        available: "none (Larch runs no reranking model)".into(),
    }
}

/// The model's `ModelInfo` (Pinecone's shape). Built from text: a `json!` literal of this
/// size costs ~4 KB of wasm.
fn model_json(m: &ModelInfo) -> Json {
    let text = format!(
        r#"{{"model":"{name}","short_description":"{description}","type":"embed",
        "vector_type":"dense","default_dimension":{dim},"supported_dimensions":[{dim}],
        "modality":"text","max_sequence_length":{max_tokens},"max_batch_size":{max_batch},
        "provider_name":"Larch (local)","supported_metrics":["cosine","dotproduct","euclidean"],
        "supported_parameters":[
          {{"parameter":"input_type","type":"one_of","value_type":"string","required":false,
            "allowed_values":["query","passage"],"default":"passage"}},
          {{"parameter":"truncate","type":"one_of","value_type":"string","required":false,
            "allowed_values":["END","NONE"],"default":"END"}}]}}"#,
        name = m.name,
        description = m.description,
        dim = m.dimension,
        max_tokens = m.max_tokens,
        max_batch = m.max_batch,
    );
    serde_json::from_str(&text).unwrap_or(Json::Null)
}
