//! Approximate search benchmark on a real dataset: recall@10, QPS (one thread, one query per
//! call), p50/p99 latency, build rate and resident bytes per vector, for Larch's HNSW (f32 and
//! int8 with rescoring, unfiltered and under the dataset's filters) and, natively, for
//! instant-distance, the baseline that motivated our own graph.
//!
//! The dataset is a directory in the format of `../shared/bench/README.md`: `base.fvecs`,
//! `query.fvecs`, `gt_{cos,l2}.ivecs`, `base_attrs.ivecs` / `query_attrs.ivecs`,
//! `base_tags.ivecs`, `info.json` and the filtered ground truth `gt_{cos,l2}__{filter}.ivecs`
//! (filters that have no file are skipped).
//!
//! Natively: `cargo bench --bench ann -- DATASET_DIR [key=value ...]` reads the files itself and
//! times with `Instant`. Built for wasm32 it exports `file_buffer` / `run` and imports `env.now`
//! and `env.print` from the host: `benches/run_ann_wasm.mjs` reads the files into the module's
//! memory, calls `run` and prints what it prints. `scripts/bench-ann.sh` runs everything.
//!
//! Options (`key=value`): `metric=cos|l2` (cos), `m=16`, `efc=100`, `ef=16,32,64,128,256`,
//! `queries=N` (all), `filters=0|1` (1), `int8=0|1` (1), `int8_build=0|1` (1, a second
//! graph built on the int8 codes), `filter_ef=64`,
//! `baseline=0|1` (native only, 1), `cache=0|1` (native only, 0: reuse the graph saved next to
//! the dataset), `label=TEXT`, `path=index|namespace` (index: the standalone `Hnsw` /
//! `Int8Index`; namespace: through `Namespace`, see `bench_namespace`, with `seal=50000`
//! records per segment and `base_meta.jsonl` / `query_meta.jsonl` as metadata and filters).
//! Natively also:
//! `cargo bench --bench ann -- subset DATASET_DIR N OUT_DIR` writes the first N base rows with
//! ground truth recomputed exactly (unfiltered and filtered), so every engine can run on a
//! subset in the same format, and `cargo bench --bench ann -- random OUT_DIR N DIM SEED` writes
//! N uniform random vectors (and 500 queries) with exact ground truth.

// A benchmark tool, not engine code: a malformed dataset file aborts the run with a panic, and
// query loops index several parallel arrays by query number.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use std::collections::HashMap;
use std::hint::black_box;

use larch::Metric;
use larch::distance;
use larch::index::dense::Dense;
use larch::index::hnsw::{FilteredPlan, Hnsw, HnswConfig, SearchScratch};
use larch::index::quant::Int8Index;

const K: usize = 10;
/// The four filters of the shared datasets.
const FILTERS: [&str; 4] = ["year_ge_2015", "year_2000_2004", "same_category", "tag"];

// ------------------------------------------------------------------------------ dataset files

/// fvecs / ivecs rows: `(d, values)`; rows may have different `d` (tags, filtered gt).
fn rows_i32(bytes: &[u8]) -> Vec<Vec<i32>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let d = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 4;
        let row = bytes[at..at + 4 * d]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        at += 4 * d;
        out.push(row);
    }
    out
}

