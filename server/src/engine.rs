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

use std::time::{Duration, Instant};

use larch::api::{Api, ApiOptions, Request, Response};
use larch::host::INDEX_STEP_BUDGET;
use larch::namespace::{AnnConfig, StorageConfig};

use crate::store::{DirectoryStore, StoreError};

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

/// The engine and its store.
#[derive(Debug)]
pub struct Engine {
    api: Api,
    store: DirectoryStore,
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
            store,
            options,
            commits: 0,
        }
    }

    /// Runs one request through the host loop and commits its writes before returning the
    /// response. A store failure drops the engine (it reloads from what is committed) and
    /// answers with an internal error: nothing uncommitted is acknowledged.
    pub fn handle(&mut self, req: &Request<'_>) -> Response {
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
    /// for at most [`TURN`], commits. Returns true while more work remains.
    pub fn index_turn(&mut self) -> bool {
        let needs = self.api.index_needs();
        for key in &needs {
            match self.store.get(key) {
                Ok(bytes) => self.api.provide(key.clone(), bytes),
                Err(e) => {
                    self.fail("/", &e);
                    return false;
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
        let stepped = start.elapsed();
        if let Err(e) = self.commit() {
            self.fail("/", &e);
            return false;
        }
        let took = start.elapsed();
        if took > SLOW_TURN {
            // Requests wait behind a turn: say when one is long (one step is the unit).
            eprintln!(
                "larch: a background turn held the engine {} ms ({steps} steps: {} ms, commit {} ms)",
                took.as_millis(),
                stepped.as_millis(),
                (took - stepped).as_millis()
            );
        }
        // A merge waiting for rows goes on once they are provided: continue while it names
        // other rows than those just provided (the same ones again: the store lacks them).
        let after = self.api.index_needs();
        more || (!after.is_empty() && after != needs)
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

    /// Applies the engine's pending write batches (the one commit path).
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
        self.api = fresh_api(&self.options);
        Api::internal_error(path)
    }
}

fn fresh_api(options: &EngineOptions) -> Api {
    let mut api = Api::open(options.api.clone(), options.storage);
    api.db_mut().set_ann_config(options.ann);
    api
}
