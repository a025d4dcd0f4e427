//! `larch serve`: the listeners, the shared engine, background indexing and shutdown.
//!
//! One port answers REST (HTTP/1.1 and h2c) and gRPC (h2c) — requests whose path is a
//! `VectorService` method go to tonic, every other request to the REST handler; `--grpc-port`
//! adds a second listener with the same routes. Requests run on tokio; each one's engine work
//! runs on a blocking thread under the engine's FIFO mutex (`tokio::sync::Mutex`, so requests
//! and background turns take turns in arrival order), and its write batches are committed
//! (fsynced) before the response is sent: an acknowledged write survives `kill -9`. A
//! dedicated thread runs background index turns (graph builds, int8 codes, consolidation)
//! while the engine says work is pending. SIGTERM or ctrl-c stops accepting connections,
//! lets requests in flight finish (each commits before it answers), stops the indexer after
//! its current turn (which commits too) and releases the directory's lock.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use larch::api::{Api, Request, Response, SideVectors};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

use crate::engine::{Engine, EngineOptions};
use crate::store::DirectoryStore;

/// What `larch serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data: PathBuf,
    pub host: String,
    pub port: u16,
    pub grpc_port: Option<u16>,
    pub api_key: Option<String>,
    /// The origin index hosts point at (default `http://{host}:{port}`).
    pub public_url: Option<String>,
    pub lock_timeout: Duration,
    /// Engine tuning (pkg-js's `sealRecords`, `annMinRecords`).
    pub seal_records: Option<usize>,
    pub ann_min_records: Option<usize>,
    /// Row-group cache per namespace (`StorageConfig::row_cache_bytes`).
    pub row_cache_bytes: usize,
}

/// One request as the engine takes it, owned so it can move to a blocking thread.
#[derive(Debug, Clone, Default)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    pub api_version: Option<String>,
    /// The index, when the transport named it outside the path (gRPC metadata).
    pub index: Option<String>,
    /// With no index named: use the server's only index (gRPC).
    pub only_index: bool,
    /// Dense vectors beside the JSON: (floats, one length per slot).
    pub vectors: Option<(Vec<f32>, Vec<u32>)>,
    /// Return dense values beside the JSON ([`Response::vectors`]).
    pub side_values: bool,
}

/// The state every connection shares.
#[derive(Debug)]
pub struct App {
    engine: Mutex<Engine>,
    /// SHA-256 of the API key; `None` accepts any key (like Pinecone Local).
    key_digest: Option<[u8; 32]>,
    indexer: std::sync::Mutex<Option<std::thread::Thread>>,
    stopping: AtomicBool,
}

impl App {
    /// `Api-Key` (or gRPC `api-key`) against the configured key, in constant time.
    pub fn authorized(&self, given: Option<&[u8]>) -> bool {
        let Some(expected) = &self.key_digest else {
            return true;
        };
        let Some(given) = given else {
            return false;
        };
        let d: [u8; 32] = Sha256::digest(given).into();
        d.iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Runs a call on the engine (on a blocking thread, under the engine's mutex).
    pub async fn run(self: &Arc<Self>, call: Call) -> Response {
        let app = self.clone();
        let path = call.path.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut engine = app.engine.blocking_lock();
            let r = run_call(&mut engine, &call);
            if engine.indexing_pending() {
                app.wake_indexer();
            }
            r
        })
        .await;
        r.unwrap_or_else(|_| Api::internal_error(&path))
    }

    /// The engine host's status ([`Engine::status`]).
    pub async fn status(self: &Arc<Self>) -> serde_json::Value {
        self.engine.lock().await.status()
    }

    fn wake_indexer(&self) {
        if let Ok(t) = self.indexer.lock()
            && let Some(t) = t.as_ref()
        {
            t.unpark();
        }
    }
}

/// An error answer in the data plane's shape (`{"code": gRPC code, "message"}`).
fn data_error(status: u16, code: u32, message: String) -> Response {
    let mut r = Api::internal_error("/");
    r.status = status;
    r.body =
        serde_json::to_vec(&serde_json::json!({"code": code, "message": message, "details": []}))
            .unwrap_or_default();
    r
}

fn run_call(engine: &mut Engine, call: &Call) -> Response {
    let index = match (&call.index, call.only_index) {
        (Some(i), _) => Some(i.clone()),
        (None, true) => match only_index(engine) {
            Ok(i) => Some(i),
            Err(r) => return r,
        },
        (None, false) => None,
    };
    let req = Request {
        method: &call.method,
        path: &call.path,
        query: &call.query,
        body: &call.body,
        api_version: call.api_version.as_deref(),
        index: index.as_deref(),
        vectors: call.vectors.as_ref().map(|(f, l)| SideVectors::new(f, l)),
        side_values: call.side_values,
        ..Request::default()
    };
    engine.handle(&req)
}

