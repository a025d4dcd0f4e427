"""`larch serve` as a process: kill -9 and SIGTERM during writes lose no acknowledged write,
the directory's lock keeps a second server out, and concurrent clients (REST and gRPC, one
namespace each) write and read without seeing each other's records.

Environment: LARCH_BIN (the `larch` binary). Each test starts its own servers on free ports
over its own directory, and stops them.
"""

import os
import random
import re
import signal
import subprocess
import tempfile
import threading
import time

import httpx
import pytest
from pinecone.grpc import PineconeGRPC

BIN = os.environ.get("LARCH_BIN", "target/debug/larch")
KEY = "durability-key"
DIM = 16
HEADERS = {"Api-Key": KEY, "X-Pinecone-Api-Version": "2025-10"}


class Server:
    """One `larch serve` process; `url` once it listens."""

    def __init__(self, data: str, *tuning: str):
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data", data, "--port", "0", "--api-key", KEY, "--lock-timeout", "0", *tuning],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.proc.stdout.readline()
        m = re.search(r"on (http://127\.0\.0\.1:\d+) ", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"larch serve did not start: {line!r} {self.proc.stdout.read()}")
        self.url = m.group(1)
        self.http = httpx.Client(base_url=self.url, headers=HEADERS, timeout=30)

    def post(self, path: str, body: dict) -> httpx.Response:
        return self.http.post(path, json=body)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


@pytest.fixture
def data():
    with tempfile.TemporaryDirectory(prefix="larch-serve-test-") as d:
        yield d


def create_index(s: Server, name: str = "crash") -> None:
    r = s.post("/indexes", {"name": name, "dimension": DIM, "metric": "cosine", "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}})
    assert r.status_code in (201, 409), r.text


def vec(rng: random.Random) -> list[float]:
    return [rng.uniform(-1, 1) for _ in range(DIM)]


def writer(s: Server, ns: str, acked: list[str], stop: threading.Event, seed: int) -> None:
    """Upserts batches of new ids until stopped or the server dies; records acknowledged ids."""
    rng = random.Random(seed)
    n = 0
    while not stop.is_set():
        ids = [f"{ns}-{seed}-{n + i}" for i in range(25)]
        n += 25
        body = {"namespace": ns, "vectors": [{"id": i, "values": vec(rng), "metadata": {"n": k}} for k, i in enumerate(ids)]}
        try:
            r = s.post("/index/crash/vectors/upsert", body)
        except httpx.HTTPError:
            return  # the server died: this batch was not acknowledged
        if r.status_code == 200:
            acked.extend(ids)
        else:
            return


def present(s: Server, ns: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), 100):
        chunk = ids[i : i + 100]
        r = s.http.get("/index/crash/vectors/fetch", params=[("namespace", ns)] + [("ids", x) for x in chunk])
        assert r.status_code == 200, r.text
        found |= set(r.json()["vectors"])
    return found


def count(s: Server, ns: str) -> int:
    r = s.post("/index/crash/describe_index_stats", {})
    assert r.status_code == 200, r.text
    return r.json()["namespaces"].get(ns, {}).get("vectorCount", 0)


def listed(s: Server, ns: str) -> int:
    n, token = 0, None
    while True:
        params = {"namespace": ns, "limit": 100} | ({"paginationToken": token} if token else {})
        page = s.http.get("/index/crash/vectors/list", params=params).json()
        n += len(page["vectors"])
        token = (page.get("pagination") or {}).get("next")
        if not token:
            return n


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
def test_no_acknowledged_write_is_lost(data, how):
    rng = random.Random(16)
    acked: dict[str, list[str]] = {"a": [], "b": []}
    for round_ in range(3):
        # Small segments: seals, graph builds, int8 codes, paged rows and merges run in the
        # background (their commits written beside requests) while the writers write.
        s = Server(data, "--seal-records", "150", "--ann-min-records", "100")
        create_index(s)
        # Everything acknowledged in earlier rounds is there after the restart.
        for ns, ids in acked.items():
            assert present(s, ns, ids) == set(ids), f"round {round_}: lost writes in {ns}"
            assert count(s, ns) == listed(s, ns) >= len(ids)
        stop = threading.Event()
        threads = [
            threading.Thread(target=writer, args=(s, ns, acked[ns], stop, round_ * 10 + k), daemon=True)
            for k, ns in enumerate(["a", "b"])
        ]
        before = {ns: len(ids) for ns, ids in acked.items()}
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.4, 1.2))
        if how == "kill9":
            s.kill9()
        else:
            assert s.stop() == 0, "SIGTERM ends the server cleanly"
        stop.set()
        for t in threads:
            t.join(timeout=30)
        if how == "kill9":
            background = s.proc.stdout.read()
            assert "background" not in background or "failed" not in background, background
        assert all(len(acked[ns]) > before[ns] for ns in acked), "writes were acknowledged this round"
        if how == "sigterm":
            assert not os.path.exists(os.path.join(data, "larch.lock")), "a clean stop releases the lock"
    s = Server(data)
    for ns, ids in acked.items():
        assert present(s, ns, ids) == set(ids)
    s.stop()


