//! `larch bench-namespaces` (hidden): the namespace locks measured in process, without HTTP or
//! a client's CPU. One index with N namespaces of R random records (dimension D, cosine); they
//! are loaded by one thread per namespace at once (REST bodies of 200), indexed (graphs, int8 codes, paged rows),
//! then queried (top-10) by T threads, either all in one namespace or spread over all N — the
//! same namespace size either way, so the difference is the lock: one namespace's requests run
//! one at a time, different namespaces' in parallel. BENCHMARKS.md ("larch serve") has the
//! numbers and the command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::engine::EngineOptions;
use crate::ports::IndexPorts;
use crate::serve::{App, Call, PortConfig};
use crate::store::DirectoryStore;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub namespaces: usize,
    pub records: usize,
    pub dimension: usize,
    pub threads: Vec<usize>,
    pub queries: usize,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vector(&mut self, d: usize) -> Vec<f32> {
        (0..d).map(|_| self.next()).collect()
    }
}

fn call(rt: &tokio::runtime::Handle, app: &Arc<App>, path: &str, body: serde_json::Value) -> u16 {
    let r = rt.block_on(app.run(Call {
        method: "POST".into(),
        path: path.into(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
        api_version: Some("2025-10".into()),
        ..Call::default()
    }));
    if r.status >= 300 {
        eprintln!("{path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    }
    r.status
}

fn pct(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() as f64 * p) as usize).min(xs.len().saturating_sub(1));
    xs.get(i).copied().unwrap_or(0.0)
}

/// Runs the benchmark and prints one line per measurement.
pub fn run(config: &BenchConfig) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let handle = rt.handle().clone();
    let dir = std::env::temp_dir().join(format!("larch-bench-namespaces-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = DirectoryStore::open(&dir, Duration::ZERO).map_err(|e| e.to_string())?;
    let ports = PortConfig {
        mode: IndexPorts::Off,
        data: dir.clone(),
        bind: "127.0.0.1".into(),
        origin: "http://127.0.0.1".into(),
    };
    let app = {
        let _enter = rt.enter();
        App::new(
            store,
            EngineOptions::new("http://127.0.0.1:0/index/{name}".into()),
            None,
            ports,
        )
    };
    let indexer = app.start_indexer()?;
    let (n, r, d) = (config.namespaces, config.records, config.dimension);
    let status = call(
        &handle,
        &app,
        "/indexes",
        json!({"name": "bench", "dimension": d, "metric": "cosine",
               "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}}),
    );
    if status != 201 {
        return Err(format!("create index: {status}"));
    }
    // Load: one thread per namespace, batches of 200 (a 2 MB JSON body).
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..n {
            let (app, handle) = (app.clone(), handle.clone());
            s.spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
                for b in (0..r).step_by(200) {
                    let vectors: Vec<_> = (b..(b + 200).min(r))
                        .map(|i| json!({"id": format!("{i}"), "values": rng.vector(d)}))
                        .collect();
                    let body = json!({"namespace": format!("ns{k}"), "vectors": vectors});
                    assert_eq!(
                        call(&handle, &app, "/index/bench/vectors/upsert", body),
                        200
                    );
                }
            });
        }
    });
    let load = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"what": "upsert", "namespaces": n, "threads": n, "records": n * r,
               "seconds": (load * 100.0).round() / 100.0, "per_s": ((n * r) as f64 / load).round()})
    );
    let t = Instant::now();
    while rt.block_on(app.status())["indexing"]["pending"] == json!(true) {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "{}",
        json!({"what": "indexing wait", "seconds": (t.elapsed().as_secs_f64() * 10.0).round() / 10.0})
    );
    let mut rng = Rng(7);
    let queries: Arc<Vec<Vec<f32>>> = Arc::new((0..256).map(|_| rng.vector(d)).collect());
    // Warm every namespace (rows in the cache), then measure.
    for k in 0..n {
        for q in queries.iter().take(32) {
            let body = json!({"namespace": format!("ns{k}"), "vector": q, "topK": 10});
            call(&handle, &app, "/index/bench/query", body);
        }
    }
    for &threads in &config.threads {
        for spread in [false, true] {
            if threads == 1 && spread {
                continue;
            }
            let per = (config.queries / threads).max(1);
            let t = Instant::now();
            let mut lat: Vec<f64> = std::thread::scope(|s| {
                let jobs: Vec<_> = (0..threads)
                    .map(|k| {
                        let (app, handle, queries) = (app.clone(), handle.clone(), queries.clone());
                        s.spawn(move || {
                            let ns = if spread {
                                format!("ns{}", k % n)
                            } else {
                                "ns0".into()
                            };
                            (0..per)
                                .map(|i| {
                                    let q = &queries[(k * per + i) % queries.len()];
                                    let body = json!({"namespace": ns, "vector": q, "topK": 10});
                                    let t0 = Instant::now();
                                    assert_eq!(
                                        call(&handle, &app, "/index/bench/query", body),
                                        200
                                    );
                                    t0.elapsed().as_secs_f64() * 1000.0
                                })
                                .collect::<Vec<f64>>()
                        })
                    })
                    .collect();
                jobs.into_iter()
                    .flat_map(|j| j.join().unwrap_or_default())
                    .collect()
            });
            let dt = t.elapsed().as_secs_f64();
            let round2 = |x: f64| (x * 100.0).round() / 100.0;
            println!(
                "{}",
                json!({"what": "query", "threads": threads,
                       "namespaces": if spread { n.min(threads) } else { 1 },
                       "records_per_namespace": r, "queries": lat.len(),
                       "p50_ms": round2(pct(&mut lat, 0.5)), "p99_ms": round2(pct(&mut lat, 0.99)),
                       "qps": (lat.len() as f64 / dt).round()})
            );
        }
    }
    app.stop_indexer(indexer);
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
