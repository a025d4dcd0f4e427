//! The directory store: one file per blob, an atomic commit per write, and a lock file — the
//! same on-disk layout as pkg-js's Node `{ directory }` store (`pkg-js/js/directory_store.ts`,
//! format 2), so a directory written by either opens in the other.
//!
//! Layout:
//! - `blobs/<key>`: one file per blob; the key with `/` as `.` and every byte outside
//!   `[A-Za-z0-9_-]` as `%XX`;
//! - `blobs/<key>~<gen>`: a staged put of commit `gen`;
//! - `larch.journal`: the last commit — magic `LARCHJ\0\x02`, generation (u64 LE), count (u32
//!   LE), per key its kind (1 put, 2 delete), length (u32 LE) and bytes, then a SHA-256 of all
//!   that;
//! - `larch.lock`: `{"pid","host","token"}`, made with link(2) so it never exists half-written.
//!
//! A commit (generation g+1) writes and fsyncs each put to its staged file, writes and fsyncs
//! the journal beside `larch.journal`, fsyncs `blobs/`, renames the journal into place and
//! fsyncs the directory — the commit point — then renames each staged file over its blob and
//! unlinks each delete. Opening replays the journal (harmless when it was applied, wholly or in
//! part: every operation is on its own key) and removes every other staged file (a commit that
//! never reached its commit point). The bytes written per commit are the blobs it puts plus a
//! journal of its keys, whatever the size of the database.
//!
//! The server holds `larch.lock` for as long as it runs (pkg-js holds it per request): a Node
//! process sharing the directory waits for it and then fails with `STORAGE_LOCKED`, and a
//! second `larch serve` refuses to start. A lock whose process is gone (same host name,
//! `kill(pid, 0)` fails with ESRCH) is stale and broken, as pkg-js does.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use larch::storage::{MemoryStore, WriteBatch};
use sha2::{Digest, Sha256};

const SNAPSHOT: &str = "larch.snapshot";
const JOURNAL: &str = "larch.journal";
const LOCK: &str = "larch.lock";
const BLOBS: &str = "blobs";
const MAGIC: &[u8; 8] = b"LARCHJ\x00\x02";
const PUT: u8 = 1;
const DELETE: u8 = 2;

/// What can go wrong with the directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is damaged (checksum or layout); the directory needs a restore")]
    Damaged { path: String },
    #[error(
        "{path} is held by process {pid} on {host}: another larch serve or Node process uses this directory"
    )]
    Locked {
        path: String,
        pid: String,
        host: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::Io { what, source }
}

