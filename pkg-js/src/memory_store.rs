//! `MemoryStore`: the engine's in-memory host store ([`larch::storage::MemoryStore`]) for JS,
//! with its snapshot format — one byte string for the whole store, which Node's directory
//! store writes to a file atomically (write a temporary file, then rename).

use js_sys::{Array, Uint8Array};
use larch::storage::{self, WriteBatch};
use wasm_bindgen::prelude::*;

use crate::convert::JsWriteBatch;
use crate::error::{code, js_error};

/// Blobs in memory.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: storage::MemoryStore,
}

#[wasm_bindgen]
impl MemoryStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Reads a snapshot made by `toBytes`; a damaged one fails with code `DATA_LOSS`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<MemoryStore, JsValue> {
        storage::MemoryStore::from_bytes(bytes)
            .map(|inner| MemoryStore { inner })
            .map_err(|e| js_error("LarchDataLossError", code::DATA_LOSS, &e.to_string()))
    }

    /// The whole store as one byte string.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes()
    }

    /// The blobs under `keys`, in order; `undefined` for absent ones.
    pub fn get(&self, keys: Vec<String>) -> Array {
        keys.iter()
            .map(|k| match self.inner.get(k) {
                Some(b) => Uint8Array::from(b).into(),
                None => JsValue::UNDEFINED,
            })
            .collect()
    }

    /// Applies write batches (as made by `Engine.takeWrites`) in order.
    pub fn apply(&mut self, batches: Vec<JsValue>) -> Result<(), JsValue> {
        let batches = batches
            .into_iter()
            .map(|b| JsWriteBatch::from_js(b).map(WriteBatch::from))
            .collect::<Result<Vec<_>, _>>()?;
        for b in &batches {
            self.inner.apply(b);
        }
        Ok(())
    }

    /// Number of blobs.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    /// Total stored bytes.
    #[wasm_bindgen(getter, js_name = totalBytes)]
    pub fn total_bytes(&self) -> usize {
        self.inner.total_bytes()
    }

    /// Keys in order.
    pub fn keys(&self) -> Vec<String> {
        self.inner.keys().map(str::to_string).collect()
    }
}
