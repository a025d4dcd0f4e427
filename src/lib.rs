//! # Larch
//!
//! A vector database engine that speaks Pinecone's data model. This crate is the engine: pure,
//! synchronous Rust with no I/O, no clock and no JavaScript types, so it builds and tests
//! natively and for `wasm32-unknown-unknown` (with `+simd128`). The npm package (`pkg-js/`) and
//! the Cloudflare Worker (`worker/`) wrap it.
//!
//! - [`db::Db`] holds indexes; each index holds namespaces; each namespace owns its records.
//! - [`api`] turns Pinecone REST requests into engine calls and engine results into Pinecone
//!   JSON — the one place Pinecone's wire semantics live.
//! - [`filter`], [`metadata`], [`distance`] and [`index`] are the building blocks of search.

#![warn(clippy::unwrap_used)]

pub mod api;
pub mod config;
pub mod db;
pub mod distance;
pub mod error;
pub mod filter;
pub mod format;
mod heap;
pub mod host;
pub mod index;
pub mod manifest;
pub mod metadata;
pub mod namespace;
pub mod record;
pub mod segment;
mod sort;
pub mod storage;

pub use config::{DeletionProtection, IndexConfig, VectorType};
pub use db::Db;
pub use distance::Metric;
pub use error::{Error, ErrorCode, Result};
pub use filter::Filter;
pub use metadata::{Metadata, Value};
pub use namespace::Namespace;
pub use record::{Record, SparseVector};