/// All rows of an fvecs file, back to back, and their dimension.
fn fvecs(bytes: &[u8]) -> (Vec<f32>, usize) {
    let d = i32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let mut out = Vec::with_capacity(bytes.len() / 4);
    for row in bytes.chunks_exact(4 * (d + 1)) {
        out.extend(
            row[4..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
        );
    }
    (out, d)
}

#[cfg(not(target_arch = "wasm32"))]
fn write_ivecs(rows: &[Vec<u32>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rows {
        out.extend_from_slice(&(r.len() as i32).to_le_bytes());
        for &x in r {
            out.extend_from_slice(&(x as i32).to_le_bytes());
        }
    }
    out
}

struct Dataset {
    dim: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
    gt: Vec<Vec<u32>>,
    base_attrs: Vec<Vec<i32>>,
    query_attrs: Vec<Vec<i32>>,
    base_tags: Vec<Vec<i32>>,
    tag_id: Option<i32>,
    /// (filter name, filtered ground truth)
    filtered_gt: Vec<(&'static str, Vec<Vec<u32>>)>,
    /// `base_meta.jsonl` / `query_meta.jsonl` (empty unless `path=namespace` and filters).
    base_meta: Vec<u8>,
    query_meta: Vec<u8>,
    /// The tag of the `tag` filter by name (`info.json`: "tags contains 'hyponym' (id 12)").
    tag_name: Option<String>,
}

impl Dataset {
    /// The base vectors as the index reads them.
    fn rows(&self) -> Dense<'_> {
        Dense::flat(&self.base, self.dim)
    }

    fn n(&self) -> usize {
        self.base.len() / self.dim
    }
    fn nq(&self) -> usize {
        self.queries.len() / self.dim
    }
    fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * self.dim..(i + 1) * self.dim]
    }

    fn load(read: &dyn Fn(&str) -> Option<Vec<u8>>, metric: &str, meta: bool) -> Dataset {
        let (base, dim) = fvecs(&read("base.fvecs").expect("base.fvecs"));
        let (queries, qdim) = fvecs(&read("query.fvecs").expect("query.fvecs"));
        assert_eq!(dim, qdim, "base and query dimensions differ");
        let gt_of = |name: &str| {
            read(name).map(|b| {
                rows_i32(&b)
                    .into_iter()
                    .map(|r| r.into_iter().map(|x| x as u32).collect())
                    .collect()
            })
        };
        let gt = gt_of(&format!("gt_{metric}.ivecs")).expect("unfiltered ground truth");
        let base_attrs = read("base_attrs.ivecs")
            .map(|b| rows_i32(&b))
            .unwrap_or_default();
        let query_attrs = read("query_attrs.ivecs")
            .map(|b| rows_i32(&b))
            .unwrap_or_default();
        let base_tags = read("base_tags.ivecs")
            .map(|b| rows_i32(&b))
            .unwrap_or_default();
        let tag_def = read("info.json").and_then(|b| {
            let info: serde_json::Value = serde_json::from_slice(&b).ok()?;
            Some(info["filters"]["tag"]["definition"].as_str()?.to_string())
        });
        let tag_id = tag_def.as_deref().and_then(|def| {
            let at = def.find("(id ")? + 4;
            def[at..].split(')').next()?.trim().parse().ok()
        });
        let tag_name = tag_def
            .as_deref()
            .and_then(|def| Some(def.split('\'').nth(1)?.to_string()));
        let meta_of = |name: &str| {
            if meta {
                read(name).unwrap_or_default()
            } else {
                Vec::new()
            }
        };
        let mut filtered_gt = Vec::new();
        if !base_attrs.is_empty() {
            for f in FILTERS {
                if f == "tag" && (tag_id.is_none() || base_tags.is_empty()) {
                    continue;
                }
                if let Some(g) = gt_of(&format!("gt_{metric}__{f}.ivecs")) {
                    filtered_gt.push((f, g));
                }
            }
        }
        Dataset {
            dim,
            base,
            queries,
            gt,
            base_attrs,
            query_attrs,
            base_tags,
            tag_id,
            filtered_gt,
            base_meta: meta_of("base_meta.jsonl"),
            query_meta: meta_of("query_meta.jsonl"),
            tag_name,
        }
    }

    /// Whether base row `b` passes `filter` for query `q`.
    fn passes(&self, filter: &str, q: usize, b: usize) -> bool {
        let year = self.base_attrs[b][1];
        match filter {
            "year_ge_2015" => year >= 2015,
            "year_2000_2004" => (2000..=2004).contains(&year),
            "same_category" => self.base_attrs[b][0] == self.query_attrs[q][0],
            "tag" => self.tag_id.is_some_and(|t| self.base_tags[b].contains(&t)),
            _ => false,
        }
    }
}

fn recall_at_k(found: &[u32], gt: &[u32]) -> f64 {
    let want = &gt[..gt.len().min(K)];
    if want.is_empty() {
        return 1.0;
    }
    let hit = found.iter().take(K).filter(|s| want.contains(s)).count();
    hit as f64 / want.len() as f64
}

// ------------------------------------------------------------------------------ options

struct Opts {
    metric: String,
    m: u32,
    efc: u32,
    efs: Vec<usize>,
    queries: usize,
    filters: bool,
    int8: bool,
    filter_ef: usize,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    baseline: bool,
    int8_build: bool,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    cache: bool,
    /// `path=namespace`: through `Namespace` (upserts, sealed segments, `index_step`,
    /// `Namespace::query` with JSON filters) instead of the standalone index.
    namespace: bool,
    /// Records per sealed segment in `path=namespace` (`seal=50000`).
    seal: usize,
    /// Most sealed segments before the smallest merge in `path=namespace` (`maxseg=64`; the
    /// engine's default is 8).
    max_segments: usize,
    label: String,
}

impl Opts {
    fn parse(args: &[String], default_label: &str) -> Opts {
        let mut kv: HashMap<&str, &str> = HashMap::new();
        for a in args {
            if let Some((k, v)) = a.split_once('=') {
                kv.insert(k, v);
            }
        }
        let get = |k: &str, d: &str| kv.get(k).copied().unwrap_or(d).to_string();
        let num = |k: &str, d: usize| get(k, &d.to_string()).parse::<usize>().expect(k);
        Opts {
            metric: get("metric", "cos"),
            m: num("m", 16) as u32,
            efc: num("efc", 100) as u32,
            efs: get("ef", "16,32,64,128,256")
                .split(',')
                .map(|e| e.parse().expect("ef"))
                .collect(),
            queries: num("queries", usize::MAX),
            filters: num("filters", 1) == 1,
            int8: num("int8", 1) == 1,
            filter_ef: num("filter_ef", 64),
            baseline: num("baseline", 1) == 1,
            int8_build: num("int8_build", 1) == 1,
            cache: num("cache", 0) == 1,
            namespace: get("path", "index") == "namespace",
            seal: num("seal", 50_000),
            max_segments: num("maxseg", 64),
            label: get("label", default_label),
        }
    }
}

// ------------------------------------------------------------------------------ timing

struct Lat {
    ms: Vec<f64>,
}

impl Lat {
    fn qps(&self) -> f64 {
        self.ms.len() as f64 * 1e3 / self.ms.iter().sum::<f64>()
    }
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    }
}

