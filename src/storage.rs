//! The host boundary: write batches, blob keys, and an in-memory host.
//!
//! The engine never reads or writes storage itself. A mutation yields a [`WriteBatch`]; the host
//! applies it in one atomic step (an IndexedDB transaction, a Durable Object storage
//! transaction). Hosts that cannot apply atomically apply the steps in order — puts, then
//! deletes, then prefix deletes — and the format stays consistent at every cut: the last put is
//! the commit point (a manifest or the root). Reading is the reverse: when an operation needs
//! blobs that are not loaded, it fails with [`Error::NotLoaded`] naming them; the host fetches
//! them, hands them over with `provide`, and retries.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::Error;

/// The key of the database root.
pub const ROOT_KEY: &str = "root";

/// Blobs to write and delete, applied as one atomic step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Keys and bytes to put, in order; the last one is the commit point.
    pub puts: Vec<(String, Vec<u8>)>,
    /// Keys to delete after the puts.
    pub deletes: Vec<String>,
    /// Key prefixes whose every blob is to be deleted after the deletes.
    pub delete_prefixes: Vec<String>,
}

impl WriteBatch {
    /// True when the batch does nothing.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty() && self.delete_prefixes.is_empty()
    }

    /// Total bytes put.
    pub fn put_bytes(&self) -> usize {
        self.puts.iter().map(|(_, v)| v.len()).sum()
    }

    /// The individual steps in application order (for crash simulation).
    pub fn steps(&self) -> Vec<Step<'_>> {
        let mut steps: Vec<Step<'_>> = self.puts.iter().map(|(k, v)| Step::Put(k, v)).collect();
        steps.extend(self.deletes.iter().map(|k| Step::Delete(k)));
        steps.extend(self.delete_prefixes.iter().map(|p| Step::DeletePrefix(p)));
        steps
    }
}

