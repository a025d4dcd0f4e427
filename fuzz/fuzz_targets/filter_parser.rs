//! Any JSON never panics the filter parser, and a parsed filter evaluates without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(f) = larch::Filter::parse(&json)
    {
        let md = larch::Metadata::from_json(&serde_json::json!({"a": 1, "b": "x", "c": ["y"]}))
            .expect("valid metadata");
        let _ = f.matches(Some(&md));
        let _ = f.matches(None);
    }
});
