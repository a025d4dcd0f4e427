//! `Engine`: the engine's REST API ([`larch::api::Api`]) for JS hosts.
//!
//! A host sends REST-shaped requests (method, path, query string, JSON body) and gets either a
//! response or the blob keys it must fetch and `provide` before retrying; after a response it
//! applies `takeWrites()` — each batch in one atomic step — before acknowledging the request.
//! Validation, routing and response shapes are the engine's: nothing Pinecone-specific here.

use larch::api::{Api, Embedded, InputType, Request, SideVectors, Step};
use larch::host::INDEX_STEP_BUDGET;
use wasm_bindgen::prelude::*;

use crate::convert::{
    EngineOptions, JsEmbedNeed, JsEmbedTexts, JsModuleNeed, JsNeeds, JsResponse, JsWriteBatch,
    known_namespaces, response_js, route_js, shard_rounds, shard_step_js, to_js,
};
use crate::error::invalid_argument;

/// The Larch engine behind one database.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Engine {
    api: Api,
    persistent: bool,
}

#[wasm_bindgen]
impl Engine {
    /// `new Engine({persistent?, hostTemplate?, sealRecords?, maxLogEntries?, maxSegments?,
    /// annMinRecords?})`.
    /// A persistent engine starts empty-handed and asks for the blobs it needs (first the
    /// root); an in-memory one never asks and never writes.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Engine, JsValue> {
        let options = EngineOptions::from_js(options)?;
        let mut api = if options.persistent {
            Api::open(options.api_options(), options.storage_config())
        } else {
            Api::new(options.api_options())
        };
        if let Some(ann) = options.ann_config() {
            api.db_mut().set_ann_config(ann);
        }
        api.db_mut()
            .set_namespace_budget(options.max_namespace_bytes);
        Ok(Engine {
            api,
            persistent: options.persistent,
        })
    }

    /// True when the engine's state lives in a host store.
    #[wasm_bindgen(getter)]
    pub fn persistent(&self) -> bool {
        self.persistent
    }

    /// True when this build uses WebAssembly SIMD128 kernels.
    #[wasm_bindgen(js_name = simd)]
    pub fn simd() -> bool {
        cfg!(all(target_arch = "wasm32", target_feature = "simd128"))
    }

    /// True for the full build (every engine feature); false for the search module, which
    /// answers `{module: feature}` to requests that need the full one.
    pub fn full() -> bool {
        cfg!(all(feature = "integrated", feature = "legacy-formats"))
    }

    /// Handles one request. Returns `{status, contentType, body: Uint8Array, headers}`, or
    /// `{needs: [key, ...]}`: fetch those blobs, `provide` each (absent ones as `undefined`),
    /// and call again with the same request. Nothing changes until every blob is present, and
    /// the engine never asks twice for a blob it was given during one request (it answers
    /// with an internal error instead), so hosts loop only while it names keys.
    /// `namespaces` (`[{name, recordCount}]`, optional) are the index's namespaces as the host
    /// knows them: stats and namespace listings are rendered from them.
    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        #[wasm_bindgen(js_name = apiVersion)] api_version: Option<String>,
        namespaces: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.run(
            Request {
                method,
                path,
                query,
                body,
                api_version: api_version.as_deref(),
                ..Request::default()
            },
            namespaces,
        )
    }

    /// `handle` with dense vectors beside the body instead of in its JSON. In: `floats` holds
    /// every slot's values concatenated, `lengths` one entry per slot (`0xFFFFFFFF` for a slot
    /// without side values); slots: upsert, one per element of `vectors`; query, one
    /// (`vector`); update, one (`values`); the engine validates them as it validates JSON
    /// values (`undefined` for both: none). With `validateOnly`, an upsert is checked and
    /// answered but not applied (to validate every part of a large upsert before applying
    /// any). Out: with `sideValues`, query matches and fetched records carry no `values` in
    /// the JSON; the response has `valueIds` (string[]), `values` (Float32Array) and
    /// `valueLengths` (Uint32Array) instead, one slot per id.
    #[wasm_bindgen(js_name = handleVectors)]
    #[allow(clippy::too_many_arguments)]
    pub fn handle_vectors(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        #[wasm_bindgen(js_name = apiVersion)] api_version: Option<String>,
        namespaces: JsValue,
        floats: Option<Box<[f32]>>,
        lengths: Option<Box<[u32]>>,
        #[wasm_bindgen(js_name = validateOnly)] validate_only: bool,
        #[wasm_bindgen(js_name = sideValues)] side_values: bool,
    ) -> Result<JsValue, JsValue> {
        let vectors = match (&floats, &lengths) {
            (Some(f), Some(l)) => Some(SideVectors::new(f, l)),
            _ => None,
        };
        self.run(
            Request {
                method,
                path,
                query,
                body,
                api_version: api_version.as_deref(),
                vectors,
                validate_only,
                side_values,
                ..Request::default()
            },
            namespaces,
        )
    }

    /// One attempt at `req` with the host's `namespaces`.
    fn run(&mut self, req: Request<'_>, namespaces: JsValue) -> Result<JsValue, JsValue> {
        let known = known_namespaces(namespaces)?;
        let req = Request {
            namespaces: known.as_ref(),
            ..req
        };
        match self.api.step(&req) {
            Step::Done(response) => response_js(response),
            Step::Blobs(needs) => to_js(&JsNeeds { needs }),
            Step::Embed {
                model,
                input_type,
                texts,
            } => to_js(&JsEmbedNeed {
                embed: JsEmbedTexts {
                    model,
                    input_type: input_type.as_str(),
                    texts,
                },
            }),
            Step::Module(feature) => to_js(&JsModuleNeed { module: feature }),
        }
    }

    /// Hands over the embeddings of the texts an `{embed: {model, inputType, texts}}` answer
    /// asked for (in its order): `values` every text's vector concatenated, `tokens` the
    /// tokens each used and `untruncated` the tokens each has before truncation (the
    /// `larch-embed` module's `Embedder.embed` and `tokenCounts` give them). Then call
    /// `handle` again with the same request.
    #[wasm_bindgen(js_name = provideEmbeddings)]
    pub fn provide_embeddings(
        &mut self,
        model: &str,
        #[wasm_bindgen(js_name = inputType)] input_type: &str,
        texts: Vec<String>,
        values: &[f32],
        tokens: &[u32],
        untruncated: &[u32],
    ) -> Result<(), JsValue> {
        let input_type = match input_type {
            "passage" => InputType::Passage,
            "query" => InputType::Query,
            other => return Err(invalid_argument(&format!("unknown input type {other:?}"))),
        };
        let n = texts.len();
        if n == 0 || tokens.len() != n || untruncated.len() != n || !values.len().is_multiple_of(n)
        {
            return Err(invalid_argument(
                "provideEmbeddings: one vector, token count and untruncated count per text",
            ));
        }
        let dim = values.len() / n;
        let embedded = values
            .chunks_exact(dim)
            .zip(tokens.iter().zip(untruncated))
            .map(|(v, (&t, &u))| Embedded {
                values: v.to_vec(),
                tokens: t,
                untruncated_tokens: u,
            })
            .collect();
        self.api
            .provide_embeddings(model, input_type, texts, embedded);
        Ok(())
    }

    /// Hands over a blob the host fetched; `undefined` when the store has no such key.
    pub fn provide(&mut self, key: String, bytes: Option<Vec<u8>>) {
        self.api.provide(key, bytes);
    }

    /// Evicts idle namespaces until at most `keep` per index stay in memory (persistent
    /// engines only); they reload from the store on next use. Returns how many were evicted.
    #[wasm_bindgen(js_name = evictIdle)]
    pub fn evict_idle(&mut self, keep: usize) -> usize {
        self.api.evict_idle(keep)
    }

    /// Background indexing between requests: advances pending HNSW graph builds, int8
    /// quantization and consolidation by at most `budget` node insertions (default: the
    /// engine's step budget, a few milliseconds of work). Completed work is committed by the
    /// next `takeWrites()` (apply it like any other batch). Returns true while more work is
    /// pending. Until a segment's graph is ready it is searched exactly, so calling this is
    /// optional.
    #[wasm_bindgen(js_name = indexStep)]
    pub fn index_step(&mut self, budget: Option<usize>) -> bool {
        self.api.index_step(budget.unwrap_or(INDEX_STEP_BUDGET))
    }

    /// The blobs background work waits for (row groups of paged segments that a merge
    /// copies): hosts fetch them and hand them over with `provide` before the next
    /// `indexStep`.
    #[wasm_bindgen(js_name = indexNeeds)]
    pub fn index_needs(&self) -> Vec<String> {
        self.api.index_needs()
    }

    /// True when `indexStep` has work to do. A pure probe: it changes nothing, so hosts call
    /// it after every request to decide whether to schedule background indexing.
    #[wasm_bindgen(js_name = indexingPending)]
    pub fn indexing_pending(&self) -> bool {
        self.api.indexing_pending()
    }

    /// Progress of the graph builds `indexStep` advances: `[nodesInserted, nodesInAll]` over
    /// the segments being indexed (`[0, 0]` when none is). A pure probe.
    #[wasm_bindgen(js_name = indexingProgress)]
    pub fn indexing_progress(&self) -> Vec<u32> {
        let (done, total) = self.api.indexing_progress();
        vec![done as u32, total as u32]
    }

    /// Bytes the loaded namespaces keep in memory (what `maxNamespaceBytes` limits).
    #[wasm_bindgen(js_name = residentBytes)]
    pub fn resident_bytes(&self) -> usize {
        self.api.db().resident_bytes()
    }

    /// `residentBytes` by part, summed over the loaded namespaces: `{memtable, columns,
    /// tombstones, graphs, codes, postings, sparseIndex, rowLayouts, rowCache, consolidation,
    /// persist, other}` in bytes (a diagnostic).
    #[wasm_bindgen(js_name = memoryReport)]
    pub fn memory_report(&self) -> Result<JsValue, JsValue> {
        serde_wasm_bindgen::to_value(&self.api.db().memory_report())
            .map_err(|e| JsValue::from_str(&e.to_string()))
    }

    /// Row groups of paged segments touched by query rescoring in the loaded namespaces since
    /// they were loaded: `[searches, groups, candidates]` (a diagnostic; hosts report deltas).
    #[wasm_bindgen(js_name = rowsTouched)]
    pub fn rows_touched(&self) -> Vec<f64> {
        let t = self.api.db().rows_touched();
        vec![t.searches as f64, t.groups as f64, t.candidates as f64]
    }

    /// Which engine serves a request, for hosts that keep namespaces in separate engines:
    /// `{plane, scope: "control" | "index" | "namespace", index?, namespace?, write}`, or
    /// `{response}` for a request answered without any engine (a malformed path, an unknown
    /// route). `namespace` is canonical (`""` is `"__default__"`).
    pub fn classify(
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Result<JsValue, JsValue> {
        let req = Request {
            method,
            path,
            query,
            body,
            ..Request::default()
        };
        route_js(Api::classify(&req))
    }

    /// The next step of a namespace request to a namespace of `shards` shard engines
    /// (`Api::shard_step`): `create` is the body of the request that created the index,
    /// `rounds` the answers of the steps sent so far (`[[{status, body}]]`, oldest first).
    /// Answers `{send: [{shard, method, path, query, body}]}` (send them in parallel, then call
    /// again with their answers appended), `{pass: i}` (answer with the last round's i-th
    /// answer, headers included) or `{response}`.
    #[wasm_bindgen(js_name = shardStep)]
    #[allow(clippy::too_many_arguments)]
    pub fn shard_step(
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        #[wasm_bindgen(js_name = apiVersion)] api_version: Option<String>,
        create: &[u8],
        shards: u32,
        rounds: JsValue,
    ) -> Result<JsValue, JsValue> {
        let req = Request {
            method,
            path,
            query,
            body,
            api_version: api_version.as_deref(),
            ..Request::default()
        };
        shard_step_js(Api::shard_step(
            &req,
            create,
            shards,
            &shard_rounds(rounds)?,
        ))
    }

    /// The shard (`0..shards`) of a record id (`larch::api::shard_of`).
    #[wasm_bindgen(js_name = shardOf)]
    pub fn shard_of(id: &str, shards: u32) -> u32 {
        larch::api::shard_of(id, shards)
    }

    /// The largest body a request may carry; hosts refuse larger ones (with `bodyTooLarge`)
    /// before reading them.
    #[wasm_bindgen(js_name = maxBodyBytes)]
    pub fn max_body_bytes(method: &str, path: &str) -> usize {
        larch::api::max_body_bytes(method, path)
    }

    /// The most records one upsert request may carry (hosts that split larger upserts use
    /// it with `maxBodyBytes`).
    #[wasm_bindgen(js_name = maxUpsertRecords)]
    pub fn max_upsert_records() -> usize {
        larch::api::limits::MAX_UPSERT_RECORDS
    }

    /// Pinecone's answer to a body of `size` bytes over `maxBodyBytes` (the engine's own
    /// answer when handed such a body), for hosts that refuse it from `Content-Length`.
    #[wasm_bindgen(js_name = bodyTooLarge)]
    pub fn body_too_large(method: &str, path: &str, size: usize) -> Result<JsValue, JsValue> {
        to_js(&JsResponse::from(Api::body_too_large(method, path, size)))
    }

    /// The answer to a data-plane request to a paused index (`replicas: 0`), for hosts that
    /// enforce read capacity themselves (`shardHost`).
    #[wasm_bindgen(js_name = indexPaused)]
    pub fn index_paused(path: &str, index: &str) -> Result<JsValue, JsValue> {
        to_js(&JsResponse::from(Api::index_paused(path, index)))
    }

    /// Pinecone's answer to a failed authentication, in the plane's shape.
    pub fn unauthenticated(path: &str) -> Result<JsValue, JsValue> {
        to_js(&JsResponse::from(Api::unauthenticated(path)))
    }

    /// The answer to a failure outside the engine (a platform error), in the plane's shape.
    #[wasm_bindgen(js_name = internalError)]
    pub fn internal_error(path: &str) -> Result<JsValue, JsValue> {
        to_js(&JsResponse::from(Api::internal_error(path)))
    }

    /// The write batches of everything handled since the last call, oldest first, as
    /// `[{puts: [[key, Uint8Array]], deletes: [key], deletePrefixes: [prefix]}]`. Apply each
    /// in one atomic step — puts in order, then deletes, then prefix deletes.
    #[wasm_bindgen(js_name = takeWrites)]
    pub fn take_writes(&mut self) -> Result<JsValue, JsValue> {
        let batches: Vec<JsWriteBatch> = self
            .api
            .take_writes()
            .into_iter()
            .filter(|b| !b.is_empty())
            .map(JsWriteBatch::from)
            .collect();
        to_js(&batches)
    }
}
