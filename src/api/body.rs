//! Response bodies written straight into bytes.
//!
//! Fetch, query and list answer with records whose dense values are most of the body (100 × 384
//! floats for a fetch of 100 ids). Building a `serde_json::Value` per float and serializing the
//! tree cost ~17 ms of a 100-id fetch in wasm (BENCHMARKS.md, issue 11 "Response bodies"); this
//! writer appends the same bytes directly. Its output is byte-for-byte what serializing the
//! `Value` form gives (`serde_json` without `preserve_order`: object keys in sorted order), which
//! the tests check against that form on random records.

use serde::Serialize;

use crate::metadata::Metadata;
use crate::record::{Record, SparseVector};

/// A JSON body under construction. Callers write keys in sorted order, as `serde_json`'s
/// `Map` would hold them.
#[derive(Debug, Default)]
pub(crate) struct Body {
    out: Vec<u8>,
}

impl Body {
    /// An empty body with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Body {
            out: Vec::with_capacity(capacity),
        }
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// Raw JSON punctuation or a literal.
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.out.extend_from_slice(s.as_bytes());
        self
    }

    /// `,` unless this is the first member (`first` is then cleared).
    pub fn sep(&mut self, first: &mut bool) -> &mut Self {
        if !std::mem::take(first) {
            self.out.push(b',');
        }
        self
    }

    /// A JSON string, escaped as `serde_json` escapes it.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.value(s)
    }

    /// `"key":`.
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.str(k).raw(":")
    }

    /// Any serializable value through `serde_json` (metadata, small values).
    pub fn value<T: Serialize + ?Sized>(&mut self, v: &T) -> &mut Self {
        // Writing into a Vec cannot fail, and these types serialize without errors.
        let _ = serde_json::to_writer(&mut self.out, v);
        self
    }

    /// An unsigned integer.
    pub fn uint(&mut self, n: u64) -> &mut Self {
        self.value(&n)
    }

    /// An `f32` exactly as `wire::f32_json(x)` serializes.
    pub fn f32(&mut self, x: f32) -> &mut Self {
        write_f32(&mut self.out, x);
        self
    }

    /// `[x,y,…]`.
    pub fn f32s(&mut self, xs: &[f32]) -> &mut Self {
        self.out.reserve(xs.len() * 12 + 2);
        self.out.push(b'[');
        for (i, &x) in xs.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_f32(&mut self.out, x);
        }
        self.out.push(b']');
        self
    }

    /// `{"indices":[…],"values":[…]}` (`wire::sparse_json`).
    pub fn sparse(&mut self, sv: &SparseVector) -> &mut Self {
        self.raw("{\"indices\":")
            .value(&sv.indices)
            .raw(",\"values\":")
            .f32s(&sv.values)
            .raw("}")
    }

    /// Metadata as `Metadata::to_json` serializes.
    pub fn metadata(&mut self, md: &Metadata) -> &mut Self {
        self.value(md)
    }

    /// A record as fetch returns it (`wire::record_json`): `id`, then `metadata`,
    /// `sparseValues` when present, `values` when `with_values`.
    pub fn record(&mut self, r: &Record, with_values: bool) -> &mut Self {
        self.raw("{").key("id").str(&r.id);
        if let Some(md) = &r.metadata {
            self.raw(",").key("metadata").metadata(md);
        }
        if let Some(sv) = &r.sparse_values {
            self.raw(",").key("sparseValues").sparse(sv);
        }
        if with_values {
            self.raw(",").key("values").f32s(&r.values);
        }
        self.raw("}")
    }
}

