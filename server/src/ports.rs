//! Index ports: every index is also served on a port of its own, and `describe_index`,
//! `list_indexes` and `create_index` name that port as the index's host — what Pinecone Local
//! does. Pinecone's gRPC clients dial the host and send no index name (tonic keeps only the
//! scheme and authority of a URL), so the port is what tells the server which index an RPC is
//! for; REST clients given the host send data-plane paths without `/index/{name}`, answered
//! the same way. The main port keeps serving everything (`/index/{name}/…` over REST, and gRPC
//! with `x-larch-index` or to the only index).
//!
//! Ports are given when an index is created (or, for an index without one — a directory
//! written by pkg-js, or by a server with `--index-ports off` — when the server starts) and
//! kept in `larch-serve.json` in the data directory (written to a temporary file, fsynced and
//! renamed into place), so an index keeps its port across restarts; deleting the index frees
//! it. pkg-js's directory store ignores the file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where index ports come from (`--index-ports`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexPorts {
    /// No index ports: hosts are `{origin}/index/{name}` on the main port.
    Off,
    /// Any free port the system gives (kept across restarts while it is free).
    Any,
    /// The first free port of this range (inclusive).
    Range(u16, u16),
}

impl FromStr for IndexPorts {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("--index-ports takes off, auto or FIRST-LAST (e.g. 5081-5180), not {s:?}");
        match s {
            "off" => Ok(IndexPorts::Off),
            "auto" | "0" => Ok(IndexPorts::Any),
            _ => {
                let (a, b) = s.split_once('-').ok_or_else(bad)?;
                let (a, b): (u16, u16) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a == 0 || a > b {
                    return Err(bad());
                }
                Ok(IndexPorts::Range(a, b))
            }
        }
    }
}

impl IndexPorts {
    /// The default for a main port: the hundred ports after it, or any free port when the
    /// main port is itself chosen by the system (`--port 0`).
    pub fn default_for(port: u16) -> IndexPorts {
        if port == 0 {
            IndexPorts::Any
        } else {
            match port.checked_add(1) {
                Some(first) => IndexPorts::Range(first, port.saturating_add(100)),
                None => IndexPorts::Any,
            }
        }
    }
}

const FILE: &str = "larch-serve.json";

/// The index → port assignments, as stored in `larch-serve.json`.
#[derive(Debug)]
pub struct PortFile {
    path: PathBuf,
    pub ports: BTreeMap<String, u16>,
}

impl PortFile {
    /// Reads the assignments in `dir` (none when the file is missing or unreadable).
    pub fn read(dir: &Path) -> PortFile {
        let path = dir.join(FILE);
        let ports = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v["indexPorts"].as_object().map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), u16::try_from(v.as_u64()?).ok()?)))
                        .collect()
                })
            })
            .unwrap_or_default();
        PortFile { path, ports }
    }

    /// Writes the assignments atomically.
    pub fn write(&self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let body = serde_json::json!({ "indexPorts": self.ports });
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(body.to_string().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// Binds a listener for an index: `wanted` first (its port from the last run), else the first
/// free port the mode allows that `taken` does not hold.
pub fn bind(
    host: &str,
    mode: IndexPorts,
    wanted: Option<u16>,
    taken: &dyn Fn(u16) -> bool,
) -> Option<std::net::TcpListener> {
    if mode == IndexPorts::Off {
        return None;
    }
    let try_bind = |p: u16| {
        let l = std::net::TcpListener::bind((host, p)).ok()?;
        l.set_nonblocking(true).ok()?;
        Some(l)
    };
    if let Some(p) = wanted
        && let Some(l) = try_bind(p)
    {
        return Some(l);
    }
    match mode {
        IndexPorts::Off => None,
        IndexPorts::Any => try_bind(0),
        IndexPorts::Range(a, b) => (a..=b).filter(|p| !taken(*p)).find_map(try_bind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_ports_parse() {
        assert_eq!("off".parse(), Ok(IndexPorts::Off));
        assert_eq!("auto".parse(), Ok(IndexPorts::Any));
        assert_eq!("5081-5180".parse(), Ok(IndexPorts::Range(5081, 5180)));
        for bad in ["", "5081", "5-3", "0-4", "a-b", "1-70000"] {
            assert!(bad.parse::<IndexPorts>().is_err(), "{bad}");
        }
        assert_eq!(IndexPorts::default_for(5080), IndexPorts::Range(5081, 5180));
        assert_eq!(IndexPorts::default_for(0), IndexPorts::Any);
    }

    #[test]
    fn assignments_survive_a_rewrite() {
        let dir = std::env::temp_dir().join(format!("larch-ports-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut f = PortFile::read(&dir);
        assert!(f.ports.is_empty());
        f.ports.insert("docs".into(), 5081);
        f.ports.insert("é x".into(), 5082);
        f.write().unwrap();
        assert_eq!(PortFile::read(&dir).ports, f.ports);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn binding_prefers_the_wanted_port_and_skips_taken_ones() {
        let first = bind("127.0.0.1", IndexPorts::Any, None, &|_| false).unwrap();
        let port = first.local_addr().unwrap().port();
        drop(first);
        let again = bind("127.0.0.1", IndexPorts::Any, Some(port), &|_| false).unwrap();
        assert_eq!(again.local_addr().unwrap().port(), port);
        // The wanted port is busy (held above): another one of the range.
        let other = bind("127.0.0.1", IndexPorts::Any, Some(port), &|_| false).unwrap();
        assert_ne!(other.local_addr().unwrap().port(), port);
        assert!(bind("127.0.0.1", IndexPorts::Off, Some(port), &|_| false).is_none());
    }
}
