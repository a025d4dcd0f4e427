//! Paged rows answer exactly as resident rows: the same random operations run against (a) a
//! persistent database over a [`MemoryStore`] with int8 codes, tiny seal and graph thresholds
//! and a row cache of zero or a few groups — so sealed segments page their rows out and every
//! read fetches, evicts and re-reads row groups through `NotLoaded` — and (b) an in-memory
//! database with the same thresholds and int8 codes, whose rows never leave memory. After
//! every operation both run their background work to completion ([`larch::host::index_all`]),
//! so both hold the same segments, graphs and codes; every answer (query ids and score bits,
//! fetched values and metadata, fetch-by-metadata pages, update counts) must be identical.
//!
//! The dimension is 384 so a row group (48 KB) holds about 30 rows and segments of a few
//! dozen records span several groups.

use std::sync::atomic::{AtomicUsize, Ordering};

use larch::db::{DeleteSelector, Index, Match, Needs, Query, QuerySource};
use larch::namespace::{AnnConfig, QueryVector, StorageConfig};
use larch::storage::MemoryStore;
use larch::{Db, Filter, IndexConfig, Metadata, Metric, Record};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::json;

const DIM: usize = 384;
const IDS: u16 = 160;
const NS: &str = "ns";

/// A deterministic vector from a seed (splitmix64), components in [-1, 1).
fn vector(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..DIM)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn id(i: u16) -> String {
    format!("r{i:03}")
}

fn metadata(m: (u8, u8)) -> Metadata {
    let mut md = Metadata::new();
    let (g, n) = m;
    if g < 3 {
        md.insert(
            "g",
            larch::Value::String(["x", "y", "z"][g as usize].into()),
        );
    }
    md.insert("n", larch::Value::Number(f64::from(n)));
    md
}

fn filter(f: u8) -> Filter {
    let j = match f % 8 {
        0 => json!({"g": "x"}),
        1 => json!({"g": {"$ne": "y"}}),
        2 => json!({"n": {"$gte": 3}}),
        3 => json!({"n": {"$lt": 1}}),
        4 => json!({"$or": [{"g": "z"}, {"n": 4}]}),
        5 => json!({"g": {"$in": ["x", "y"]}, "n": {"$nin": [2]}}),
        6 => json!({"g": {"$exists": false}}),
        _ => json!({"n": {"$in": [0, 1, 2, 3, 4, 5]}}),
    };
    Filter::parse(&j).expect("filter parses")
}

/// A record to upsert: its id, its vector's seed, its metadata's choice.
type Put = (u16, u64, Option<(u8, u8)>);

#[derive(Debug, Clone)]
enum Op {
    Upsert(Vec<Put>),
    Update {
        id: u16,
        values: Option<u64>,
        set: Option<(u8, u8)>,
    },
    UpdateWhere(u8, (u8, u8)),
    Delete(Vec<u16>),
    DeleteWhere(u8),
    Query {
        seed: u64,
        k: usize,
        filter: Option<u8>,
    },
    QueryId(u16, usize),
    Fetch(Vec<u16>),
    FetchWhere(u8, usize),
    /// (a) forgets everything in memory and reopens from its store.
    Reopen,
}

fn md() -> impl Strategy<Value = (u8, u8)> {
    (0u8..4, 0u8..6)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => vec((0..IDS, any::<u64>(), option::of(md())), 1..48).prop_map(Op::Upsert),
        2 => (0..IDS, option::of(any::<u64>()), option::of(md()))
            .prop_map(|(id, values, set)| Op::Update { id, values, set }),
        1 => (any::<u8>(), md()).prop_map(|(f, m)| Op::UpdateWhere(f, m)),
        1 => vec(0..IDS, 1..12).prop_map(Op::Delete),
        1 => (0u8..8).prop_map(|f| Op::DeleteWhere(f | 0x80)),
        6 => (any::<u64>(), 1usize..25, option::of(any::<u8>()))
            .prop_map(|(seed, k, filter)| Op::Query { seed, k, filter }),
        2 => (0..IDS, 1usize..12).prop_map(|(i, k)| Op::QueryId(i, k)),
        3 => vec(0..IDS, 1..40).prop_map(Op::Fetch),
        2 => (any::<u8>(), 1usize..60).prop_map(|(f, l)| Op::FetchWhere(f, l)),
        1 => Just(Op::Reopen),
    ]
}

