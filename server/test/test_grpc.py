"""The official Python SDK's gRPC client (`PineconeGRPC`, tonic underneath) against `larch serve`.

Environment: LARCH_URL (e.g. http://127.0.0.1:8797), LARCH_API_KEY; PINECONE_GRPC_SCHEME=http
(the SDK dials https unless told). Run by server/test/run.sh. Tests run in file order and share
one index per module; the server must hold no other index (gRPC requests reach the only index).
"""

import os
import random
import socket
import struct

import h2.config
import h2.connection
import h2.events
import pytest
from pinecone import ServerlessSpec
from pinecone.errors.exceptions import ApiError, PineconeError
from pinecone.grpc import PineconeGRPC

URL = os.environ.get("LARCH_URL", "http://127.0.0.1:8797")
KEY = os.environ.get("LARCH_API_KEY", "larch-local-key")
NAME = "grpc-docs"
DIM = 8


def vec(seed: int) -> list[float]:
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(DIM)]


RECORDS = [
    {"id": f"doc{i}", "values": vec(i), "metadata": {"genre": "drama" if i % 2 else "comedy", "year": 2000 + i}}
    for i in range(1, 41)
]


@pytest.fixture(scope="module")
def pc():
    pc = PineconeGRPC(api_key=KEY, host=URL)
    for i in pc.list_indexes():
        pc.delete_index(i.name)
    return pc


