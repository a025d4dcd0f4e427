//! Namespaces under random operation sequences, checked step by step against a reference model.
//!
//! The model is a plain `BTreeMap<namespace, BTreeMap<id, record>>` written from Pinecone's
//! documented semantics, independently of the engine: upsert replaces whole records and creates
//! the namespace; `setMetadata` merges keys; delete by ids / filter / all needs an existing
//! namespace; deleting all drops the namespace; update on a missing id or namespace matches 0;
//! query on a missing namespace is empty; `""` and `"__default__"` name one namespace. Rejected
//! requests must change nothing. After every step the whole observable state (stats, namespace
//! listing, describe, fetch, paged list, an exhaustive query per namespace) is compared.
//!
//! Each case runs either on an in-memory [`Db::new`] or on a persistent [`Db::open`] over a
//! [`MemoryStore`] with tiny thresholds, so memtable sealing, segment tombstones, compaction,
//! lazy reloading of evicted namespaces and reopening from the store all happen within a few
//! operations and are held to the same model.

use std::collections::{BTreeMap, BTreeSet};

use larch::db::Needs;
use larch::db::{DeleteSelector, Index, Match, Query, QuerySource};
use larch::namespace::{AnnConfig, QueryVector, StorageConfig};
use larch::storage::MemoryStore;
use larch::{Db, Error, Filter, IndexConfig, Metadata, Metric, Record, Value as MdValue};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const DIM: usize = 4;
/// Names the operations address. `""` and `"__default__"` alias; the last one is invalid.
const NAMES: [&str; 5] = ["", "__default__", "ns1", "ns2", "bad-\u{e9}"];
const VALID_NAMES: usize = 4;
/// Record ids. Only the first [`STORED_IDS`] are ever upserted; the rest stay unknown.
const IDS: [&str; 17] = [
    "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "b0", "b1", "b2", "b3", "b4", "c0",
    "zz",
];
const STORED_IDS: usize = 15;
const PREFIXES: [&str; 4] = ["", "a", "b", "a1"];
const LIST_LIMIT: usize = 3;

type Md = Map<String, Value>;
type Vector = [i8; DIM];
type TestResult = Result<(), TestCaseError>;

// ---------------------------------------------------------------------------------------------
// The reference model.