fn header(out: &mut dyn FnMut(String)) {
    out("| engine | where | mode | ef | recall@10 | QPS | p50 ms | p99 ms | build s | build vec/s | bytes/vec |".into());
    out("|---|---|---|---|---|---|---|---|---|---|---|".into());
}

#[allow(clippy::too_many_arguments)]
fn row(
    out: &mut dyn FnMut(String),
    engine: &str,
    place: &str,
    mode: &str,
    ef: usize,
    recall: f64,
    lat: &Lat,
    build_s: f64,
    n: usize,
    bytes: f64,
) {
    out(format!(
        "| {engine} | {place} | {mode} | {ef} | {recall:.4} | {:.0} | {:.3} | {:.3} | {build_s:.1} | {:.0} | {bytes:.0} |",
        lat.qps(),
        lat.pct(0.5),
        lat.pct(0.99),
        n as f64 / build_s
    ));
}

/// One row per `ef` of `o.efs`: recall@10 and latency of `search(query, ef)` over the first
/// `nq` queries, one at a time. Returns each `ef`'s (p50 ms, QPS).
#[allow(clippy::too_many_arguments)]
fn sweep(
    ds: &Dataset,
    o: &Opts,
    nq: usize,
    now: &dyn Fn() -> f64,
    out: &mut dyn FnMut(String),
    mode: &str,
    build_s: f64,
    bytes: f64,
    mut search: impl FnMut(&[f32], usize) -> Vec<(f32, u32)>,
) -> HashMap<usize, (f64, f64)> {
    let mut p50 = HashMap::new();
    for &ef in &o.efs {
        let (mut lat, mut rec) = (
            Lat {
                ms: Vec::with_capacity(nq),
            },
            0.0,
        );
        for i in 0..nq {
            let t = now();
            let found = search(black_box(ds.query(i)), ef);
            lat.ms.push(now() - t);
            let ids: Vec<u32> = found.iter().map(|r| r.1).collect();
            rec += recall_at_k(&ids, &ds.gt[i]);
        }
        p50.insert(ef, (lat.pct(0.5), lat.qps()));
        let recall = rec / nq as f64;
        row(
            out,
            "larch hnsw",
            &o.label,
            mode,
            ef,
            recall,
            &lat,
            build_s,
            ds.n(),
            bytes,
        );
    }
    p50
}

// ------------------------------------------------------------------------------ the run

