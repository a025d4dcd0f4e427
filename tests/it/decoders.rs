//! Damaged stored bytes never panic the engine: every decoder validates (the in-CI companion of
//! the cargo-fuzz targets in `fuzz/`).

use larch::storage::MemoryStore;
use proptest::prelude::*;

use crate::storage::{TINY, run_apply, workload};

fn workload_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    let mut db = larch::Db::open(TINY);
    for op in workload() {
        let _ = run_apply(&mut db, &mut store, |db| op(db));
    }
    store
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_blob_gives_an_error_never_a_panic(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        truncate in any::<bool>(),
    ) {
        let store = workload_store();
        let keys: Vec<String> = store.keys().map(str::to_string).collect();
        let key = &keys[which.index(keys.len())];
        let mut blob = store.get(key).unwrap().to_vec();
        let i = at.index(blob.len());
        if truncate { blob.truncate(i) } else { blob[i] ^= mask }
        let mut damaged = MemoryStore::from_bytes(&store.to_bytes()).unwrap();
        damaged.apply(&larch::storage::WriteBatch { puts: vec![(key.clone(), blob)], ..Default::default() });
        // Either the damage is detected, or it hit bytes nothing reads any more (garbage).
        let _ = larch::db::read_everything(&damaged);
    }

    #[test]
    fn random_snapshots_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut with_magic = b"LRST".to_vec();
        with_magic.extend_from_slice(&bytes);
        for b in [&bytes, &with_magic] {
            if let Ok(store) = MemoryStore::from_bytes(b) {
                let _ = larch::db::read_everything(&store);
            }
        }
    }
}

#[test]
fn every_reachable_blob_is_checked() {
    // Flipping any byte of any blob the workload's final state reads is detected.
    let store = workload_store();
    let clean = larch::db::read_everything(&store).unwrap();
    assert!(clean > 0);
    for key in store.keys().map(str::to_string).collect::<Vec<_>>() {
        let len = store.get(&key).unwrap().len();
        for i in [0, 7, 15, len / 2, len - 1] {
            let mut blob = store.get(&key).unwrap().to_vec();
            blob[i] ^= 0x40;
            let mut damaged = store.clone();
            damaged.apply(&larch::storage::WriteBatch {
                puts: vec![(key.clone(), blob)],
                ..Default::default()
            });
            assert!(
                larch::db::read_everything(&damaged).is_err(),
                "flip at {i} of {key} went unnoticed"
            );
        }
    }
}
