//! JS errors raised by the binding. Every one is an `Error` with a `name` and a stable `code`,
//! so the facade (and users) can branch on `err.code` rather than on messages.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

/// Codes of errors raised by the binding itself (Pinecone errors come from the engine's
/// responses and are turned into JS errors by the facade).
pub mod code {
    /// Options or a write batch of the wrong shape.
    pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
    /// IndexedDB refused a write for lack of space.
    pub const QUOTA_EXCEEDED: &str = "QUOTA_EXCEEDED";
    /// IndexedDB is missing or failed (open, read, commit).
    pub const STORAGE: &str = "STORAGE_ERROR";
    /// A snapshot or stored blob failed validation.
    pub const DATA_LOSS: &str = "DATA_LOSS";
}

/// A JS `Error` with `name` and `code` set.
pub fn js_error(name: &str, code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name(name);
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

/// An argument error (`LarchArgumentError`, code `INVALID_ARGUMENT`).
pub fn invalid_argument(message: &str) -> JsValue {
    js_error("LarchArgumentError", code::INVALID_ARGUMENT, message)
}

/// The name of a `DOMException` (or `Error`), if the value is one.
pub fn dom_name(value: &JsValue) -> Option<String> {
    Reflect::get(value, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
}

fn dom_message(value: &JsValue) -> String {
    Reflect::get(value, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| value.dyn_ref::<js_sys::JsString>().map(String::from))
        .unwrap_or_else(|| "unknown error".into())
}

/// Maps a failure of IndexedDB during `what` to a storage error; a `QuotaExceededError`
/// becomes `LarchQuotaExceededError` with code `QUOTA_EXCEEDED`.
pub fn storage_error(what: &str, cause: &JsValue) -> JsValue {
    let name = dom_name(cause).unwrap_or_default();
    if name == "QuotaExceededError" {
        return js_error(
            "LarchQuotaExceededError",
            code::QUOTA_EXCEEDED,
            &format!(
                "IndexedDB quota exceeded during {what}: the browser refused to store more data \
                 for this origin. Free space (delete indexes or namespaces), or ask for persistent \
                 storage with navigator.storage.persist(). ({})",
                dom_message(cause)
            ),
        );
    }
    let detail = if name.is_empty() {
        dom_message(cause)
    } else {
        format!("{name}: {}", dom_message(cause))
    };
    js_error(
        "LarchStorageError",
        code::STORAGE,
        &format!("IndexedDB failed during {what}: {detail}"),
    )
}