fn bench(
    ds: &Dataset,
    o: &Opts,
    cached: Option<Vec<u8>>,
    now: &dyn Fn() -> f64,
    out: &mut dyn FnMut(String),
) -> Vec<u8> {
    let metric = if o.metric == "l2" {
        Metric::Euclidean
    } else {
        Metric::Cosine
    };
    let (n, dim) = (ds.n(), ds.dim);
    let nq = ds.nq().min(o.queries).min(ds.gt.len());
    out(format!(
        "<!-- {}: n={n} dim={dim} queries={nq} metric={metric:?} M={} efC={} -->",
        o.label, o.m, o.efc
    ));
    let norms: Vec<f32> = ds.base.chunks_exact(dim).map(distance::norm).collect();
    let config = HnswConfig {
        m: o.m,
        ef_construction: o.efc,
        ef_search: 64,
        seed: 42,
    };

    let (bytes, build_s) = match cached {
        Some(bytes) => (bytes, f64::NAN),
        None => {
            let t0 = now();
            let graph = Hnsw::build(config, metric, dim, ds.rows(), &norms).expect("build");
            ((graph.to_bytes()), (now() - t0) / 1e3)
        }
    };
    let t0 = now();
    let view = larch::index::hnsw::HnswView::from_bytes(&bytes).expect("own bytes decode");
    let open_ms = now() - t0;
    out(format!(
        "<!-- {}: graph {} bytes ({:.1}/vector), cold open (validate + view) {open_ms:.2} ms -->",
        o.label,
        bytes.len(),
        bytes.len() as f64 / n as f64
    ));
    let f32_bytes = (dim * 4 + 4) as f64 + bytes.len() as f64 / n as f64;
    header(out);
    let mut scratch = SearchScratch::new();
    let unfiltered_p50 = sweep(ds, o, nq, now, out, "f32", build_s, f32_bytes, |q, ef| {
        view.search(q, ds.rows(), &norms, K, ef, |_| true, &mut scratch)
            .expect("search")
    });

    if o.int8 {
        let t0 = now();
        let q8 = Int8Index::new(metric, dim, ds.rows(), &norms).expect("quantize");
        let quant_s = (now() - t0) / 1e3;
        let int8_bytes = q8.bytes_per_vector() as f64 + bytes.len() as f64 / n as f64;
        let mode = "int8 + f32 rescore";
        sweep(
            ds,
            o,
            nq,
            now,
            out,
            mode,
            build_s + quant_s,
            int8_bytes,
            |q, ef| {
                q8.search(&view, q, ds.rows(), &norms, K, ef, |_| true, &mut scratch)
                    .expect("search")
            },
        );
        if o.int8_build {
            // The graph built on the codes (faster build), searched on codes + rescore.
            let t0 = now();
            let g8 = Hnsw::build_on_codes(config, &q8).expect("build on codes");
            let build8_s = (now() - t0) / 1e3 + quant_s;
            let view8 = g8.view();
            let mode = "int8-built graph, int8 + f32 rescore";
            sweep(ds, o, nq, now, out, mode, build8_s, int8_bytes, |q, ef| {
                q8.search(&view8, q, ds.rows(), &norms, K, ef, |_| true, &mut scratch)
                    .expect("search")
            });
        }
    }

    if o.filters && !ds.filtered_gt.is_empty() {
        let ef = o.filter_ef;
        let (base_p50, base_qps) = unfiltered_p50
            .get(&ef)
            .copied()
            .unwrap_or((f64::NAN, f64::NAN));
        out(String::new());
        out(format!(
            "| filter ({}, ef {ef}) | pass % | plans exact/graph/two-hop/fallback | recall@10 | QPS | p50 ms | p99 ms | p50 / unfiltered p50 | fewest results (k={K}) |",
            o.label
        ));
        out("|---|---|---|---|---|---|---|---|---|".into());
        let mut mask = vec![false; n];
        for (name, fgt) in &ds.filtered_gt {
            let (mut lat, mut rec, mut pass, mut fewest) =
                (Lat { ms: Vec::new() }, 0.0, 0.0, usize::MAX);
            let mut plans = [0usize; 4];
            let nqf = nq.min(fgt.len());
            for i in 0..nqf {
                // The per-segment metadata index would hand the engine this bitmap and count.
                let mut count = 0;
                for (b, m) in mask.iter_mut().enumerate() {
                    *m = ds.passes(name, i, b);
                    count += usize::from(*m);
                }
                let frac = count as f32 / n as f32;
                pass += frac as f64;
                let t = now();
                let (found, plan) = view
                    .search_filtered(
                        black_box(ds.query(i)),
                        ds.rows(),
                        &norms,
                        K,
                        ef,
                        |s| mask[s as usize],
                        frac,
                        &mut scratch,
                    )
                    .expect("search");
                lat.ms.push(now() - t);
                plans[match plan {
                    FilteredPlan::Exact => 0,
                    FilteredPlan::Graph => 1,
                    FilteredPlan::TwoHop => 2,
                    FilteredPlan::GraphThenExact => 3,
                }] += 1;
                assert!(
                    found.iter().all(|r| mask[r.1 as usize]),
                    "a rejected slot came back"
                );
                fewest = fewest.min(found.len() + usize::from(count < K) * K);
                let ids: Vec<u32> = found.iter().map(|r| r.1).collect();
                rec += recall_at_k(&ids, &fgt[i]);
            }
            out(format!(
                "| {name} | {:.1} | {}/{}/{}/{} | {:.4} | {:.0} | {:.3} | {:.3} | {:.2} | {fewest} |",
                100.0 * pass / nqf as f64,
                plans[0],
                plans[1],
                plans[2],
                plans[3],
                rec / nqf as f64,
                lat.qps(),
                lat.pct(0.5),
                lat.pct(0.99),
                lat.pct(0.5) / base_p50,
            ));
        }
        out(format!(
            "<!-- unfiltered at ef {ef}: p50 {base_p50:.3} ms, {base_qps:.0} QPS -->"
        ));
    }
    bytes
}

// ------------------------------------------------------------------------------ namespace

/// The Pinecone filter JSON equivalent to [`Dataset::passes`] for query `q`.
fn filter_json(ds: &Dataset, name: &str, query_meta: &[serde_json::Value], q: usize) -> String {
    match name {
        "year_ge_2015" => r#"{"year":{"$gte":2015}}"#.to_string(),
        "year_2000_2004" => r#"{"year":{"$gte":2000,"$lte":2004}}"#.to_string(),
        "same_category" => serde_json::json!({ "category": query_meta[q]["category"] }).to_string(),
        "tag" => serde_json::json!({ "tags": ds.tag_name.as_deref().unwrap() }).to_string(),
        _ => unreachable!("unknown filter {name}"),
    }
}

