//! The wasm module's JS surface (wasm-bindgen), compiled only for wasm32: one class,
//! `Embedder`, that a host loads when an index uses a model and asks to embed texts.

use wasm_bindgen::prelude::*;

use crate::MiniLm;

/// all-MiniLM-L6-v2 loaded from its weights (any form `weights.rs` reads) and `vocab.txt`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Embedder {
    model: MiniLm,
}

#[wasm_bindgen]
impl Embedder {
    #[wasm_bindgen(constructor)]
    pub fn new(weights: &[u8], vocab: &str) -> Result<Embedder, JsError> {
        Ok(Embedder {
            model: MiniLm::load(weights, vocab)?,
        })
    }

    /// Embeds `texts`: their unit vectors, concatenated (384 floats per text).
    pub fn embed(&self, texts: Vec<String>) -> Result<Vec<f32>, JsError> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok(self
            .model
            .embed(&refs)?
            .into_iter()
            .flat_map(|e| e.values)
            .collect())
    }

    /// Tokens each text uses (after truncation, with `[CLS]`/`[SEP]`).
    #[wasm_bindgen(js_name = tokenCounts)]
    pub fn token_counts(&self, texts: Vec<String>) -> Vec<u32> {
        texts
            .iter()
            .map(|t| self.model.encode(t).ids.len() as u32)
            .collect()
    }

    /// Tokens each text has before truncation (more than 256 fails `truncate: NONE`).
    #[wasm_bindgen(js_name = untruncatedCounts)]
    pub fn untruncated_counts(&self, texts: Vec<String>) -> Vec<u32> {
        texts
            .iter()
            .map(|t| self.model.encode(t).untruncated_len as u32)
            .collect()
    }

    /// The model's name in Larch's API (`all-minilm-l6-v2`).
    #[wasm_bindgen(getter)]
    pub fn model(&self) -> String {
        crate::minilm::NAME.to_string()
    }
}