/// The server's only index, for transports that cannot name one (gRPC without
/// `x-larch-index`).
fn only_index(engine: &mut Engine) -> Result<String, Response> {
    let r = engine.handle(&Request {
        method: "GET",
        path: "/indexes",
        ..Request::default()
    });
    let v = r.json_body();
    let names: Vec<&str> = v["indexes"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    match names.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(data_error(
            404,
            5,
            "this server has no index: create one first (the control plane is REST only)".into(),
        )),
        many => Err(data_error(
            400,
            9,
            format!(
                "this server has {} indexes ({}): name one with the x-larch-index metadata entry",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

/// The background indexing thread: turns while work is pending, parked otherwise. Each turn's
/// commit is written after the engine is released (requests go on meanwhile), and finishes
/// before the next turn or a stop.
fn indexer(app: Arc<App>, store: Arc<crate::engine::SharedStore>) {
    while !app.stopping.load(Ordering::Acquire) {
        store.wait_idle();
        let (more, prepared) = {
            let mut engine = app.engine.blocking_lock();
            if engine.indexing_pending() {
                engine.index_turn()
            } else {
                (false, None)
            }
        };
        if let Some(p) = prepared {
            let start = std::time::Instant::now();
            match store.write_in_flight(p) {
                Ok(_) if start.elapsed() > Duration::from_secs(1) => eprintln!(
                    "larch: a background commit took {} ms (requests went on meanwhile)",
                    start.elapsed().as_millis()
                ),
                Ok(_) => {}
                Err(e) => eprintln!("larch: background commit failed (the engine reloads): {e}"),
            }
        }
        if !more {
            std::thread::park_timeout(Duration::from_millis(500));
        }
    }
}

/// Resolves when SIGTERM or ctrl-c arrives.
async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs the server until SIGTERM or ctrl-c.
pub async fn serve(config: ServeConfig) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let grpc_listener = match config.grpc_port {
        Some(p) if p != addr.port() => Some(
            tokio::net::TcpListener::bind((config.host.as_str(), p))
                .await
                .map_err(|e| format!("cannot listen on {}:{p}: {e}", config.host))?,
        ),
        _ => None,
    };
    let origin = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let origin = origin.trim_end_matches('/').to_string();
    let store = {
        let data = config.data.clone();
        let timeout = config.lock_timeout;
        tokio::task::spawn_blocking(move || DirectoryStore::open(&data, timeout))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let generation = store.generation();
    let mut options = EngineOptions::new(format!("{origin}/index/{{name}}"));
    if let Some(n) = config.seal_records {
        options.storage.seal_records = n.max(1);
    }
    options.storage.row_cache_bytes = config.row_cache_bytes;
    if let Some(n) = config.ann_min_records {
        options.ann.min_records = n.max(1);
    }
    let engine = Engine::new(store, options);
    let shared_store = engine.store();
    let app = Arc::new(App {
        engine: Mutex::new(engine),
        key_digest: config
            .api_key
            .as_ref()
            .map(|k| Sha256::digest(k.as_bytes()).into()),
        indexer: std::sync::Mutex::new(None),
        stopping: AtomicBool::new(false),
    });
    let indexer_thread: JoinHandle<()> = {
        let app = app.clone();
        std::thread::Builder::new()
            .name("larch-indexer".into())
            .spawn(move || indexer(app, shared_store))
            .map_err(|e| e.to_string())?
    };
    if let Ok(mut t) = app.indexer.lock() {
        *t = Some(indexer_thread.thread().clone());
    }
    // Background work left by the previous run (segments loaded without graphs are found on
    // first use, like every host).
    app.wake_indexer();

    let router = crate::rest::router(app.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut servers = Vec::new();
    servers.push(tokio::spawn(
        axum::serve(listener, router.clone())
            .with_graceful_shutdown(stopped(stop_rx.clone()))
            .into_future(),
    ));
    let mut grpc_addr = None;
    if let Some(l) = grpc_listener {
        grpc_addr = l.local_addr().ok();
        servers.push(tokio::spawn(
            axum::serve(l, router)
                .with_graceful_shutdown(stopped(stop_rx.clone()))
                .into_future(),
        ));
    }
    println!(
        "larch: serving {} (generation {generation}) on http://{addr} (REST and gRPC){}; index hosts {origin}/index/<name>; simd: {}",
        config.data.display(),
        grpc_addr.map_or(String::new(), |a| format!(", gRPC also on http://{a}")),
        larch::distance::kernel_name(),
    );
    if config.api_key.is_none() {
        println!("larch: no --api-key given: any API key is accepted");
    }

    signal().await;
    println!("larch: shutting down (finishing requests in flight)");
    let _ = stop_tx.send(true);
    for s in servers {
        match tokio::time::timeout(Duration::from_secs(10), s).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => eprintln!("larch: listener error: {e}"),
            Ok(Err(e)) => eprintln!("larch: listener task failed: {e}"),
            Err(_) => eprintln!("larch: connections still open after 10 s; closing them"),
        }
    }
    app.stopping.store(true, Ordering::Release);
    app.wake_indexer();
    let _ = tokio::task::spawn_blocking(move || indexer_thread.join()).await;
    let engine = app.engine.lock().await;
    println!(
        "larch: stopped after {} commits (generation {})",
        engine.commits(),
        engine.generation()
    );
    Ok(())
}