/// What a test compares of an answer: ids, score bits, value bits (folded), metadata as JSON
/// text.
type Seen = Vec<(String, Option<u32>, Option<u64>, Option<String>)>;

/// The bits of `values`, folded (FNV-1a) so a failure message stays readable.
fn bits(values: &[f32]) -> u64 {
    values.iter().fold(0xcbf2_9ce4_8422_2325, |h, x| {
        (h ^ u64::from(x.to_bits())).wrapping_mul(0x0100_0000_01b3)
    })
}

fn seen_matches(ms: &[Match]) -> Seen {
    ms.iter()
        .map(|m| {
            (
                m.id.clone(),
                Some(m.score.to_bits()),
                m.values.as_deref().map(bits),
                m.metadata.as_ref().map(|md| md.to_json().to_string()),
            )
        })
        .collect()
}

fn seen_records(rs: &[Record]) -> Seen {
    rs.iter()
        .map(|r| {
            (
                r.id.clone(),
                None,
                Some(bits(&r.values)),
                r.metadata.as_ref().map(|md| md.to_json().to_string()),
            )
        })
        .collect()
}

/// A database and the store its writes go to (empty for the in-memory one).
struct Side {
    db: Db,
    store: MemoryStore,
    persistent: bool,
    config: StorageConfig,
    ann: AnnConfig,
    /// Row groups fetched on demand by requests.
    groups_fetched: usize,
}

impl Side {
    fn new(persistent: bool, config: StorageConfig, ann: AnnConfig) -> Self {
        let mut s = Side {
            db: Db::in_memory(config),
            store: MemoryStore::new(),
            persistent,
            config,
            ann,
            groups_fetched: 0,
        };
        s.reopen();
        s.run_db(|db| {
            db.create_index(IndexConfig::dense("ix", DIM as u32, Metric::Cosine))
                .map(|_| ())
        })
        .expect("create the index");
        s
    }

    fn reopen(&mut self) {
        self.db = if self.persistent {
            Db::open(self.config)
        } else {
            Db::in_memory(self.config)
        };
        self.db.set_ann_config(self.ann);
    }

    fn run_db<T>(&mut self, f: impl FnMut(&mut Db) -> larch::Result<T>) -> larch::Result<T> {
        let (store, fetched) = (&self.store, &mut self.groups_fetched);
        let get = |k: &str| {
            // Row groups are chunks 1.. of a segment's rows (`r/{segment}/{chunk}`).
            *fetched += usize::from(k.contains("r/") && !k.ends_with("/0000"));
            store.get(k).map(<[u8]>::to_vec)
        };
        let r = larch::host::with_blobs(&mut self.db, get, f);
        for batch in self.db.take_writes() {
            self.store.apply(&batch);
        }
        r
    }

    fn run<T>(&mut self, mut f: impl FnMut(&mut Index) -> larch::Result<T>) -> larch::Result<T> {
        self.run_db(|db| {
            let ix = db.index_mut("ix")?;
            ix.load(Needs::Namespace(NS))?;
            f(ix)
        })
    }

