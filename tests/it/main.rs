//! Larch's integration tests: one binary, one module per area.
//!
//! Tests that need proptest run natively only; the rest also run on wasm32 under Node with
//! wasm-bindgen-test (see `scripts/test.sh`).

mod common;

#[cfg(not(target_arch = "wasm32"))]
mod filter;

mod ann;
mod api_control;
mod api_data;
mod bad_input;
#[cfg(not(target_arch = "wasm32"))]
mod crash;
#[cfg(not(target_arch = "wasm32"))]
mod decoders;
mod embed;
mod engine;
mod hosts;
#[cfg(not(target_arch = "wasm32"))]
mod namespaces;
#[cfg(not(target_arch = "wasm32"))]
mod paged;
#[cfg(not(target_arch = "wasm32"))]
mod shard;
mod side;
mod storage;
