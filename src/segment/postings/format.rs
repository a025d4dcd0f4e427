//! The byte layout of a segment's metadata index, and its validation.
//!
//! The payload of the blob series `p/{seg}/{chunk}`: the blob header and checksum are the
//! caller's ([`crate::format::seal_blob`]). All integers little-endian, fixed width; nothing is
//! aligned. Header of [`HEADER`] bytes:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 4]` | magic `LPST` |
//! | 4 | u32 | format version, [`VERSION`] |
//! | 8 | u32 | records: the segment's slot count; every slot below is less |
//! | 12 | u32 | F, the number of fields |
//!
//! Then F fields, by name in strictly ascending byte order, each:
//!
//! | type | field |
//! |---|---|
//! | u32, then that many bytes | the name, UTF-8 |
//! | u32 P ≥ 1, then P × u32 | the slots holding the field, strictly ascending |
//! | u32 N, then N × f64, then N × u32 | the numeric values and their slots, ascending by value (total order) then slot; finite, `-0` written as `0` |
//! | u32 V, then V values | the string and boolean values, strictly ascending: `false`, `true`, then strings by bytes |
//!
//! and each value:
//!
//! | type | field |
//! |---|---|
//! | u8 | tag: 0 `false`, 1 `true`, 2 a string |
//! | (tag 2 only) u32, then that many bytes | the string, UTF-8 |
//! | u32 C ≥ 1, then C × u32 | the slots holding it (as the value or a list element), strictly ascending |
//!
//! Nothing follows the last field. Decoding checks all of that and that the lists describe
//! real metadata: every slot in a field's numbers or values also holds the field; a slot holds
//! at most one number, or one boolean, or strings (a string, or a list's distinct elements),
//! never two of those. An empty list holds the field and no value. Encoding is canonical: what
//! decodes encodes back to the same bytes.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::{Field, Key, Postings};
use crate::error::{Error, Result};
use crate::index::{check_prelude, u32_at};
use crate::sort::SmallSort;

/// Bytes before the first field.
pub(crate) const HEADER: usize = 16;
/// The current layout version.
pub(crate) const VERSION: u32 = 1;
const MAGIC: [u8; 4] = *b"LPST";

/// The fewest bytes a field takes: name length, one present slot, three counts.
const MIN_FIELD: u64 = 20;
/// The fewest bytes a value takes: the tag, its count and one slot.
const MIN_VALUE: u64 = 9;

const TAG_FALSE: u8 = 0;
const TAG_TRUE: u8 = 1;
const TAG_STRING: u8 = 2;

fn corrupt(reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: "metadata postings".into(),
        reason: reason.into(),
    }
}

/// The tag and bytes a value sorts by.
fn sort_key(key: &Key) -> (u8, &[u8]) {
    match key {
        Key::Bool(false) => (TAG_FALSE, &[]),
        Key::Bool(true) => (TAG_TRUE, &[]),
        Key::Str(s) => (TAG_STRING, s.as_bytes()),
    }
}

fn put_u32(out: &mut Vec<u8>, x: u32) {
    out.extend_from_slice(&x.to_le_bytes());
}

/// A length or slot that fits in u32 by construction (slots are u32; a segment holds at most
/// 2^32 records, and metadata is far below 4 GB).
fn len32(n: usize) -> u32 {
    debug_assert!(u32::try_from(n).is_ok());
    n as u32
}

fn encoded_len(p: &Postings) -> usize {
    let field = |(name, f): (&String, &Field)| {
        let values: usize = f
            .values
            .iter()
            .map(|(k, slots)| {
                let key = match k {
                    Key::Str(s) => 4 + s.len(),
                    Key::Bool(_) => 0,
                };
                1 + key + 4 + 4 * slots.len()
            })
            .sum();
        4 + name.len() + 4 + 4 * f.present.len() + 4 + 12 * f.numbers.len() + 4 + values
    };
    HEADER + p.fields.iter().map(field).sum::<usize>()
}

