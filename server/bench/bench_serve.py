"""Benchmark of `larch serve` over REST and gRPC with the official Python SDK as the client.

    server/.venv/bin/python server/bench/bench_serve.py DATASET_DIR [--limit N] [--queries Q]

DATASET_DIR is an fvecs dataset (../shared/bench: base.fvecs, query.fvecs, gt_cos.ivecs,
base_meta.jsonl). Starts the release server (LARCH_BIN, default target/release/larch) over a
fresh directory and measures: upsert throughput (gRPC, batches of 1000; REST, batches of 200),
the wait for background indexing, recall@10 against the ground truth, query latency p50/p99
and QPS with 1, 8 and 32 concurrent clients over REST and over gRPC, the server's memory
(VmRSS, VmHWM), and cold start (process start to the first answered query, over the same
directory), and the multi-namespace variant (`--spread N`: N namespaces loaded at once, and
queries with clients all on one namespace or spread over the N, which run in parallel). Prints
one JSON object per measurement and a Markdown table at the end. Clients dial each index's own
port, as describe_index names it.

Clients are Python threads (one SDK index handle each) on the same 2-core machine as the
server, so at 8 and 32 clients the figures include the client's own CPU use.
"""

import argparse
import json
import mmap
import os
import re
import signal
import struct
import subprocess
import tempfile
import threading
import time

from pinecone import Pinecone, ServerlessSpec
from pinecone.grpc import PineconeGRPC

BIN = os.environ.get("LARCH_BIN", "target/release/larch")
# Set LARCH_BENCH_QUICK=1 to measure only upserts, indexing and one-client queries.
QUICK = os.environ.get("LARCH_BENCH_QUICK") == "1"
KEY = "bench-key"
NAME = "bench"
NS = "wordnet"


class Vecs:
    """An .fvecs/.ivecs file read row by row on demand (mmap): a 1M × 384 base is 1.5 GB on disk
    and would be ~12 GB as Python lists. Indexing gives a fresh list of one row."""

    def __init__(self, path: str, kind: str, limit: int | None = None) -> None:
        self._f = open(path, "rb")
        self._m = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)
        (self.dim,) = struct.unpack_from("<i", self._m, 0) if len(self._m) else (0,)
        self._row = 4 + 4 * self.dim
        self._fmt = f"<{self.dim}{kind}"
        rows = len(self._m) // self._row if self._row else 0
        self._n = rows if limit is None else min(rows, limit)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not 0 <= i < self._n:
            raise IndexError(i)
        return list(struct.unpack_from(self._fmt, self._m, i * self._row + 4))

    def __iter__(self):
        return (self[i] for i in range(self._n))


def read_vecs(path: str, kind: str, limit: int | None = None) -> Vecs:
    return Vecs(path, kind, limit)


def start(data: str) -> tuple[subprocess.Popen, str, float]:
    t0 = time.perf_counter()
    extra = os.environ.get("LARCH_SERVE_ARGS", "").split()  # e.g. "--row-cache-mib 16"
    p = subprocess.Popen([BIN, "serve", "--data", data, "--port", "0", "--api-key", KEY, *extra], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"on (http://127\.0\.0\.1:\d+) ", line)
    if not m:
        raise RuntimeError(line)
    threading.Thread(target=p.stdout.read, daemon=True).start()
    return p, m.group(1), t0


def memory(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) // 1024
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def emit(**kw) -> dict:
    print(json.dumps(kw), flush=True)
    return kw


def wait_indexed(url: str) -> float:
    import httpx

    t = time.perf_counter()
    while httpx.get(f"{url}/larch/status", headers={"Api-Key": KEY}, timeout=600).json()["indexing"]["pending"]:
        time.sleep(0.5)
    return time.perf_counter() - t


def run_clients(clients: int, per: int, make, work) -> tuple[list[float], float]:
    """`clients` threads, each making its handle with make(k) and timing per calls of work."""
    lat: list[float] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        ix = make(k)
        mine = []
        for i in range(per):
            t0 = time.perf_counter()
            work(ix, k, i)
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return lat, time.perf_counter() - t


def _proc_client(transport, url, host, k, per, spread, layout, queries, barrier, out) -> None:
    os.environ["PINECONE_GRPC_SCHEME"] = "http"
    ix = (PineconeGRPC(api_key=KEY, host=url) if transport == "gRPC" else Pinecone(api_key=KEY, host=url)).Index(host=host)
    ns = f"ns{k % spread}" if layout == "spread" else "ns0"
    ix.query(vector=queries[k % len(queries)], top_k=10, namespace=ns)  # connect before timing
    barrier.wait()
    mine = []
    for i in range(per):
        t0 = time.perf_counter()
        ix.query(vector=queries[(k * per + i) % len(queries)], top_k=10, namespace=ns)
        mine.append(time.perf_counter() - t0)
    out.put(mine)