/// Appends `x` as the shortest JSON number that reads back as the same `f32`, in the notation
/// serde_json gives that number as an `f64` (what `wire::f32_json` builds: `null` when not
/// finite).
///
/// zmij prints an `f32` and an `f64` with the same digits here (an `f32`'s shortest digits, at
/// most 9, read as an `f64`, print back as themselves), and with the same layout except where
/// its plain-notation ranges differ: decimal exponents -6 (plain for `f32`, `1e-6` for `f64`)
/// and 13..=15 (exponent for `f32`, plain for `f64`). Those take the slow path through `f64`.
fn write_f32(out: &mut Vec<u8>, x: f32) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut buf = zmij::Buffer::new();
    let s = buf.format_finite(x);
    // Inside [2e-5, 5e12] the shortest digits' exponent is within -5..=12, where both layouts
    // are plain (the test checks every float around both ends): no need to look.
    let a = x.abs();
    let layout_differs = !(a == 0.0 || (2e-5..=5e12).contains(&a)) && {
        let digits = s.strip_prefix('-').unwrap_or(s);
        if let Some((_, exp)) = digits.split_once('e') {
            matches!(exp, "13" | "+13" | "14" | "+14" | "15" | "+15")
        } else {
            digits.starts_with("0.00000")
        }
    };
    if layout_differs {
        let _ = serde_json::to_writer(&mut *out, &super::wire::f32_json(x));
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::{f32_json, f32s_json};
    use crate::metadata::Value;
    use serde_json::{Map, Value as Json, json};

    /// The serialization the writer replaced (its `Value` tree), kept as the oracle.
    fn sparse_json(sv: &SparseVector) -> Json {
        json!({"indices": sv.indices, "values": f32s_json(&sv.values)})
    }

    /// A record as fetch returned it before the writer: the oracle of `Body::record`.
    fn record_json(r: &Record, with_values: bool) -> Json {
        let mut m = Map::new();
        m.insert("id".into(), json!(r.id));
        if with_values {
            m.insert("values".into(), f32s_json(&r.values));
        }
        if let Some(sv) = &r.sparse_values {
            m.insert("sparseValues".into(), sparse_json(sv));
        }
        if let Some(md) = &r.metadata {
            m.insert("metadata".into(), md.to_json());
        }
        Json::Object(m)
    }

    fn one(x: f32) -> String {
        let mut out = Vec::new();
        write_f32(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    fn old(x: f32) -> String {
        serde_json::to_string(&f32_json(x)).unwrap()
    }

    /// A float from every kind of bit pattern: subnormals, ±0, both layout edges, integral
    /// values, and random bits.
    struct Floats(u64);

    impl Floats {
        fn bits(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn next(&mut self) -> f32 {
            let r = self.bits();
            let sign = if r & 1 == 0 { 1.0 } else { -1.0 };
            let f = match (r >> 1) % 8 {
                0 => f32::from_bits((r >> 8) as u32 & 0x007f_ffff), // subnormal or zero
                1 => ((r >> 8) % 2000) as f32 - 1000.0,             // integral
                2 => 10f32.powi((r >> 8) as i32 % 40 - 20),         // near a power of ten
                3 => f32::from_bits((r >> 8) as u32 % 0x7f80_0000), // any finite
                4 => ((r >> 8) % 2_000_001) as f32 / 1e6 - 1.0,     // embedding-like
                _ => f32::from_bits((r >> 16) as u32),
            };
            sign * f
        }
    }

    const EDGES: [f32; 24] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.0,
        0.1,
        1e-5,
        9.999_999e-6,
        1e-6,
        9.999_999e-7,
        1e-7,
        1e12,
        9.999_999e12,
        1e13,
        1e15,
        9.999_999e15,
        1e16,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::EPSILON,
        16_777_216.0,
        f32::INFINITY,
        f32::NAN,
    ];

    #[test]
    fn floats_match_the_value_form() {
        for x in EDGES
            .into_iter()
            .chain([f32::from_bits(1), f32::from_bits(0x007f_ffff)])
        {
            assert_eq!(one(x), old(x), "{x:?} ({:#x})", x.to_bits());
            assert_eq!(one(-x), old(-x), "{:?}", -x);
        }
        let mut floats = Floats(0x9E37_79B9_7F4A_7C15);
        for _ in 0..300_000 {
            let x = floats.next();
            assert_eq!(one(x), old(x), "{x:?} ({:#x})", x.to_bits());
        }
        // Every 4099th bit pattern: each exponent, both signs, evenly across mantissas.
        for bits in (0..=u32::MAX).step_by(4099) {
            let x = f32::from_bits(bits);
            assert_eq!(one(x), old(x), "{x:?} ({bits:#x})");
        }
    }

    /// Around both layout edges, and the ends of `write_f32`'s range that skips the check,
    /// every f32 in a window of bit patterns (the layout check alone was also run once over
    /// all 2^32 bit patterns against the `Value` form: equal).
    #[test]
    fn floats_match_the_value_form_at_the_layout_edges() {
        for edge in [1e-6f32, 1e-5, 2e-5, 1e13, 5e12, 1e16] {
            let b = edge.to_bits();
            for bits in b - 5_000..b + 5_000 {
                let x = f32::from_bits(bits);
                assert_eq!(one(x), old(x), "{x:?} ({bits:#x})");
                assert_eq!(one(-x), old(-x), "{:?}", -x);
            }
        }
    }

    fn random_record(floats: &mut Floats, i: usize) -> Record {
        let r = floats.bits();
        let dim = (r % 9) as usize;
        let values: Vec<f32> = (0..dim)
            .map(|_| floats.next())
            .filter(|x| x.is_finite())
            .collect();
        let sparse_values = (r & 0x10 != 0).then(|| {
            let n = (r >> 8) % 4;
            let indices: Vec<u32> = (0..n as u32).map(|k| k * 7 + (r as u32 % 5)).collect();
            let values = indices
                .iter()
                .map(|_| floats.next())
                .map(|x| if x.is_finite() { x } else { 0.5 })
                .collect();
            SparseVector::new(indices, values).unwrap()
        });
        let metadata = (r & 0x20 != 0).then(|| {
            let mut md = Metadata::new();
            md.insert("genre", Value::String("a \"quoted\"\n\u{1}é".into()));
            md.insert("year", Value::Number(f64::from((r >> 20) as u16)));
            md.insert("score", Value::Number(f64::from(floats.next()) / 3.0));
            md.insert("neg0", Value::Number(-0.0));
            md.insert("flag", Value::Bool(r & 0x40 != 0));
            md.insert("tags", Value::List(vec!["x".into(), "\\y".into()]));
            md
        });
        Record {
            id: format!("id-{i}\t\"{}\"", r % 100),
            values,
            sparse_values,
            metadata,
        }
    }

    #[test]
    fn records_match_the_value_form() {
        let mut floats = Floats(42);
        for i in 0..3_000 {
            let r = random_record(&mut floats, i);
            for with_values in [true, false] {
                let mut b = Body::default();
                b.record(&r, with_values);
                let want = serde_json::to_vec(&record_json(&r, with_values)).unwrap();
                assert_eq!(
                    String::from_utf8(b.into_bytes()).unwrap(),
                    String::from_utf8(want).unwrap(),
                    "{r:?}"
                );
            }
        }
    }
}
