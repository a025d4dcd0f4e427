//! Damaged stored bytes never panic the engine: every decoder validates (the in-CI companion of
//! the cargo-fuzz targets in `fuzz/`).

use larch::index::quant::Int8Index;
use larch::namespace::{AnnConfig, StorageConfig};
use larch::segment::postings::Postings;
use larch::storage::{MemoryStore, WriteBatch};
use larch::{Db, Filter, IndexConfig, Metadata, Metric};
use proptest::prelude::*;
use serde_json::json;

use crate::storage::{TINY, rec, run_apply, workload};

fn workload_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    let mut db = larch::Db::open(TINY);
    for op in workload() {
        let _ = run_apply(&mut db, &mut store, |db| op(db));
    }
    store
}

/// A store whose namespace has three segments of 40 records, each with a graph and int8 codes.
fn int8_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    let mut db = Db::open(StorageConfig {
        seal_records: 40,
        ..StorageConfig::default()
    });
    db.set_ann_config(AnnConfig {
        merge_bytes: 0,
        min_records: 1,
        int8: true,
        ..AnnConfig::default()
    });
    run_apply(&mut db, &mut store, |db| {
        db.create_index(IndexConfig::dense("ix", 3, Metric::DotProduct))
            .map(|_| ())
    })
    .unwrap();
    for s in 0..3 {
        let recs: Vec<_> = (0..40)
            .map(|i| rec(&format!("{s}-{i}"), (s * 40 + i) as f32 / 7.0, "x"))
            .collect();
        run_apply(&mut db, &mut store, |db| {
            db.index_mut("ix")?.upsert("n", recs.clone()).map(|_| ())
        })
        .unwrap();
    }
    while db.index_step(1000) {}
    for b in db.take_writes() {
        store.apply(&b);
    }
    store
}

fn damaged(store: &MemoryStore, key: &str, blob: Vec<u8>) -> MemoryStore {
    let mut damaged = store.clone();
    damaged.apply(&WriteBatch {
        puts: vec![(key.to_string(), blob)],
        ..Default::default()
    });
    damaged
}

#[test]
fn every_byte_of_a_codes_blob_is_checked() {
    let store = int8_store();
    assert_eq!(larch::db::read_everything(&store).unwrap(), 120);
    let codes: Vec<String> = store
        .keys()
        .filter(|k| k.contains("/q/"))
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 3);
    for key in &codes {
        let good = store.get(key).unwrap().to_vec();
        for i in 0..good.len() {
            let mut blob = good.clone();
            blob[i] ^= 0x01;
            assert!(
                larch::db::read_everything(&damaged(&store, key, blob)).is_err(),
                "flip at {i} of {key} went unnoticed"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_blob_of_an_int8_store_gives_an_error_never_a_panic(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        truncate in any::<bool>(),
    ) {
        let store = int8_store();
        let keys: Vec<String> = store.keys().map(str::to_string).collect();
        let key = &keys[which.index(keys.len())];
        let mut blob = store.get(key).unwrap().to_vec();
        let i = at.index(blob.len());
        if truncate { blob.truncate(i) } else { blob[i] ^= mask }
        let _ = larch::db::read_everything(&damaged(&store, key, blob));
    }

    #[test]
    fn int8_code_bytes_never_panic_the_decoder(
        metric in 0u8..4,
        dim in 0u32..6,
        n in 0u32..6,
        scale in any::<f32>(),
        rest in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = b"LQ8C".to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&[metric, 0, 0, 0]);
        bytes.extend_from_slice(&dim.to_le_bytes());
        bytes.extend_from_slice(&n.to_le_bytes());
        bytes.extend_from_slice(&scale.to_le_bytes());
        bytes.extend_from_slice(&rest);
        for b in [&bytes[..], &rest[..]] {
            if let Ok(q) = Int8Index::from_bytes(b) {
                prop_assert_eq!((q.len(), q.dim()), (n as usize, dim as usize));
                prop_assert_eq!(Int8Index::from_bytes(&q.to_bytes()).unwrap(), q);
            }
        }
    }
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

/// What any decoded postings of `slots` records must satisfy: they encode back to `bytes`, and
/// on every field (`names`) a condition and its negation split the slots between them.
fn check_postings(p: &Postings, slots: usize, bytes: &[u8], names: &[&str]) {
    assert_eq!(p.to_bytes(), bytes, "decoded postings are canonical");
    let count = |f: serde_json::Value| p.select(&Filter::parse(&f).unwrap()).count();
    for &k in names {
        let present = count(json!({ k: {"$exists": true} }));
        assert_eq!(present + count(json!({ k: {"$exists": false} })), slots);
        for v in [json!("a"), json!(true), json!(1)] {
            assert_eq!(
                count(json!({ k: v })) + count(json!({ k: {"$ne": v} })),
                slots
            );
        }
        let (lt, gte) = (
            count(json!({ k: {"$lt": 1} })),
            count(json!({ k: {"$gte": 1} })),
        );
        assert!(lt + gte <= present);
        assert_eq!(
            count(json!({"$or": [{ k: {"$lt": 1} }, { k: {"$gte": 1} }]})),
            lt + gte
        );
    }
}

/// Postings of `n` records with string, number, boolean and list fields, some absent.
fn sample_postings(n: usize) -> (Postings, usize) {
    let mds: Vec<Option<Metadata>> = (0..n)
        .map(|i| {
            (i % 5 != 4).then(|| {
                Metadata::from_json(&json!({
                    "a": (["a", "b", "c"][i % 3]),
                    "b": i % 2 == 0,
                    "c": (i % 7) as f64 - 2.5,
                    "d": ["a", if i % 4 == 0 { "b" } else { "a" }],
                }))
                .unwrap()
            })
        })
        .collect();
    (Postings::build(mds.iter().map(Option::as_ref)), n)
}

#[test]
fn every_byte_of_stored_postings_is_checked_or_canonical() {
    let (p, n) = sample_postings(23);
    let good = p.to_bytes();
    check_postings(
        &Postings::from_bytes(&good, n).unwrap(),
        n,
        &good,
        &["a", "b", "c", "d"],
    );
    for i in 0..good.len() {
        for mask in [0x01, 0x10, 0x80] {
            let mut b = good.clone();
            b[i] ^= mask;
            if let Ok(d) = Postings::from_bytes(&b, n) {
                check_postings(&d, n, &b, &["a", "b", "c", "d"]);
            }
        }
        assert!(
            Postings::from_bytes(&good[..i], n).is_err(),
            "truncated to {i}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn damaged_postings_give_an_error_or_consistent_selections(
        n in 0usize..40,
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        truncate in any::<bool>(),
        extra in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let (p, n) = sample_postings(n);
        let mut b = p.to_bytes();
        let i = at.index(b.len());
        if truncate { b.truncate(i) } else { b[i] ^= mask }
        b.extend_from_slice(&extra);
        if let Ok(d) = Postings::from_bytes(&b, n) {
            check_postings(&d, n, &b, &["a", "b", "c", "d", ""]);
        }
    }

    #[test]
    fn postings_bytes_never_panic_the_decoder(
        slots in 0u32..64,
        fields in 0u32..4,
        name in prop::sample::select(vec!["", "a", "b"]),
        rest in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = b"LPST".to_vec();
        for w in [1, slots, fields, name.len() as u32] {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&rest);
        for b in [&bytes[..], &rest[..]] {
            if let Ok(p) = Postings::from_bytes(b, slots as usize) {
                check_postings(&p, slots as usize, b, &[name, "a", "b"]);
            }
        }
    }
}
