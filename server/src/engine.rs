//! The engine hosts: Larch engines (`larch::api::Api`) over one [`DirectoryStore`], each
//! driven by the engine's host protocol (`larch::host`): a request that names blobs it does
//! not hold (`NotLoaded`) is given them and retried, its write batches are committed to the
//! store in one atomic step before the response leaves, and background index steps run
//! between requests. This is `pkg-js/js/host.ts`'s `Host` for a native process.
//!
//! The server splits the database the way the Worker does (ARCHITECTURE.md, `worker/`): one
//! [`Role::Catalog`] engine for the control plane, index-wide requests (stats, namespace
//! listings) and every change to the root or an index's catalog (creating and dropping
//! indexes and namespaces), and one [`Role::Namespace`] engine per (index, namespace) for the
//! vectors API. All share the store's keys, which is pkg-js's single-database layout
//! unchanged: a write to an existing namespace touches only its `n/{ix}/{ns}/` keys, so the
//! namespace engines never write each other's blobs. A namespace engine whose request would
//! write anything else (the root: the write creates or drops its namespace) commits nothing
//! and answers [`Handled::Bounced`]; the caller drops it and runs the request on the catalog
//! engine, which owns the root. The catalog engine forgets its copies of namespaces after
//! every request ([`Api::forget_namespaces`]), so stats and listings read the manifests the
//! namespace engines committed.
//!
//! Commits: every commit is prepared under the store's lock (one at a time: the directory has
//! one journal) and written outside it ([`SharedStore::apply`]), so reads of other engines
//! never wait for a commit's fsyncs: a read of a key the commit in flight writes is answered
//! from its bytes ([`DirectoryStore::locate`]). A background turn's batches (new graphs,
//! codes, paged rows, merged segments: tens of MB after a merge, seconds of fsync on a busy
//! disk) change no record, so they are written after the namespace's engine is released
//! ([`SharedStore::write_in_flight`]): its requests go on meanwhile, and one that writes waits
//! for it first, so commits stay in order. Should a background commit fail, that engine is
//! rebuilt from the store before anything else it does commits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use larch::api::{Api, ApiOptions, Request, Response};
use larch::host::INDEX_STEP_BUDGET;
use larch::namespace::{AnnConfig, StorageConfig};
use larch::storage::WriteBatch;

use crate::store::{DirectoryStore, Prepared, StoreError};

/// How the engine is configured (the same knobs as pkg-js's `Engine` options).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub api: ApiOptions,
    pub storage: StorageConfig,
    pub ann: AnnConfig,
    /// Namespace engines (each holding one namespace) kept in memory; idle ones beyond this
    /// are dropped, least recently used first, and reload on next use.
    pub max_loaded_namespaces: usize,
}

impl EngineOptions {
    /// The defaults of a persistent pkg-js engine (int8 codes on), with `host_template`.
    pub fn new(host_template: String) -> Self {
        EngineOptions {
            api: ApiOptions {
                host_template,
                ..ApiOptions::default()
            },
            storage: StorageConfig::default(),
            ann: AnnConfig {
                int8: true,
                ..AnnConfig::default()
            },
            max_loaded_namespaces: 64,
        }
    }
}

/// The store, shared by every engine and the writer of background commits.
#[derive(Debug)]
pub struct SharedStore {
    store: Mutex<DirectoryStore>,
    /// Signalled when a commit in flight finishes.
    idle: Condvar,
    /// Commits made by this process.
    commits: AtomicU64,
}

