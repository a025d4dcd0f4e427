//! Stored bytes never panic the decoders: segments, manifests, tombstones, store snapshots and
//! a whole database opened over a damaged store.
#![no_main]

use larch::namespace::Namespace;
use larch::segment::{Segment, Tombstones};
use larch::storage::MemoryStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Namespace::decode_manifest("fuzz", data);
    let half = data.len() / 2;
    let _ = Segment::decode("fuzz", &[&data[..half]], &[&data[half..]]);
    let _ = Tombstones::decode("fuzz", &[data], 1000);
    if let Ok(store) = MemoryStore::from_bytes(data) {
        let _ = larch::db::read_everything(&store);
    }
});