/// `path=namespace`: the dataset through the engine's write and read paths. Upserts of 1000
/// records (ids = row numbers; metadata `category`, `tags`, `year`, `score` from
/// `base_meta.jsonl` when filters are measured), a segment sealed every `seal` records and the
/// tail sealed at the end, `index_step` until every graph is ready (default `AnnConfig`, so
/// M 16, efC 100), then `Namespace::query` per query; the int8 variant switches
/// `AnnConfig::int8` on over the same graphs (its build adds the quantization).
fn bench_namespace(ds: &Dataset, o: &Opts, now: &dyn Fn() -> f64, out: &mut dyn FnMut(String)) {
    use larch::namespace::{AnnConfig, QueryVector, StorageConfig};
    use larch::{Filter, Metadata, Namespace, Record};

    let metric = if o.metric == "l2" {
        Metric::Euclidean
    } else {
        Metric::Cosine
    };
    let (n, dim) = (ds.n(), ds.dim);
    let nq = ds.nq().min(o.queries).min(ds.gt.len());
    let with_meta = o.filters && !ds.filtered_gt.is_empty() && !ds.base_meta.is_empty();
    let mut meta_lines = ds
        .base_meta
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty());
    let query_meta: Vec<serde_json::Value> = ds
        .query_meta
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();

    let config = StorageConfig {
        seal_records: o.seal,
        max_log_entries: usize::MAX,
        max_segments: o.max_segments,
        row_cache_bytes: 16 << 20,
    };
    let mut ns = Namespace::with_config(dim, metric, config);
    let mut ann = AnnConfig::default();
    ns.set_ann_config(ann);
    out(format!(
        "<!-- {}: through Namespace, n={n} dim={dim} queries={nq} metric={metric:?} seal_records={} M={} efC={} min_records={} metadata={with_meta} -->",
        o.label, o.seal, ann.hnsw.m, ann.hnsw.ef_construction, ann.min_records
    ));

    // Records are made outside the clock (a host would hand them over parsed); upserts,
    // seals and graph builds are on it.
    let (mut load_ms, mut index_ms) = (0.0, 0.0);
    for start in (0..n).step_by(1000) {
        let batch: Vec<Record> = (start..(start + 1000).min(n))
            .map(|row| {
                let metadata = with_meta.then(|| {
                    let line: serde_json::Value =
                        serde_json::from_slice(meta_lines.next().unwrap()).unwrap();
                    assert_eq!(line["id"].as_u64(), Some(row as u64), "base_meta.jsonl row");
                    let keep: serde_json::Map<String, serde_json::Value> =
                        ["category", "tags", "year", "score"]
                            .iter()
                            .map(|k| (k.to_string(), line[*k].clone()))
                            .collect();
                    Metadata::from_json(&serde_json::Value::Object(keep)).unwrap()
                });
                Record {
                    id: row.to_string(),
                    values: ds.base[row * dim..(row + 1) * dim].to_vec(),
                    sparse_values: None,
                    metadata,
                }
            })
            .collect();
        let t = now();
        ns.upsert(batch);
        load_ms += now() - t;
    }
    let t = now();
    ns.seal();
    load_ms += now() - t;
    let t = now();
    let mut steps = 0usize;
    while ns.index_step(1000) {
        steps += 1;
    }
    index_ms += now() - t;
    let build_s = (load_ms + index_ms) / 1e3;
    let f32_bytes = ns.approximate_bytes() as f64 / n as f64;
    out(format!(
        "<!-- {}: {} segments, {} graphs; upserts + seals {:.1} s, index_step(1000) x {} {:.1} s; approximate_bytes {} ({f32_bytes:.0}/vector) -->",
        o.label,
        ns.segment_count(),
        ns.graph_count(),
        load_ms / 1e3,
        steps + 1,
        index_ms / 1e3,
        ns.approximate_bytes()
    ));
    assert_eq!(ns.len(), n);

    let queries: Vec<QueryVector> = (0..nq)
        .map(|i| QueryVector {
            values: Some(ds.query(i).to_vec()),
            sparse_values: None,
        })
        .collect();
    let ids = |found: &[larch::namespace::Scored], ns: &Namespace| -> Vec<u32> {
        found
            .iter()
            .map(|s| ns.id(s.loc).parse().unwrap())
            .collect()
    };

    if with_meta {
        // What one `accept` check costs through the engine (metadata lookup + filter
        // evaluation), against a precomputed bitmap in the standalone mode.
        let locs: Vec<_> = (0..n).map(|r| ns.locate(&r.to_string()).unwrap()).collect();
        let mut costs = Vec::new();
        for (name, _) in &ds.filtered_gt {
            let json: serde_json::Value =
                serde_json::from_str(&filter_json(ds, name, &query_meta, 0)).unwrap();
            let filter = Filter::parse(&json).unwrap();
            let t = now();
            let hits = locs
                .iter()
                .filter(|&&l| filter.matches(black_box(ns.metadata(l).unwrap())))
                .count();
            costs.push(format!("{name} {:.0}", (now() - t) * 1e6 / n as f64));
            black_box(hits);
        }
        out(format!(
            "<!-- {}: Filter::matches on a record's metadata, ns per record: {} -->",
            o.label,
            costs.join(", ")
        ));
        // The first filtered read builds every segment's metadata index (then kept).
        let (name, _) = &ds.filtered_gt[0];
        let json: serde_json::Value =
            serde_json::from_str(&filter_json(ds, name, &query_meta, 0)).unwrap();
        let filter = Filter::parse(&json).unwrap();
        let t = now();
        black_box(ns.count(Some(&filter)));
        let first = now() - t;
        let t = now();
        black_box(ns.count(Some(&filter)));
        out(format!(
            "<!-- {}: first filtered count (builds {} segments' metadata indexes) {first:.1} ms, the same count again {:.2} ms -->",
            o.label,
            ns.segment_count(),
            now() - t
        ));
    }
    out("| engine | where | mode | filter | pass % | ef | recall@10 | QPS | p50 ms | p99 ms | build s | build vec/s | bytes/vec |".into());
    out("|---|---|---|---|---|---|---|---|---|---|---|---|---|".into());
    let mut mask = vec![false; n];
    for int8 in [false, true] {
        if int8 && !o.int8 {
            continue;
        }
        let mut build = build_s;
        let mut bytes = f32_bytes;
        if int8 {
            ann.int8 = true;
            let t = now();
            ns.set_ann_config(ann);
            // Quantization is index work (bounded slices), like the graphs.
            while ns.index_step(1000) {}
            build += (now() - t) / 1e3;
            assert_eq!(ns.int8_count(), ns.graph_count());
            bytes = ns.approximate_bytes() as f64 / n as f64;
        }
        let mode = if int8 {
            "namespace, int8 + f32 rescore"
        } else {
            "namespace, f32"
        };
        let mut emit = |filter: &str, pass: f64, ef: usize, rec: f64, lat: &Lat| {
            out(format!(
                "| larch | {} | {mode} | {filter} | {pass:.1} | {ef} | {rec:.4} | {:.0} | {:.3} | {:.3} | {build:.1} | {:.0} | {bytes:.0} |",
                o.label,
                lat.qps(),
                lat.pct(0.5),
                lat.pct(0.99),
                n as f64 / build
            ));
        };
        for &ef in &o.efs {
            ann.hnsw.ef_search = ef as u32;
            ns.set_ann_config(ann);
            let (mut lat, mut rec) = (Lat { ms: Vec::new() }, 0.0);
            for i in 0..nq {
                let t = now();
                let found = ns.query(black_box(&queries[i]), K, None).unwrap();
                lat.ms.push(now() - t);
                rec += recall_at_k(&ids(&found, &ns), &ds.gt[i]);
            }
            emit("none", 100.0, ef, rec / nq as f64, &lat);
        }
        if !with_meta {
            continue;
        }
        let ef = o.filter_ef;
        ann.hnsw.ef_search = ef as u32;
        ns.set_ann_config(ann);
        for (name, fgt) in &ds.filtered_gt {
            let (mut lat, mut rec, mut pass) = (Lat { ms: Vec::new() }, 0.0, 0.0);
            let nqf = nq.min(fgt.len());
            for i in 0..nqf {
                let json: serde_json::Value =
                    serde_json::from_str(&filter_json(ds, name, &query_meta, i)).unwrap();
                let filter = Filter::parse(&json).unwrap();
                let mut count = 0;
                for (b, m) in mask.iter_mut().enumerate() {
                    *m = ds.passes(name, i, b);
                    count += usize::from(*m);
                }
                if i < 3 && !int8 {
                    // The JSON filter selects exactly the rows of the ground truth's predicate.
                    assert_eq!(ns.count(Some(&filter)), count, "{name}: {json}");
                }
                pass += count as f64 / n as f64;
                let t = now();
                let found = ns.query(black_box(&queries[i]), K, Some(&filter)).unwrap();
                lat.ms.push(now() - t);
                let found = ids(&found, &ns);
                assert!(
                    found.iter().all(|&r| mask[r as usize]),
                    "{name}: a rejected row came back"
                );
                rec += recall_at_k(&found, &fgt[i]);
            }
            emit(name, 100.0 * pass / nqf as f64, ef, rec / nqf as f64, &lat);
        }
    }
}