/// One step of a write batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Put(&'a str, &'a [u8]),
    Delete(&'a str),
    DeletePrefix(&'a str),
}

/// A host that keeps blobs in memory (tests, Node without a directory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    blobs: BTreeMap<String, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The blob under `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.blobs.get(key).map(Vec::as_slice)
    }

    /// Applies a whole batch.
    pub fn apply(&mut self, batch: &WriteBatch) {
        for step in batch.steps() {
            self.apply_step(step);
        }
    }

    /// Applies one step.
    pub fn apply_step(&mut self, step: Step<'_>) {
        match step {
            Step::Put(k, v) => {
                self.blobs.insert(k.to_string(), v.to_vec());
            }
            Step::Delete(k) => {
                self.blobs.remove(k);
            }
            Step::DeletePrefix(p) => {
                let doomed: Vec<String> = self
                    .blobs
                    .range::<str, _>((Bound::Included(p), Bound::Unbounded))
                    .take_while(|(k, _)| k.starts_with(p))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    self.blobs.remove(&k);
                }
            }
        }
    }

    /// Number of blobs.
    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    /// True when no blob is stored.
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// Total stored bytes.
    pub fn total_bytes(&self) -> usize {
        self.blobs.values().map(Vec::len).sum()
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.blobs.keys().map(String::as_str)
    }

    /// The whole store as one byte string (a snapshot file): `LRST`, a u32 count, then for
    /// each blob in key order a u32 key length, the key, a u32 value length and the value; all
    /// integers little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.total_bytes() + self.blobs.len() * 40);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&(self.blobs.len() as u32).to_le_bytes());
        for (k, v) in &self.blobs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        out
    }

    /// Reads a snapshot made by [`MemoryStore::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Corrupt {
            what: "store snapshot".into(),
            reason: reason.into(),
        };
        let mut rest = bytes
            .strip_prefix(SNAPSHOT_MAGIC.as_slice())
            .ok_or_else(|| bad("bad magic"))?;
        let mut take = |n: usize| -> Result<&[u8], Error> {
            if rest.len() < n {
                return Err(bad("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let read_u32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let count = read_u32(take(4)?);
        let mut blobs = BTreeMap::new();
        for _ in 0..count {
            let klen = read_u32(take(4)?);
            let key = std::str::from_utf8(take(klen)?).map_err(|_| bad("key is not UTF-8"))?;
            let key = key.to_string();
            let vlen = read_u32(take(4)?);
            blobs.insert(key, take(vlen)?.to_vec());
        }
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(MemoryStore { blobs })
    }
}

const SNAPSHOT_MAGIC: &[u8; 4] = b"LRST";

/// Key builders. Numbers are zero-padded hex so keys sort in numeric order.
pub mod keys {
    /// The index a catalog (`c/…`) or namespace (`n/…`) key belongs to; `None` for the root
    /// and for keys of no index.
    pub fn index_of(key: &str) -> Option<u64> {
        let mut parts = key.split('/');
        match (parts.next(), parts.next()) {
            (Some("c" | "n"), Some(hex)) if hex.len() == 8 => u64::from_str_radix(hex, 16).ok(),
            _ => None,
        }
    }
    /// Prefix of every blob of an index's catalog.
    pub fn catalog_prefix(index: u64) -> String {
        format!("c/{index:08x}/")
    }
    /// A chunk of a catalog base snapshot.
    pub fn catalog_base(index: u64, generation: u64, chunk: u32) -> String {
        format!("c/{index:08x}/b/{generation:08x}/{chunk:04x}")
    }
    /// A catalog delta.
    pub fn catalog_delta(index: u64, seq: u64) -> String {
        format!("c/{index:08x}/d/{seq:08x}")
    }
    /// Prefix of every blob of an index's namespaces.
    pub fn index_namespaces_prefix(index: u64) -> String {
        format!("n/{index:08x}/")
    }
    /// Prefix of every blob of one namespace.
    pub fn namespace_prefix(index: u64, ns: u64) -> String {
        format!("n/{index:08x}/{ns:08x}/")
    }
    /// A namespace manifest.
    pub fn manifest(prefix: &str) -> String {
        format!("{prefix}m")
    }
    /// A chunk of a write-log entry.
    pub fn log(prefix: &str, seq: u64, chunk: u32) -> String {
        format!("{prefix}l/{seq:08x}/{chunk:04x}")
    }
    /// A chunk of a segment's structured part.
    pub fn segment(prefix: &str, seg: u64, chunk: u32) -> String {
        format!("{prefix}s/{seg:08x}/{chunk:04x}")
    }
    /// A chunk of a segment's vectors.
    pub fn vectors(prefix: &str, seg: u64, chunk: u32) -> String {
        format!("{prefix}v/{seg:08x}/{chunk:04x}")
    }
    /// A chunk of a segment's tombstones.
    pub fn tombstones(prefix: &str, seg: u64, version: u32, chunk: u32) -> String {
        format!("{prefix}t/{seg:08x}/{version:08x}/{chunk:04x}")
    }
    /// A chunk of a segment's HNSW graph.
    pub fn graph(prefix: &str, seg: u64, chunk: u32) -> String {
        format!("{prefix}g/{seg:08x}/{chunk:04x}")
    }
    /// Chunk `chunk` of a segment's paged rows (0: the directory; `g + 1`: row group `g`).
    pub fn rows(prefix: &str, seg: u64, chunk: u32) -> String {
        format!("{prefix}r/{seg:08x}/{chunk:04x}")
    }
    /// A chunk of a segment's metadata index.
    pub fn postings(prefix: &str, seg: u64, chunk: u32) -> String {
        format!("{prefix}p/{seg:08x}/{chunk:04x}")
    }
    /// A chunk of a segment's int8 codes.
    pub fn codes(prefix: &str, seg: u64, chunk: u32) -> String {
        format!("{prefix}q/{seg:08x}/{chunk:04x}")
    }
}

/// Blobs handed over by the host, waiting to be decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Provided {
    blobs: BTreeMap<String, Option<Vec<u8>>>,
}

impl Provided {
    pub fn insert(&mut self, key: String, bytes: Option<Vec<u8>>) {
        self.blobs.insert(key, bytes);
    }

    /// Takes every key if all were provided; otherwise fails naming the missing ones. A key the
    /// host reported absent is corruption: a committed record names it.
    pub fn take_all(&mut self, keys: &[String]) -> Result<Vec<Vec<u8>>, Error> {
        let missing: Vec<String> = keys
            .iter()
            .filter(|k| !self.blobs.contains_key(*k))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Error::NotLoaded { keys: missing });
        }
        keys.iter()
            .map(|k| match self.blobs.remove(k).flatten() {
                Some(b) => Ok(b),
                None => Err(Error::Corrupt {
                    what: k.clone(),
                    reason: "a committed record names this blob but the store does not have it"
                        .into(),
                }),
            })
            .collect()
    }
}
