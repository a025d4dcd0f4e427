//! Larch's local embedding models, a crate apart from the engine so that the search wasm
//! stays small: hosts load this module only when an index uses a model.
//!
//! - [`MiniLm`]: the dense sentence model all-MiniLM-L6-v2 (384 dimensions) on candle, with
//!   its WordPiece tokenizer ([`wordpiece`]).
//! - [`weights`]: the weight forms (f32, f16, int8) and the converter `scripts/fetch-model.sh`
//!   runs.
//!
//! The engine's API never calls this crate: it answers "embed these texts with model M" and
//! the host runs the model and hands the vectors back.

pub mod minilm;
pub mod weights;
pub mod wordpiece;

pub use minilm::{Embedding, MiniLm};

/// What can go wrong loading or running a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The weight or vocabulary files are unusable.
    #[error("invalid model weights: {reason}")]
    Weights { reason: String },
    /// The forward pass failed (a shape or a tensor operation).
    #[error("inference failed: {reason}")]
    Inference { reason: String },
}

impl Error {
    pub(crate) fn weights(e: impl std::fmt::Display) -> Self {
        Self::Weights {
            reason: e.to_string(),
        }
    }
    pub(crate) fn inference(e: impl std::fmt::Display) -> Self {
        Self::Inference {
            reason: e.to_string(),
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm;