    /// Applies `op`; the answer as comparable text (errors by their debug form).
    fn apply(&mut self, op: &Op) -> Result<Seen, String> {
        let r = match op {
            Op::Upsert(rs) => {
                let records: Vec<Record> = rs
                    .iter()
                    .map(|&(i, seed, m)| Record {
                        id: id(i),
                        values: vector(seed),
                        sparse_values: None,
                        metadata: m.map(metadata),
                    })
                    .collect();
                self.run(|ix| ix.upsert(NS, records.clone()))
                    .map(|n| vec![(n.to_string(), None, None, None)])
            }
            Op::Update { id: i, values, set } => self
                .run(|ix| ix.update(NS, &id(*i), values.map(vector), None, set.map(metadata)))
                .map(|n| vec![(n.to_string(), None, None, None)]),
            Op::UpdateWhere(f, m) => self
                .run(|ix| ix.update_where(NS, &filter(*f), &metadata(*m), false))
                .map(|n| vec![(n.to_string(), None, None, None)]),
            Op::Delete(ids) => {
                let ids: Vec<String> = ids.iter().map(|&i| id(i)).collect();
                self.run(|ix| ix.delete(NS, &DeleteSelector::Ids(ids.clone())))
                    .map(|n| vec![(n.to_string(), None, None, None)])
            }
            Op::DeleteWhere(f) => self
                .run(|ix| ix.delete(NS, &DeleteSelector::Filter(filter(*f))))
                .map(|n| vec![(n.to_string(), None, None, None)]),
            Op::Query { seed, k, filter: f } => {
                let q = Query {
                    vector: QuerySource::Vector(QueryVector {
                        values: Some(vector(*seed)),
                        sparse_values: None,
                    }),
                    top_k: *k,
                    filter: f.map(filter),
                    include_values: true,
                    include_metadata: true,
                };
                self.run(|ix| ix.query(NS, &q)).map(|m| seen_matches(&m))
            }
            Op::QueryId(i, k) => {
                let q = Query {
                    vector: QuerySource::Id(id(*i)),
                    top_k: *k,
                    filter: None,
                    include_values: true,
                    include_metadata: true,
                };
                self.run(|ix| ix.query(NS, &q)).map(|m| seen_matches(&m))
            }
            Op::Fetch(ids) => {
                let ids: Vec<String> = ids.iter().map(|&i| id(i)).collect();
                self.run(|ix| ix.fetch(NS, &ids))
                    .map(|rs| seen_records(&rs))
            }
            Op::FetchWhere(f, limit) => {
                // Every page, so paging across groups and segments is covered.
                let f = filter(*f);
                let mut all = Seen::new();
                let mut after: Option<String> = None;
                loop {
                    let page = self.run(|ix| ix.fetch_where(NS, &f, after.as_deref(), *limit));
                    match page {
                        Ok(p) => {
                            all.extend(seen_records(&p.items));
                            match p.next_after {
                                Some(a) => after = Some(a),
                                None => break Ok(all),
                            }
                        }
                        Err(e) => break Err(e),
                    }
                }
            }
            Op::Reopen => {
                if self.persistent {
                    self.reopen();
                }
                Ok(Seen::new())
            }
        };
        larch::host::index_all(&mut self.db, &mut self.store);
        r.map_err(|e| format!("{e:?}"))
    }
}

fn config() -> impl Strategy<Value = (StorageConfig, AnnConfig)> {
    (
        12usize..48,
        2usize..5,
        prop_oneof![Just(0usize), Just(60_000), Just(200_000)],
        4usize..24,
        any::<bool>(),
    )
        .prop_map(
            |(seal_records, max_segments, row_cache_bytes, min_records, consolidate)| {
                let config = StorageConfig {
                    seal_records,
                    max_log_entries: 4,
                    max_segments,
                    row_cache_bytes,
                };
                let mut ann = AnnConfig {
                    min_records,
                    int8: true,
                    merge_bytes: if consolidate { 1 << 20 } else { 0 },
                    ..AnnConfig::default()
                };
                // A beam narrower than the segments, so codes choose the candidates rescored.
                ann.hnsw.ef_search = 16;
                (config, ann)
            },
        )
}

fn check(config: StorageConfig, ann: AnnConfig, ops: &[Op]) -> Result<usize, TestCaseError> {
    let mut paged = Side::new(true, config, ann);
    let mut resident = Side::new(false, config, ann);
    for (step, op) in ops.iter().enumerate() {
        let a = paged.apply(op);
        let b = resident.apply(op);
        prop_assert_eq!(a, b, "step {}: {:?}", step, op);
    }
    prop_assert_eq!(resident.groups_fetched, 0);
    Ok(paged.groups_fetched)
}

#[test]
fn paged_rows_answer_exactly_as_resident_rows() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    let fetched = AtomicUsize::new(0);
    let strategy = (config(), vec(op(), 1..40));
    let result = runner.run(&strategy, |((config, ann), ops)| {
        fetched.fetch_add(check(config, ann, &ops)?, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The property is only worth something if requests really read paged rows back.
    let fetched = fetched.into_inner();
    assert!(fetched > 100, "row groups fetched on demand: {fetched}");
}