pub(super) fn encode(p: &Postings) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(p));
    out.extend_from_slice(&MAGIC);
    put_u32(&mut out, VERSION);
    put_u32(&mut out, len32(p.records));
    put_u32(&mut out, len32(p.fields.len()));
    let mut fields: Vec<(&String, &Field)> = p.fields.iter().collect();
    fields.small_sort_by(|a, b| a.0.cmp(b.0));
    for (name, f) in fields {
        put_u32(&mut out, len32(name.len()));
        out.extend_from_slice(name.as_bytes());
        put_u32(&mut out, len32(f.present.len()));
        for &s in &f.present {
            put_u32(&mut out, s);
        }
        put_u32(&mut out, len32(f.numbers.len()));
        for &x in &f.numbers {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for &s in &f.number_slots {
            put_u32(&mut out, s);
        }
        put_u32(&mut out, len32(f.values.len()));
        let mut values: Vec<(&Key, &Vec<u32>)> = f.values.iter().collect();
        values.small_sort_by(|a, b| sort_key(a.0).cmp(&sort_key(b.0)));
        for (key, slots) in values {
            let (tag, bytes) = sort_key(key);
            out.push(tag);
            if tag == TAG_STRING {
                put_u32(&mut out, len32(bytes.len()));
                out.extend_from_slice(bytes);
            }
            put_u32(&mut out, len32(slots.len()));
            for &s in slots {
                put_u32(&mut out, s);
            }
        }
    }
    debug_assert_eq!(out.len(), encoded_len(p));
    out
}

/// A cursor that never reads past the end.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> u64 {
        (self.b.len() - self.at) as u64
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        let left = self.left();
        if n > left {
            return Err(corrupt(format!(
                "{what}: {n} bytes at offset {}, but only {left} remain",
                self.at
            )));
        }
        // `n <= left`, so it fits in usize.
        let out = &self.b[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let c = self.take(4, what)?;
        Ok(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// A count of items of at least `min_each` bytes, which the remaining bytes must hold:
    /// nothing is allocated for more items than the input could describe.
    fn count(&mut self, min_each: u64, what: &str) -> Result<u32> {
        let n = self.u32(what)?;
        if u64::from(n) * min_each > self.left() {
            return Err(corrupt(format!(
                "{what} {n} needs at least {} bytes, but only {} remain",
                u64::from(n) * min_each,
                self.left()
            )));
        }
        Ok(n)
    }

    fn str(&mut self, what: &str) -> Result<&'a str> {
        let len = self.u32(what)?;
        let bytes = self.take(u64::from(len), what)?;
        std::str::from_utf8(bytes).map_err(|e| corrupt(format!("{what} is not UTF-8: {e}")))
    }
}

/// What a slot holds of the field being decoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not the field.
    Absent,
    /// The field, with no value seen yet (an empty list, until one is).
    Present,
    Number,
    Bool,
    /// Strings: a string, or a list's elements.
    Strings,
}

/// Marks `slot` as holding a value of `kind`: it must hold the field, and no value of another
/// kind (nor a second number or boolean).
fn claim(kinds: &mut [Kind], slot: u32, kind: Kind, field: &str) -> Result<()> {
    let k = kinds
        .get_mut(slot as usize)
        .ok_or_else(|| corrupt(format!("field {field:?}: slot {slot} out of range")))?;
    match *k {
        Kind::Present => *k = kind,
        Kind::Strings if kind == Kind::Strings => {}
        Kind::Absent => {
            return Err(corrupt(format!(
                "field {field:?}: slot {slot} has a value but does not hold the field"
            )));
        }
        _ => {
            return Err(corrupt(format!(
                "field {field:?}: slot {slot} holds two values of which one is a number or boolean"
            )));
        }
    }
    Ok(())
}