/// A blob key as a file name (pkg-js's `fileName`).
pub fn file_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => out.push(b as char),
            b'/' => out.push('.'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The key of a blob file name; `None` for names no key produces.
pub fn key_of(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => out.push(b'/'),
            b'%' => {
                let hex = name.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// One operation of a commit: put bytes, or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub key: String,
    pub put: Option<Vec<u8>>,
}

/// The journal bytes of a commit (pkg-js's `encodeJournal`).
pub fn encode_journal(generation: u64, ops: &[(String, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&u32::try_from(ops.len()).unwrap_or(u32::MAX).to_le_bytes());
    for (key, put) in ops {
        out.push(if *put { PUT } else { DELETE });
        out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// A decoded journal: its generation and (key, is a put) per operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub generation: u64,
    pub ops: Vec<(String, bool)>,
}

fn decode_journal(bytes: &[u8]) -> Option<Journal> {
    if bytes.len() < 52 || &bytes[..8] != MAGIC {
        return None;
    }
    let size = bytes.len() - 32;
    if Sha256::digest(&bytes[..size]).as_slice() != &bytes[size..] {
        return None;
    }
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    };
    let generation = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    let count = u32_at(16)?;
    let mut ops = Vec::new();
    let mut at = 20;
    for _ in 0..count {
        if at + 5 > size {
            return None;
        }
        let kind = bytes[at];
        let len = u32_at(at + 1)?;
        if (kind != PUT && kind != DELETE) || at + 5 + len > size {
            return None;
        }
        let key = std::str::from_utf8(&bytes[at + 5..at + 5 + len]).ok()?;
        ops.push((key.to_string(), kind == PUT));
        at += 5 + len;
    }
    (at == size).then_some(Journal { generation, ops })
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_err()
    {
        // No /dev/urandom: the clock and pid still make a token unique enough for a lock.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = t ^ (u128::from(std::process::id()) << 64);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `pid` runs (on this host): `kill(pid, 0)` fails with ESRCH only when it does not.
fn alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// `larch.lock`, held by this process until dropped.
#[derive(Debug)]
struct FileLock {
    path: PathBuf,
    token: String,
}

#[derive(Debug)]
struct Holder {
    pid: i64,
    host: String,
    token: String,
}

fn read_holder(path: &Path) -> Option<Holder> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    Some(Holder {
        pid: v["pid"].as_i64()?,
        host: v["host"].as_str()?.to_string(),
        token: v["token"].as_str()?.to_string(),
    })
}

impl FileLock {
    /// Takes the lock, waiting up to `timeout` for a live holder (a Node process between
    /// requests releases it quickly; another server never does).
    fn acquire(dir: &Path, timeout: Duration) -> Result<FileLock, StoreError> {
        let path = dir.join(LOCK);
        let token = random_hex(12);
        let host = hostname();
        let tmp = dir.join(format!("{LOCK}.{token}"));
        let body = serde_json::json!({"pid": std::process::id(), "host": host, "token": token});
        fs::write(&tmp, body.to_string()).map_err(io_err(format!("cannot write {tmp:?}")))?;
        let deadline = Instant::now() + timeout;
        let result = loop {
            match fs::hard_link(&tmp, &path) {
                Ok(()) => break Ok(FileLock { path, token }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => break Err(io_err(format!("cannot lock {path:?}"))(e)),
            }
            let holder = read_holder(&path);
            if let Some(h) = &holder
                && h.host == host
                && !alive(h.pid)
            {
                break_stale(&path, &h.token);
                continue;
            }
            if Instant::now() > deadline {
                let (pid, host) = holder
                    .map(|h| (h.pid.to_string(), h.host))
                    .unwrap_or_else(|| ("?".into(), "?".into()));
                break Err(StoreError::Locked {
                    path: path.display().to_string(),
                    pid,
                    host,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = fs::remove_file(&tmp);
        result
    }
}

/// Removes a dead process's lock, unless someone took the lock since it was read.
fn break_stale(path: &Path, token: &str) {
    let aside = path.with_extension(format!("lock.stale.{}", random_hex(6)));
    if fs::rename(path, &aside).is_err() {
        return; // someone else broke it first
    }
    if read_holder(&aside).is_some_and(|h| h.token != token) {
        // A live process took the lock between the read and the rename: give it back.
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Only our own lock: never remove one another process took after a stale break.
        if read_holder(&self.path).is_some_and(|h| h.token == self.token) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn staged_path(blobs: &Path, key: &str, generation: u64) -> PathBuf {
    blobs.join(format!("{}~{generation}", file_name(key)))
}

/// Applies a committed journal's operations to `blobs/`.
fn replay(blobs: &Path, journal: &Journal) -> io::Result<()> {
    for (key, put) in &journal.ops {
        let file = blobs.join(file_name(key));
        if *put {
            ignore_missing(fs::rename(
                staged_path(blobs, key, journal.generation),
                &file,
            ))?;
        } else {
            ignore_missing(fs::remove_file(&file))?;
        }
    }
    sync_dir(blobs)
}

/// Staged puts written and fsynced by this many threads at once (a commit after a merge puts
/// dozens of ≤ 2 MB blobs; one fsync at a time would wait for each in turn).
const WRITERS: usize = 4;

/// A commit whose files are being written ([`DirectoryStore::prepare`]).
#[derive(Debug)]
pub struct Prepared {
    generation: u64,
    ops: Vec<Op>,
    /// Position in `ops` of each key.
    index: std::collections::HashMap<String, usize>,
    dir: PathBuf,
    blobs: PathBuf,
}

impl Prepared {
    /// Writes the commit: staged puts (fsynced), the journal renamed into place (the commit
    /// point), then the staged files renamed over their blobs and deletes unlinked.
    pub fn write(&self) -> Result<(), StoreError> {
        let next = self.generation;
        let journal: Vec<(String, bool)> = self
            .ops
            .iter()
            .map(|o| (o.key.clone(), o.put.is_some()))
            .collect();
        let tmp = self.dir.join(format!("{JOURNAL}.tmp"));
        let puts: Vec<&Op> = self.ops.iter().filter(|o| o.put.is_some()).collect();
        let staged = || -> io::Result<()> {
            let chunk = puts.len().div_ceil(WRITERS).max(1);
            std::thread::scope(|scope| {
                let jobs: Vec<_> = puts
                    .chunks(chunk)
                    .map(|ops| {
                        scope.spawn(move || -> io::Result<()> {
                            for o in ops {
                                let bytes = o.put.as_deref().unwrap_or_default();
                                write_synced(&staged_path(&self.blobs, &o.key, next), bytes)?;
                            }
                            Ok(())
                        })
                    })
                    .collect();
                jobs.into_iter().try_for_each(|j| {
                    j.join()
                        .unwrap_or_else(|_| Err(io::Error::other("writer panicked")))
                })
            })?;
            write_synced(&tmp, &encode_journal(next, &journal))?;
            sync_dir(&self.blobs)?;
            fs::rename(&tmp, self.dir.join(JOURNAL))?;
            sync_dir(&self.dir)
        };
        if let Err(e) = staged() {
            // Not committed: the staged files are garbage (recovery would remove them too).
            for o in &puts {
                let _ = fs::remove_file(staged_path(&self.blobs, &o.key, next));
            }
            return Err(io_err(format!("cannot commit to {}", self.dir.display()))(
                e,
            ));
        }
        // Committed. Should applying fail, the journal is replayed on the next open.
        replay(
            &self.blobs,
            &Journal {
                generation: next,
                ops: journal,
            },
        )
        .map_err(io_err(format!(
            "committed to {} but could not apply it (replayed on next open)",
            self.dir.display()
        )))
    }
}

/// Where a blob's bytes are ([`DirectoryStore::locate`]).
#[derive(Debug)]
pub enum Located {
    /// In memory (a commit in flight), or absent.
    Bytes(Option<Vec<u8>>),
    /// In this committed file.
    File(PathBuf),
}

impl Located {
    /// The bytes (reads the file, if any, without any lock on the store).
    pub fn read(self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Located::Bytes(b) => Ok(b),
            Located::File(path) => match fs::read(path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_err(format!("cannot read {key}"))(e)),
            },
        }
    }
}

/// The store over one directory, holding its lock.
#[derive(Debug)]
pub struct DirectoryStore {
    dir: PathBuf,
    blobs: PathBuf,
    /// Keys of the committed blobs (their bytes stay on disk).
    keys: HashSet<String>,
    generation: u64,
    /// The commit being written, if any ([`DirectoryStore::prepare`]).
    in_flight: Option<Arc<Prepared>>,
    _lock: FileLock,
}

impl DirectoryStore {
    /// Opens (creating, recovering or migrating) the store in `dir`, taking its lock.
    pub fn open(dir: &Path, lock_timeout: Duration) -> Result<DirectoryStore, StoreError> {
        let blobs = dir.join(BLOBS);
        fs::create_dir_all(&blobs).map_err(io_err(format!("cannot create {}", blobs.display())))?;
        let lock = FileLock::acquire(dir, lock_timeout)?;
        let mut store = DirectoryStore {
            dir: dir.to_path_buf(),
            blobs,
            keys: HashSet::new(),
            generation: 0,
            in_flight: None,
            _lock: lock,
        };
        store.recover()?;
        Ok(store)
    }

    /// The generation of the last commit (0 for a directory without commits).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The bytes of a committed blob.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.locate(key).read(key)
    }

    /// Where a committed blob's bytes are: in the commit in flight, in a file, or nowhere.
    /// Reading the file needs no lock on the store ([`Located::read`]): a file is replaced
    /// only by a rename, so a reader sees the old bytes or the new ones, and a commit that
    /// replaces a key the reader's engine holds cannot start while that engine is busy.
    pub fn locate(&self, key: &str) -> Located {
        // A commit in flight is the newest state of its keys (its files may be half renamed).
        if let Some(p) = &self.in_flight
            && let Some(&i) = p.index.get(key)
        {
            return Located::Bytes(p.ops[i].put.clone());
        }
        if !self.keys.contains(key) {
            return Located::Bytes(None);
        }
        Located::File(self.blobs.join(file_name(key)))
    }

    /// Commits the batches, in order, atomically; returns the new generation (the old one when
    /// they change nothing).
    #[cfg(test)]
    pub fn apply(&mut self, batches: &[WriteBatch]) -> Result<u64, StoreError> {
        let ops = self.reduce(batches);
        if ops.is_empty() {
            return Ok(self.generation);
        }
        self.commit(ops)
    }

    /// One operation per key: the batches' final effect on the committed keys.
    fn reduce(&self, batches: &[WriteBatch]) -> Vec<Op> {
        // Insertion order matters only for determinism of the journal: keep first-seen order.
        let mut order: Vec<String> = Vec::new();
        let mut last: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
        let mut set = |k: &str, v: Option<Vec<u8>>, order: &mut Vec<String>| {
            if last.insert(k.to_string(), v).is_none() {
                order.push(k.to_string());
            }
        };
        for b in batches {
            for (k, v) in &b.puts {
                set(k, Some(v.clone()), &mut order);
            }
            for k in &b.deletes {
                set(k, None, &mut order);
            }
            for p in &b.delete_prefixes {
                let mut hit: Vec<String> = self
                    .keys
                    .iter()
                    .filter(|k| k.starts_with(p.as_str()))
                    .cloned()
                    .collect();
                hit.sort();
                for k in &order {
                    if k.starts_with(p.as_str()) {
                        hit.push(k.clone());
                    }
                }
                for k in hit {
                    set(&k, None, &mut order);
                }
            }
        }
        order
            .into_iter()
            .filter_map(|key| {
                let v = last.remove(&key)?;
                match v {
                    Some(bytes) => Some(Op {
                        key,
                        put: Some(bytes),
                    }),
                    None if self.keys.contains(&key) => Some(Op { key, put: None }),
                    None => None,
                }
            })
            .collect()
    }

    /// Commits `ops` as the next generation (the slow part runs in [`Prepared::write`]).
    fn commit(&mut self, ops: Vec<Op>) -> Result<u64, StoreError> {
        let p = self.prepare_ops(ops);
        let result = p.write();
        self.finish(&p, result)
    }

    /// Starts the commit of `batches` whose files are written by [`Prepared::write`], outside
    /// any lock the caller holds; [`DirectoryStore::get`] answers its keys from it meanwhile,
    /// and [`DirectoryStore::finish`] ends it. `None` when the batches change nothing. Only
    /// one commit may be in flight.
    pub fn prepare(&mut self, batches: &[WriteBatch]) -> Option<Arc<Prepared>> {
        debug_assert!(self.in_flight.is_none(), "one commit at a time");
        let ops = self.reduce(batches);
        (!ops.is_empty()).then(|| self.prepare_ops(ops))
    }

    fn prepare_ops(&mut self, ops: Vec<Op>) -> Arc<Prepared> {
        let index = ops
            .iter()
            .enumerate()
            .map(|(i, o)| (o.key.clone(), i))
            .collect();
        let p = Arc::new(Prepared {
            generation: self.generation + 1,
            ops,
            index,
            dir: self.dir.clone(),
            blobs: self.blobs.clone(),
        });
        self.in_flight = Some(p.clone());
        p
    }

    /// True while a prepared commit has not finished.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Ends a prepared commit with the result of its [`Prepared::write`]: the new generation,
    /// or its error after rereading the directory (a commit may have reached its commit point
    /// before failing).
    pub fn finish(
        &mut self,
        p: &Prepared,
        result: Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.in_flight = None;
        if let Err(e) = result {
            self.recover()?;
            return Err(e);
        }
        for o in &p.ops {
            if o.put.is_some() {
                self.keys.insert(o.key.clone());
            } else {
                self.keys.remove(&o.key);
            }
        }
        self.generation = p.generation;
        Ok(p.generation)
    }

    /// Applies a committed journal; harmless when it was applied before, wholly or in part.
    fn replay(&self, journal: &Journal) -> io::Result<()> {
        replay(&self.blobs, journal)
    }

    /// Recovery: replay the journal, drop uncommitted staged files, read the keys; migrate
    /// format 1 (one `larch.snapshot`).
    fn recover(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(JOURNAL);
        let journal = match fs::read(&path) {
            Ok(bytes) => Some(decode_journal(&bytes).ok_or_else(|| StoreError::Damaged {
                path: path.display().to_string(),
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(format!("cannot read {}", path.display()))(e)),
        };
        if let Some(j) = &journal {
            self.replay(j)
                .map_err(io_err("cannot replay the journal"))?;
        }
        let mut keys = HashSet::new();
        let entries = fs::read_dir(&self.blobs).map_err(io_err("cannot list blobs"))?;
        for entry in entries {
            let entry = entry.map_err(io_err("cannot list blobs"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains('~') {
                let _ = fs::remove_file(entry.path());
            } else if let Some(key) = key_of(&name) {
                keys.insert(key);
            }
        }
        let _ = fs::remove_file(self.dir.join(format!("{JOURNAL}.tmp")));
        self.keys = keys;
        self.generation = journal.as_ref().map_or(0, |j| j.generation);
        self.migrate(journal.is_some())
    }

    /// Format 1 → 2: commits the snapshot's blobs (unless a journal shows it was done), then
    /// deletes it.
    fn migrate(&mut self, committed: bool) -> Result<(), StoreError> {
        let path = self.dir.join(SNAPSHOT);
        let _ = fs::remove_file(self.dir.join(format!("{SNAPSHOT}.tmp")));
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(format!("cannot read {}", path.display()))(e)),
        };
        if !committed {
            let old = MemoryStore::from_bytes(&bytes).map_err(|_| StoreError::Damaged {
                path: path.display().to_string(),
            })?;
            let ops = old
                .keys()
                .map(|k| Op {
                    key: k.to_string(),
                    put: old.get(k).map(<[u8]>::to_vec),
                })
                .collect();
            self.commit(ops)?;
        }
        fs::remove_file(&path).map_err(io_err("cannot remove the format-1 snapshot"))?;
        sync_dir(&self.dir).map_err(io_err("cannot sync the directory"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(puts: &[(&str, &[u8])], deletes: &[&str], prefixes: &[&str]) -> WriteBatch {
        WriteBatch {
            puts: puts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect(),
            deletes: deletes.iter().map(|k| k.to_string()).collect(),
            delete_prefixes: prefixes.iter().map(|k| k.to_string()).collect(),
        }
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("larch-store-{name}-{}", random_hex(6)));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn file_names_match_pkg_js_and_round_trip() {
        assert_eq!(file_name("n/00000001/seg/m"), "n.00000001.seg.m");
        assert_eq!(file_name("a b~é"), "a%20b%7E%C3%A9");
        for k in ["root", "n/x y/é~1", "i/%2F/."] {
            assert_eq!(key_of(&file_name(k)).as_deref(), Some(k));
        }
    }

    #[test]
    fn commits_survive_reopen_and_deletes_apply() {
        let dir = tempdir("reopen");
        {
            let mut s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
            s.apply(&[batch(
                &[("a/1", b"one"), ("a/2", b"two"), ("b", b"bee")],
                &[],
                &[],
            )])
            .unwrap();
            let g = s
                .apply(&[batch(&[("c", b"see")], &["b"], &["a/"])])
                .unwrap();
            assert_eq!(g, 2);
        }
        let s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(s.generation(), 2);
        assert_eq!(s.get("c").unwrap().as_deref(), Some(&b"see"[..]));
        assert_eq!(s.get("b").unwrap(), None);
        assert_eq!(s.get("a/1").unwrap(), None);
        assert_eq!(s.keys.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_store_cannot_take_a_held_directory() {
        let dir = tempdir("lock");
        let _s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        match DirectoryStore::open(&dir, Duration::from_millis(50)) {
            Err(StoreError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[test]
    fn a_dead_processs_lock_is_broken() {
        let dir = tempdir("stale");
        let body = serde_json::json!({"pid": i32::MAX, "host": hostname(), "token": "dead"});
        fs::write(dir.join(LOCK), body.to_string()).unwrap();
        let s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(read_holder(&dir.join(LOCK)).unwrap().token, s._lock.token);
    }

    #[test]
    fn a_commit_cut_before_its_journal_leaves_the_previous_generation() {
        let dir = tempdir("cut");
        {
            let mut s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
            s.apply(&[batch(&[("k", b"old")], &[], &[])]).unwrap();
        }
        // What a crash after staging generation 2 leaves: a staged file and a journal.tmp.
        fs::write(dir.join(BLOBS).join("k~2"), b"new").unwrap();
        fs::write(dir.join(format!("{JOURNAL}.tmp")), b"partial").unwrap();
        let s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(s.generation(), 1);
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"old"[..]));
        assert!(!dir.join(BLOBS).join("k~2").exists());
    }

    #[test]
    fn a_committed_journal_not_yet_applied_is_replayed() {
        let dir = tempdir("replay");
        {
            let mut s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
            s.apply(&[batch(&[("k", b"old"), ("gone", b"x")], &[], &[])])
                .unwrap();
        }
        // A crash right after the commit point of generation 2 (put k, delete gone).
        fs::write(dir.join(BLOBS).join("k~2"), b"new").unwrap();
        let journal = encode_journal(2, &[("k".into(), true), ("gone".into(), false)]);
        fs::write(dir.join(JOURNAL), journal).unwrap();
        let s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(s.generation(), 2);
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(s.get("gone").unwrap(), None);
    }

    #[test]
    fn a_commit_in_flight_answers_its_keys_and_lands_when_finished() {
        let dir = tempdir("inflight");
        let mut s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        s.apply(&[batch(&[("old", b"1"), ("kept", b"k")], &[], &[])])
            .unwrap();
        let p = s
            .prepare(&[batch(&[("new", b"2")], &["old"], &[])])
            .unwrap();
        // Before its files exist, reads see the commit; other keys read from disk.
        assert!(s.in_flight());
        assert_eq!(s.get("new").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(s.get("old").unwrap(), None);
        assert_eq!(s.get("kept").unwrap().as_deref(), Some(&b"k"[..]));
        assert_eq!(s.generation(), 1);
        let r = p.write();
        assert_eq!(s.finish(&p, r).unwrap(), 2);
        assert!(!s.in_flight());
        drop(s);
        let s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        assert_eq!(s.generation(), 2);
        assert_eq!(s.get("new").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(s.get("old").unwrap(), None);
    }

    #[test]
    fn a_failed_commit_in_flight_leaves_the_previous_generation() {
        let dir = tempdir("inflight-fail");
        let mut s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
        s.apply(&[batch(&[("k", b"v1")], &[], &[])]).unwrap();
        let p = s.prepare(&[batch(&[("k", b"v2")], &[], &[])]).unwrap();
        let err = StoreError::Io {
            what: "simulated".into(),
            source: io::Error::other("disk full"),
        };
        assert!(s.finish(&p, Err(err)).is_err());
        assert_eq!(s.generation(), 1);
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"v1"[..]));
    }

    #[test]
    fn a_damaged_journal_is_refused() {
        let dir = tempdir("damaged");
        {
            let mut s = DirectoryStore::open(&dir, Duration::ZERO).unwrap();
            s.apply(&[batch(&[("k", b"v")], &[], &[])]).unwrap();
        }
        let mut j = fs::read(dir.join(JOURNAL)).unwrap();
        j[20] ^= 0xff;
        fs::write(dir.join(JOURNAL), j).unwrap();
        assert!(matches!(
            DirectoryStore::open(&dir, Duration::ZERO),
            Err(StoreError::Damaged { .. })
        ));
    }
}
