//! The archived (rkyv) forms of records, shared by segments and the write log.
//!
//! Stored forms use fixed-width integers only. Decoding re-checks what the engine relies on
//! (sparse lengths and order, metadata shapes), so a blob that passes its checksum but was
//! written by a buggy or foreign writer still cannot break an invariant.

use rkyv::{Archive, Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metadata::{Metadata, Value};
use crate::record::{Record, SparseVector};

/// A metadata value.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum StoredValue {
    String(String),
    Number(f64),
    Bool(bool),
    List(Vec<String>),
}

/// Everything of a record but its dense values.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoredRecordMeta {
    pub id: String,
    pub sparse: Option<(Vec<u32>, Vec<f32>)>,
    pub metadata: Option<Vec<(String, StoredValue)>>,
}

/// A whole record (the write log stores these).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub meta: StoredRecordMeta,
    pub values: Vec<f32>,
}

/// A segment's structured part.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoredSegment {
    pub dimension: u32,
    pub records: Vec<StoredRecordMeta>,
}

fn corrupt(what: &str, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// The stored form of metadata.
pub fn metadata_to_stored(m: &Metadata) -> Vec<(String, StoredValue)> {
    m.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => StoredValue::String(s.clone()),
                Value::Number(n) => StoredValue::Number(*n),
                Value::Bool(b) => StoredValue::Bool(*b),
                Value::List(l) => StoredValue::List(l.clone()),
            };
            (k.to_string(), v)
        })
        .collect()
}

/// Metadata back from its stored form.
pub fn metadata_from_stored(pairs: Vec<(String, StoredValue)>) -> Metadata {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                StoredValue::String(s) => Value::String(s),
                StoredValue::Number(n) => Value::Number(n),
                StoredValue::Bool(b) => Value::Bool(b),
                StoredValue::List(l) => Value::List(l),
            };
            (k, v)
        })
        .collect()
}

impl StoredRecordMeta {
    /// The stored form of a record's id, sparse values and metadata.
    pub fn from_parts(
        id: &str,
        sparse: &Option<SparseVector>,
        metadata: &Option<Metadata>,
    ) -> Self {
        StoredRecordMeta {
            id: id.to_string(),
            sparse: sparse
                .as_ref()
                .map(|s| (s.indices.clone(), s.values.clone())),
            metadata: metadata.as_ref().map(metadata_to_stored),
        }
    }

    /// Back to engine types, re-validating.
    pub fn into_parts(
        self,
        what: &str,
    ) -> Result<(String, Option<SparseVector>, Option<Metadata>)> {
        let sparse = match self.sparse {
            None => None,
            Some((indices, values)) => {
                let sv = SparseVector::new(indices, values)
                    .map_err(|e| corrupt(what, format!("sparse values of '{}': {e}", self.id)))?;
                Some(sv)
            }
        };
        let metadata = self.metadata.map(metadata_from_stored);
        Ok((self.id, sparse, metadata))
    }
}

impl StoredRecord {
    /// The stored form of a record.
    pub fn from_record(r: &Record) -> Self {
        StoredRecord {
            meta: StoredRecordMeta::from_parts(&r.id, &r.sparse_values, &r.metadata),
            values: r.values.clone(),
        }
    }

    /// Back to a record, re-validating.
    pub fn into_record(self, what: &str) -> Result<Record> {
        let (id, sparse_values, metadata) = self.meta.into_parts(what)?;
        Ok(Record {
            id,
            values: self.values,
            sparse_values,
            metadata,
        })
    }
}
