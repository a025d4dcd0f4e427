//! Wire helpers shared by the route handlers: query strings, pagination tokens, and the JSON
//! forms of records and sparse vectors.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::record::SparseVector;

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`), strictly: a `%` not followed
/// by two hex digits, or escapes that do not form UTF-8, are an error naming `what` and the raw
/// text.
fn decode(s: &str, plus_is_space: bool, what: &'static str) -> Result<String> {
    let bad = || Error::InvalidPercentEncoding {
        what,
        raw: crate::record::truncate_for_message(s),
    };
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex).ok_or_else(bad)?;
                let lo = bytes.get(i + 2).copied().and_then(hex).ok_or_else(bad)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Decodes a percent-encoded path segment (an index or namespace name).
pub(crate) fn percent_decode(segment: &str) -> Result<String> {
    decode(segment, false, "path segment")
}

/// A query string decoded into key/value pairs, in order.
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Parses a query string; malformed percent-encoding is an error.
    pub fn parse(query: &str) -> Result<Self> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Ok((
                    decode(k, true, "query string")?,
                    decode(v, true, "query string")?,
                ))
            })
            .collect::<Result<_>>()
            .map(QueryParams)
    }

    /// Every value of a repeatable parameter, in order.
    pub fn all<'a>(&'a self, names: &[&str]) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a single-valued parameter (under any of its `names`, e.g. camelCase and
    /// snake_case). Given more than once, it is an error rather than a silent pick: the answer
    /// would otherwise be labelled with one value and computed from another.
    pub fn one(&self, names: &[&str]) -> Result<Option<&str>> {
        let mut values = self.all(names);
        let first = values.next();
        let more = values.count();
        if more > 0 {
            return Err(Error::RepeatedQueryParameter {
                name: names[0].to_string(),
                count: more + 1,
            });
        }
        Ok(first)
    }

    /// An optional integer parameter within `1..=max`.
    pub fn int(&self, names: &[&str], default: usize, max: usize) -> Result<usize> {
        let Some(raw) = self.one(names)? else {
            return Ok(default);
        };
        match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Error::invalid(format!(
                "Invalid value for {}: '{raw}'. It must be an integer between 1 and {max}",
                names[0]
            ))),
        }
    }

    /// The optional pagination token, decoded. An empty token means "from the start".
    pub fn token(&self) -> Result<Option<String>> {
        match self.one(&["paginationToken", "pagination_token"])? {
            None | Some("") => Ok(None),
            Some(t) => decode_token(t).map(Some),
        }
    }
}

const TOKEN_PREFIX: &str = "larch1:";

/// Encodes a pagination position (the last id returned) as an opaque token.
pub fn encode_token(after: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(2 * (TOKEN_PREFIX.len() + after.len()));
    for b in TOKEN_PREFIX.bytes().chain(after.bytes()) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Decodes a token made by [`encode_token`].
pub fn decode_token(token: &str) -> Result<String> {
    let bad = || Error::invalid(format!("Invalid pagination token: '{token}'"));
    let hex = token.as_bytes();
    if !hex.len().is_multiple_of(2) {
        return Err(bad());
    }
    let digit = |c: u8| (c as char).to_digit(16).ok_or_else(bad);
    let bytes = hex
        .chunks_exact(2)
        .map(|p| Ok((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect::<Result<Vec<u8>>>()?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix(TOKEN_PREFIX)
        .map(str::to_string)
        .ok_or_else(bad)
}

/// `{"next": token}` or nothing.
pub(crate) fn pagination(next_after: Option<&str>) -> Option<Json> {
    next_after.map(|a| json!({ "next": encode_token(a) }))
}

/// Floats arrive as `f64` so a value that overflows `f32` gets a clear error naming it
/// instead of a parser message.
pub(crate) fn to_f32s(what: &str, values: &[f64]) -> Result<Vec<f32>> {
    values
        .iter()
        .map(|&v| {
            let f = v as f32;
            if f.is_finite() {
                Ok(f)
            } else {
                Err(Error::invalid(format!(
                    "{what}: value {} is out of range for a 32-bit float (|v| must be at most {})",
                    zmij::Buffer::new().format(v),
                    zmij::Buffer::new().format(f32::MAX)
                )))
            }
        })
        .collect()
}

/// Sparse values as they arrive on the wire.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SparseJson {
    pub indices: Vec<u32>,
    pub values: Vec<f64>,
}

impl SparseJson {
    pub fn into_sparse(self) -> Result<SparseVector> {
        SparseVector::new(self.indices, to_f32s("sparse values", &self.values)?)
    }
}

/// Optional metadata from the wire; `null` reads as absent.
pub(crate) fn metadata_from(json: Option<&Json>) -> Result<Option<Metadata>> {
    match json {
        None | Some(Json::Null) => Ok(None),
        Some(j) => Metadata::from_json(j).map(Some),
    }
}

/// An `f32` as the shortest JSON number that reads back as the same `f32` (`0.1`, not
/// `0.10000000149011612`), as Pinecone's gateway prints floats. The shortest digits are read
/// back by serde_json's parser (correctly rounded with `float_roundtrip`), not core's
/// `f64::from_str`, whose tables would add ~20 KB to the wasm.
pub(crate) fn f32_json(x: f32) -> Json {
    let shortest: f64 = serde_json::from_str(zmij::Buffer::new().format(x)).unwrap_or(f64::from(x));
    serde_json::Number::from_f64(shortest).map_or(Json::Null, Json::Number)
}

/// A float slice as a JSON array of shortest-form numbers.
pub(crate) fn f32s_json(xs: &[f32]) -> Json {
    Json::Array(xs.iter().map(|&x| f32_json(x)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q = QueryParams::parse("ids=a%20b&ids=c+d&namespace=&x").unwrap();
        assert_eq!(q.all(&["ids"]).collect::<Vec<_>>(), ["a b", "c d"]);
        assert_eq!(q.one(&["namespace"]).unwrap(), Some(""));
        assert_eq!(q.one(&["x"]).unwrap(), Some(""));
        assert_eq!(q.one(&["y"]).unwrap(), None);
        assert!(matches!(
            q.one(&["ids"]),
            Err(Error::RepeatedQueryParameter { count: 2, .. })
        ));
        // Aliases count together.
        let q = QueryParams::parse("paginationToken=&pagination_token=").unwrap();
        assert!(q.token().is_err());
        assert!(QueryParams::parse("namespace=%FF").is_err());
    }

    #[test]
    fn percent_decoding_is_strict() {
        assert_eq!(percent_decode("a%2Fb").unwrap(), "a/b");
        assert_eq!(percent_decode("caf%C3%A9").unwrap(), "caf\u{e9}");
        assert_eq!(percent_decode("a+b").unwrap(), "a+b");
        assert_eq!(percent_decode("%2e%2E").unwrap(), "..");
        for bad in [
            "%",
            "%F",
            "%zz",
            "a%2",
            "%FF",
            "%E0%A4%A",
            "%E0%A4",
            "%C3%28",
            "%ED%A0%80",
        ] {
            let e = percent_decode(bad).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidPercentEncoding { raw, .. } if raw == bad),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn floats_print_in_shortest_form() {
        assert_eq!(f32_json(0.1).to_string(), "0.1");
        assert_eq!(f32s_json(&[1.0, -2.5]).to_string(), "[1.0,-2.5]");
    }

    #[test]
    fn shortest_digits_read_back_as_core_reads_them() {
        // serde_json's parser stands in for core's `f64::from_str` (checked over every f32 bit
        // pattern when it was introduced); the edges again here.
        for x in [
            0.0,
            -0.0,
            f32::from_bits(1),
            f32::from_bits(0x007f_ffff),
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            1e-7,
            3.4e30,
            0.1,
            -123.456,
            f32::INFINITY,
            f32::NAN,
        ] {
            let core: f64 = zmij::Buffer::new()
                .format(x)
                .parse()
                .unwrap_or(f64::from(x));
            let want = serde_json::Number::from_f64(core).map_or(Json::Null, Json::Number);
            assert_eq!(f32_json(x), want, "{x:?}");
            if let Json::Number(n) = f32_json(x) {
                assert_eq!(n.as_f64().map(f64::to_bits), Some(core.to_bits()), "{x:?}");
            }
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_junk() {
        let t = encode_token("doc#17");
        assert_eq!(decode_token(&t).unwrap(), "doc#17");
        assert!(decode_token("not a token").is_err());
        assert!(
            decode_token("6f746865723a78").is_err(),
            "hex of another prefix"
        );
        assert!(decode_token("6c617263").is_err(), "a prefix cut short");
        assert!(decode_token("6c6").is_err(), "odd length");
        assert!(decode_token("zz").is_err(), "not hex");
        let t = encode_token("é/ü 1");
        assert!(
            t.bytes().all(|c| c.is_ascii_hexdigit()),
            "{t}: URL-safe as it is"
        );
        assert_eq!(decode_token(&t).unwrap(), "é/ü 1");
    }

    /// The shortest form comes from zmij (not core's float `Display`, kept out of the wasm):
    /// for every f32 it reads back as the same f32 and has no more significant digits than
    /// `Display`'s shortest form (the two differ only in exact ties, e.g. 312985.125 prints
    /// as 312985.12, round-half-even like Ryu and numpy, where `Display` gives 312985.13).
    #[test]
    fn f32_json_is_the_shortest_round_trip_form() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        // Significant digits: the mantissa's digits without leading or trailing zeros.
        let digits = |s: &str| {
            let mantissa = s.split(['e', 'E']).next().unwrap();
            let d: String = mantissa.chars().filter(char::is_ascii_digit).collect();
            d.trim_matches('0').len()
        };
        let check = |f: f32| {
            let Json::Number(n) = f32_json(f) else {
                panic!("{f:?} is not a number")
            };
            let back = n.as_f64().unwrap();
            assert_eq!(
                (back as f32).to_bits(),
                f.to_bits(),
                "{f:?} does not read back"
            );
            let (ours, std) = (n.to_string(), f.to_string());
            assert!(
                digits(&ours) <= digits(&std).max(1),
                "{f:?}: {ours} is longer than {std}"
            );
        };
        for f in [
            0.0,
            -0.0,
            0.1,
            1e-7,
            3.4028235e38,
            f32::MIN_POSITIVE,
            1e-45,
            123456.79,
        ] {
            check(f);
        }
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f32::from_bits(x as u32);
            if f.is_finite() {
                check(f);
            }
        }
    }
}
