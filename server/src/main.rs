//! `larch`: the command line of the Larch server.
//!
//! `larch serve --data DIR [--host 127.0.0.1] [--port 5080] [--grpc-port P] [--api-key KEY]`
//! serves Pinecone's REST API (control and data plane) and its gRPC data plane
//! (`VectorService`) over a directory store. See README.md ("larch serve").

// A host, not the engine: the clock (request timing of background turns, lock deadlines) is
// the host's to read; clippy.toml's ban on `Instant::now`/`SystemTime::now` guards `src/`
// (ARCHITECTURE.md, invariant 4).
#![allow(clippy::disallowed_methods)]

mod bench;
mod engine;
mod grpc;
mod ports;
mod rest;
mod serve;
mod store;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "larch",
    version,
    about = "Larch: a Pinecone-compatible vector database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Pinecone's REST and gRPC APIs over a data directory.
    Serve {
        /// The data directory (created if missing; the same layout as pkg-js's `{ directory }`
        /// store in Node).
        #[arg(long, default_value = "larch-data")]
        data: PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The port for REST and gRPC (0: any free port; the chosen one is printed).
        #[arg(long, default_value_t = 5080)]
        port: u16,
        /// A second port, also answering REST and gRPC (the one port answers both anyway).
        #[arg(long)]
        grpc_port: Option<u16>,
        /// The API key clients must send (`Api-Key` header, gRPC `api-key` metadata). Without
        /// it, and without LARCH_API_KEY, any key is accepted.
        #[arg(long, env = "LARCH_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// The origin that index hosts point at (default `http://HOST:PORT`), for a server
        /// behind a proxy.
        #[arg(long)]
        public_url: Option<String>,
        /// Seconds to wait for another process's lock on the data directory.
        #[arg(long, default_value_t = 5)]
        lock_timeout: u64,
        /// Records per namespace memtable before it is sealed into a segment (pkg-js's
        /// `sealRecords`; default 10000).
        #[arg(long)]
        seal_records: Option<usize>,
        /// Records a sealed segment needs before it gets an HNSW graph (pkg-js's
        /// `annMinRecords`; default 2048).
        #[arg(long)]
        ann_min_records: Option<usize>,
        /// MiB of paged row groups (dense values, metadata) each namespace keeps cached between
        /// requests (pkg-js's `rowCacheBytes`, 16 MiB there; a server has the memory).
        #[arg(long, default_value_t = 256)]
        row_cache_mib: usize,
        /// Each index is also served (REST and gRPC) on a port of its own, named as its host
        /// by describe_index, as Pinecone Local does: `FIRST-LAST` (the first free one; default:
        /// the hundred ports after --port), `auto` (any free port; the default with --port 0)
        /// or `off` (hosts are http://HOST:PORT/index/NAME). Kept across restarts in
        /// DIR/larch-serve.json.
        #[arg(long)]
        index_ports: Option<ports::IndexPorts>,
    },
    /// Write the FileDescriptorSet of the served gRPC protocol to stdout (for tests that compare
    /// it with Pinecone's).
    #[command(hide = true)]
    ProtoDescriptor,
    /// Measure the namespace locks in process (BENCHMARKS.md, "larch serve").
    #[command(hide = true)]
    BenchNamespaces {
        #[arg(long, default_value_t = 8)]
        namespaces: usize,
        #[arg(long, default_value_t = 10000)]
        records: usize,
        #[arg(long, default_value_t = 384)]
        dimension: usize,
        /// Query threads, comma-separated.
        #[arg(long, default_value = "1,2,8")]
        threads: String,
        #[arg(long, default_value_t = 4000)]
        queries: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data,
            host,
            port,
            grpc_port,
            api_key,
            public_url,
            lock_timeout,
            seal_records,
            ann_min_records,
            row_cache_mib,
            index_ports,
        } => {
            let config = serve::ServeConfig {
                data,
                host,
                port,
                grpc_port,
                api_key: api_key.filter(|k| !k.is_empty()),
                public_url,
                lock_timeout: Duration::from_secs(lock_timeout),
                seal_records,
                ann_min_records,
                row_cache_bytes: row_cache_mib << 20,
                index_ports: index_ports.unwrap_or(ports::IndexPorts::default_for(port)),
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("larch: cannot start the runtime: {e}");
                    std::process::exit(1);
                }
            };
            if let Err(e) = runtime.block_on(serve::serve(config)) {
                eprintln!("larch: {e}");
                std::process::exit(1);
            }
        }
        Command::BenchNamespaces {
            namespaces,
            records,
            dimension,
            threads,
            queries,
        } => {
            let config = bench::BenchConfig {
                namespaces: namespaces.max(1),
                records: records.max(1),
                dimension: dimension.max(1),
                threads: threads
                    .split(',')
                    .filter_map(|t| t.trim().parse().ok())
                    .filter(|&t| t > 0)
                    .collect(),
                queries,
            };
            if let Err(e) = bench::run(&config) {
                eprintln!("larch: {e}");
                std::process::exit(1);
            }
        }
        Command::ProtoDescriptor => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(grpc::DESCRIPTOR);
        }
    }
}
