//! The host loop, written once.
//!
//! The engine does no I/O: an operation that needs blobs it does not hold fails with
//! [`Error::NotLoaded`] naming them, the host fetches them, hands them over with `provide`, and
//! runs the operation again; nothing changes before every needed blob is present. After the
//! operation succeeds the host applies the write batches (`take_writes`) — each in one atomic
//! step — before it acknowledges the request. Between requests it may call `index_step` with
//! [`INDEX_STEP_BUDGET`] while [`crate::db::Db::indexing_pending`] says there is work, and
//! commit its batches the same way.
//!
//! [`Rounds`] is the loop's one termination rule, used by every host: a key the engine asks
//! for again after it was provided during the same operation means no progress is possible
//! (a bug, or a store that lost a blob), so the operation fails with [`Error::Internal`]
//! instead of looping. [`with_blobs`] is the loop for hosts whose store answers synchronously
//! (tests, benches, fuzz targets, the in-memory store); [`crate::api::Api::try_handle`] applies
//! the same rule for hosts that fetch asynchronously (pkg-js's `host.ts`, the Worker), which
//! then only loop while the engine names keys.

use crate::error::{Error, Result};
use crate::storage::MemoryStore;

/// Node insertions per background [`crate::db::Db::index_step`] call that hosts use: a node
/// costs about `ef_construction` distance computations, so one step stays in the low
/// milliseconds and requests are not held up behind it.
pub const INDEX_STEP_BUDGET: usize = 256;

/// Something that takes blobs the host fetched.
pub trait Provide {
    /// Hands over a blob (`None`: the store has no such key).
    fn provide(&mut self, key: String, bytes: Option<Vec<u8>>);

    /// The operation answered (it did not ask for blobs): what it read on demand (row groups
    /// of paged segments) may be dropped from now on.
    fn end_request(&mut self) {}
}

/// The keys provided during one operation: the loop's termination rule.
#[derive(Debug, Default, Clone)]
pub struct Rounds {
    /// A few keys per operation (manifests, a namespace's segments), so a list: a set's code
    /// would only add to the wasm.
    provided: Vec<String>,
}

impl Rounds {
    /// The keys to fetch next for an operation that asked for `keys`, or an error when it asks
    /// again for one it was given (retrying cannot make progress).
    pub fn next(&mut self, keys: Vec<String>) -> Result<Vec<String>> {
        if let Some(k) = keys.iter().find(|k| self.provided.contains(*k)) {
            let message = format!("blob '{k}' is still needed after it was provided");
            self.reset();
            return Err(Error::Internal { message });
        }
        self.provided.extend_from_slice(&keys);
        Ok(keys)
    }

    /// Starts a new operation.
    pub fn reset(&mut self) {
        self.provided.clear();
    }
}

/// Runs `op` against `host`, providing the blobs it names from `get` until it runs, and
/// returns its result. The writes it produced are still in the host's outbox.
pub fn with_blobs<H: Provide + ?Sized, T>(
    host: &mut H,
    mut get: impl FnMut(&str) -> Option<Vec<u8>>,
    mut op: impl FnMut(&mut H) -> Result<T>,
) -> Result<T> {
    let mut rounds = Rounds::default();
    loop {
        match op(host) {
            Err(Error::NotLoaded { keys }) => {
                let keys = rounds.next(keys).inspect_err(|_| host.end_request())?;
                for key in keys {
                    let bytes = get(&key);
                    host.provide(key, bytes);
                }
            }
            other => {
                host.end_request();
                return other;
            }
        }
    }
}

/// Runs background index work to completion over an in-memory store: steps with
/// [`INDEX_STEP_BUDGET`], providing the row groups it waits for
/// ([`crate::db::Db::index_needs`]), until nothing is pending. Returns the steps taken.
pub fn index_all(db: &mut crate::db::Db, store: &mut MemoryStore) -> usize {
    let mut steps = 0;
    loop {
        let needs = db.index_needs();
        for key in &needs {
            let bytes = store.get(key).map(<[u8]>::to_vec);
            db.provide(key.clone(), bytes);
        }
        let more = db.index_step(INDEX_STEP_BUDGET);
        for batch in db.take_writes() {
            store.apply(&batch);
        }
        steps += 1;
        // A step may start a merge that waits for rows: go on while it names new ones (the
        // same ones again means the store lacks them, and retrying cannot help).
        let after = db.index_needs();
        if !more && (after.is_empty() || after == needs) {
            db.end_request();
            return steps;
        }
    }
}

/// [`with_blobs`] over an in-memory store.
pub fn with_store<H: Provide + ?Sized, T>(
    host: &mut H,
    store: &MemoryStore,
    op: impl FnMut(&mut H) -> Result<T>,
) -> Result<T> {
    with_blobs(host, |k| store.get(k).map(<[u8]>::to_vec), op)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Asks {
        given: Vec<String>,
    }

    impl Provide for Asks {
        fn provide(&mut self, key: String, _: Option<Vec<u8>>) {
            self.given.push(key);
        }
    }

    #[test]
    fn the_loop_provides_until_the_operation_runs() {
        let mut host = Asks { given: Vec::new() };
        let r = with_blobs(
            &mut host,
            |_| None,
            |h| match h.given.len() {
                0 => Err(Error::NotLoaded {
                    keys: vec!["a".into()],
                }),
                1 => Err(Error::NotLoaded {
                    keys: vec!["b".into(), "c".into()],
                }),
                n => Ok(n),
            },
        );
        assert_eq!(r.unwrap(), 3);
        assert_eq!(host.given, ["a", "b", "c"]);
    }

    #[test]
    fn a_key_asked_for_again_ends_the_loop_with_an_internal_error() {
        let mut host = Asks { given: Vec::new() };
        let r: Result<()> = with_blobs(
            &mut host,
            |_| None,
            |_| {
                Err(Error::NotLoaded {
                    keys: vec!["root".into()],
                })
            },
        );
        match r {
            Err(Error::Internal { message }) => assert!(message.contains("'root'"), "{message}"),
            other => panic!("expected an internal error, got {other:?}"),
        }
        assert_eq!(host.given, ["root"], "provided once, then given up");
    }
}
