//! Wire helpers shared by the route handlers: query strings, pagination tokens, and the JSON
//! forms of records and sparse vectors.

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::record::{Record, SparseVector};

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`). Invalid escapes are kept.
fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes a percent-encoded path segment.
pub(crate) fn percent_decode(s: &str) -> String {
    decode(s, false)
}

/// Parses a query string into decoded key/value pairs, in order.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

/// The last value of a query parameter, accepting a camelCase or snake_case name.
pub(crate) fn query_param<'a>(pairs: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| names.contains(&k.as_str()))
        .map(|(_, v)| v.as_str())
}

/// Parses an optional integer parameter within bounds.
pub(crate) fn int_param(
    pairs: &[(String, String)],
    names: &[&str],
    default: usize,
    max: usize,
) -> Result<usize> {
    let Some(raw) = query_param(pairs, names) else {
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

/// An optional token parameter, decoded. An empty token means "from the start".
pub(crate) fn token_param(pairs: &[(String, String)]) -> Result<Option<String>> {
    match query_param(pairs, &["paginationToken", "pagination_token"]) {
        None | Some("") => Ok(None),
        Some(t) => decode_token(t).map(Some),
    }
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
/// `0.10000000149011612`), as Pinecone's gateway prints floats.
pub(crate) fn f32_json(x: f32) -> Json {
    let shortest: f64 = zmij::Buffer::new()
        .format(x)
        .parse()
        .unwrap_or(f64::from(x));
    serde_json::Number::from_f64(shortest).map_or(Json::Null, Json::Number)
}

/// A float slice as a JSON array of shortest-form numbers.
pub(crate) fn f32s_json(xs: &[f32]) -> Json {
    Json::Array(xs.iter().map(|&x| f32_json(x)).collect())
}

/// The JSON form of sparse values.
pub(crate) fn sparse_json(sv: &SparseVector) -> Json {
    json!({"indices": sv.indices, "values": f32s_json(&sv.values)})
}

/// A record as fetch returns it: `id`, `values`, and `sparseValues`/`metadata` when present.
pub(crate) fn record_json(r: &Record) -> Json {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("values".into(), f32s_json(&r.values));
    if let Some(sv) = &r.sparse_values {
        m.insert("sparseValues".into(), sparse_json(sv));
    }
    if let Some(md) = &r.metadata {
        m.insert("metadata".into(), md.to_json());
    }
    Json::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q = parse_query("ids=a%20b&ids=c+d&namespace=&x");
        assert_eq!(q[0], ("ids".into(), "a b".into()));
        assert_eq!(q[1], ("ids".into(), "c d".into()));
        assert_eq!(query_param(&q, &["namespace"]), Some(""));
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
    }

    #[test]
    fn floats_print_in_shortest_form() {
        assert_eq!(f32_json(0.1).to_string(), "0.1");
        assert_eq!(f32s_json(&[1.0, -2.5]).to_string(), "[1.0,-2.5]");
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