// ------------------------------------------------------------------------------ native

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("subset") {
        return write_subset(&args[1], args[2].parse().expect("N"), &args[3]);
    }
    if args.first().map(String::as_str) == Some("random") {
        let arg = |i: usize, what: &str| args.get(i).expect(what).parse::<u64>().expect(what);
        let (n, dim, seed) = (arg(2, "N") as usize, arg(3, "DIM") as usize, arg(4, "SEED"));
        return write_random(&args[1], n, dim, seed);
    }
    let Some(dir) = args.first().cloned() else {
        eprintln!("usage: cargo bench --bench ann -- DATASET_DIR [key=value ...]");
        std::process::exit(2);
    };
    let o = Opts::parse(&args[1..], &native_label());
    let read = |name: &str| std::fs::read(format!("{dir}/{name}")).ok();
    let ds = Dataset::load(&read, &o.metric, o.namespace && o.filters);
    #[allow(clippy::disallowed_methods)] // the native harness's clock, not the engine's
    let start = std::time::Instant::now();
    let now = move || start.elapsed().as_secs_f64() * 1e3;
    let mut out = |s: String| println!("{s}");
    if o.namespace {
        return bench_namespace(&ds, &o, &now, &mut out);
    }
    // cache=1: keep the graph next to the dataset and reuse it (build columns then read NaN).
    let cache = format!("{dir}/larch_hnsw_{}_m{}_efc{}.bin", o.metric, o.m, o.efc);
    let cached = if o.cache {
        std::fs::read(&cache).ok()
    } else {
        None
    };
    let fresh = cached.is_none();
    let bytes = bench(&ds, &o, cached, &now, &mut out);
    if o.cache && fresh {
        std::fs::write(&cache, bytes).expect("write the graph cache");
    }
    if o.baseline {
        baseline(&ds, &o, &now, &mut out);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn native_label() -> String {
    #[cfg(target_arch = "x86_64")]
    let kernel = if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        "avx2+fma"
    } else {
        "portable"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let kernel = "portable";
    format!("native {} ({kernel})", std::env::consts::ARCH)
}

/// instant-distance 0.6.1 with simple neighbour selection (its default heuristic builds about
/// 6× slower, see issue 6), efC = `o.efc`, its fixed M 32, one ef (it fixes ef at build time).
#[cfg(not(target_arch = "wasm32"))]
fn baseline(ds: &Dataset, o: &Opts, now: &dyn Fn() -> f64, out: &mut dyn FnMut(String)) {
    #[derive(Clone)]
    struct Pt(Vec<f32>);
    impl instant_distance::Point for Pt {
        fn distance(&self, other: &Self) -> f32 {
            1.0 - distance::dot(&self.0, &other.0)
        }
    }
    #[derive(Clone)]
    struct L2(Vec<f32>);
    impl instant_distance::Point for L2 {
        fn distance(&self, other: &Self) -> f32 {
            distance::l2sq(&self.0, &other.0)
        }
    }
    fn unit(v: &[f32]) -> Vec<f32> {
        let n = distance::norm(v);
        v.iter()
            .map(|x| if n > 0.0 { x / n } else { 0.0 })
            .collect()
    }
    let (n, nq) = (ds.n(), ds.nq().min(o.queries).min(ds.gt.len()));
    let ef = 64;
    let builder = instant_distance::Builder::default()
        .ef_construction(o.efc as usize)
        .ef_search(ef)
        .select_heuristic(None)
        .seed(42);
    let (build_s, lat, rec) = if o.metric == "l2" {
        let points: Vec<L2> = ds
            .base
            .chunks_exact(ds.dim)
            .map(|v| L2(v.to_vec()))
            .collect();
        run_baseline(points, builder, ds, nq, now, |v| L2(v.to_vec()))
    } else {
        let points: Vec<Pt> = ds.base.chunks_exact(ds.dim).map(|v| Pt(unit(v))).collect();
        run_baseline(points, builder, ds, nq, now, |v| Pt(unit(v)))
    };
    // Its points (dim f32) plus level-0 links (2 × its fixed M 32, u32 each); upper levels and
    // allocator overhead not counted.
    let bytes = (ds.dim * 4 + 2 * 32 * 4) as f64;
    let mode = "f32, simple selection, M 32 (fixed)";
    row(
        out,
        "instant-distance 0.6.1",
        &o.label,
        mode,
        ef,
        rec / nq as f64,
        &lat,
        build_s,
        n,
        bytes,
    );
}

#[cfg(not(target_arch = "wasm32"))]
fn run_baseline<P: instant_distance::Point>(
    points: Vec<P>,
    builder: instant_distance::Builder,
    ds: &Dataset,
    nq: usize,
    now: &dyn Fn() -> f64,
    conv: impl Fn(&[f32]) -> P,
) -> (f64, Lat, f64) {
    let t0 = now();
    let (hnsw, ids) = builder.build_hnsw(points);
    let build_s = (now() - t0) / 1e3;
    let mut orig = vec![0u32; ids.len()];
    for (row, pid) in ids.iter().enumerate() {
        orig[pid.into_inner() as usize] = row as u32;
    }
    let mut search = instant_distance::Search::default();
    let (mut lat, mut rec) = (Lat { ms: Vec::new() }, 0.0);
    for i in 0..nq {
        let q = conv(ds.query(i));
        let t = now();
        let found: Vec<u32> = hnsw
            .search(&q, &mut search)
            .take(K)
            .map(|item| item.pid.into_inner())
            .collect();
        lat.ms.push(now() - t);
        let found: Vec<u32> = found.iter().map(|&p| orig[p as usize]).collect();
        rec += recall_at_k(&found, &ds.gt[i]);
    }
    (build_s, lat, rec)
}

/// Writes the first `n` base rows of `src` to `out` with exact ground truth (cos and l2,
/// unfiltered and filtered), in the same format.
#[cfg(not(target_arch = "wasm32"))]
fn write_subset(src: &str, n: usize, out: &str) {
    std::fs::create_dir_all(out).expect("mkdir");
    let read = |name: &str| std::fs::read(format!("{src}/{name}")).ok();
    let base = read("base.fvecs").expect("base.fvecs");
    let d = i32::from_le_bytes(base[..4].try_into().unwrap()) as usize;
    let n = n.min(base.len() / (4 * (d + 1)));
    std::fs::write(format!("{out}/base.fvecs"), &base[..n * 4 * (d + 1)]).unwrap();
    for f in [
        "query.fvecs",
        "query_attrs.ivecs",
        "query_tags.ivecs",
        "info.json",
        "vocab.json",
    ] {
        if let Some(b) = read(f) {
            std::fs::write(format!("{out}/{f}"), b).unwrap();
        }
    }
    if let Some(b) = read("base_meta.jsonl") {
        let lines: Vec<&[u8]> = b.split(|&c| c == b'\n').take(n).collect();
        let mut out_meta = lines.join(&b'\n');
        out_meta.push(b'\n');
        std::fs::write(format!("{out}/base_meta.jsonl"), out_meta).unwrap();
    }
    if let Some(b) = read("query_meta.jsonl") {
        std::fs::write(format!("{out}/query_meta.jsonl"), b).unwrap();
    }
    for f in ["base_attrs.ivecs", "base_tags.ivecs"] {
        if let Some(b) = read(f) {
            let rows: Vec<Vec<u32>> = rows_i32(&b)
                .into_iter()
                .take(n)
                .map(|r| r.into_iter().map(|x| x as u32).collect())
                .collect();
            std::fs::write(format!("{out}/{f}"), write_ivecs(&rows)).unwrap();
        }
    }
    let sub = |name: &str| std::fs::read(format!("{out}/{name}")).ok();
    for metric in ["cos", "l2"] {
        let ds = Dataset::load(
            &|name: &str| {
                if name.starts_with("gt_") {
                    read(name)
                } else {
                    sub(name)
                }
            },
            metric,
            false,
        );
        let m = if metric == "l2" {
            Metric::Euclidean
        } else {
            Metric::Cosine
        };
        let norms: Vec<f32> = ds.base.chunks_exact(d).map(distance::norm).collect();
        let topk = |i: usize, accept: &dyn Fn(u32) -> bool| -> Vec<u32> {
            larch::index::flat::scan(m, ds.query(i), ds.rows(), &norms, 100, accept)
                .into_iter()
                .map(|r| r.1)
                .collect()
        };
        let gt: Vec<Vec<u32>> = (0..ds.nq()).map(|i| topk(i, &|_| true)).collect();
        std::fs::write(format!("{out}/gt_{metric}.ivecs"), write_ivecs(&gt)).unwrap();
        for (f, _) in &ds.filtered_gt {
            let gt: Vec<Vec<u32>> = (0..ds.nq())
                .map(|i| topk(i, &|b| ds.passes(f, i, b as usize)))
                .collect();
            std::fs::write(format!("{out}/gt_{metric}__{f}.ivecs"), write_ivecs(&gt)).unwrap();
        }
    }
    eprintln!("wrote {n} base rows with exact ground truth to {out}");
}

/// A dataset of `n` base and 500 query vectors drawn uniformly from `[-1, 1)^dim` (splitmix64
/// seeded with `seed`), with exact cosine and L2 ground truth: data nobody tuned for.
#[cfg(not(target_arch = "wasm32"))]
fn write_random(out: &str, n: usize, dim: usize, seed: u64) {
    let mut state = seed;
    let mut unit = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let nq = 500;
    let base: Vec<f32> = (0..n * dim).map(|_| unit()).collect();
    let queries: Vec<f32> = (0..nq * dim).map(|_| unit()).collect();
    let fvecs = |rows: &[f32]| {
        let mut b = Vec::with_capacity(rows.len() * 4 + rows.len() / dim * 4);
        for r in rows.chunks_exact(dim) {
            b.extend_from_slice(&(dim as i32).to_le_bytes());
            r.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        }
        b
    };
    std::fs::create_dir_all(out).expect("mkdir");
    std::fs::write(format!("{out}/base.fvecs"), fvecs(&base)).unwrap();
    std::fs::write(format!("{out}/query.fvecs"), fvecs(&queries)).unwrap();
    let norms: Vec<f32> = base.chunks_exact(dim).map(distance::norm).collect();
    for (name, metric) in [("cos", Metric::Cosine), ("l2", Metric::Euclidean)] {
        let gt: Vec<Vec<u32>> = queries
            .chunks_exact(dim)
            .map(|q| {
                larch::index::flat::scan(metric, q, Dense::flat(&base, dim), &norms, 100, |_| true)
                    .into_iter()
                    .map(|r| r.1)
                    .collect()
            })
            .collect();
        std::fs::write(format!("{out}/gt_{name}.ivecs"), write_ivecs(&gt)).unwrap();
    }
    let info = serde_json::json!({"name": format!("random-{dim}-{n}"), "n_base": n, "n_query": nq,
        "dim": dim, "source": format!("uniform [-1, 1), splitmix64 seed {seed}")});
    std::fs::write(format!("{out}/info.json"), info.to_string()).unwrap();
    eprintln!("wrote {n} random base rows × {dim} with exact ground truth to {out}");
}

// ------------------------------------------------------------------------------ wasm32

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        /// The host's `performance.now()`, in milliseconds.
        pub safe fn now() -> f64;
        /// Prints `len` UTF-8 bytes at `ptr` as one line.
        pub safe fn print(ptr: *const u8, len: usize);
    }
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// Files the host wrote, by name; the last buffer is the one being filled.
    static FILES: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(target_arch = "wasm32")]
