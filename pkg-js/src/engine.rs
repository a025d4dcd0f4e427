//! `Engine`: the engine's REST API ([`larch::api::Api`]) for JS hosts.
//!
//! A host sends REST-shaped requests (method, path, query string, JSON body) and gets either a
//! response or the blob keys it must fetch and `provide` before retrying; after a response it
//! applies `takeWrites()` — each batch in one atomic step — before acknowledging the request.
//! Validation, routing and response shapes are the engine's: nothing Pinecone-specific here.

use larch::api::{Api, Request};
use wasm_bindgen::prelude::*;

use crate::convert::{EngineOptions, JsNeeds, JsResponse, JsWriteBatch, to_js};

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

    /// Handles one request. Returns `{status, contentType, body: Uint8Array, headers}`, or
    /// `{needs: [key, ...]}`: fetch those blobs, `provide` each (absent ones as `undefined`),
    /// and call again with the same request. Nothing changes until every blob is present.
    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        #[wasm_bindgen(js_name = apiVersion)] api_version: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let req = Request {
            method,
            path,
            query,
            body,
            api_version: api_version.as_deref(),
            index: None,
            namespaces: None,
        };
        match self.api.try_handle(&req) {
            Ok(response) => to_js(&JsResponse::from(response)),
            Err(needs) => to_js(&JsNeeds { needs }),
        }
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

    /// Background indexing between requests: advances pending HNSW graph builds by at most
    /// `budget` node insertions. Completed graphs are committed by the next `takeWrites()`
    /// (apply them like any other batch). Returns true while more work is pending. Until a
    /// segment's graph is ready it is searched exactly, so calling this is optional.
    #[wasm_bindgen(js_name = indexStep)]
    pub fn index_step(&mut self, budget: usize) -> bool {
        self.api.index_step(budget)
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