def test_a_second_server_cannot_open_a_directory_in_use(data):
    s = Server(data)
    try:
        p = subprocess.run([BIN, "serve", "--data", data, "--port", "0", "--lock-timeout", "0"], capture_output=True, text=True, timeout=20)
        assert p.returncode == 1
        assert f"held by process {s.proc.pid}" in p.stderr
    finally:
        assert s.stop() == 0


def test_concurrent_clients_in_their_own_namespaces(data, monkeypatch):
    monkeypatch.setenv("PINECONE_GRPC_SCHEME", "http")
    s = Server(data)
    create_index(s)
    # The index's own port (its host in describe_index), as the SDK finds it by name.
    grpc_index = PineconeGRPC(api_key=KEY, host=s.url).Index(name="crash")
    errors: list[str] = []
    clients = 8

    def client(k: int) -> None:
        ns = f"tenant-{k}"
        rng = random.Random(k)
        use_grpc = k % 2 == 1
        http = httpx.Client(base_url=s.url, headers=HEADERS, timeout=30)
        mine: dict[str, list[float]] = {}
        try:
            for b in range(6):
                recs = [(f"{ns}#{b}-{i}", vec(rng)) for i in range(50)]
                mine.update(recs)
                if use_grpc:
                    grpc_index.upsert(vectors=recs, namespace=ns, show_progress=False)
                else:
                    r = http.post("/index/crash/vectors/upsert", json={"namespace": ns, "vectors": [{"id": i, "values": v} for i, v in recs]})
                    assert r.status_code == 200, r.text
                probe_id, probe = recs[rng.randrange(50)]
                if use_grpc:
                    matches = [m.id for m in grpc_index.query(vector=probe, top_k=10, namespace=ns).matches]
                else:
                    r = http.post("/index/crash/query", json={"namespace": ns, "vector": probe, "topK": 10})
                    assert r.status_code == 200, r.text
                    matches = [m["id"] for m in r.json()["matches"]]
                assert matches[0] == probe_id, (ns, matches[:3])
                assert all(m.startswith(f"{ns}#") for m in matches), f"{ns} saw {matches}"
            r = http.post("/index/crash/describe_index_stats", json={})
            assert r.json()["namespaces"][ns]["vectorCount"] == len(mine)
            # Every record reads back with the values this client wrote, and nothing else is
            # in its namespace.
            ids = sorted(mine)
            got: dict[str, list[float]] = {}
            for i in range(0, len(ids), 100):
                r = http.get("/index/crash/vectors/fetch", params=[("namespace", ns)] + [("ids", x) for x in ids[i : i + 100]])
                assert r.status_code == 200, r.text
                got |= {k: v["values"] for k, v in r.json()["vectors"].items()}
            assert sorted(got) == ids, f"{ns}: {len(got)} of {len(ids)} fetched"
            for k, v in got.items():
                assert max(abs(a - b) for a, b in zip(v, mine[k])) < 1e-6, (ns, k)
            assert listed(s, ns) == len(ids)
        except Exception as e:  # noqa: BLE001 - reported below with the client's name
            errors.append(f"client {k}: {e!r}")
        finally:
            http.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    stats = s.post("/index/crash/describe_index_stats", {}).json()
    assert stats["totalVectorCount"] == clients * 300
    assert s.stop() == 0


def test_index_ports_are_kept_across_restarts(data, monkeypatch):
    monkeypatch.setenv("PINECONE_GRPC_SCHEME", "http")
    s = Server(data)
    create_index(s, "first")
    create_index(s, "second")
    hosts = {i["name"]: i["host"] for i in s.http.get("/indexes").json()["indexes"]}
    assert len(set(hosts.values())) == 2 and all("/index/" not in h for h in hosts.values()), hosts
    pc = PineconeGRPC(api_key=KEY, host=s.url)
    pc.Index(name="first").upsert(vectors=[("f", [0.5] * DIM)], namespace="n")
    assert s.stop() == 0
    s = Server(data)
    try:
        again = {i["name"]: i["host"] for i in s.http.get("/indexes").json()["indexes"]}
        assert again == hosts
        pc = PineconeGRPC(api_key=KEY, host=s.url)
        pc.Index(name="second").upsert(vectors=[("s", [0.5] * DIM)], namespace="n")
        assert set(pc.Index(name="first").fetch(ids=["f", "s"], namespace="n").vectors) == {"f"}
        assert set(pc.Index(name="second").fetch(ids=["f", "s"], namespace="n").vectors) == {"s"}
        # Deleting an index frees its port.
        assert s.http.delete("/indexes/second").status_code == 202
        with pytest.raises(Exception):
            httpx.get(f"{hosts['second']}/describe_index_stats", headers=HEADERS, timeout=5)
    finally:
        s.stop()
