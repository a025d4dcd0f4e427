//! `larch serve`: the listeners, the engines, background indexing and shutdown.
//!
//! One port answers REST (HTTP/1.1 and h2c) and gRPC (h2c) — requests whose path is a
//! `VectorService` method go to tonic, every other request to the REST handler; `--grpc-port`
//! adds a second listener with the same routes. Requests run on tokio; each one's engine work
//! runs on a blocking thread.
//!
//! Engines (see [`crate::engine`]): `Api::classify` names each request's scope, as in the
//! Worker. The control plane and index-wide requests (stats, namespace listings) run on the
//! catalog engine; the vectors API of one namespace runs on that (index, namespace)'s own
//! engine, behind its own FIFO lock (`tokio::sync::Mutex`): reads and writes of different
//! namespaces run in parallel on as many cores as there are, and one namespace's requests
//! and background turns take turns in arrival order. A write that creates or drops a
//! namespace is bounced by its namespace engine to the catalog engine, still under the
//! namespace's lock. A control-plane change to an index (create, configure, delete) takes the
//! index's gate exclusively — namespace requests hold it shared — and drops the index's
//! namespace engines, which reload from the committed root.
//!
//! Lock order: gate (shared or exclusive), then a namespace's lock, then the catalog's. The
//! indexer takes one namespace's lock at a time and nothing else.
//!
//! Every request's write batches are committed (fsynced) before the response is sent: an
//! acknowledged write survives `kill -9`. A dedicated thread runs background index turns
//! (graph builds, int8 codes, consolidation) for each namespace whose engine says work is
//! pending, one namespace at a time, holding no other namespace's lock. SIGTERM or ctrl-c
//! stops accepting connections, lets requests in flight finish (each commits before it
//! answers), stops the indexer after its current turn (which commits too) and releases the
//! directory's lock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use larch::api::{Api, Request, Response, Scope, SideVectors};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock, watch};

use crate::engine::{Engine, EngineOptions, Handled, Role, SharedStore};
use crate::ports::{IndexPorts, PortFile};
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
    /// Where each index's own port comes from ([`crate::ports`]).
    pub index_ports: IndexPorts,
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

/// One (index, namespace): its engine, behind the namespace's FIFO lock.
#[derive(Debug)]
pub struct Slot {
    /// `None` until first used, and after the engine was dropped (it reloads from the store).
    pub engine: Mutex<Option<Engine>>,
    /// Background work is pending (set after requests, cleared by the indexer).
    pending: AtomicBool,
    /// Logical time of the last request (for dropping the least recently used engines).
    last_used: AtomicU64,
}

/// Gates: an index's gate is held shared by its namespace requests and exclusively by a
/// control-plane change to it. Striped by name, so their number is bounded.
const GATES: usize = 64;

/// The state every connection shares.
#[derive(Debug)]
pub struct App {
    /// The root and catalogs: the control plane, stats and listings, namespace creation and
    /// deletion.
    catalog: Mutex<Engine>,
    slots: std::sync::Mutex<HashMap<(String, String), Arc<Slot>>>,
    gates: Vec<RwLock<()>>,
    store: Arc<SharedStore>,
    options: EngineOptions,
    tick: AtomicU64,
    /// SHA-256 of the API key; `None` accepts any key (like Pinecone Local).
    key_digest: Option<[u8; 32]>,
    indexer: std::sync::Mutex<Option<std::thread::Thread>>,
    stopping: AtomicBool,
    ports: std::sync::Mutex<Ports>,
    /// This app, for the routers of index ports made while serving.
    me: std::sync::OnceLock<std::sync::Weak<App>>,
    /// Tells every listener to stop accepting (graceful shutdown).
    stop: watch::Sender<bool>,
}

/// Index ports: the assignments (kept in the data directory) and the listeners serving them.
#[derive(Debug)]
struct Ports {
    mode: IndexPorts,
    /// The address index ports listen on.
    bind: String,
    /// `scheme://host` of index hosts.
    origin: String,
    file: PortFile,
    serving: HashMap<String, (u16, tokio::task::JoinHandle<std::io::Result<()>>)>,
}

/// How index ports are set up ([`App::new`]).
#[derive(Debug, Clone)]
pub struct PortConfig {
    pub mode: IndexPorts,
    pub data: PathBuf,
    pub bind: String,
    pub origin: String,
}

