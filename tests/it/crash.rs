//! Crash simulation: cut the applied writes at every possible step, reopen, and check the
//! state equals the state after some prefix of acknowledged operations — never a mix, never
//! an acknowledged write lost.

use larch::db::DeleteSelector;
use larch::storage::{MemoryStore, Step};
use larch::{Db, Filter, Metadata, Result};
use proptest::prelude::*;
use serde_json::json;

use crate::storage::{TINY, rec, run, snapshot_mem, snapshot_of};

#[derive(Debug, Clone)]
enum Op {
    Upsert { ns: u8, ids: Vec<u8>, v: u8 },
    Update { ns: u8, id: u8, v: u8 },
    DeleteIds { ns: u8, ids: Vec<u8> },
    DeleteFilter { ns: u8 },
    DeleteAll { ns: u8 },
    DropNamespace { ns: u8 },
}

fn ns_name(ns: u8) -> &'static str {
    ["a", "b", "__default__"][ns as usize % 3]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, prop::collection::vec(0..12u8, 1..5), 1..50u8)
            .prop_map(|(ns, ids, v)| Op::Upsert { ns, ids, v }),
        1 => (0..3u8, 0..12u8, 1..50u8).prop_map(|(ns, id, v)| Op::Update { ns, id, v }),
        1 => (0..3u8, prop::collection::vec(0..12u8, 1..4)).prop_map(|(ns, ids)| Op::DeleteIds { ns, ids }),
        1 => (0..3u8).prop_map(|ns| Op::DeleteFilter { ns }),
        1 => (0..3u8).prop_map(|ns| Op::DeleteAll { ns }),
        1 => (0..3u8).prop_map(|ns| Op::DropNamespace { ns }),
    ]
}

fn apply(db: &mut Db, op: &Op) -> Result<()> {
    let ix = db.index_mut("ix")?;
    match op {
        Op::Upsert { ns, ids, v } => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let recs = ids
                .iter()
                .map(|i| {
                    rec(
                        &format!("id{i}"),
                        f32::from(*v) + f32::from(*i),
                        if i % 2 == 0 { "x" } else { "y" },
                    )
                })
                .collect();
            ix.upsert(ns_name(*ns), recs).map(|_| ())
        }
        Op::Update { ns, id, v } => {
            let md = Metadata::from_json(&json!({"v": v})).unwrap();
            ix.update(
                ns_name(*ns),
                &format!("id{id}"),
                Some(vec![f32::from(*v), 0.0, 1.0]),
                None,
                Some(md),
            )
            .map(|_| ())
        }
        Op::DeleteIds { ns, ids } => {
            let ids = ids
                .iter()
                .map(|i| format!("id{i}"))
                .collect::<std::collections::BTreeSet<_>>();
            ix.delete(
                ns_name(*ns),
                &DeleteSelector::Ids(ids.into_iter().collect()),
            )
            .map(|_| ())
        }
        Op::DeleteFilter { ns } => {
            let f = Filter::parse(&json!({"genre": "y"})).unwrap();
            ix.delete(ns_name(*ns), &DeleteSelector::Filter(f))
                .map(|_| ())
        }
        Op::DeleteAll { ns } => ix.delete(ns_name(*ns), &DeleteSelector::All).map(|_| ()),
        Op::DropNamespace { ns } => ix.delete_namespace(ns_name(*ns)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn crash_at_any_step_leaves_a_prefix_state(ops in prop::collection::vec(op_strategy(), 1..30)) {
        let mut store = MemoryStore::new();
        let mut db = Db::open(TINY);
        let mut model = Db::new();
        let create = |db: &mut Db| {
            db.create_index(larch::IndexConfig::dense("ix", 3, larch::Metric::DotProduct)).map(|_| ())
        };
        let (r, batches) = run(&mut db, &store, create);
        r.unwrap();
        for b in &batches { store.apply(b); }
        create(&mut model).unwrap();

        let mut acknowledged = snapshot_mem(&mut model);
        for op in &ops {
            let (r, batches) = run(&mut db, &store, |db| apply(db, op));
            let m = apply(&mut model, op);
            prop_assert_eq!(r.is_ok(), m.is_ok(), "engine and model disagree on {:?}", op);
            let next = snapshot_mem(&mut model);
            // Cut after every step of every batch of this operation.
            let steps: Vec<Step<'_>> = batches.iter().flat_map(|b| b.steps()).collect();
            for cut in 0..steps.len() {
                let mut crashed = store.clone();
                for s in &steps[..cut] { crashed.apply_step(*s); }
                let seen = snapshot_of(&crashed, TINY);
                prop_assert!(
                    seen == acknowledged || seen == next,
                    "cut {} of {} after {:?} is neither the previous nor the next state", cut, steps.len(), op
                );
            }
            for b in &batches { store.apply(b); }
            let after = snapshot_of(&store, TINY);
            prop_assert!(after == next, "acknowledged {:?} is not durable", op);
            acknowledged = next;
        }
    }
}