/// `n` slots, strictly ascending and below `records`.
fn slots(r: &mut Reader<'_>, n: u32, records: u32, what: &dyn Fn() -> String) -> Result<Vec<u32>> {
    let bytes = r.take(4 * u64::from(n), "slot list")?;
    let mut out = Vec::with_capacity(n as usize);
    let mut next = 0u32;
    for c in bytes.chunks_exact(4) {
        let s = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        if s >= records {
            return Err(corrupt(format!(
                "{}: slot {s} out of range ({records} records)",
                what()
            )));
        }
        if s < next {
            return Err(corrupt(format!(
                "{}: slot {s} after {}, not ascending",
                what(),
                next - 1
            )));
        }
        out.push(s);
        // `s < records <= u32::MAX`.
        next = s + 1;
    }
    Ok(out)
}

pub(super) fn decode(b: &[u8], slots_len: usize) -> Result<Postings> {
    check_prelude(b, HEADER, &MAGIC, VERSION).map_err(corrupt)?;
    let records = u32_at(b, 8);
    if u64::from(records) != slots_len as u64 {
        return Err(corrupt(format!(
            "postings of {records} records for a segment of {slots_len}"
        )));
    }
    let mut r = Reader { b, at: 12 };
    let nfields = r.count(MIN_FIELD, "field count")?;
    let mut fields = HashMap::with_capacity(nfields as usize);
    // Sized by the segment (trusted), only when there is a field to check.
    let mut kinds = if nfields == 0 {
        Vec::new()
    } else {
        vec![Kind::Absent; slots_len]
    };
    let mut prev: Option<&str> = None;
    for _ in 0..nfields {
        let name = r.str("field name")?;
        if prev.is_some_and(|p| p >= name) {
            return Err(corrupt(format!("field {name:?} out of order or repeated")));
        }
        prev = Some(name);
        let np = r.count(4, "present count")?;
        if np == 0 {
            return Err(corrupt(format!("field {name:?} is held by no slot")));
        }
        let present = slots(&mut r, np, records, &|| format!("field {name:?} presence"))?;
        for &s in &present {
            kinds[s as usize] = Kind::Present;
        }

        let nn = r.count(12, "number count")?;
        let xs = r.take(8 * u64::from(nn), "numbers")?;
        let ss = r.take(4 * u64::from(nn), "number slots")?;
        let mut numbers: Vec<f64> = Vec::with_capacity(nn as usize);
        let mut number_slots: Vec<u32> = Vec::with_capacity(nn as usize);
        for (x, s) in xs.chunks_exact(8).zip(ss.chunks_exact(4)) {
            let x = f64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
            let s = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            if !x.is_finite() || (x == 0.0 && x.is_sign_negative()) {
                return Err(corrupt(format!("field {name:?}: number {x} at slot {s}")));
            }
            if let (Some(&px), Some(&ps)) = (numbers.last(), number_slots.last())
                && px.total_cmp(&x).then(ps.cmp(&s)) != Ordering::Less
            {
                return Err(corrupt(format!(
                    "field {name:?}: number {x} at slot {s} after {px} at slot {ps}, not ascending"
                )));
            }
            claim(&mut kinds, s, Kind::Number, name)?;
            numbers.push(x);
            number_slots.push(s);
        }

        let nv = r.count(MIN_VALUE, "value count")?;
        let mut values = HashMap::with_capacity(nv as usize);
        let mut prev_key: Option<(u8, &[u8])> = None;
        for _ in 0..nv {
            let tag = r.u8("value tag")?;
            let text = match tag {
                TAG_FALSE | TAG_TRUE => "",
                TAG_STRING => r.str("string value")?,
                t => return Err(corrupt(format!("field {name:?}: unknown value tag {t}"))),
            };
            let (key, kind) = match tag {
                TAG_FALSE => (Key::Bool(false), Kind::Bool),
                TAG_TRUE => (Key::Bool(true), Kind::Bool),
                _ => (Key::Str(text.to_string()), Kind::Strings),
            };
            let at = (tag, text.as_bytes());
            if prev_key.is_some_and(|p| p >= at) {
                return Err(corrupt(format!(
                    "field {name:?}: value {key:?} out of order or repeated"
                )));
            }
            prev_key = Some(at);
            let nc = r.count(4, "value slot count")?;
            if nc == 0 {
                return Err(corrupt(format!(
                    "field {name:?}: value {key:?} is held by no slot"
                )));
            }
            let list = slots(&mut r, nc, records, &|| {
                format!("field {name:?} value {key:?}")
            })?;
            for &s in &list {
                claim(&mut kinds, s, kind, name)?;
            }
            values.insert(key, list);
        }
        for &s in &present {
            kinds[s as usize] = Kind::Absent;
        }
        fields.insert(
            name.to_string(),
            Field {
                values,
                present,
                numbers,
                number_slots,
            },
        );
    }
    if r.at != b.len() {
        return Err(corrupt(format!(
            "{} bytes after the last field",
            b.len() - r.at
        )));
    }
    Ok(Postings {
        records: slots_len,
        fields,
        bytes: std::sync::OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Metadata;
    use serde_json::json;

    /// A field for [`raw`]: name, present slots, numbers, values as (tag, string, slots).
    struct F<'a> {
        name: &'a [u8],
        present: &'a [u32],
        numbers: &'a [(f64, u32)],
        values: &'a [(u8, &'a [u8], &'a [u32])],
    }

    /// Bytes written by hand after the table in the module documentation.
    fn raw(records: u32, fields: &[F<'_>]) -> Vec<u8> {
        let mut out = b"LPST".to_vec();
        for w in [1, records, fields.len() as u32] {
            put_u32(&mut out, w);
        }
        let list = |out: &mut Vec<u8>, slots: &[u32]| {
            put_u32(out, slots.len() as u32);
            slots.iter().for_each(|&s| put_u32(out, s));
        };
        for f in fields {
            put_u32(&mut out, f.name.len() as u32);
            out.extend_from_slice(f.name);
            list(&mut out, f.present);
            put_u32(&mut out, f.numbers.len() as u32);
            f.numbers
                .iter()
                .for_each(|(x, _)| out.extend_from_slice(&x.to_le_bytes()));
            f.numbers.iter().for_each(|&(_, s)| put_u32(&mut out, s));
            put_u32(&mut out, f.values.len() as u32);
            for &(tag, text, slots) in f.values {
                out.push(tag);
                if tag == TAG_STRING {
                    put_u32(&mut out, text.len() as u32);
                    out.extend_from_slice(text);
                }
                list(&mut out, slots);
            }
        }
        out
    }

    fn sample() -> Vec<Option<Metadata>> {
        [
            Some(json!({"g": "a", "n": 1.5, "b": true, "l": ["y", "x", "y"]})),
            Some(json!({"g": "b", "n": -0.0, "l": []})),
            None,
            Some(json!({"g": "a", "n": -2, "b": false, "l": ["x"]})),
        ]
        .into_iter()
        .map(|j| j.map(|j| Metadata::from_json(&j).unwrap()))
        .collect()
    }

    fn built() -> Postings {
        Postings::build(sample().iter().map(Option::as_ref))
    }

    /// The bytes of [`built`], written by hand; `edit` changes one field first.
    fn sample_raw(edit: impl FnOnce(&mut Vec<F<'static>>)) -> Vec<u8> {
        let mut fields = vec![
            F {
                name: b"b",
                present: &[0, 3],
                numbers: &[],
                values: &[(TAG_FALSE, b"", &[3]), (TAG_TRUE, b"", &[0])],
            },
            F {
                name: b"g",
                present: &[0, 1, 3],
                numbers: &[],
                values: &[(TAG_STRING, b"a", &[0, 3]), (TAG_STRING, b"b", &[1])],
            },
            F {
                name: b"l",
                present: &[0, 1, 3],
                numbers: &[],
                values: &[(TAG_STRING, b"x", &[0, 3]), (TAG_STRING, b"y", &[0])],
            },
            F {
                name: b"n",
                present: &[0, 1, 3],
                numbers: &[(-2.0, 3), (0.0, 1), (1.5, 0)],
                values: &[],
            },
        ];
        edit(&mut fields);
        raw(4, &fields)
    }

    /// Decoding `b` for `slots` records fails as corrupt, for a reason that mentions `why`.
    #[track_caller]
    fn rejected(b: &[u8], slots: usize, why: &str) {
        match Postings::from_bytes(b, slots) {
            Err(Error::Corrupt { reason, .. }) => {
                assert!(reason.contains(why), "{reason:?} does not mention {why:?}")
            }
            Err(e) => panic!("not corrupt: {e}"),
            Ok(_) => panic!("accepted, expected rejection for {why:?}"),
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_encoder_writes_the_documented_layout() {
        let p = built();
        assert_eq!(p.to_bytes(), sample_raw(|_| {}));
        let d = Postings::from_bytes(&p.to_bytes(), 4).unwrap();
        assert_eq!(d.to_bytes(), p.to_bytes());
        assert!(
            d.heap_bytes() <= p.heap_bytes(),
            "decoded postings hold no slack"
        );
        let empty = Postings::build(std::iter::empty());
        assert_eq!(empty.to_bytes(), raw(0, &[]));
        assert_eq!(Postings::from_bytes(&raw(0, &[]), 0).unwrap().records, 0);
        assert_eq!(Postings::from_bytes(&raw(9, &[]), 9).unwrap().records, 9);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_truncation_and_trailing_bytes_are_rejected() {
        let good = built().to_bytes();
        for len in 0..good.len() {
            assert!(
                Postings::from_bytes(&good[..len], 4).is_err(),
                "truncated to {len} bytes, accepted"
            );
        }
        let mut long = good.clone();
        long.push(0);
        rejected(&long, 4, "after the last field");
        rejected(&good, 5, "for a segment of 5");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn flipped_bytes_are_rejected_or_decode_to_what_they_say() {
        let good = built().to_bytes();
        for i in 0..good.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] ^= mask;
                // The blob checksum catches the rest; what decodes must be canonical.
                if let Ok(p) = Postings::from_bytes(&b, 4) {
                    assert_eq!(p.to_bytes(), b, "flip {mask:#x} at {i}");
                    assert!(i >= HEADER, "a header flip at {i} was accepted");
                }
            }
        }
        let mut b = good.clone();
        b[0] ^= 1;
        rejected(&b, 4, "bad magic");
        let mut b = good;
        b[4] = 2;
        rejected(&b, 4, "unknown version 2");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn lists_must_be_ascending_unique_and_in_range() {
        rejected(
            &sample_raw(|f| f[1].present = &[0, 3, 1]),
            4,
            "not ascending",
        );
        rejected(
            &sample_raw(|f| f[1].present = &[0, 1, 1, 3]),
            4,
            "not ascending",
        );
        rejected(
            &sample_raw(|f| f[1].present = &[0, 1, 4]),
            4,
            "slot 4 out of range",
        );
        rejected(&sample_raw(|f| f[1].present = &[]), 4, "held by no slot");
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"a", &[3, 0]), (TAG_STRING, b"b", &[1])];
        rejected(&sample_raw(|f| f[1].values = v), 4, "not ascending");
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"a", &[0, 9]), (TAG_STRING, b"b", &[1])];
        rejected(&sample_raw(|f| f[1].values = v), 4, "slot 9 out of range");
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"a", &[]), (TAG_STRING, b"b", &[1])];
        rejected(&sample_raw(|f| f[1].values = v), 4, "held by no slot");
        let n: &[(f64, u32)] = &[(0.0, 1), (-2.0, 3), (1.5, 0)];
        rejected(&sample_raw(|f| f[3].numbers = n), 4, "not ascending");
        let n: &[(f64, u32)] = &[(-2.0, 3), (0.0, 1), (1.5, 7)];
        rejected(&sample_raw(|f| f[3].numbers = n), 4, "slot 7 out of range");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn names_and_values_must_be_utf8_ascending_and_unique() {
        rejected(&sample_raw(|f| f[1].name = b"\xff"), 4, "not UTF-8");
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"\xc3", &[0, 3]), (TAG_STRING, b"b", &[1])];
        rejected(&sample_raw(|f| f[1].values = v), 4, "not UTF-8");
        rejected(
            &sample_raw(|f| f[1].name = b"a"),
            4,
            "out of order or repeated",
        );
        rejected(
            &sample_raw(|f| f[1].name = b"b"),
            4,
            "out of order or repeated",
        );
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"b", &[1]), (TAG_STRING, b"a", &[0, 3])];
        rejected(
            &sample_raw(|f| f[1].values = v),
            4,
            "out of order or repeated",
        );
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"a", &[0]), (TAG_STRING, b"a", &[3])];
        rejected(
            &sample_raw(|f| f[1].values = v),
            4,
            "out of order or repeated",
        );
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_TRUE, b"", &[0]), (TAG_FALSE, b"", &[3])];
        rejected(
            &sample_raw(|f| f[0].values = v),
            4,
            "out of order or repeated",
        );
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_FALSE, b"", &[3]), (3, b"", &[0])];
        rejected(&sample_raw(|f| f[0].values = v), 4, "unknown value tag 3");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn numbers_must_be_finite_and_normal() {
        for (x, why) in [
            (f64::NAN, "number NaN"),
            (f64::INFINITY, "number inf"),
            (-0.0, "number -0"),
        ] {
            let n: &'static [(f64, u32)] = Box::leak(Box::new([(-2.0, 3), (x, 1), (1.5, 0)]));
            rejected(&sample_raw(|f| f[3].numbers = n), 4, why);
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn values_must_describe_real_metadata() {
        // A value at a slot that does not hold the field.
        rejected(
            &sample_raw(|f| f[0].present = &[0]),
            4,
            "does not hold the field",
        );
        // A number and a boolean; two numbers; two booleans; a number and a string.
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_FALSE, b"", &[3]), (TAG_TRUE, b"", &[0])];
        let n: &[(f64, u32)] = &[(1.0, 0)];
        rejected(
            &sample_raw(|f| (f[0].numbers, f[0].values) = (n, v)),
            4,
            "two values",
        );
        let n: &[(f64, u32)] = &[(-2.0, 3), (0.0, 1), (1.5, 1)];
        rejected(&sample_raw(|f| f[3].numbers = n), 4, "two values");
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_FALSE, b"", &[0, 3]), (TAG_TRUE, b"", &[0])];
        rejected(&sample_raw(|f| f[0].values = v), 4, "two values");
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"z", &[3])];
        rejected(&sample_raw(|f| f[3].values = v), 4, "two values");
        // Strings at one slot (a list's elements) are fine.
        let v: &[(u8, &[u8], &[u32])] = &[(TAG_STRING, b"a", &[0, 3]), (TAG_STRING, b"b", &[0, 1])];
        assert!(Postings::from_bytes(&sample_raw(|f| f[1].values = v), 4).is_ok());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn counts_beyond_the_bytes_are_rejected_before_allocating() {
        let mut b = raw(4, &[]);
        b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        rejected(&b, 4, "field count 4294967295");
        let good = sample_raw(|_| {});
        // The first field's present count, after its one-byte name.
        let at = HEADER + 4 + 1;
        let mut b = good.clone();
        b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        rejected(&b, 4, "present count 4294967295");
        // Its number count and value count follow its two present slots.
        let mut b = good.clone();
        b[at + 12..at + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        rejected(&b, 4, "number count 4294967295");
        let mut b = good;
        b[at + 16..at + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        rejected(&b, 4, "value count 4294967295");
    }
}
