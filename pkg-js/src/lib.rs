//! # larch-js
//!
//! The JavaScript binding of the Larch engine, compiled to `wasm32-unknown-unknown` (+simd128)
//! and wrapped by the TypeScript facade in `pkg-js/js/`. One file per exported class:
//!
//! - [`engine::Engine`] wraps [`larch::api::Api`]: REST-shaped requests in, REST responses
//!   out, or the blob keys the host must fetch first; write batches as plain JS objects.
//! - [`memory_store::MemoryStore`] is the engine's in-memory host store with its snapshot
//!   format (Node's directory store writes that snapshot).
//! - [`idb_store::IdbStore`] is the IndexedDB store: every batch commits in one transaction
//!   together with a generation counter that other tabs compare against.
//!
//! `convert.rs` holds the JS ⇄ Rust shapes, `error.rs` the JS errors (each with a `code`).
//! Pinecone semantics are not here: they live once in the engine's `api` module.

pub mod convert;
pub mod engine;
pub mod error;
pub mod idb_store;
pub mod memory_store;

pub use engine::Engine;
pub use idb_store::IdbStore;
pub use memory_store::MemoryStore;
