//! Record metadata: Pinecone's value model and its limits.
//!
//! A record's metadata is a flat JSON object whose values are strings, numbers (stored as
//! `f64`), booleans or lists of strings. Anything else — nested objects, `null`, lists holding a
//! non-string — is rejected with [`Error::InvalidMetadata`]. The serialized size is limited to
//! [`MAX_METADATA_BYTES`].

use std::collections::BTreeMap;

use crate::sort::CollectTree;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::{Error, Result};

/// Pinecone's per-record metadata limit (40 KB).
pub const MAX_METADATA_BYTES: usize = 40 * 1024;

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Number(f64),
    Bool(bool),
    List(Vec<String>),
}

/// A record's metadata: keys in sorted order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(BTreeMap<String, Value>);

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Metadata(BTreeMap::new())
    }

    /// Validates and converts a JSON value. `null` or a missing object means "no metadata"
    /// only at the API layer; here the input must be an object.
    pub fn from_json(json: &serde_json::Value) -> Result<Self> {
        let serde_json::Value::Object(map) = json else {
            return Err(Error::InvalidMetadata {
                path: String::new(),
                reason: format!("metadata must be a JSON object, got {}", json_kind(json)),
            });
        };
        let mut out = BTreeMap::new();
        for (key, value) in map {
            if key.starts_with('$') {
                return Err(Error::InvalidMetadata {
                    path: key.clone(),
                    reason: "metadata keys may not begin with '$'".into(),
                });
            }
            out.insert(key.clone(), Value::from_json(key, value)?);
        }
        let md = Metadata(out);
        md.check_size()?;
        Ok(md)
    }

    /// Fails with [`Error::MetadataTooLarge`] when the JSON form exceeds the limit.
    pub fn check_size(&self) -> Result<()> {
        let size = self.json_size();
        if size > MAX_METADATA_BYTES {
            return Err(Error::MetadataTooLarge {
                size,
                limit: MAX_METADATA_BYTES,
            });
        }
        Ok(())
    }

    /// Size in bytes of the compact JSON encoding.
    pub fn json_size(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |v| v.len())
    }

    /// Bytes held beyond `size_of::<Metadata>()`: the map's nodes, keys and values.
    pub fn heap_bytes(&self) -> usize {
        let entries: usize = self
            .0
            .iter()
            .map(|(k, v)| k.capacity() + v.heap_bytes())
            .sum();
        crate::heap::btree_map::<String, Value>(self.0.len()) + entries
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Sets `key`, replacing any previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        self.0.insert(key.into(), value);
    }

    /// Copies every key of `other` into `self` (Pinecone's `setMetadata` merge).
    pub fn merge(&mut self, other: &Metadata) {
        for (k, v) in &other.0 {
            self.0.insert(k.clone(), v.clone());
        }
    }

    /// Iterates over keys and values in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The JSON form, as returned by fetch and query.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl FromIterator<(String, Value)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Metadata(iter.into_iter().collect_map())
    }
}

impl Value {
    /// Bytes held beyond `size_of::<Value>()`.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::String(s) => s.capacity(),
            Value::Number(_) | Value::Bool(_) => 0,
            Value::List(l) => crate::heap::vec(l) + l.iter().map(String::capacity).sum::<usize>(),
        }
    }

    fn from_json(path: &str, json: &serde_json::Value) -> Result<Self> {
        use serde_json::Value as J;
        match json {
            J::String(s) => Ok(Value::String(s.clone())),
            J::Bool(b) => Ok(Value::Bool(*b)),
            J::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() => Ok(Value::Number(f)),
                _ => Err(Error::InvalidMetadata {
                    path: path.to_string(),
                    reason: format!("number {n} is not a finite 64-bit float"),
                }),
            },
            J::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    J::String(s) => Ok(s.clone()),
                    other => Err(Error::InvalidMetadata {
                        path: format!("{path}[{i}]"),
                        reason: format!(
                            "Metadata value must be a string, number, boolean or list of strings; \
                             a list may hold only strings, got {}",
                            json_kind(other)
                        ),
                    }),
                })
                .collect::<Result<Vec<_>>>()
                .map(Value::List),
            other => Err(Error::InvalidMetadata {
                path: path.to_string(),
                reason: format!(
                    "Metadata value must be a string, number, boolean or list of strings, got {}",
                    json_kind(other)
                ),
            }),
        }
    }
}

/// Numbers that are whole and exactly representable are written without a fraction, as
/// Pinecone's gateway does (`2020`, not `2020.0`).
pub(crate) fn serialize_number<S: Serializer>(f: f64, s: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() < EXACT {
        s.serialize_i64(f as i64)
    } else {
        s.serialize_f64(f)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::String(v) => s.serialize_str(v),
            Value::Number(f) => serialize_number(*f, s),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::List(items) => items.serialize(s),
        }
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A short name for a JSON value's type, for error messages.
pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_four_value_types() {
        let md =
            Metadata::from_json(&json!({"s": "x", "n": 2020, "f": 1.5, "b": true, "l": ["a"]}))
                .unwrap();
        assert_eq!(md.get("n"), Some(&Value::Number(2020.0)));
        assert_eq!(
            md.to_json(),
            json!({"s": "x", "n": 2020, "f": 1.5, "b": true, "l": ["a"]})
        );
    }

    #[test]
    fn rejects_nested_null_and_number_lists() {
        for bad in [
            json!({"a": {"b": 1}}),
            json!({"a": null}),
            json!({"a": [1, 2]}),
        ] {
            let err = Metadata::from_json(&bad).unwrap_err();
            assert!(matches!(err, Error::InvalidMetadata { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn rejects_dollar_keys() {
        assert!(Metadata::from_json(&json!({"$a": 1})).is_err());
    }

    #[test]
    fn enforces_the_size_limit() {
        let big = "x".repeat(MAX_METADATA_BYTES);
        let err = Metadata::from_json(&json!({ "k": big })).unwrap_err();
        assert!(matches!(err, Error::MetadataTooLarge { .. }));
    }
}
