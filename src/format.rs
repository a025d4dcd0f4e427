//! Blob layout: the only place stored bytes are encoded and decoded.
//!
//! Every blob starts with a 16-byte header, all integers little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `LRCH` |
//! | 4 | 2 | format version ([`FORMAT_VERSION`]) |
//! | 6 | 1 | kind ([`BlobKind`]) |
//! | 7 | 1 | checksum algorithm: 0 CRC-32 (IEEE), 1 XXH3-64 (low 32 bits) |
//! | 8 | 4 | payload length in bytes |
//! | 12 | 4 | checksum of the payload |
//!
//! Writers use XXH3: CRC-32 has no SIMD128 path and ran at ~1.5 GB/s in wasm, more than half
//! of a 100k × 384 cold open. Readers accept both, so blobs written with CRC-32 keep loading.
//!
//! The payload is an rkyv archive (validated with bytecheck on every read) or, for vector
//! chunks, raw little-endian `f32`s, or, for graph and int8 codes chunks, the fixed layouts of
//! `index/hnsw/format.rs` and `index/quant/format.rs` (validated by their decoders). A payload larger than [`MAX_BLOB_BYTES`] minus the header is
//! split over several chunk blobs by the caller ([`split_chunks`]). Bytes from a host are copied
//! into an aligned buffer before rkyv reads them, so unaligned input is fine. Truncated,
//! bit-flipped or foreign bytes give [`Error::Corrupt`], never a panic.

use rkyv::api::high::{HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;

use crate::error::{Error, Result};

/// The current format version. Readers accept exactly the versions listed in
/// [`READABLE_VERSIONS`].
pub const FORMAT_VERSION: u16 = 4;
/// Versions this build reads. Version 2 added graph chunks to the manifest's segment
/// references, version 3 int8 code chunks; every other kind has the same layout in all three,
/// and older manifests are converted on read (`manifest::ManifestV1`, `manifest::ManifestV2`).
pub const READABLE_VERSIONS: &[u16] = &[1, 2, 3, 4];
/// Largest blob a host must store (the Durable Object value limit).
pub const MAX_BLOB_BYTES: usize = 2 * 1024 * 1024;
/// Header size.
pub const HEADER_LEN: usize = 16;
/// Largest payload of one blob.
pub const MAX_PAYLOAD: usize = MAX_BLOB_BYTES - HEADER_LEN;

const MAGIC: &[u8; 4] = b"LRCH";
const CHECKSUM_CRC32: u8 = 0;
const CHECKSUM_XXH3: u8 = 1;

fn checksum(algorithm: u8, payload: &[u8]) -> u32 {
    if algorithm == CHECKSUM_CRC32 {
        crc32fast::hash(payload)
    } else {
        xxhash_rust::xxh3::xxh3_64(payload) as u32
    }
}

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BlobKind {
    /// The list of indexes and their configurations.
    Root = 1,
    /// An index catalog: namespace names and ids.
    Catalog = 2,
    /// A namespace manifest: the commit record.
    Manifest = 3,
    /// One logged write of a namespace (not yet sealed).
    Log = 4,
    /// A chunk of a segment's structured part (ids, metadata, sparse values).
    SegmentChunk = 5,
    /// A chunk of a segment's dense vectors (raw little-endian f32).
    VectorChunk = 6,
    /// A segment's deletion bitmap.
    Tombstones = 7,
    /// A chunk of a segment's ANN graph.
    GraphChunk = 8,
    /// A chunk of a segment's int8 codes (format version 3).
    CodesChunk = 9,
    /// A segment's paged rows: their directory or one row group (format version 4).
    RowsChunk = 10,
    /// A chunk of a segment's metadata index (format version 4).
    PostingsChunk = 11,
}

impl BlobKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => BlobKind::Root,
            2 => BlobKind::Catalog,
            3 => BlobKind::Manifest,
            4 => BlobKind::Log,
            5 => BlobKind::SegmentChunk,
            6 => BlobKind::VectorChunk,
            7 => BlobKind::Tombstones,
            8 => BlobKind::GraphChunk,
            9 => BlobKind::CodesChunk,
            10 => BlobKind::RowsChunk,
            11 => BlobKind::PostingsChunk,
            _ => return None,
        })
    }

    /// The first format version that wrote this kind. The header's version is not covered by
    /// the checksum, so a blob claiming an earlier one is damaged.
    fn first_version(self) -> u16 {
        match self {
            BlobKind::GraphChunk => 2,
            BlobKind::CodesChunk => 3,
            BlobKind::RowsChunk | BlobKind::PostingsChunk => 4,
            _ => 1,
        }
    }
}