impl SharedStore {
    pub fn new(store: DirectoryStore) -> Self {
        SharedStore {
            store: Mutex::new(store),
            idle: Condvar::new(),
            commits: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DirectoryStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store once no commit is in flight.
    fn lock_idle(&self) -> MutexGuard<'_, DirectoryStore> {
        let mut s = self.lock();
        while s.in_flight() {
            s = self.idle.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s
    }

    /// Waits until no commit is in flight.
    pub fn wait_idle(&self) {
        drop(self.lock_idle());
    }

    /// A committed blob (or one of the commit in flight); the file is read outside the lock.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let located = self.lock().locate(key);
        located.read(key)
    }

    /// Commits after the commit in flight, unless the engine's `broken` says that one (its
    /// own background commit) failed. The files are written outside the store's lock.
    fn apply(&self, batches: &[WriteBatch], broken: &AtomicBool) -> Result<u64, StoreError> {
        let prepared = {
            let mut s = self.lock_idle();
            if broken.load(Ordering::Acquire) {
                return Err(StoreError::Io {
                    what: "an earlier background commit failed".into(),
                    source: std::io::Error::other("the engine reloads from the store"),
                });
            }
            match s.prepare(batches) {
                Some(p) => p,
                None => return Ok(s.generation()),
            }
        };
        self.write_in_flight(prepared, broken)
    }

    /// Writes a prepared commit (without any lock while its files are written) and ends it;
    /// a failure sets `broken` (the engine that made it is ahead of the store).
    pub fn write_in_flight(
        &self,
        p: Arc<Prepared>,
        broken: &AtomicBool,
    ) -> Result<u64, StoreError> {
        let result = p.write();
        let r = self.lock().finish(&p, result);
        match &r {
            Ok(_) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => broken.store(true, Ordering::Release),
        }
        self.idle.notify_all();
        r
    }

    /// The store's generation (commits of this and earlier processes).
    pub fn generation(&self) -> u64 {
        self.lock().generation()
    }

    /// Commits made by this process.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

/// Which part of the database an engine serves (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The root and every index's catalog; forgets namespaces after each request.
    Catalog,
    /// One namespace: commits only batches inside `n/` (namespace keys).
    Namespace,
}

/// What a request on an engine came to.
#[derive(Debug)]
pub enum Handled {
    /// The response (its writes committed).
    Done(Response),
    /// A namespace engine's request would write outside its namespace (the root or a
    /// catalog): nothing was committed, the engine is ahead of the store and must be dropped,
    /// and the request belongs to the catalog engine.
    Bounced,
}

/// True when every key the batches touch is a namespace's (`n/…`).
fn namespace_only(batches: &[WriteBatch]) -> bool {
    batches.iter().all(|b| {
        b.puts.iter().all(|(k, _)| k.starts_with("n/"))
            && b.deletes.iter().all(|k| k.starts_with("n/"))
            && b.delete_prefixes.iter().all(|k| k.starts_with("n/"))
    })
}

/// One engine and its store.
#[derive(Debug)]
pub struct Engine {
    api: Api,
    store: Arc<SharedStore>,
    options: EngineOptions,
    role: Role,
    /// Set when this engine's background commit failed: it is ahead of the store.
    broken: Arc<AtomicBool>,
}

/// One background turn runs engine steps for at most this long (requests of the same
/// namespace wait behind it).
pub const TURN: Duration = Duration::from_millis(10);

/// A background turn longer than this is logged.
const SLOW_TURN: Duration = Duration::from_millis(250);

impl Engine {
    /// An engine over `store`; it loads lazily from the store.
    pub fn new(store: Arc<SharedStore>, options: EngineOptions, role: Role) -> Self {
        Engine {
            api: fresh_api(&options),
            store,
            options,
            role,
            broken: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Sets the host index `name` is described with (its own port), or removes it.
    pub fn set_index_host(&mut self, name: &str, host: Option<String>) {
        match &host {
            Some(h) => self.options.api.hosts.insert(name.to_string(), h.clone()),
            None => self.options.api.hosts.remove(name),
        };
        self.api.set_index_host(name, host);
    }

    /// The flag a failed background commit of this engine sets.
    pub fn broken(&self) -> Arc<AtomicBool> {
        self.broken.clone()
    }

    /// Rebuilds the engine from the store after a failed background commit.
    fn repair(&mut self) {
        if self.broken.load(Ordering::Acquire) {
            self.store.wait_idle();
            self.reset();
        }
    }

    fn reset(&mut self) {
        self.api = fresh_api(&self.options);
        self.broken.store(false, Ordering::Release);
    }

    /// Runs one request through the host loop and commits its writes before returning the
    /// response. A store failure drops the engine's state (it reloads from what is committed)
    /// and answers with an internal error: nothing uncommitted is acknowledged.
    pub fn handle(&mut self, req: &Request<'_>) -> Handled {
        self.repair();
        let response = loop {
            match self.api.try_handle(req) {
                Ok(r) => break r,
                Err(keys) => {
                    for key in keys {
                        match self.store.get(&key) {
                            Ok(bytes) => self.api.provide(key, bytes),
                            Err(e) => return Handled::Done(self.fail(req.path, &e)),
                        }
                    }
                }
            }
        };
        let batches = self.api.take_writes();
        if self.role == Role::Namespace && !namespace_only(&batches) {
            return Handled::Bounced;
        }
        if !batches.is_empty()
            && let Err(e) = self.store.apply(&batches, &self.broken)
        {
            return Handled::Done(self.fail(req.path, &e));
        }
        match self.role {
            Role::Catalog => {
                self.api.forget_namespaces();
            }
            Role::Namespace => {
                self.api.evict_idle(self.options.max_loaded_namespaces);
            }
        }
        Handled::Done(response)
    }

    /// True when background index work is pending.
    pub fn indexing_pending(&self) -> bool {
        self.api.indexing_pending()
    }

    /// One bounded background turn: provides the blobs the work waits for, runs index steps
    /// for at most [`TURN`], and prepares the commit of what they wrote, which the caller
    /// writes with [`SharedStore::write_in_flight`] after releasing the engine. Call it with
    /// no commit in flight ([`SharedStore::wait_idle`]). Returns true while more work remains.
    pub fn index_turn(&mut self) -> (bool, Option<Arc<Prepared>>) {
        self.repair();
        let needs = self.api.index_needs();
        for key in &needs {
            match self.store.get(key) {
                Ok(bytes) => self.api.provide(key.clone(), bytes),
                Err(e) => {
                    self.fail("/", &e);
                    return (false, None);
                }
            }
        }
        let start = Instant::now();
        let mut steps = 1;
        let mut more = self.api.index_step(INDEX_STEP_BUDGET);
        while more && start.elapsed() < TURN {
            more = self.api.index_step(INDEX_STEP_BUDGET);
            steps += 1;
        }
        let took = start.elapsed();
        if took > SLOW_TURN {
            // Requests of this namespace wait behind a turn: say when one is long.
            eprintln!(
                "larch: a background turn held a namespace {} ms ({steps} steps)",
                took.as_millis()
            );
        }
        let batches = self.api.take_writes();
        if self.role == Role::Namespace && !namespace_only(&batches) {
            eprintln!("larch: a background turn wrote outside its namespace; the engine reloads");
            self.store.wait_idle();
            self.reset();
            return (false, None);
        }
        let prepared = if batches.is_empty() {
            None
        } else {
            self.store.lock_idle().prepare(&batches)
        };
        self.api.evict_idle(self.options.max_loaded_namespaces);
        // A merge waiting for rows goes on once they are provided: continue while it names
        // other rows than those just provided (the same ones again: the store lacks them).
        let after = self.api.index_needs();
        (more || (!after.is_empty() && after != needs), prepared)
    }

    /// Graph nodes built and being built by background work.
    pub fn indexing_progress(&self) -> (usize, usize) {
        self.api.indexing_progress()
    }

    /// The engine's resident bytes.
    pub fn resident_bytes(&self) -> usize {
        self.api.db().resident_bytes()
    }

    /// A store failure: the engine may be ahead of the store, so rebuild it from what is
    /// committed, and answer with the plane's internal error.
    fn fail(&mut self, path: &str, e: &StoreError) -> Response {
        eprintln!("larch: storage error: {e}");
        self.store.wait_idle();
        self.reset();
        Api::internal_error(path)
    }
}

fn fresh_api(options: &EngineOptions) -> Api {
    let mut api = Api::open(options.api.clone(), options.storage);
    api.db_mut().set_ann_config(options.ann);
    api
}