/// The namespace a name refers to, or `None` for an invalid name.
fn canonical(name: &str) -> Option<&str> {
    match name {
        "" => Some("__default__"),
        n if n.is_ascii() => Some(n),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Stored {
    values: Vec<f32>,
    metadata: Option<Md>,
}

#[derive(Debug, Clone, Default)]
struct Model {
    spaces: BTreeMap<String, BTreeMap<String, Stored>>,
}

impl Model {
    fn space(&self, name: &str) -> Option<&BTreeMap<String, Stored>> {
        self.spaces.get(canonical(name)?)
    }
}

/// A filter over the tiny metadata domain `{"g": "x"|"y", "n": 0..3}`, with its own evaluator.
#[derive(Debug, Clone)]
enum F {
    GEq(&'static str),
    GNe(&'static str),
    GIn(Vec<&'static str>),
    NEq(i64),
    NGte(i64),
    NLt(i64),
    NNin(Vec<i64>),
    Exists(&'static str, bool),
    And(Vec<F>),
    Or(Vec<F>),
}

impl F {
    fn to_json(&self) -> Value {
        match self {
            F::GEq(v) => json!({ "g": v }),
            F::GNe(v) => json!({ "g": { "$ne": v } }),
            F::GIn(vs) => json!({ "g": { "$in": vs } }),
            F::NEq(k) => json!({ "n": { "$eq": k } }),
            F::NGte(k) => json!({ "n": { "$gte": k } }),
            F::NLt(k) => json!({ "n": { "$lt": k } }),
            F::NNin(ks) => json!({ "n": { "$nin": ks } }),
            F::Exists(key, b) => json!({ *key: { "$exists": b } }),
            F::And(fs) => json!({ "$and": fs.iter().map(F::to_json).collect::<Vec<_>>() }),
            F::Or(fs) => json!({ "$or": fs.iter().map(F::to_json).collect::<Vec<_>>() }),
        }
    }

    /// Pinecone's semantics: a missing field matches only `$ne`, `$nin` and `$exists: false`;
    /// no metadata behaves as empty metadata.
    fn matches(&self, md: Option<&Md>) -> bool {
        let get = |k: &str| md.and_then(|m| m.get(k));
        let g = get("g").and_then(Value::as_str);
        let n = get("n").and_then(Value::as_i64);
        match self {
            F::GEq(v) => g == Some(*v),
            F::GNe(v) => g != Some(*v),
            F::GIn(vs) => g.is_some_and(|g| vs.contains(&g)),
            F::NEq(k) => n == Some(*k),
            F::NGte(k) => n.is_some_and(|n| n >= *k),
            F::NLt(k) => n.is_some_and(|n| n < *k),
            F::NNin(ks) => !n.is_some_and(|n| ks.contains(&n)),
            F::Exists(key, b) => get(key).is_some() == *b,
            F::And(fs) => fs.iter().all(|f| f.matches(md)),
            F::Or(fs) => fs.iter().any(|f| f.matches(md)),
        }
    }
}

/// `None` is the match-all filter `{}`.
fn filter_json(f: Option<&F>) -> Value {
    f.map_or_else(|| json!({}), F::to_json)
}

fn filter_matches(f: Option<&F>, md: Option<&Md>) -> bool {
    f.is_none_or(|f| f.matches(md))
}

fn engine_filter(f: Option<&F>) -> Filter {
    let j = filter_json(f);
    Filter::parse(&j).unwrap_or_else(|e| panic!("filter {j} should parse: {e}"))
}

fn merge_into(stored: &mut Stored, set_metadata: &Md) {
    let merged = stored.metadata.get_or_insert_with(Map::new);
    for (k, v) in set_metadata {
        merged.insert(k.clone(), v.clone());
    }
}

/// The score Pinecone defines, computed in f64: cosine `dot/(|a||q|)` (0 for a zero norm),
/// squared euclidean distance, or the dot product.
fn model_score(metric: Metric, a: &[f32], q: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(q)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    match metric {
        Metric::DotProduct => dot,
        Metric::Euclidean => a
            .iter()
            .zip(q)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum(),
        Metric::Cosine => {
            let na = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
            let nq = q.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
            if na == 0.0 || nq == 0.0 {
                0.0
            } else {
                dot / (na * nq)
            }
        }
    }
}

/// True when score `a` ranks strictly before `b`.
fn better(metric: Metric, a: f64, b: f64) -> bool {
    if metric == Metric::Euclidean {
        a < b
    } else {
        a > b
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + b.abs())
}

// ---------------------------------------------------------------------------------------------
// The engine under test.

/// How the database under test keeps its namespaces.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `Db::new()`: memory only, default thresholds (nothing is ever sealed here).
    Memory,
    /// `Db::open` over a [`MemoryStore`] with tiny thresholds. With `evict`, every namespace is
    /// evicted after each step, so each operation first reloads what it touches. `ann`: graphs
    /// for segments of at least this many records, int8 codes or not, and consolidation of
    /// sealed segments — all built by [`Op::IndexStep`], never changing an answer (segments
    /// this small are answered by exact scans of the graph's codes or vectors).
    Persistent {
        config: StorageConfig,
        evict: bool,
        ann: (usize, bool),
    },
}

/// A database plus, when persistent, the host store its writes go to.
struct Harness {
    mode: Mode,
    db: Db,
    store: MemoryStore,
}

fn open(config: StorageConfig, (min_records, int8): (usize, bool)) -> Db {
    let mut db = Db::open(config);
    db.set_ann_config(AnnConfig {
        min_records,
        int8,
        merge_bytes: 1 << 20,
        ..AnnConfig::default()
    });
    db
}

impl Harness {
    fn new(mode: Mode, metric: Metric) -> Self {
        let db = match mode {
            Mode::Memory => Db::new(),
            Mode::Persistent { config, ann, .. } => open(config, ann),
        };
        let mut h = Harness {
            mode,
            db,
            store: MemoryStore::new(),
        };
        let config = IndexConfig::dense("ix", DIM as u32, metric);
        h.run_db(|db| db.create_index(config.clone()).map(|_| ()))
            .expect("create the index");
        h
    }

    /// Runs `f`, providing the blobs it asks for until it can run, then applies its writes to
    /// the store (as a host does).
    fn run_db<T>(&mut self, f: impl FnMut(&mut Db) -> larch::Result<T>) -> larch::Result<T> {
        let r = larch::host::with_store(&mut self.db, &self.store, f);
        for batch in self.db.take_writes() {
            self.store.apply(&batch);
        }
        r
    }

    fn run<T>(&mut self, mut f: impl FnMut(&mut Index) -> larch::Result<T>) -> larch::Result<T> {
        self.run_db(|db| f(db.index_mut("ix")?))
    }

    /// Forgets everything in memory and reopens the database from its store.
    fn reopen(&mut self) {
        if let Mode::Persistent { config, ann, .. } = self.mode {
            self.db = open(config, ann);
        }
    }

    fn end_step(&mut self) {
        if let Mode::Persistent { evict: true, .. } = self.mode {
            for name in &NAMES[..VALID_NAMES] {
                self.run(|ix| ix.evict(name)).expect("evict");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operations.

#[derive(Debug, Clone)]
enum BadRecord {
    WrongDimension,
    ZeroVector,
    NonFinite,
    EmptyId,
    NonAsciiId,
    MetadataTooLarge,
    EmptyBatch,
}

#[derive(Debug, Clone)]
enum BadUpdate {
    WrongDimension,
    ZeroVector,
    NonFinite,
    MetadataTooLarge,
}

#[derive(Debug, Clone)]
enum Source {
    Vector(Vector),
    Id(usize),
}

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        ns: usize,
        records: Vec<(usize, Vector, Option<Md>)>,
        bad: Option<(BadRecord, usize)>,
    },
    Update {
        ns: usize,
        id: usize,
        values: Option<Vector>,
        set_metadata: Option<Md>,
        bad: Option<BadUpdate>,
    },
    UpdateWhere {
        ns: usize,
        filter: Option<F>,
        set_metadata: Md,
        dry_run: bool,
        /// Add a key that pushes every merged record over the metadata size limit.
        oversized: bool,
    },
    DeleteIds {
        ns: usize,
        ids: Vec<usize>,
    },
    DeleteFilter {
        ns: usize,
        filter: Option<F>,
    },
    DeleteAll {
        ns: usize,
    },
    DeleteNamespace {
        ns: usize,
    },
    CreateNamespace {
        ns: usize,
    },
    Query {
        ns: usize,
        source: Source,
        top_k: usize,
        /// `None`: no filter; `Some(None)`: `{}`.
        filter: Option<Option<F>>,
        include: bool,
    },
    FetchWhere {
        ns: usize,
        filter: Option<F>,
        limit: usize,
    },
    List {
        ns: usize,
        prefix: usize,
        after: Option<usize>,
        limit: usize,
    },
    Stats {
        filter: Option<F>,
    },
    /// Persistent mode: drop the in-memory database and reopen it from the store.
    Reopen,
    /// Background index work: graphs, int8 codes, consolidation (`Db::index_step`).
    IndexStep {
        budget: usize,
    },
}

fn floats(v: &Vector) -> Vec<f32> {
    v.iter().map(|&x| f32::from(x)).collect()
}

fn engine_metadata(md: &Md) -> Metadata {
    Metadata::from_json(&Value::Object(md.clone())).expect("model metadata is valid")
}

/// Metadata over the 40 KB limit on its own.
fn oversized_metadata() -> Metadata {
    let mut md = Metadata::new();
    md.insert("big", MdValue::String("x".repeat(41 * 1024)));
    md
}

fn record(id: &str, values: Vec<f32>, md: Option<&Md>) -> Record {
    Record {
        id: id.to_string(),
        values,
        sparse_values: None,
        metadata: md.map(engine_metadata),
    }
}

fn not_found(name: &str) -> Error {
    Error::NamespaceNotFound {
        name: name.to_string(),
    }
}

/// Applies one operation to the engine and the model and compares what each returns.
fn apply(h: &mut Harness, model: &mut Model, metric: Metric, op: &Op) -> TestResult {
    match op {
        Op::Upsert { ns, records, bad } => {
            let name = NAMES[*ns];
            let mut batch: Vec<Record> = records
                .iter()
                .map(|(id, v, md)| record(IDS[*id], floats(v), md.as_ref()))
                .collect();
            if let Some((bad, pos)) = bad {
                let pos = pos % (batch.len() + 1);
                let one = |id: &str, values: Vec<f32>| record(id, values, None);
                match bad {
                    BadRecord::WrongDimension => batch.insert(pos, one("c0", vec![1.0; DIM - 1])),
                    BadRecord::ZeroVector => batch.insert(pos, one("c0", vec![0.0; DIM])),
                    BadRecord::NonFinite => {
                        batch.insert(pos, one("c0", vec![1.0, f32::NAN, 0.0, 0.0]));
                    }
                    BadRecord::EmptyId => batch.insert(pos, one("", vec![1.0; DIM])),
                    BadRecord::NonAsciiId => batch.insert(pos, one("\u{e9}", vec![1.0; DIM])),
                    BadRecord::MetadataTooLarge => {
                        let mut r = one("c0", vec![1.0; DIM]);
                        r.metadata = Some(oversized_metadata());
                        batch.insert(pos, r);
                    }
                    BadRecord::EmptyBatch => batch.clear(),
                }
            }
            let got = h.run(|ix| ix.upsert(name, batch.clone()));
            match (canonical(name), bad) {
                (Some(canon), None) => {
                    prop_assert_eq!(got, Ok(records.len()));
                    let space = model.spaces.entry(canon.to_string()).or_default();
                    for (id, v, md) in records {
                        let stored = Stored {
                            values: floats(v),
                            metadata: md.clone(),
                        };
                        space.insert(IDS[*id].to_string(), stored);
                    }
                }
                _ => prop_assert!(got.is_err(), "a rejected upsert returned {got:?}"),
            }
        }
        Op::Update {
            ns,
            id,
            values,
            set_metadata,
            bad,
        } => {
            let (name, id) = (NAMES[*ns], IDS[*id]);
            let mut values = values.as_ref().map(floats);
            let mut set = set_metadata.as_ref().map(engine_metadata);
            match bad {
                Some(BadUpdate::WrongDimension) => values = Some(vec![1.0; DIM + 1]),
                Some(BadUpdate::ZeroVector) => values = Some(vec![0.0; DIM]),
                Some(BadUpdate::NonFinite) => values = Some(vec![f32::INFINITY; DIM]),
                Some(BadUpdate::MetadataTooLarge) => set = Some(oversized_metadata()),
                None => {}
            }
            let got = h.run(|ix| ix.update(name, id, values.clone(), None, set.clone()));
            let Some(canon) = canonical(name) else {
                prop_assert!(
                    got.is_err(),
                    "update in an invalid namespace returned {got:?}"
                );
                return Ok(());
            };
            let target = model.spaces.get_mut(canon).and_then(|s| s.get_mut(id));
            match (bad, target) {
                (Some(BadUpdate::MetadataTooLarge), None) => {
                    // Nothing to merge into: rejecting the oversized metadata or matching 0
                    // are both acceptable, as long as nothing changes.
                    prop_assert!(matches!(got, Ok(0) | Err(_)), "got {got:?}");
                }
                (Some(_), _) => prop_assert!(got.is_err(), "a rejected update returned {got:?}"),
                (None, None) => prop_assert_eq!(got, Ok(0)),
                (None, Some(stored)) => {
                    prop_assert_eq!(got, Ok(1));
                    if let Some(v) = values {
                        stored.values = v;
                    }
                    if let Some(md) = set_metadata {
                        merge_into(stored, md);
                    }
                }
            }
        }
        Op::UpdateWhere {
            ns,
            filter,
            set_metadata,
            dry_run,
            oversized,
        } => {
            let name = NAMES[*ns];
            let ef = engine_filter(filter.as_ref());
            let mut set = engine_metadata(set_metadata);
            if *oversized {
                set.merge(&oversized_metadata());
            }
            let got = h.run(|ix| ix.update_where(name, &ef, &set, *dry_run));
            let Some(canon) = canonical(name) else {
                prop_assert!(
                    got.is_err(),
                    "update in an invalid namespace returned {got:?}"
                );
                return Ok(());
            };
            let matching: Vec<&mut Stored> = model
                .spaces
                .get_mut(canon)
                .into_iter()
                .flat_map(|s| s.values_mut())
                .filter(|r| filter_matches(filter.as_ref(), r.metadata.as_ref()))
                .collect();
            let n = matching.len();
            if *dry_run {
                prop_assert_eq!(got, Ok(n));
            } else if *oversized {
                match n {
                    // Nothing to merge into: either answer is fine if nothing changes.
                    0 => prop_assert!(matches!(got, Ok(0) | Err(_)), "got {got:?}"),
                    _ => prop_assert!(
                        matches!(got, Err(Error::MetadataTooLarge { .. })),
                        "merging past the size limit into {n} records returned {got:?}"
                    ),
                }
            } else {
                prop_assert_eq!(got, Ok(n));
                for stored in matching {
                    merge_into(stored, set_metadata);
                }
            }
        }
        Op::DeleteIds { ns, ids } => {
            let name = NAMES[*ns];
            let ids: Vec<String> = ids.iter().map(|&i| IDS[i].to_string()).collect();
            let got = h.run(|ix| ix.delete(name, &DeleteSelector::Ids(ids.clone())));
            match canonical(name) {
                _ if ids.is_empty() => prop_assert!(got.is_err(), "empty delete: {got:?}"),
                None => prop_assert!(got.is_err(), "invalid namespace: {got:?}"),
                Some(canon) => match model.spaces.get_mut(canon) {
                    None => prop_assert_eq!(got, Err(not_found(canon))),
                    Some(space) => {
                        let n = ids.iter().filter(|id| space.remove(*id).is_some()).count();
                        prop_assert_eq!(got, Ok(n));
                    }
                },
            }
        }
        Op::DeleteFilter { ns, filter } => {
            let name = NAMES[*ns];
            let selector = DeleteSelector::Filter(engine_filter(filter.as_ref()));
            let got = h.run(|ix| ix.delete(name, &selector));
            match canonical(name) {
                None => prop_assert!(got.is_err(), "invalid namespace: {got:?}"),
                Some(canon) => match model.spaces.get_mut(canon) {
                    None => prop_assert_eq!(got, Err(not_found(canon))),
                    Some(space) => {
                        let before = space.len();
                        space.retain(|_, r| !filter_matches(filter.as_ref(), r.metadata.as_ref()));
                        prop_assert_eq!(got, Ok(before - space.len()));
                    }
                },
            }
        }
        Op::DeleteAll { ns } => {
            let name = NAMES[*ns];
            let got = h.run(|ix| ix.delete(name, &DeleteSelector::All));
            match canonical(name) {
                None => prop_assert!(got.is_err(), "invalid namespace: {got:?}"),
                Some(canon) => match model.spaces.remove(canon) {
                    None => prop_assert_eq!(got, Err(not_found(canon))),
                    Some(space) => prop_assert_eq!(got, Ok(space.len())),
                },
            }
        }
        Op::DeleteNamespace { ns } => {
            let name = NAMES[*ns];
            let got = h.run(|ix| ix.delete_namespace(name));
            match canonical(name) {
                None => prop_assert!(got.is_err(), "invalid namespace: {got:?}"),
                Some(canon) => match model.spaces.remove(canon) {
                    None => prop_assert_eq!(got, Err(not_found(canon))),
                    Some(_) => prop_assert_eq!(got, Ok(())),
                },
            }
        }
        Op::CreateNamespace { ns } => {
            let name = NAMES[*ns];
            let got = h.run(|ix| ix.create_namespace(name));
            match canonical(name) {
                None => prop_assert!(got.is_err(), "invalid namespace: {got:?}"),
                Some(canon) if model.spaces.contains_key(canon) => {
                    let want = Error::NamespaceAlreadyExists {
                        name: canon.to_string(),
                    };
                    prop_assert_eq!(got, Err(want));
                }
                Some(canon) => {
                    prop_assert_eq!(got, Ok(canon.to_string()));
                    model.spaces.insert(canon.to_string(), BTreeMap::new());
                }
            }
        }
        Op::Query {
            ns,
            source,
            top_k,
            filter,
            include,
        } => {
            let filter = filter.as_ref().map(Option::as_ref);
            check_query(
                h, model, metric, NAMES[*ns], source, *top_k, filter, *include,
            )?;
        }
        Op::FetchWhere { ns, filter, limit } => {
            let name = NAMES[*ns];
            let ef = engine_filter(filter.as_ref());
            let page = |h: &mut Harness, after: Option<&str>| {
                h.run(|ix| {
                    ix.load(Needs::Namespace(name))?;
                    ix.fetch_where(name, &ef, after, *limit)
                })
            };
            if canonical(name).is_none() {
                let got = page(h, None);
                prop_assert!(got.is_err(), "invalid namespace: {got:?}");
                return Ok(());
            }
            let mut got = Vec::new();
            let mut after: Option<String> = None;
            for _ in 0..=STORED_IDS {
                let page = page(h, after.as_deref()).expect("fetch_where");
                prop_assert!(page.items.len() <= *limit);
                got.extend(page.items.iter().map(observed_record));
                match page.next_after {
                    Some(next) => {
                        prop_assert_eq!(page.items.len(), *limit);
                        prop_assert_eq!(Some(&next), page.items.last().map(|r| &r.id));
                        after = Some(next);
                    }
                    None => break,
                }
            }
            let want: Vec<_> = model
                .space(name)
                .into_iter()
                .flatten()
                .filter(|(_, r)| filter_matches(filter.as_ref(), r.metadata.as_ref()))
                .map(|(id, r)| model_record(id, r))
                .collect();
            prop_assert_eq!(got, want);
        }
        Op::List {
            ns,
            prefix,
            after,
            limit,
        } => {
            let (name, prefix, after) = (NAMES[*ns], PREFIXES[*prefix], after.map(|i| IDS[i]));
            let got = h.run(|ix| {
                ix.load(Needs::Namespace(name))?;
                ix.list(name, prefix, after, *limit)
            });
            if canonical(name).is_none() {
                prop_assert!(got.is_err(), "invalid namespace: {got:?}");
                return Ok(());
            }
            let page = got.expect("list");
            let all: Vec<&String> = model
                .space(name)
                .into_iter()
                .flat_map(|s| s.keys())
                .filter(|id| id.starts_with(prefix) && after.is_none_or(|a| id.as_str() > a))
                .collect();
            let want: Vec<&String> = all.iter().copied().take(*limit).collect();
            prop_assert_eq!(page.items.iter().collect::<Vec<_>>(), want.clone());
            let want_next = (all.len() > *limit).then(|| want[want.len() - 1].clone());
            prop_assert_eq!(page.next_after, want_next);
        }
        Op::Stats { filter } => {
            let ef = engine_filter(filter.as_ref());
            let stats = h
                .run(|ix| {
                    ix.load(Needs::Everything)?;
                    ix.stats(Some(&ef))
                })
                .expect("stats");
            // `{}` counts as no filter: every namespace, empty ones included.
            let want: Vec<(String, usize)> = model
                .spaces
                .iter()
                .map(|(name, s)| {
                    let n = s
                        .values()
                        .filter(|r| filter_matches(filter.as_ref(), r.metadata.as_ref()))
                        .count();
                    (name.clone(), n)
                })
                .filter(|(_, n)| filter.is_none() || *n > 0)
                .collect();
            prop_assert_eq!(stats.total, want.iter().map(|(_, n)| n).sum::<usize>());
            prop_assert_eq!(stats.namespaces, want);
        }
        Op::Reopen => h.reopen(),
        Op::IndexStep { budget } => {
            h.run_db(|db| Ok(db.index_step(*budget)))
                .map_err(|e| TestCaseError::fail(format!("index_step: {e}")))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Comparing the whole observable state.

/// A record as compared: id, values, metadata as JSON.
type Observed = (String, Vec<f32>, Option<Value>);

fn observed_record(r: &Record) -> Observed {
    assert!(
        r.sparse_values.is_none(),
        "dense record {} grew sparse values",
        r.id
    );
    (
        r.id.clone(),
        r.values.clone(),
        r.metadata.as_ref().map(Metadata::to_json),
    )
}

fn model_record(id: &str, r: &Stored) -> Observed {
    (
        id.to_string(),
        r.values.clone(),
        r.metadata.clone().map(Value::Object),
    )
}

/// Every id with `prefix`, walking all pages of `list`.
fn walk_list(h: &mut Harness, name: &str, prefix: &str) -> Result<Vec<String>, TestCaseError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..=STORED_IDS {
        let page = h
            .run(|ix| {
                ix.load(Needs::Namespace(name))?;
                ix.list(name, prefix, after.as_deref(), LIST_LIMIT)
            })
            .expect("list");
        prop_assert!(page.items.len() <= LIST_LIMIT);
        out.extend(page.items.iter().cloned());
        match page.next_after {
            Some(next) => {
                prop_assert_eq!(
                    page.items.len(),
                    LIST_LIMIT,
                    "a short page claims more follow"
                );
                prop_assert_eq!(Some(&next), page.items.last());
                after = Some(next);
            }
            None => return Ok(out),
        }
    }
    Err(TestCaseError::fail(format!(
        "list({name:?}, {prefix:?}) never ends"
    )))
}

/// Runs a query on the engine and checks it against brute force over the model: only records
/// of the queried namespace that pass the filter, the right number of them, scores equal to the
/// model's, best first, and the top-k score multiset (ids may differ only among ties).
#[allow(clippy::too_many_arguments)]
fn check_query(
    h: &mut Harness,
    model: &Model,
    metric: Metric,
    name: &str,
    source: &Source,
    top_k: usize,
    filter: Option<Option<&F>>,
    include: bool,
) -> TestResult {
    let query = Query {
        vector: match source {
            Source::Vector(v) => QuerySource::Vector(QueryVector {
                values: Some(floats(v)),
                sparse_values: None,
            }),
            Source::Id(i) => QuerySource::Id(IDS[*i].to_string()),
        },
        top_k,
        filter: filter.map(engine_filter),
        include_values: include,
        include_metadata: include,
    };
    let got = h.run(|ix| {
        ix.load(Needs::Namespace(name))?;
        ix.query(name, &query)
    });
    if top_k == 0 || canonical(name).is_none() {
        prop_assert!(got.is_err(), "query should be rejected, got {got:?}");
        return Ok(());
    }
    let matches: Vec<Match> = got.expect("query");
    let Some(space) = model.space(name) else {
        prop_assert!(
            matches.is_empty(),
            "query on a missing namespace: {matches:?}"
        );
        return Ok(());
    };
    let q = match source {
        Source::Vector(v) => floats(v),
        Source::Id(i) => match space.get(IDS[*i]) {
            Some(r) => r.values.clone(),
            None => {
                prop_assert!(matches.is_empty(), "query by unknown id: {matches:?}");
                return Ok(());
            }
        },
    };
    let filter = filter.flatten();
    let candidates: BTreeMap<&str, f64> = space
        .iter()
        .filter(|(_, r)| filter_matches(filter, r.metadata.as_ref()))
        .map(|(id, r)| (id.as_str(), model_score(metric, &r.values, &q)))
        .collect();
    prop_assert_eq!(
        matches.len(),
        top_k.min(candidates.len()),
        "matches: {:?}",
        matches
    );
    let mut seen = BTreeSet::new();
    for m in &matches {
        prop_assert!(seen.insert(m.id.as_str()), "id {} returned twice", m.id);
        let Some(&want) = candidates.get(m.id.as_str()) else {
            return Err(TestCaseError::fail(format!(
                "match {} is not a record of {name:?} passing the filter",
                m.id
            )));
        };
        prop_assert!(
            close(f64::from(m.score), want),
            "{}: {} vs {want}",
            m.id,
            m.score
        );
        prop_assert!(m.sparse_values.is_none());
        if include {
            let stored = &space[&m.id];
            prop_assert_eq!(m.values.as_ref(), Some(&stored.values));
            let md = m.metadata.as_ref().map(Metadata::to_json);
            prop_assert_eq!(md, stored.metadata.clone().map(Value::Object));
        } else {
            prop_assert!(m.values.is_none() && m.metadata.is_none());
        }
    }
    for w in matches.windows(2) {
        let (a, b) = (f64::from(w[0].score), f64::from(w[1].score));
        prop_assert!(
            !better(metric, b, a) || close(a, b),
            "not best first: {matches:?}"
        );
    }
    let best_first = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| {
            let o = a.total_cmp(b);
            if metric == Metric::Euclidean {
                o
            } else {
                o.reverse()
            }
        });
    };
    let mut want: Vec<f64> = candidates.values().copied().collect();
    best_first(&mut want);
    let mut got: Vec<f64> = matches.iter().map(|m| candidates[m.id.as_str()]).collect();
    best_first(&mut got);
    for (g, w) in got.iter().zip(&want) {
        prop_assert!(
            close(*g, *w),
            "top-{top_k} scores {got:?}, expected a prefix of {want:?}"
        );
    }
    Ok(())
}

fn check_all(h: &mut Harness, model: &Model, metric: Metric) -> TestResult {
    let want: Vec<(String, usize)> = model
        .spaces
        .iter()
        .map(|(name, s)| (name.clone(), s.len()))
        .collect();
    let stats = h
        .run(|ix| {
            ix.load(Needs::AllManifests)?;
            ix.stats(None)
        })
        .expect("stats");
    prop_assert_eq!(&stats.namespaces, &want);
    prop_assert_eq!(stats.total, want.iter().map(|(_, n)| n).sum::<usize>());

    let count = h.run(|ix| {
        ix.load(Needs::AllManifests)?;
        ix.count_namespaces("")
    });
    prop_assert_eq!(count, Ok(want.len()));
    let mut listed = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..=VALID_NAMES {
        let page = h
            .run(|ix| {
                ix.load(Needs::AllManifests)?;
                ix.list_namespaces("", after.as_deref(), 1)
            })
            .expect("list_namespaces");
        listed.extend(page.items);
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    prop_assert_eq!(&listed, &want);

    let all_ids: Vec<String> = IDS.iter().map(|s| s.to_string()).collect();
    for name in &NAMES[..VALID_NAMES] {
        let canon = canonical(name).expect("valid name");
        let space = model.space(name);
        let exists = h.run(|ix| {
            ix.load(Needs::Namespace(name))?;
            Ok(ix.namespace(name)?.is_some())
        });
        prop_assert_eq!(exists, Ok(space.is_some()));
        let described = h.run(|ix| ix.describe_namespace(name));
        match space {
            Some(s) => prop_assert_eq!(described, Ok((canon.to_string(), s.len()))),
            None => prop_assert_eq!(described, Err(not_found(canon))),
        }

        for prefix in PREFIXES {
            let got = walk_list(h, name, prefix)?;
            let want: Vec<String> = space
                .into_iter()
                .flat_map(|s| s.keys())
                .filter(|id| id.starts_with(prefix))
                .cloned()
                .collect();
            prop_assert_eq!(got, want, "list({:?}, {:?})", name, prefix);
        }

        let fetched = h
            .run(|ix| {
                ix.load(Needs::Namespace(name))?;
                ix.fetch(name, &all_ids)
            })
            .expect("fetch");
        let got: BTreeMap<String, Observed> = fetched
            .iter()
            .map(|r| (r.id.clone(), observed_record(r)))
            .collect();
        prop_assert_eq!(got.len(), fetched.len(), "fetch returned an id twice");
        let want: BTreeMap<String, Observed> = space
            .into_iter()
            .flatten()
            .map(|(id, r)| (id.clone(), model_record(id, r)))
            .collect();
        prop_assert_eq!(got, want, "fetch({:?})", name);

        // Exhaustive query: exactly this namespace's records, each with its own score.
        let source = Source::Vector([1, -1, 2, 0]);
        check_query(h, model, metric, name, &source, 20, None, true)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Strategies.

fn metric() -> impl Strategy<Value = Metric> {
    prop_oneof![
        Just(Metric::Cosine),
        Just(Metric::Euclidean),
        Just(Metric::DotProduct)
    ]
}

/// In memory, or persistent with thresholds small enough to seal and compact every few writes.
fn mode() -> impl Strategy<Value = Mode> {
    let persistent = (
        1usize..5,
        1usize..6,
        1usize..4,
        any::<bool>(),
        (1usize..4, any::<bool>()),
    )
        .prop_map(
            |(seal_records, max_log_entries, max_segments, evict, ann)| Mode::Persistent {
                config: StorageConfig {
                    seal_records,
                    max_log_entries,
                    max_segments,
                    // Evicting modes also drop every row group at the end of each request.
                    row_cache_bytes: if evict { 0 } else { 16 << 20 },
                },
                evict,
                ann,
            },
        );
    prop_oneof![1 => Just(Mode::Memory), 2 => persistent]
}

/// Mostly valid names, sometimes the invalid one.
fn ns() -> impl Strategy<Value = usize> {
    prop_oneof![12 => 0..VALID_NAMES, 1 => Just(VALID_NAMES)]
}

fn vector() -> impl Strategy<Value = Vector> {
    prop::array::uniform4(-2i8..=2)
}

/// A vector a record may hold: at least one non-zero component.
fn record_vector() -> impl Strategy<Value = Vector> {
    vector().prop_map(|v| if v == [0; DIM] { [1, 0, 0, 0] } else { v })
}

fn metadata() -> impl Strategy<Value = Md> {
    let g = prop_oneof![Just("x"), Just("y")];
    (option::of(g), option::of(0i64..3)).prop_map(|(g, n)| {
        let mut md = Map::new();
        if let Some(g) = g {
            md.insert("g".into(), json!(g));
        }
        if let Some(n) = n {
            md.insert("n".into(), json!(n));
        }
        md
    })
}

fn filter() -> impl Strategy<Value = F> {
    let g = || prop_oneof![Just("x"), Just("y")];
    let leaf = prop_oneof![
        g().prop_map(F::GEq),
        g().prop_map(F::GNe),
        vec(g(), 1..3).prop_map(F::GIn),
        (0i64..3).prop_map(F::NEq),
        (0i64..4).prop_map(F::NGte),
        (0i64..4).prop_map(F::NLt),
        vec(0i64..3, 1..3).prop_map(F::NNin),
        (prop_oneof![Just("g"), Just("n")], any::<bool>()).prop_map(|(k, b)| F::Exists(k, b)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 1..3).prop_map(F::And),
            vec(inner, 1..3).prop_map(F::Or),
        ]
    })
}

/// A filter or, one time in five, the match-all `{}`.
fn maybe_filter() -> impl Strategy<Value = Option<F>> {
    option::weighted(0.8, filter())
}

fn bad_record() -> impl Strategy<Value = BadRecord> {
    prop_oneof![
        Just(BadRecord::WrongDimension),
        Just(BadRecord::ZeroVector),
        Just(BadRecord::NonFinite),
        Just(BadRecord::EmptyId),
        Just(BadRecord::NonAsciiId),
        Just(BadRecord::MetadataTooLarge),
        Just(BadRecord::EmptyBatch),
    ]
}

fn bad_update() -> impl Strategy<Value = BadUpdate> {
    prop_oneof![
        Just(BadUpdate::WrongDimension),
        Just(BadUpdate::ZeroVector),
        Just(BadUpdate::NonFinite),
        Just(BadUpdate::MetadataTooLarge),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // Ids may repeat within a batch: the last occurrence wins, as the model applies them in
    // order.
    let records = vec(
        (0..STORED_IDS, record_vector(), option::of(metadata())),
        1..5,
    );
    let upsert = (
        ns(),
        records,
        option::weighted(0.15, (bad_record(), any::<usize>())),
    )
        .prop_map(|(ns, records, bad)| Op::Upsert { ns, records, bad });
    let update = (
        ns(),
        0..IDS.len(),
        option::of(record_vector()),
        option::of(metadata()),
        option::weighted(0.1, bad_update()),
    )
        .prop_map(|(ns, id, values, set_metadata, bad)| Op::Update {
            ns,
            id,
            values,
            set_metadata,
            bad,
        });
    let update_where = (
        ns(),
        maybe_filter(),
        metadata(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(ns, filter, set_metadata, dry_run, oversized)| Op::UpdateWhere {
                ns,
                filter,
                set_metadata,
                dry_run,
                oversized,
            },
        );
    let delete_ids =
        (ns(), vec(0..IDS.len(), 0..5)).prop_map(|(ns, ids)| Op::DeleteIds { ns, ids });
    let delete_filter =
        (ns(), maybe_filter()).prop_map(|(ns, filter)| Op::DeleteFilter { ns, filter });
    let source = prop_oneof![
        3 => vector().prop_map(Source::Vector),
        1 => (0..IDS.len()).prop_map(Source::Id),
    ];
    let query = (
        ns(),
        source,
        prop_oneof![1 => Just(0usize), 20 => 1usize..8],
        option::of(maybe_filter()),
        any::<bool>(),
    )
        .prop_map(|(ns, source, top_k, filter, include)| Op::Query {
            ns,
            source,
            top_k,
            filter,
            include,
        });
    let fetch_where = (ns(), maybe_filter(), 1usize..4)
        .prop_map(|(ns, filter, limit)| Op::FetchWhere { ns, filter, limit });
    let list = (ns(), 0..PREFIXES.len(), option::of(0..IDS.len()), 1usize..5).prop_map(
        |(ns, prefix, after, limit)| Op::List {
            ns,
            prefix,
            after,
            limit,
        },
    );
    prop_oneof![
        6 => upsert,
        3 => update,
        2 => update_where,
        2 => delete_ids,
        2 => delete_filter,
        1 => ns().prop_map(|ns| Op::DeleteAll { ns }),
        1 => ns().prop_map(|ns| Op::DeleteNamespace { ns }),
        1 => ns().prop_map(|ns| Op::CreateNamespace { ns }),
        3 => query,
        1 => fetch_where,
        1 => list,
        1 => maybe_filter().prop_map(|filter| Op::Stats { filter }),
        1 => Just(Op::Reopen),
        3 => (1usize..40).prop_map(|budget| Op::IndexStep { budget }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// 256 cases unless `PROPTEST_CASES` asks for more (or fewer).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    ProptestConfig::with_cases(cases.unwrap_or(256))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn namespace_operations_match_reference_model(
        metric in metric(),
        mode in mode(),
        ops in vec(op(), 1..40),
    ) {
        let mut h = Harness::new(mode, metric);
        let mut model = Model::default();
        check_all(&mut h, &model, metric)?;
        for (step, op) in ops.iter().enumerate() {
            let context = |e: TestCaseError| TestCaseError::fail(format!("step {step}, {op:?}: {e}"));
            apply(&mut h, &mut model, metric, op).map_err(context)?;
            check_all(&mut h, &model, metric).map_err(context)?;
            h.end_step();
        }
    }

    /// The same ids live in every namespace with different vectors and a metadata tag naming
    /// their namespace; a query through any alias sees only its own namespace's records.
    #[test]
    fn query_never_crosses_namespaces(
        metric in metric(),
        mode in mode(),
        contents in vec(vec((0..STORED_IDS, record_vector(), metadata()), 0..10), 3),
        queries in vec((0..VALID_NAMES, vector(), 1usize..20, option::of(filter())), 1..10),
    ) {
        let mut h = Harness::new(mode, metric);
        let spaces = ["__default__", "ns1", "ns2"];
        let mut stored: BTreeMap<&str, BTreeMap<&str, (Vec<f32>, Md)>> = BTreeMap::new();
        for (space, records) in spaces.iter().zip(&contents) {
            for (id, v, md) in records {
                let mut md = md.clone();
                md.insert("ns".into(), json!(space));
                let r = record(IDS[*id], floats(v), Some(&md));
                prop_assert_eq!(h.run(|ix| ix.upsert(space, vec![r.clone()])), Ok(1));
                stored.entry(space).or_default().insert(IDS[*id], (floats(v), md));
            }
        }
        h.end_step();
        for (name, v, top_k, filter) in queries {
            let name = NAMES[name];
            let canon = canonical(name).expect("valid name");
            let query = Query {
                vector: QuerySource::Vector(QueryVector {
                    values: Some(floats(&v)),
                    sparse_values: None,
                }),
                top_k,
                filter: filter.as_ref().map(|f| engine_filter(Some(f))),
                include_values: true,
                include_metadata: true,
            };
            let matches = h
                .run(|ix| {
                    ix.load(Needs::Namespace(name))?;
                    ix.query(name, &query)
                })
                .expect("query");
            let own = stored.get(canon);
            let expected = own
                .into_iter()
                .flatten()
                .filter(|(_, (_, md))| filter_matches(filter.as_ref(), Some(md)))
                .count();
            prop_assert_eq!(matches.len(), expected.min(top_k));
            for m in &matches {
                let md = m.metadata.as_ref().map(Metadata::to_json);
                prop_assert_eq!(md.as_ref().and_then(|md| md.get("ns")), Some(&json!(canon)));
                let (values, _) = &own.expect("matches come from an existing namespace")[m.id.as_str()];
                prop_assert_eq!(m.values.as_ref(), Some(values));
                prop_assert!(close(f64::from(m.score), model_score(metric, values, &floats(&v))));
            }
        }
    }
}

#[test]
fn empty_name_and_default_name_are_one_namespace() {
    let mut db = Db::new();
    db.create_index(IndexConfig::dense("ix", DIM as u32, Metric::Cosine))
        .unwrap();
    let ix = db.index_mut("ix").unwrap();
    assert_eq!(ix.create_namespace(""), Ok("__default__".to_string()));
    assert_eq!(
        ix.create_namespace("__default__"),
        Err(Error::NamespaceAlreadyExists {
            name: "__default__".into()
        })
    );
    ix.upsert("__default__", vec![record("a0", vec![1.0; DIM], None)])
        .unwrap();
    ix.upsert("", vec![record("a1", vec![1.0; DIM], None)])
        .unwrap();
    let stats = ix.stats(None).unwrap();
    assert_eq!(stats.namespaces, vec![("__default__".to_string(), 2)]);
    assert_eq!(ix.list("", "", None, 10).unwrap().items, ["a0", "a1"]);
    let deleted = ix.delete("__default__", &DeleteSelector::Ids(vec!["a0".into()]));
    assert_eq!(deleted, Ok(1));
    assert_eq!(ix.fetch("", &["a0".into(), "a1".into()]).unwrap().len(), 1);
    ix.delete_namespace("").unwrap();
    assert_eq!(
        ix.delete_namespace("__default__"),
        Err(not_found("__default__"))
    );
    assert_eq!(ix.stats(None).unwrap().total, 0);
}