fn corrupt(what: &str, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Wraps a payload in a header. The payload must fit one blob.
pub fn seal_blob(kind: BlobKind, payload: &[u8]) -> Vec<u8> {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind as u8);
    out.push(CHECKSUM_XXH3);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(CHECKSUM_XXH3, payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks a blob's header and checksum and returns its payload.
pub fn open_blob<'a>(what: &str, kind: BlobKind, bytes: &'a [u8]) -> Result<&'a [u8]> {
    open_blob_versioned(what, kind, bytes).map(|(_, payload)| payload)
}

/// Like [`open_blob`], also reporting the blob's format version (one of
/// [`READABLE_VERSIONS`]).
pub fn open_blob_versioned<'a>(
    what: &str,
    kind: BlobKind,
    bytes: &'a [u8],
) -> Result<(u16, &'a [u8])> {
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(
            what,
            format!("{} bytes is shorter than a header", bytes.len()),
        ));
    }
    if &bytes[0..4] != MAGIC {
        return Err(corrupt(what, "not a Larch blob (bad magic)"));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if !READABLE_VERSIONS.contains(&version) {
        return Err(corrupt(
            what,
            format!("unsupported format version {version}"),
        ));
    }
    match BlobKind::from_u8(bytes[6]) {
        Some(k) if k == kind => {}
        _ => {
            return Err(corrupt(
                what,
                format!("expected a {kind:?} blob, got kind {}", bytes[6]),
            ));
        }
    }
    if version < kind.first_version() {
        return Err(corrupt(
            what,
            format!("a {kind:?} blob cannot have format version {version}"),
        ));
    }
    let algorithm = bytes[7];
    if algorithm != CHECKSUM_CRC32 && algorithm != CHECKSUM_XXH3 {
        return Err(corrupt(
            what,
            format!("unknown checksum algorithm {algorithm}"),
        ));
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let crc = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let payload = &bytes[HEADER_LEN..];
    if payload.len() != len {
        return Err(corrupt(
            what,
            format!("payload is {} bytes, header says {len}", payload.len()),
        ));
    }
    if checksum(algorithm, payload) != crc {
        return Err(corrupt(what, "checksum mismatch"));
    }
    Ok((version, payload))
}

/// Splits a long payload into pieces of at most [`MAX_PAYLOAD`] bytes (at least one piece).
pub fn split_chunks(payload: &[u8]) -> Vec<&[u8]> {
    if payload.is_empty() {
        return vec![payload];
    }
    payload.chunks(MAX_PAYLOAD).collect()
}

/// Serializes a value with rkyv.
pub fn to_rkyv<T>(value: &T) -> Vec<u8>
where
    T: for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
{
    rkyv::to_bytes::<rancor::Error>(value)
        .map(|v| v.to_vec())
        .unwrap_or_default()
}

/// Validates and deserializes an rkyv payload. The bytes are copied into an aligned buffer
/// first, so any alignment of `bytes` is fine.
pub fn from_rkyv<T>(what: &str, bytes: &[u8]) -> Result<T>
where
    T: rkyv::Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rancor::Error>>,
{
    let mut aligned = AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    rkyv::from_bytes::<T, rancor::Error>(&aligned).map_err(|e| corrupt(what, e.to_string()))
}

/// Encodes a value as one or more blobs of `kind` (rkyv payload, chunked).
pub fn encode_chunked<T>(kind: BlobKind, value: &T) -> Vec<Vec<u8>>
where
    T: for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
{
    let payload = to_rkyv(value);
    split_chunks(&payload)
        .into_iter()
        .map(|c| seal_blob(kind, c))
        .collect()
}

/// The payloads of owned chunk blobs of `kind`, concatenated: one chunk is opened in place
/// (its header moved out), several are copied into one buffer of the exact size, each dropped
/// once copied, so the bytes are held about once.
pub fn take_payloads(what: &str, kind: BlobKind, chunks: Vec<Vec<u8>>) -> Result<Vec<u8>> {
    let mut total = 0;
    for c in &chunks {
        total += open_blob(what, kind, c)?.len();
    }
    if chunks.len() == 1 {
        let mut only = chunks.into_iter().next().unwrap_or_default();
        only.drain(..HEADER_LEN);
        return Ok(only);
    }
    let mut out = Vec::with_capacity(total);
    for c in chunks {
        out.extend_from_slice(&c[HEADER_LEN..]);
    }
    Ok(out)
}

/// The payloads of owned chunk blobs of `kind`, each checked and opened in place (its header
/// moved out), so no payload is copied.
pub fn into_payloads(what: &str, kind: BlobKind, chunks: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
    chunks
        .into_iter()
        .map(|mut c| {
            open_blob(what, kind, &c)?;
            c.drain(..HEADER_LEN);
            Ok(c)
        })
        .collect()
}

/// Decodes a value from owned chunk blobs, in order, dropping each chunk once its payload is
/// copied into the aligned buffer rkyv reads.
pub fn decode_chunks_owned<T>(what: &str, kind: BlobKind, chunks: Vec<Vec<u8>>) -> Result<T>
where
    T: rkyv::Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rancor::Error>>,
{
    let mut total = 0;
    for c in &chunks {
        total += open_blob(what, kind, c)?.len();
    }
    let mut aligned = AlignedVec::<16>::with_capacity(total);
    for c in chunks {
        aligned.extend_from_slice(&c[HEADER_LEN..]);
    }
    rkyv::from_bytes::<T, rancor::Error>(&aligned).map_err(|e| corrupt(what, e.to_string()))
}

/// Decodes a value from its chunk blobs, in order.
pub fn decode_chunked<T>(what: &str, kind: BlobKind, chunks: &[&[u8]]) -> Result<T>
where
    T: rkyv::Archive,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, rkyv::api::high::HighDeserializer<rancor::Error>>,
{
    let mut payload = Vec::new();
    for c in chunks {
        payload.extend_from_slice(open_blob(what, kind, c)?);
    }
    from_rkyv(what, &payload)
}

/// Encodes `f32`s as vector-chunk blobs of raw little-endian floats.
pub fn encode_vectors<'a>(pages: impl Iterator<Item = &'a [f32]>) -> Vec<Vec<u8>> {
    let full = MAX_PAYLOAD / 4 * 4;
    let mut blobs = Vec::new();
    let mut payload = Vec::new();
    for v in pages.flatten() {
        if payload.len() == full {
            blobs.push(seal_blob(BlobKind::VectorChunk, &payload));
            payload.clear();
        }
        payload.extend_from_slice(&v.to_le_bytes());
    }
    if !payload.is_empty() || blobs.is_empty() {
        blobs.push(seal_blob(BlobKind::VectorChunk, &payload));
    }
    blobs
}