fn main() {}

/// A zeroed buffer of `len` bytes for the host to fill; returns its address. Files are
/// handed over in pairs: first the name, then the contents; the arguments come last.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn file_buffer(len: usize) -> *mut u8 {
    FILES.with(|f| {
        let mut f = f.borrow_mut();
        f.push(vec![0u8; len]);
        f.last_mut()
            .map_or(std::ptr::null_mut(), |b| b.as_mut_ptr())
    })
}

/// Runs the benchmark on the files handed over (name, contents, ..., arguments).
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn run() {
    let mut files = FILES.with(|f| std::mem::take(&mut *f.borrow_mut()));
    let args = String::from_utf8(files.pop().unwrap_or_default()).unwrap_or_default();
    let mut by_name = HashMap::new();
    let mut it = files.into_iter();
    while let (Some(name), Some(data)) = (it.next(), it.next()) {
        by_name.insert(String::from_utf8(name).unwrap_or_default(), data);
    }
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let o = Opts::parse(&args, "wasm32+simd128");
    let read = |name: &str| by_name.get(name).cloned();
    let ds = Dataset::load(&read, &o.metric, o.namespace && o.filters);
    drop(by_name);
    let mut out = |s: String| host::print(s.as_ptr(), s.len());
    if o.namespace {
        bench_namespace(&ds, &o, &|| host::now(), &mut out);
    } else {
        bench(&ds, &o, None, &|| host::now(), &mut out);
    }
}
