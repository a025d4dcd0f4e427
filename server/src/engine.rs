//! The engine host: the Larch engine (`larch::api::Api`) over a [`DirectoryStore`], driven by
//! the engine's host protocol (`larch::host`): a request that names blobs it does not hold
//! (`NotLoaded`) is given them and retried, its write batches are committed to the store in
//! one atomic step before the response leaves, and background index steps run between
//! requests. This is `pkg-js/js/host.ts`'s `Host` for a native process.
//!
//! The engine is one `Db` whose every operation, reads included, takes `&mut` (reads load
//! namespaces and page rows in on demand), so requests run one at a time behind a mutex (see
//! [`crate::serve`]); HTTP parsing, JSON and protobuf conversion, authentication and I/O of
//! other connections run in parallel around it.
//!
//! Commits: a request's batches are committed under the engine's lock, before it answers. A
//! background turn's batches (new graphs, codes, paged rows, merged segments: tens of MB after
//! a merge, seconds of fsync on a busy disk) change no record, so they are written *outside*
//! the lock ([`SharedStore::write_in_flight`]): requests go on meanwhile, reading the commit's
//! blobs from memory ([`DirectoryStore::get`]), and a request that writes waits for it first,
//! so commits stay in order. Should a background commit fail, the engine is rebuilt from the
//! store before anything else commits.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Namespaces per index kept in memory after a request; the rest reload on next use.
    pub max_loaded_namespaces: usize,
}

impl EngineOptions {
    /// The defaults of a persistent pkg-js engine (int8 codes on), with `host_template`.
    pub fn new(host_template: String) -> Self {
        EngineOptions {
            api: ApiOptions { host_template },
            storage: StorageConfig::default(),
            ann: AnnConfig {
                int8: true,
                ..AnnConfig::default()
            },
            max_loaded_namespaces: 64,
        }
    }
}

/// The store, shared by the engine and the writer of background commits.
#[derive(Debug)]
pub struct SharedStore {
    store: Mutex<DirectoryStore>,
    /// Signalled when a commit in flight finishes.
    idle: Condvar,
    /// A background commit failed: the engine is ahead of the store.
    broken: AtomicBool,
}

impl SharedStore {
    fn new(store: DirectoryStore) -> Self {
        SharedStore {
            store: Mutex::new(store),
            idle: Condvar::new(),
            broken: AtomicBool::new(false),
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

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.lock().get(key)
    }

    /// Commits after the commit in flight, unless that one failed.
    fn apply(&self, batches: &[WriteBatch]) -> Result<u64, StoreError> {
        let mut s = self.lock_idle();
        if self.broken.load(Ordering::Acquire) {
            return Err(StoreError::Io {
                what: "an earlier background commit failed".into(),
                source: std::io::Error::other("the engine reloads from the store"),
            });
        }
        s.apply(batches)
    }

    /// Writes a prepared background commit (without any lock while its files are written).
    pub fn write_in_flight(&self, p: Arc<Prepared>) -> Result<u64, StoreError> {
        let result = p.write();
        let r = self.lock().finish(&p, result);
        if r.is_err() {
            self.broken.store(true, Ordering::Release);
        }
        self.idle.notify_all();
        r
    }

    /// The store's generation (commits of this and earlier processes).
    pub fn generation(&self) -> u64 {
        self.lock().generation()
    }
}

/// The engine and its store.
#[derive(Debug)]
pub struct Engine {
    api: Api,
    store: Arc<SharedStore>,
    options: EngineOptions,
    /// Commits since start (for logs and tests).
    commits: u64,
}

/// One background turn runs engine steps for at most this long (requests wait behind it).
pub const TURN: Duration = Duration::from_millis(10);

/// A background turn longer than this is logged.
const SLOW_TURN: Duration = Duration::from_millis(250);

impl Engine {
    /// The engine over `store`; it loads lazily from the store.
    pub fn new(store: DirectoryStore, options: EngineOptions) -> Self {
        let api = fresh_api(&options);
        Engine {
            api,
            store: Arc::new(SharedStore::new(store)),
            options,
            commits: 0,
        }
    }

    /// The store, for the writer of background commits.
    pub fn store(&self) -> Arc<SharedStore> {
        self.store.clone()
    }

    /// Rebuilds the engine from the store after a failed background commit.
    fn repair(&mut self) {
        if self.store.broken.load(Ordering::Acquire) {
            self.store.wait_idle();
            self.api = fresh_api(&self.options);
            self.store.broken.store(false, Ordering::Release);
        }
    }

    /// Runs one request through the host loop and commits its writes before returning the
    /// response. A store failure drops the engine (it reloads from what is committed) and
    /// answers with an internal error: nothing uncommitted is acknowledged.
    pub fn handle(&mut self, req: &Request<'_>) -> Response {
        self.repair();
        let response = loop {
            match self.api.try_handle(req) {
                Ok(r) => break r,
                Err(keys) => {
                    for key in keys {
                        match self.store.get(&key) {
                            Ok(bytes) => self.api.provide(key, bytes),
                            Err(e) => return self.fail(req.path, &e),
                        }
                    }
                }
            }
        };
        match self.commit() {
            Ok(()) => response,
            Err(e) => self.fail(req.path, &e),
        }
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
            // Requests wait behind a turn: say when one is long (one step is the unit).
            eprintln!(
                "larch: a background turn held the engine {} ms ({steps} steps)",
                took.as_millis()
            );
        }
        let batches = self.api.take_writes();
        let prepared = if batches.is_empty() {
            None
        } else {
            self.commits += 1;
            self.store.lock_idle().prepare(&batches)
        };
        self.api.evict_idle(self.options.max_loaded_namespaces);
        // A merge waiting for rows goes on once they are provided: continue while it names
        // other rows than those just provided (the same ones again: the store lacks them).
        let after = self.api.index_needs();
        (more || (!after.is_empty() && after != needs), prepared)
    }

    /// The host's status: background indexing (graph nodes built of all being built, and
    /// whether work is pending), commits, the store's generation, the engine's resident bytes.
    pub fn status(&self) -> serde_json::Value {
        let (built, total) = self.api.indexing_progress();
        serde_json::json!({
            "indexing": {"pending": self.api.indexing_pending(), "built": built, "total": total},
            "generation": self.store.generation(),
            "commits": self.commits,
            "residentBytes": self.api.db().resident_bytes(),
            "kernels": larch::distance::kernel_name(),
        })
    }

    /// The store's generation (commits of this and earlier processes).
    pub fn generation(&self) -> u64 {
        self.store.generation()
    }

    /// Commits made by this process.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Applies the engine's pending write batches (the one commit path of requests).
    fn commit(&mut self) -> Result<(), StoreError> {
        let batches = self.api.take_writes();
        if batches.is_empty() {
            return Ok(());
        }
        self.store.apply(&batches)?;
        self.commits += 1;
        self.api.evict_idle(self.options.max_loaded_namespaces);
        Ok(())
    }

    /// A store failure: the engine may be ahead of the store, so rebuild it from what is
    /// committed, and answer with the plane's internal error.
    fn fail(&mut self, path: &str, e: &StoreError) -> Response {
        eprintln!("larch: storage error: {e}");
        self.store.wait_idle();
        self.api = fresh_api(&self.options);
        self.store.broken.store(false, Ordering::Release);
        Api::internal_error(path)
    }
}

fn fresh_api(options: &EngineOptions) -> Api {
    let mut api = Api::open(options.api.clone(), options.storage);
    api.db_mut().set_ann_config(options.ann);
    api
}