/// Decodes vector-chunk blobs, appending the floats to `out`.
pub fn decode_vectors(what: &str, chunk: &[u8], out: &mut Vec<f32>) -> Result<()> {
    let payload = open_blob(what, BlobKind::VectorChunk, chunk)?;
    if payload.len() % 4 != 0 {
        return Err(corrupt(what, "vector chunk length is not a multiple of 4"));
    }
    out.extend(
        payload
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
    struct Sample {
        name: String,
        values: Vec<u32>,
    }

    #[test]
    fn round_trips_and_detects_damage() {
        let s = Sample {
            name: "x".repeat(100),
            values: (0..1000).collect(),
        };
        let blobs = encode_chunked(BlobKind::Manifest, &s);
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        let back: Sample = decode_chunked("t", BlobKind::Manifest, &refs).unwrap();
        assert_eq!(back, s);
        // Every single-bit flip and every truncation is detected.
        let blob = &blobs[0];
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x10;
            let r: Result<Sample> = decode_chunked("t", BlobKind::Manifest, &[&bad]);
            assert!(matches!(r, Err(Error::Corrupt { .. })), "flip at {i}");
        }
        for n in 0..blob.len() {
            let r: Result<Sample> = decode_chunked("t", BlobKind::Manifest, &[&blob[..n]]);
            assert!(matches!(r, Err(Error::Corrupt { .. })), "truncate at {n}");
        }
        // A blob of the wrong kind is refused.
        let r: Result<Sample> = decode_chunked("t", BlobKind::Log, &refs);
        assert!(r.is_err());
    }

    #[test]
    fn unaligned_input_is_fine() {
        let s = Sample {
            name: "y".into(),
            values: vec![7; 33],
        };
        let blob = encode_chunked(BlobKind::Log, &s).remove(0);
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&blob);
        let back: Sample = decode_chunked("t", BlobKind::Log, &[&shifted[1..]]).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn large_payloads_are_chunked() {
        let v: Vec<f32> = (0..(MAX_PAYLOAD / 4 + 10)).map(|i| i as f32).collect();
        let blobs = encode_vectors([v.as_slice()].into_iter());
        assert_eq!(blobs.len(), 2);
        assert!(blobs.iter().all(|b| b.len() <= MAX_BLOB_BYTES));
        let mut out = Vec::new();
        for b in &blobs {
            decode_vectors("t", b, &mut out).unwrap();
        }
        assert_eq!(out, v);
    }
}
