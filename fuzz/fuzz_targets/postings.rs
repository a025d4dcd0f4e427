//! `Postings::from_bytes` on arbitrary bytes (the payload of a segment's metadata postings
//! chunks), for the slot count their header states: nothing may panic, what decodes encodes back
//! to the same bytes, and on the first field a condition and its negation split the slots.
//!
//!   cargo +nightly fuzz run postings     (from this directory)
#![no_main]

use larch::Filter;
use larch::segment::postings::Postings;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let c = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fuzz_target!(|data: &[u8]| {
    // The header's record count stands for the segment's (trusted, and so kept small here).
    let slots = u32_at(data, 8).unwrap_or(0);
    if slots > 1 << 16 {
        return;
    }
    let slots = slots as usize;
    assert!(Postings::from_bytes(data, slots + 1).is_err());
    let Ok(p) = Postings::from_bytes(data, slots) else {
        return;
    };
    assert_eq!(p.to_bytes(), data);
    // The first field's name, when there is one.
    let first = u32_at(data, 16)
        .and_then(|len| data.get(20..20 + len as usize))
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("");
    let count = |f: serde_json::Value| p.select(&Filter::parse(&f).unwrap()).count();
    for k in [first, "a"] {
        // Names like `$and` are not fields a filter can name.
        if Filter::parse(&json!({ k: 1 })).is_err() {
            continue;
        }
        let present = count(json!({ k: {"$exists": true} }));
        assert_eq!(present + count(json!({ k: {"$exists": false} })), slots);
        for v in [json!("a"), json!(true), json!(1)] {
            assert_eq!(
                count(json!({ k: v })) + count(json!({ k: {"$ne": v} })),
                slots
            );
        }
        let (lt, gte) = (
            count(json!({ k: {"$lt": 1} })),
            count(json!({ k: {"$gte": 1} })),
        );
        assert!(lt + gte <= present);
    }
});