impl App {
    /// The app over an opened store (no listeners: [`serve`] adds them).
    pub fn new(
        store: DirectoryStore,
        options: EngineOptions,
        api_key: Option<&str>,
        ports: PortConfig,
    ) -> Arc<App> {
        let store = Arc::new(SharedStore::new(store));
        let app = Arc::new(App {
            catalog: Mutex::new(Engine::new(store.clone(), options.clone(), Role::Catalog)),
            slots: std::sync::Mutex::new(HashMap::new()),
            gates: (0..GATES).map(|_| RwLock::new(())).collect(),
            store,
            options,
            tick: AtomicU64::new(0),
            key_digest: api_key.map(|k| Sha256::digest(k.as_bytes()).into()),
            indexer: std::sync::Mutex::new(None),
            stopping: AtomicBool::new(false),
            ports: std::sync::Mutex::new(Ports {
                mode: ports.mode,
                bind: ports.bind,
                origin: ports.origin,
                file: PortFile::read(&ports.data),
                serving: HashMap::new(),
            }),
            me: std::sync::OnceLock::new(),
            stop: watch::channel(false).0,
        });
        let _ = app.me.set(Arc::downgrade(&app));
        app
    }

    fn ports(&self) -> std::sync::MutexGuard<'_, Ports> {
        self.ports.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The index's own port, bound and served (its port of the last run when free); `None`
    /// with `--index-ports off` or when no port is free. True when newly bound.
    fn ensure_port(&self, index: &str) -> Option<(String, bool)> {
        let mut ports = self.ports();
        if let Some((port, _)) = ports.serving.get(index) {
            return Some((format!("{}:{port}", ports.origin), false));
        }
        let wanted = ports.file.ports.get(index).copied();
        let taken: Vec<u16> = ports.serving.values().map(|(p, _)| *p).collect();
        let Some(listener) =
            crate::ports::bind(&ports.bind, ports.mode, wanted, &|p| taken.contains(&p))
        else {
            if ports.mode != IndexPorts::Off {
                eprintln!("larch: no free index port for {index:?}; its host is the main port's");
            }
            return None;
        };
        let port = listener.local_addr().ok()?.port();
        if wanted.is_some_and(|w| w != port) {
            eprintln!("larch: index {index:?} had port {wanted:?}, which is taken: now {port}");
        }
        let app = self.me.get()?.upgrade()?;
        let listener = tokio::net::TcpListener::from_std(listener).ok()?;
        let mut rx = self.stop.subscribe();
        let router = crate::rest::router(app, Some(index.to_string()));
        let task = tokio::runtime::Handle::current().spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .into_future(),
        );
        ports.serving.insert(index.to_string(), (port, task));
        ports.file.ports.insert(index.to_string(), port);
        Some((format!("{}:{port}", ports.origin), true))
    }

    /// Stops serving an index's port and forgets it.
    fn release_port(&self, index: &str) {
        let task = {
            let mut ports = self.ports();
            ports.file.ports.remove(index);
            ports.serving.remove(index)
        };
        if let Some((_, task)) = task {
            // Closed before the delete is answered: the port refuses new connections then.
            task.abort();
            let _ = tokio::runtime::Handle::current().block_on(task);
        }
    }

    fn persist_ports(&self) {
        let ports = self.ports();
        if ports.mode == IndexPorts::Off && ports.file.ports.is_empty() {
            return;
        }
        if let Err(e) = ports.file.write() {
            eprintln!("larch: cannot write the index ports file: {e}");
        }
    }

    /// At start: a port for every index (its last one when free), described as its host.
    /// Returns (index, host) for each.
    pub fn assign_ports(&self) -> Vec<(String, String)> {
        let r = self.on_catalog(&Request {
            method: "GET",
            path: "/indexes",
            ..Request::default()
        });
        let names: Vec<String> = r.json_body()["indexes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        for name in &names {
            if let Some((host, _)) = self.ensure_port(name) {
                self.catalog
                    .blocking_lock()
                    .set_index_host(name, Some(host.clone()));
                out.push((name.clone(), host));
            }
        }
        self.ports().file.ports.retain(|k, _| names.contains(k));
        self.persist_ports();
        out
    }

    /// Index listeners, for a graceful shutdown.
    fn take_index_listeners(&self) -> Vec<tokio::task::JoinHandle<std::io::Result<()>>> {
        self.ports().serving.drain().map(|(_, (_, t))| t).collect()
    }

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

    /// Runs a call on its engine (on a blocking thread).
    pub async fn run(self: &Arc<Self>, call: Call) -> Response {
        let app = self.clone();
        let path = call.path.clone();
        let r = tokio::task::spawn_blocking(move || app.run_blocking(&call)).await;
        r.unwrap_or_else(|_| Api::internal_error(&path))
    }

    /// The engine host's status: background indexing over every engine, commits, the
    /// store's generation, resident bytes, loaded namespace engines.
    pub async fn status(self: &Arc<Self>) -> serde_json::Value {
        let app = self.clone();
        tokio::task::spawn_blocking(move || app.status_blocking())
            .await
            .unwrap_or_default()
    }

    fn status_blocking(&self) -> serde_json::Value {
        let (mut built, mut total, mut pending, mut resident) = (0, 0, false, 0);
        {
            let c = self.catalog.blocking_lock();
            resident += c.resident_bytes();
        }
        let slots: Vec<Arc<Slot>> = self.slots_snapshot();
        let mut engines = 0;
        for slot in &slots {
            let e = slot.engine.blocking_lock();
            if let Some(e) = e.as_ref() {
                engines += 1;
                let (b, t) = e.indexing_progress();
                built += b;
                total += t;
                pending |= e.indexing_pending() || slot.pending.load(Ordering::Acquire);
                resident += e.resident_bytes();
            }
        }
        serde_json::json!({
            "indexing": {"pending": pending, "built": built, "total": total},
            "generation": self.store.generation(),
            "commits": self.store.commits(),
            "residentBytes": resident,
            "namespaceEngines": engines,
            "kernels": larch::distance::kernel_name(),
        })
    }

    /// Starts the background indexing thread.
    pub fn start_indexer(self: &Arc<Self>) -> Result<JoinHandle<()>, String> {
        let app = self.clone();
        let thread = std::thread::Builder::new()
            .name("larch-indexer".into())
            .spawn(move || indexer(app))
            .map_err(|e| e.to_string())?;
        if let Ok(mut t) = self.indexer.lock() {
            *t = Some(thread.thread().clone());
        }
        // Background work left by the previous run (segments loaded without graphs are found
        // on first use, like every host).
        self.wake_indexer();
        Ok(thread)
    }

    /// Stops the indexing thread after its current turn (which commits).
    pub fn stop_indexer(&self, thread: JoinHandle<()>) {
        self.stopping.store(true, Ordering::Release);
        self.wake_indexer();
        let _ = thread.join();
    }

    fn wake_indexer(&self) {
        if let Ok(t) = self.indexer.lock()
            && let Some(t) = t.as_ref()
        {
            t.unpark();
        }
    }

    fn gate(&self, index: &str) -> &RwLock<()> {
        let h = Sha256::digest(index.as_bytes());
        &self.gates[usize::from(h[0]) % GATES]
    }

    fn slots_snapshot(&self) -> Vec<Arc<Slot>> {
        self.slots
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The slot of (index, namespace), made on first use. Beyond
    /// [`EngineOptions::max_loaded_namespaces`] slots, idle ones are dropped, least recently
    /// used first (their engines reload from the store on next use).
    pub fn slot(&self, index: &str, namespace: &str) -> Arc<Slot> {
        let mut map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.tick.fetch_add(1, Ordering::Relaxed);
        let key = (index.to_string(), namespace.to_string());
        if let Some(s) = map.get(&key) {
            s.last_used.store(now, Ordering::Relaxed);
            return s.clone();
        }
        let max = self.options.max_loaded_namespaces.max(1);
        if map.len() >= max {
            let mut idle: Vec<(u64, (String, String))> = map
                .iter()
                .filter(|(_, s)| Arc::strong_count(s) == 1 && !s.pending.load(Ordering::Acquire))
                .map(|(k, s)| (s.last_used.load(Ordering::Relaxed), k.clone()))
                .collect();
            idle.sort();
            for (_, k) in idle.into_iter().take(map.len() + 1 - max) {
                map.remove(&k);
            }
        }
        let s = Arc::new(Slot {
            engine: Mutex::new(None),
            pending: AtomicBool::new(false),
            last_used: AtomicU64::new(now),
        });
        map.insert(key, s.clone());
        s
    }

    /// Drops the namespace engines of `index` (under its exclusive gate).
    fn drop_engines(&self, index: &str) {
        let slots: Vec<Arc<Slot>> = {
            let mut map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<_> = map.keys().filter(|k| k.0 == index).cloned().collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for slot in slots {
            // Waits for a background turn on it (the indexer holds nothing else).
            *slot.engine.blocking_lock() = None;
            slot.pending.store(false, Ordering::Release);
        }
    }

    fn run_blocking(&self, call: &Call) -> Response {
        let index = match (&call.index, call.only_index) {
            (Some(i), _) => Some(i.clone()),
            (None, true) => match self.only_index() {
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
        let info = match Api::classify(&req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        match info.scope {
            Scope::Control => self.run_control(&req),
            Scope::Index { .. } => self.on_catalog(&req),
            Scope::Namespace {
                index, namespace, ..
            } => self.run_namespace(&index, &namespace, &req),
        }
    }

    fn on_catalog(&self, req: &Request<'_>) -> Response {
        match self.catalog.blocking_lock().handle(req) {
            Handled::Done(r) => r,
            Handled::Bounced => Api::internal_error(req.path),
        }
    }

    /// The control plane: a change to an index holds its gate exclusively and drops its
    /// namespace engines first (their root is about to be stale).
    fn run_control(&self, req: &Request<'_>) -> Response {
        if req.method == "GET" || req.method == "HEAD" {
            return self.on_catalog(req);
        }
        match changed_index(req) {
            Some(index) => {
                let _gate = self.gate(&index).blocking_write();
                self.drop_engines(&index);
                self.change_index(&index, req)
            }
            None => self.on_catalog(req),
        }
    }

    /// A control-plane change to `index` (under its exclusive gate): a create gives the index
    /// its port first (so the answer names it as the host), a delete frees it.
    fn change_index(&self, index: &str, req: &Request<'_>) -> Response {
        let path = req.path.trim_matches('/');
        let create = req.method == "POST" && path == "indexes";
        let delete = req.method == "DELETE" && path.split('/').count() == 2;
        let port = if create {
            self.ensure_port(index)
        } else {
            None
        };
        let mut catalog = self.catalog.blocking_lock();
        if let Some((host, _)) = &port {
            catalog.set_index_host(index, Some(host.clone()));
        }
        let r = match catalog.handle(req) {
            Handled::Done(r) => r,
            Handled::Bounced => Api::internal_error(req.path),
        };
        if create && r.status == 201 {
            drop(catalog);
            self.persist_ports();
        } else if matches!(port, Some((_, true))) || (delete && r.status < 300) {
            catalog.set_index_host(index, None);
            drop(catalog);
            self.release_port(index);
            self.persist_ports();
        }
        r
    }

    /// A namespace's request on its engine; bounced to the catalog engine when it creates or
    /// drops the namespace (still under the namespace's lock, so no other engine of it runs).
    fn run_namespace(&self, index: &str, namespace: &str, req: &Request<'_>) -> Response {
        let _gate = self.gate(index).blocking_read();
        let slot = self.slot(index, namespace);
        let mut guard = slot.engine.blocking_lock();
        let engine = guard.get_or_insert_with(|| {
            Engine::new(self.store.clone(), self.options.clone(), Role::Namespace)
        });
        match engine.handle(req) {
            Handled::Done(r) => {
                if engine.indexing_pending() {
                    slot.pending.store(true, Ordering::Release);
                    self.wake_indexer();
                }
                r
            }
            Handled::Bounced => {
                // The engine is ahead of the store: drop it; the next request reloads it.
                *guard = None;
                self.on_catalog(req)
            }
        }
    }

    /// The server's only index, for transports that cannot name one (gRPC without
    /// `x-larch-index`).
    fn only_index(&self) -> Result<String, Response> {
        let r = self.on_catalog(&Request {
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
                "this server has no index: create one first (the control plane is REST only)"
                    .into(),
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
}

/// The index a control-plane request may change: `/indexes/{name}…` (percent-decoded), or
/// the `name` of a create request's body.
fn changed_index(req: &Request<'_>) -> Option<String> {
    let mut parts = req.path.trim_matches('/').split('/');
    if parts.next() != Some("indexes") {
        return None;
    }
    match parts.next() {
        Some(raw) if !raw.is_empty() => Some(percent_decode(raw)),
        _ => serde_json::from_slice::<serde_json::Value>(req.body)
            .ok()
            .and_then(|v| v["name"].as_str().map(str::to_string)),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// The background indexing thread: one turn per namespace with work pending, round robin,
/// parked while none has. Each turn's commit is written after the namespace's engine is
/// released (its requests go on meanwhile), and finishes before the next turn or a stop.
fn indexer(app: Arc<App>) {
    while !app.stopping.load(Ordering::Acquire) {
        if !app.index_pass() {
            std::thread::park_timeout(Duration::from_millis(500));
        }
    }
}

impl App {
    /// One pass of the indexer: a turn for every namespace with work pending. Returns true
    /// when some turn has more to do right away.
    fn index_pass(&self) -> bool {
        let pending: Vec<Arc<Slot>> = self
            .slots_snapshot()
            .into_iter()
            .filter(|s| s.pending.load(Ordering::Acquire))
            .collect();
        let mut more = false;
        for slot in pending {
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            self.store.wait_idle();
            let (m, prepared, broken) = {
                let mut guard = slot.engine.blocking_lock();
                match guard.as_mut() {
                    Some(e) => {
                        let (m, p) = e.index_turn();
                        // A turn's commit can start new work (a segment whose graph and codes
                        // are stored writes its rows; a consolidation follows): keep the slot
                        // while the engine has any, visited at least every park timeout.
                        slot.pending
                            .store(m || e.indexing_pending(), Ordering::Release);
                        (m, p, Some(e.broken()))
                    }
                    None => {
                        slot.pending.store(false, Ordering::Release);
                        (false, None, None)
                    }
                }
            };
            more |= m;
            if let (Some(p), Some(broken)) = (prepared, broken) {
                let start = std::time::Instant::now();
                match self.store.write_in_flight(p, &broken) {
                    Ok(_) if start.elapsed() > Duration::from_secs(1) => eprintln!(
                        "larch: a background commit took {} ms (requests went on meanwhile)",
                        start.elapsed().as_millis()
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("larch: background commit failed (the engine reloads): {e}")
                    }
                }
            }
        }
        more
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
    let bind = config.host.clone();
    let index_origin = {
        // The scheme and host of the origin, without its port or path.
        let (scheme, rest) = origin
            .split_once("://")
            .unwrap_or(("http", origin.as_str()));
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = match authority.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
            _ => authority,
        };
        let host = if host == "0.0.0.0" || host == "[::]" {
            "127.0.0.1"
        } else {
            host
        };
        format!("{scheme}://{host}")
    };
    let app = App::new(
        store,
        options,
        config.api_key.as_deref(),
        PortConfig {
            mode: config.index_ports,
            data: config.data.clone(),
            bind,
            origin: index_origin,
        },
    );
    let assigned = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || app.assign_ports())
            .await
            .map_err(|e| e.to_string())?
    };
    let indexer_thread = app.start_indexer()?;

    let router = crate::rest::router(app.clone(), None);
    let stop_rx = app.stop.subscribe();
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
    let hosts = match config.index_ports {
        IndexPorts::Off => format!("index hosts {origin}/index/<name>"),
        _ => format!("each index on its own port (also {origin}/index/<name>)"),
    };
    println!(
        "larch: serving {} (generation {generation}) on http://{addr} (REST and gRPC){}; {hosts}; simd: {}",
        config.data.display(),
        grpc_addr.map_or(String::new(), |a| format!(", gRPC also on http://{a}")),
        larch::distance::kernel_name(),
    );
    for (name, host) in &assigned {
        println!("larch: index {name} on {host}");
    }
    if config.api_key.is_none() {
        println!("larch: no --api-key given: any API key is accepted");
    }

    signal().await;
    println!("larch: shutting down (finishing requests in flight)");
    let _ = app.stop.send(true);
    servers.extend(app.take_index_listeners());
    for s in servers {
        match tokio::time::timeout(Duration::from_secs(10), s).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => eprintln!("larch: listener error: {e}"),
            Ok(Err(e)) => eprintln!("larch: listener task failed: {e}"),
            Err(_) => eprintln!("larch: connections still open after 10 s; closing them"),
        }
    }
    {
        let app = app.clone();
        let _ = tokio::task::spawn_blocking(move || app.stop_indexer(indexer_thread)).await;
    }
    println!(
        "larch: stopped after {} commits (generation {})",
        app.store.commits(),
        app.store.generation()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn app(name: &str) -> Arc<App> {
        app_with(name, 64)
    }

    fn app_with(name: &str, max_engines: usize) -> Arc<App> {
        let dir = std::env::temp_dir().join(format!(
            "larch-serve-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let store = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        let mut options = EngineOptions::new("http://127.0.0.1:1/index/{name}".into());
        options.max_loaded_namespaces = max_engines;
        let ports = PortConfig {
            mode: IndexPorts::Off,
            data: dir,
            bind: "127.0.0.1".into(),
            origin: "http://127.0.0.1".into(),
        };
        App::new(store, options, None, ports)
    }

    async fn call(app: &Arc<App>, method: &str, path: &str, body: Value) -> (u16, Value) {
        let r = app
            .run(Call {
                method: method.into(),
                path: path.into(),
                body: if body.is_null() {
                    Vec::new()
                } else {
                    serde_json::to_vec(&body).unwrap()
                },
                api_version: Some("2025-10".into()),
                ..Call::default()
            })
            .await;
        (r.status, r.json_body())
    }

    async fn upsert(app: &Arc<App>, ns: &str, ids: &[&str]) {
        let vectors: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| json!({"id": id, "values": [1.0, i as f32 + 0.5]}))
            .collect();
        let (status, body) = call(
            app,
            "POST",
            "/index/docs/vectors/upsert",
            json!({"namespace": ns, "vectors": vectors}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["upsertedCount"], json!(ids.len()));
    }

    async fn query(app: &Arc<App>, ns: &str) -> Vec<String> {
        let (status, body) = call(
            app,
            "POST",
            "/index/docs/query",
            json!({"namespace": ns, "vector": [1.0, 0.5], "topK": 10}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let mut ids: Vec<String> = body["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    async fn with_index(name: &str) -> Arc<App> {
        with_index_on(app(name)).await
    }

    async fn with_index_on(app: Arc<App>) -> Arc<App> {
        let (status, body) = call(
            &app,
            "POST",
            "/indexes",
            json!({"name": "docs", "dimension": 2, "metric": "euclidean",
                   "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        app
    }

    /// A bound on a request that must not wait for the held namespace: reaching it fails the
    /// test (instead of hanging it); it synchronizes nothing.
    const BOUND: Duration = Duration::from_secs(60);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_namespaces_are_served_while_one_namespace_is_held() {
        let app = with_index("held").await;
        upsert(&app, "a", &["a1", "a2"]).await;
        upsert(&app, "b", &["b1"]).await;
        assert_eq!(query(&app, "a").await, ["a1", "a2"]);
        // Hold namespace a's lock, as a long request or background turn on it would.
        let slot = app.slot("docs", "a");
        let held = slot.engine.lock().await;
        assert!(held.is_some(), "a's engine serves a's requests");
        let waiting = tokio::spawn({
            let app = app.clone();
            async move { query(&app, "a").await }
        });
        // Reads and writes of b, a namespace created meanwhile (a write bounced to the catalog
        // engine), and index-wide stats all complete while a is held.
        let others = async {
            assert_eq!(query(&app, "b").await, ["b1"]);
            upsert(&app, "b", &["b2"]).await;
            assert_eq!(query(&app, "b").await, ["b1", "b2"]);
            upsert(&app, "c", &["c1"]).await;
            assert_eq!(query(&app, "c").await, ["c1"]);
            let (status, stats) =
                call(&app, "POST", "/index/docs/describe_index_stats", json!({})).await;
            assert_eq!(status, 200, "{stats}");
            assert_eq!(stats["namespaces"]["a"]["vectorCount"], json!(2));
            assert_eq!(stats["namespaces"]["b"]["vectorCount"], json!(2));
            assert_eq!(stats["namespaces"]["c"]["vectorCount"], json!(1));
        };
        tokio::time::timeout(BOUND, others)
            .await
            .expect("a request outside the held namespace waited for it");
        // a's own request cannot have run: it needs the lock this test holds.
        assert!(!waiting.is_finished(), "a's request ran while a was held");
        drop(held);
        assert_eq!(waiting.await.unwrap(), ["a1", "a2"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn namespace_engines_follow_the_catalogs_changes() {
        let app = with_index("changes").await;
        upsert(&app, "a", &["a1"]).await;
        upsert(&app, "a", &["a2"]).await;
        assert_eq!(query(&app, "a").await, ["a1", "a2"]);
        // Dropping the namespace goes through the catalog engine; a's engine does not keep
        // serving the dropped records.
        let (status, body) = call(&app, "DELETE", "/index/docs/namespaces/a", Value::Null).await;
        assert!(status < 300, "{body}");
        assert!(query(&app, "a").await.is_empty());
        upsert(&app, "a", &["a3"]).await;
        assert_eq!(query(&app, "a").await, ["a3"]);
        // Deleting and re-creating the index drops its namespace engines.
        let (status, body) = call(&app, "DELETE", "/indexes/docs", Value::Null).await;
        assert!(status < 300, "{body}");
        let (status, _) = call(
            &app,
            "POST",
            "/index/docs/query",
            json!({"namespace": "a", "vector": [1.0, 0.5], "topK": 10}),
        )
        .await;
        assert_eq!(status, 404);
        let app = with_index_on(app).await;
        assert!(query(&app, "a").await.is_empty());
        upsert(&app, "a", &["new"]).await;
        let (_, stats) = call(&app, "POST", "/index/docs/describe_index_stats", json!({})).await;
        assert_eq!(stats["totalVectorCount"], json!(1), "{stats}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_engines_beyond_the_limit_are_dropped_and_reload() {
        let app = with_index_on(app_with("limit", 2)).await;
        for ns in ["a", "b", "c", "d"] {
            upsert(&app, ns, &[ns]).await;
            upsert(&app, ns, &[ns, "x"]).await;
        }
        let engines = app.slots.lock().unwrap().len();
        assert!(engines <= 2, "{engines} namespace engines kept");
        for ns in ["a", "b", "c", "d"] {
            assert_eq!(query(&app, ns).await, [ns, "x"]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_indexer_finishes_every_namespaces_work() {
        // Small segments with graphs, int8 codes and paged rows: each stage's commit starts the
        // next (rows are written once graph and codes are stored), which the indexer must
        // notice after the turn that reported nothing more.
        let dir_app = {
            let app = app("indexer");
            let mut options = app.options.clone();
            options.storage.seal_records = 100;
            options.ann.min_records = 50;
            let dir = std::env::temp_dir().join(format!(
                "larch-serve-indexer2-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let store = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
            let ports = PortConfig {
                mode: IndexPorts::Off,
                data: dir,
                bind: "127.0.0.1".into(),
                origin: "http://127.0.0.1".into(),
            };
            App::new(store, options, None, ports)
        };
        let app = with_index_on(dir_app).await;
        for ns in ["a", "b"] {
            for b in 0..3 {
                let ids: Vec<String> = (0..100).map(|i| format!("{ns}{b}-{i}")).collect();
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                upsert(&app, ns, &ids).await;
            }
        }
        let passes = {
            let app = app.clone();
            tokio::task::spawn_blocking(move || {
                let mut passes = 0;
                while passes < 10_000 {
                    passes += 1;
                    let more = app.index_pass();
                    let pending = app.status_blocking()["indexing"]["pending"] == json!(true);
                    if !more && !pending {
                        break;
                    }
                }
                passes
            })
            .await
            .unwrap()
        };
        let status = app.status().await;
        assert_eq!(
            status["indexing"]["pending"],
            json!(false),
            "after {passes} passes: {status}"
        );
        let (built, total) = (&status["indexing"]["built"], &status["indexing"]["total"]);
        assert_eq!(built, total, "{status}");
        // Every namespace still answers with all its records.
        for ns in ["a", "b"] {
            let (code, stats) =
                call(&app, "POST", "/index/docs/describe_index_stats", json!({})).await;
            assert_eq!(code, 200);
            assert_eq!(
                stats["namespaces"][ns]["vectorCount"],
                json!(300),
                "{stats}"
            );
        }
    }
}