def run_procs(clients, per, transport, url, host, spread, layout, queries) -> tuple[list[float], float]:
    """`clients` client processes (Python threads share one interpreter lock, which caps the
    client near one core), started together after each made its connection."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_proc_client, args=(transport, url, host, k, per, spread, layout, queries, barrier, out)) for k in range(clients)]
    for p in procs:
        p.start()
    barrier.wait()
    t = time.perf_counter()
    lat: list[float] = []
    for _ in procs:
        lat.extend(out.get())
    dt = time.perf_counter() - t
    for p in procs:
        p.join()
    return lat, dt


def multi_namespace(pc, url: str, base: list, queries: list, spread: int, per_ns: int) -> list[dict]:
    """Namespaces in parallel: a second index with `spread` namespaces of `per_ns` records each
    (the first spread × per_ns base vectors, loaded by one client thread per namespace at once);
    then queries with 1, 8, 32 client processes over REST and gRPC, each client either on
    namespace k % spread ("spread") or all on namespace 0 ("one"): same data, same namespace
    size, so the difference is the namespace lock."""
    if QUICK or spread < 2:
        return []
    rows = []
    name = "bench-multi"
    pc.create_index(name=name, dimension=len(base[0]), metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    host = pc.describe_index(name).host
    per_ns = min(per_ns, len(base) // spread)

    def load(ix, k: int, i: int) -> None:
        lo = k * per_ns + i * 500
        ix.upsert(vectors=[(str(j), base[j]) for j in range(lo, min(lo + 500, (k + 1) * per_ns))], namespace=f"ns{k}", show_progress=False)

    batches = -(-per_ns // 500)
    _, dt = run_clients(spread, batches, lambda k: PineconeGRPC(api_key=KEY, host=url).Index(host=host), load)
    n = spread * per_ns
    rows.append(emit(what="upsert", transport="gRPC", batch=500, clients=spread, namespaces=spread, records=n, seconds=round(dt, 2), per_s=round(n / dt)))
    rows.append(emit(what="indexing wait", index=name, seconds=round(wait_indexed(url), 1)))
    for transport in ("REST", "gRPC"):
        for clients in (1, 8, 32):
            for layout in ("one", "spread") if clients > 1 else ("one",):
                per = 400 if clients == 1 else max(25, 1600 // clients)
                lat, dt = run_procs(clients, per, transport, url, host, spread, layout, queries)
                rows.append(
                    emit(
                        what="query",
                        index=name,
                        namespaces=spread if layout == "spread" else 1,
                        records_per_namespace=per_ns,
                        transport=transport,
                        clients=clients,
                        queries=len(lat),
                        p50_ms=round(1000 * pct(lat, 0.5), 2),
                        p99_ms=round(1000 * pct(lat, 0.99), 2),
                        qps=round(len(lat) / dt),
                    )
                )
    pc.delete_index(name)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--limit", type=int, default=None, help="base vectors to load (default all)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--spread", type=int, default=8, help="namespaces of the multi-namespace variant (0: skip it)")
    ap.add_argument("--spread-records", type=int, default=10000, help="records per namespace there")
    args = ap.parse_args()
    os.environ["PINECONE_GRPC_SCHEME"] = "http"
    base = read_vecs(os.path.join(args.dataset, "base.fvecs"), "f", args.limit)
    # Queries and ground truth are small: plain lists (client processes get them as arguments).
    queries = list(read_vecs(os.path.join(args.dataset, "query.fvecs"), "f", args.queries))
    gt = list(read_vecs(os.path.join(args.dataset, "gt_cos.ivecs"), "i", args.queries))
    meta: list[dict] = [{} for _ in range(len(base))]
    meta_path = os.path.join(args.dataset, "base_meta.jsonl")
    if os.path.exists(meta_path):  # synthetic datasets have none
        with open(meta_path) as f:
            for i, line in zip(range(len(base)), f):
                m = json.loads(line)
                meta[i] = {"category": m["category"], "year": m["year"]}
    n = len(base)
    rows = []
    with tempfile.TemporaryDirectory(prefix="larch-bench-serve-") as data:
        proc, url, _ = start(data)
        try:
            pc = Pinecone(api_key=KEY, host=url)
            pc.create_index(name=NAME, dimension=len(base[0]), metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1"))
            # The index's own port, as describe_index names it (what the SDKs dial).
            host = pc.describe_index(NAME).host
            grpc_ix = PineconeGRPC(api_key=KEY, host=url).Index(host=host)
            rest_ix = pc.Index(host=host)
            # Upsert: gRPC, batches of 1000, one client.
            t = time.perf_counter()
            for i in range(0, n, 1000):
                vs = [{"id": str(j), "values": base[j], "metadata": meta[j]} if meta[j] else (str(j), base[j]) for j in range(i, min(n, i + 1000))]
                grpc_ix.upsert(vectors=vs, namespace=NS, batch_size=1000, show_progress=False)
            dt = time.perf_counter() - t
            rows.append(emit(what="upsert", transport="gRPC", batch=1000, records=n, seconds=round(dt, 2), per_s=round(n / dt)))
            # Upsert: REST, batches of 200 (a 2 MB JSON body holds ~500 × 384), another namespace.
            m = min(n, 20000)
            t = time.perf_counter()
            for i in range(0, m, 200):
                vs = [{"id": str(j), "values": base[j], "metadata": meta[j]} if meta[j] else (str(j), base[j]) for j in range(i, min(m, i + 200))]
                rest_ix.upsert(vectors=vs, namespace="rest-upsert", batch_size=200, show_progress=False)
            dt = time.perf_counter() - t
            rows.append(emit(what="upsert", transport="REST", batch=200, records=m, seconds=round(dt, 2), per_s=round(m / dt)))
            rest_ix.delete_namespace(namespace="rest-upsert")
            # Background indexing until done.
            import httpx

            t = time.perf_counter()
            longest = 0.0
            while True:
                t1 = time.perf_counter()
                st = httpx.get(f"{url}/larch/status", headers={"Api-Key": KEY}, timeout=600).json()
                longest = max(longest, time.perf_counter() - t1)
                if not st["indexing"]["pending"]:
                    break
                time.sleep(0.5)
            wait = round(time.perf_counter() - t, 1)
            rows.append(emit(what="indexing wait", seconds=wait, longest_status_ms=round(1000 * longest), status=st))
            rows.append(emit(what="memory after load", **memory(proc.pid)))
            # Recall@10 (gRPC, one client).
            hits = 0
            for q, g in zip(queries, gt):
                r = grpc_ix.query(vector=q, top_k=10, namespace=NS)
                hits += len({int(x.id) for x in r.matches} & set(g[:10]))
            rows.append(emit(what="recall@10", value=round(hits / (10 * len(queries)), 4)))
            # Latency and QPS per transport and concurrency.
            for transport in ("REST", "gRPC"):
                for clients in (1,) if QUICK else (1, 8, 32):
                    lat: list[float] = []
                    lock = threading.Lock()
                    per = max(1, len(queries) // clients) if clients == 1 else max(25, 2 * len(queries) // clients)

                    def client(k: int) -> None:
                        ix = (PineconeGRPC(api_key=KEY, host=url) if transport == "gRPC" else Pinecone(api_key=KEY, host=url)).Index(host=host)
                        mine = []
                        for i in range(per):
                            q = queries[(k * per + i) % len(queries)]
                            t0 = time.perf_counter()
                            ix.query(vector=q, top_k=10, namespace=NS)
                            mine.append(time.perf_counter() - t0)
                        with lock:
                            lat.extend(mine)

                    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
                    t = time.perf_counter()
                    for th in threads:
                        th.start()
                    for th in threads:
                        th.join()
                    dt = time.perf_counter() - t
                    rows.append(
                        emit(
                            what="query",
                            transport=transport,
                            clients=clients,
                            queries=len(lat),
                            p50_ms=round(1000 * pct(lat, 0.5), 2),
                            p99_ms=round(1000 * pct(lat, 0.99), 2),
                            qps=round(len(lat) / dt),
                        )
                    )
            rows.extend(multi_namespace(pc, url, base, queries, args.spread, args.spread_records))
            rows.append(emit(what="memory after queries", **memory(proc.pid)))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        # Cold start: process start to the first answered query, over the same directory.
        proc, url, t0 = start(data)
        try:
            listening = time.perf_counter() - t0
            ix = PineconeGRPC(api_key=KEY, host=url).Index(name=NAME)
            r = ix.query(vector=queries[0], top_k=10, namespace=NS)
            first = time.perf_counter() - t0
            assert r.matches, "the reloaded namespace answers"
            t = time.perf_counter()
            for q in queries[:100]:
                ix.query(vector=q, top_k=10, namespace=NS)
            warm = (time.perf_counter() - t) / 100
            rows.append(
                emit(
                    what="cold start",
                    listening_ms=round(1000 * listening),
                    first_query_ms=round(1000 * first),
                    next_100_mean_ms=round(1000 * warm, 2),
                    **memory(proc.pid),
                )
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    print()
    print("| index | namespaces | transport | clients | p50 ms | p99 ms | QPS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if r["what"] == "query":
            print(f"| {r.get('index', NAME)} | {r.get('namespaces', 1)} | {r['transport']} | {r['clients']} | {r['p50_ms']} | {r['p99_ms']} | {r['qps']} |")


if __name__ == "__main__":
    main()