@pytest.fixture(scope="module")
def idx(pc):
    pc.create_index(name=NAME, dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    return pc.Index(name=NAME)


def test_upsert_and_stats(idx):
    r = idx.upsert(vectors=RECORDS, namespace="films", batch_size=100, show_progress=False)
    assert r.upserted_count == 40
    stats = idx.describe_index_stats()
    assert stats.dimension == DIM
    assert stats.total_vector_count == 40
    assert stats.namespaces["films"].vector_count == 40


def test_query_with_filter_and_values(idx):
    target = RECORDS[4]  # doc5, drama
    r = idx.query(vector=target["values"], top_k=5, namespace="films", include_metadata=True, include_values=True)
    assert r.matches[0].id == "doc5"
    assert r.matches[0].score == pytest.approx(1.0, abs=1e-5)
    assert r.matches[0].values == pytest.approx(target["values"], abs=1e-6)
    r = idx.query(
        vector=target["values"],
        top_k=40,
        namespace="films",
        filter={"genre": {"$eq": "comedy"}, "year": {"$gte": 2030}},
        include_metadata=True,
    )
    ids = {m.id for m in r.matches}
    assert ids == {f"doc{i}" for i in range(30, 41) if i % 2 == 0}
    assert all(m.metadata["genre"] == "comedy" for m in r.matches)
    by_id = idx.query(id="doc7", top_k=1, namespace="films")
    assert by_id.matches[0].id == "doc7"


def test_fetch(idx):
    r = idx.fetch(ids=["doc1", "doc2", "missing"], namespace="films")
    assert set(r.vectors) == {"doc1", "doc2"}
    assert r.vectors["doc2"].values == pytest.approx(RECORDS[1]["values"], abs=1e-6)
    assert r.vectors["doc2"].metadata == {"genre": "comedy", "year": 2002}


def test_update_values_and_metadata(idx):
    r = idx.update(id="doc3", values=[0.5] * DIM, set_metadata={"genre": "noir"}, namespace="films")
    assert r.matched_records == 1
    got = idx.fetch(ids=["doc3"], namespace="films").vectors["doc3"]
    assert got.values == pytest.approx([0.5] * DIM)
    assert got.metadata == {"genre": "noir", "year": 2003}


def test_list_pages_through_every_id(idx):
    page = idx.list_paginated(namespace="films", prefix="doc1", limit=5)
    assert [v.id for v in page.vectors] == ["doc1", "doc10", "doc11", "doc12", "doc13"]
    assert page.pagination is not None and page.pagination.next
    seen = []
    for page in idx.list(namespace="films", limit=7):
        assert len(page.vectors) <= 7
        seen.extend(v.id for v in page.vectors)
    assert sorted(seen) == sorted(r["id"] for r in RECORDS)


def test_delete_by_ids_and_filter(idx):
    idx.delete(ids=["doc1", "doc2"], namespace="films")
    assert set(idx.fetch(ids=["doc1", "doc2", "doc4"], namespace="films").vectors) == {"doc4"}
    idx.delete(filter={"genre": {"$eq": "noir"}}, namespace="films")
    assert "doc3" not in idx.fetch(ids=["doc3"], namespace="films").vectors
    assert idx.describe_index_stats().namespaces["films"].vector_count == 37


def test_namespaces(idx):
    idx.upsert(vectors=[("x1", vec(99))], namespace="scratch", show_progress=False)
    names = {n.name for n in idx.list_namespaces_paginated().namespaces}
    assert {"films", "scratch"} <= names
    d = idx.describe_namespace(namespace="scratch")
    assert d.name == "scratch" and d.record_count == 1
    idx.delete_namespace(namespace="scratch")
    assert "scratch" not in {n.name for n in idx.list_namespaces_paginated().namespaces}


def test_wrong_dimension_is_invalid_argument(idx):
    with pytest.raises(ApiError) as e:
        idx.upsert(vectors=[("bad", [0.1] * (DIM + 1))], namespace="films", show_progress=False)
    assert e.value.error_code == "INVALID_ARGUMENT"
    assert "dimension" in str(e.value)


def test_malformed_filter_is_invalid_argument(idx):
    with pytest.raises(ApiError) as e:
        idx.query(vector=vec(1), top_k=3, namespace="films", filter={"genre": {"$regex": "x"}})
    assert e.value.error_code == "INVALID_ARGUMENT"
    assert "$regex" in str(e.value)


def test_unknown_namespace_is_not_found(idx):
    with pytest.raises(ApiError) as e:
        idx.describe_namespace(namespace="no-such-namespace")
    assert e.value.error_code == "NOT_FOUND"


def test_wrong_api_key_is_unauthenticated(pc):
    bad = PineconeGRPC(api_key="not-the-key", host=URL).Index(host=f"{URL}/index/{NAME}")
    with pytest.raises(ApiError) as e:
        bad.describe_index_stats()
    assert e.value.error_code == "UNAUTHENTICATED"


# ---- raw gRPC (h2): the numeric grpc-status on the wire, and naming the index ---------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def upsert_message(rid: str, values: list[float], namespace: str) -> bytes:
    vector = _field(1, rid.encode()) + _field(2, struct.pack(f"<{len(values)}f", *values))
    return _field(1, vector) + _field(2, namespace.encode())


def raw_call(method: str, message: bytes, metadata: list[tuple[str, str]]) -> dict[str, str]:
    """One unary call over h2c; returns the response's headers and trailers."""
    host, port = URL.removeprefix("http://").split("/")[0].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", f"{host}:{port}"),
        (":path", f"/VectorService/{method}"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        *metadata,
    ]
    conn.send_headers(1, headers)
    conn.send_data(1, b"\x00" + struct.pack(">I", len(message)) + message, end_stream=True)
    sock.sendall(conn.data_to_send())
    got: dict[str, str] = {}
    done = False
    while not done:
        data = sock.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                got.update({k.decode(): v.decode() for k, v in ev.headers})
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            if isinstance(ev, h2.events.StreamEnded):
                done = True
        sock.sendall(conn.data_to_send())
    sock.close()
    return got


def test_grpc_status_codes_on_the_wire(idx):
    auth = [("api-key", KEY)]
    ok = raw_call("Upsert", upsert_message("raw1", vec(5), "raw"), auth)
    assert ok.get("grpc-status", "0") == "0", ok
    # INVALID_ARGUMENT is 3.
    bad = raw_call("Upsert", upsert_message("raw2", [1.0, 2.0], "raw"), auth)
    assert bad["grpc-status"] == "3", bad
    # UNAUTHENTICATED is 16.
    assert raw_call("Upsert", upsert_message("raw3", vec(5), "raw"), [("api-key", "nope")])["grpc-status"] == "16"
    # x-larch-index names the index; an unknown one is NOT_FOUND (5).
    named = raw_call("Upsert", upsert_message("raw4", vec(6), "raw"), auth + [("x-larch-index", NAME)])
    assert named.get("grpc-status", "0") == "0", named
    missing = raw_call("Upsert", upsert_message("raw5", vec(6), "raw"), auth + [("x-larch-index", "nope")])
    assert missing["grpc-status"] == "5", missing
    assert set(idx.fetch(ids=["raw1", "raw2", "raw4"], namespace="raw").vectors) == {"raw1", "raw4"}


def test_two_indexes_each_on_its_own_port(pc, idx):
    # Pinecone's clients dial the host describe_index names and send no index name: each index
    # has a port of its own (as in Pinecone Local), so writes land in the index they were for.
    pc.create_index(name="grpc-other", dimension=4, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    try:
        hosts = {i.name: i.host for i in pc.list_indexes()}
        assert hosts["grpc-other"] == pc.describe_index("grpc-other").host
        assert hosts["grpc-other"] != hosts[NAME], hosts
        assert "/index/" not in hosts[NAME], hosts
        other = pc.Index(name="grpc-other")
        other.upsert(vectors=[("o1", [0.1, 0.2, 0.3, 0.4]), ("o2", [0.4, 0.3, 0.2, 0.1])], namespace="films")
        idx.upsert(vectors=[("two1", vec(7))], namespace="two")
        assert set(other.fetch(ids=["o1", "o2", "two1"], namespace="films").vectors) == {"o1", "o2"}
        assert other.query(vector=[0.1, 0.2, 0.3, 0.4], top_k=1, namespace="films").matches[0].id == "o1"
        stats = other.describe_index_stats()
        assert stats.dimension == 4 and stats.total_vector_count == 2, stats
        assert set(stats.namespaces) == {"films"}, stats
        assert idx.fetch(ids=["o1"], namespace="films").vectors == {}
        assert idx.describe_index_stats().namespaces["two"].vector_count == 1
        # The main port, told no index, does not guess between two (FAILED_PRECONDITION, which
        # the SDK raises as its base error).
        with pytest.raises(PineconeError, match="x-larch-index"):
            PineconeGRPC(api_key=KEY, host=URL).Index(host=URL).describe_index_stats()
    finally:
        pc.delete_index("grpc-other")
    assert idx.describe_index_stats().namespaces["films"].vector_count == 37
