"""The official Python SDK (PyPI `pinecone`, REST client) against a running Larch Worker.

Environment: LARCH_URL (e.g. http://127.0.0.1:8787) and LARCH_API_KEY. Run by worker/test/run.sh,
which starts `wrangler dev` first. Tests run in file order and share one index per module.
LARCH_INDEX_HOSTS=ports: index hosts are ports of their own (`larch serve`, server/test/run.sh),
not `{LARCH_URL}/index/{name}`.
"""

import os
import random

import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors.exceptions import ApiError

URL = os.environ.get("LARCH_URL", "http://127.0.0.1:8787")
KEY = os.environ.get("LARCH_API_KEY", "larch-local-key")
NAME = "py-tenants"
DIM = 8
PORTS = os.environ.get("LARCH_INDEX_HOSTS") == "ports"


def is_host(host: str) -> bool:
    """The index's data-plane host: {URL}/index/{NAME}, or (ports) an origin of its own."""
    if PORTS:
        origin = URL.rsplit(":", 1)[0]
        return host.startswith(f"{origin}:") and host != URL and "/" not in host.removeprefix("http://")
    return host == f"{URL}/index/{NAME}"


def vec(seed: int) -> list[float]:
    r = random.Random(seed)
    return [r.uniform(-1, 1) for _ in range(DIM)]


def records(tenant: str, n: int, seed: int) -> list[dict]:
    return [
        {
            "id": f"{tenant}#doc{i}",
            "values": vec(seed + i),
            "metadata": {"tenant": tenant, "kind": "odd" if i % 2 else "even", "n": i},
        }
        for i in range(1, n + 1)
    ]


A = records("a", 25, 1000)
B = records("b", 10, 2000)


@pytest.fixture(scope="module")
def pc():
    pc = Pinecone(api_key=KEY, host=URL)
    if NAME in [i.name for i in pc.list_indexes()]:
        pc.configure_index(NAME, deletion_protection="disabled")
        pc.delete_index(NAME)
    return pc


@pytest.fixture(scope="module")
def idx(pc):
    model = pc.create_index(name=NAME, dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    assert is_host(model.host), model.host
    # Resolve the host through describe_index, as applications do: the path prefix must survive.
    return pc.Index(name=NAME)


def count(idx, ns: str) -> int:
    stats = idx.describe_index_stats()
    summary = stats.namespaces.get(ns)
    return summary.vector_count if summary else 0


def test_create_describe_list(pc, idx):
    d = pc.describe_index(NAME)
    assert d.name == NAME and d.dimension == DIM and d.metric == "cosine"
    assert is_host(d.host), d.host
    assert d.status.ready
    assert NAME in [i.name for i in pc.list_indexes()]


def test_upsert_two_tenants(idx):
    assert idx.upsert(vectors=A, namespace="tenant-a").upserted_count == 25
    assert idx.upsert(vectors=B, namespace="tenant-b").upserted_count == 10
    assert count(idx, "tenant-a") == 25 and count(idx, "tenant-b") == 10


def test_query_never_crosses_tenants(idx):
    for ns, recs, prefix in (("tenant-a", A, "a#"), ("tenant-b", B, "b#")):
        r = idx.query(vector=recs[3]["values"], top_k=50, namespace=ns, include_metadata=True)
        assert r.matches[0].id == recs[3]["id"]
        assert len(r.matches) == len(recs)
        assert all(m.id.startswith(prefix) and m.metadata["tenant"] == prefix[0] for m in r.matches)
    # A tenant-b vector queried in tenant-a finds only tenant-a records.
    r = idx.query(vector=B[0]["values"], top_k=5, namespace="tenant-a")
    assert all(m.id.startswith("a#") for m in r.matches)
    # Filtered query.
    r = idx.query(vector=A[0]["values"], top_k=50, namespace="tenant-a", filter={"kind": {"$eq": "even"}}, include_metadata=True)
    assert len(r.matches) == 12 and all(m.metadata["kind"] == "even" for m in r.matches)


def test_fetch(idx):
    r = idx.fetch(ids=["a#doc1", "a#doc2", "b#doc1"], namespace="tenant-a")
    assert set(r.vectors) == {"a#doc1", "a#doc2"}
    assert r.vectors["a#doc1"].values == pytest.approx(A[0]["values"], rel=1e-6)
    assert r.vectors["a#doc2"].metadata == {"tenant": "a", "kind": "even", "n": 2}


def test_update_values_and_metadata(idx):
    new = vec(99)
    idx.update(id="a#doc1", values=new, set_metadata={"kind": "updated", "extra": True}, namespace="tenant-a")
    v = idx.fetch(ids=["a#doc1"], namespace="tenant-a").vectors["a#doc1"]
    assert v.values == pytest.approx(new, rel=1e-6)
    assert v.metadata == {"tenant": "a", "kind": "updated", "n": 1, "extra": True}


def test_list_by_prefix_paginates(idx):
    pages = list(idx.list(prefix="a#doc1", limit=3, namespace="tenant-a"))
    assert all(len(p) <= 3 for p in pages) and len(pages) == 4
    ids = [getattr(i, "id", i) for p in pages for i in p]
    assert sorted(ids) == sorted(["a#doc1"] + [f"a#doc1{i}" for i in range(10)])
    first = idx.list_paginated(prefix="a#", limit=10, namespace="tenant-a")
    assert len(first.vectors) == 10 and first.pagination and first.pagination.next
    second = idx.list_paginated(prefix="a#", limit=10, namespace="tenant-a", pagination_token=first.pagination.next)
    assert {v.id for v in first.vectors}.isdisjoint({v.id for v in second.vectors})


def test_delete_by_ids_filter_and_all(idx):
    idx.delete(ids=["a#doc2", "a#doc4"], namespace="tenant-a")
    assert count(idx, "tenant-a") == 23
    assert idx.fetch(ids=["a#doc2"], namespace="tenant-a").vectors == {}
    idx.delete(filter={"kind": {"$eq": "odd"}}, namespace="tenant-a")  # 12 odd (a#doc1 is "updated")
    left = count(idx, "tenant-a")
    assert left == 23 - 12
    r = idx.query(vector=A[0]["values"], top_k=50, namespace="tenant-a", include_metadata=True)
    assert all(m.metadata["kind"] != "odd" for m in r.matches)
    idx.delete(delete_all=True, namespace="tenant-a")
    assert count(idx, "tenant-a") == 0
    assert idx.query(vector=A[0]["values"], top_k=5, namespace="tenant-a").matches == []
    assert count(idx, "tenant-b") == 10  # the other tenant is untouched


def test_delete_namespace(idx):
    names = {n.name for n in idx.list_namespaces_paginated().namespaces}
    assert "tenant-b" in names
    d = idx.describe_namespace(namespace="tenant-b")
    assert int(d.record_count) == 10
    idx.delete_namespace(namespace="tenant-b")
    assert "tenant-b" not in {n.name for n in idx.list_namespaces_paginated().namespaces}
    assert idx.query(vector=B[0]["values"], top_k=5, namespace="tenant-b").matches == []
    with pytest.raises(ApiError) as e:
        idx.describe_namespace(namespace="tenant-b")
    assert e.value.status_code == 404


def test_describe_stats(idx):
    idx.upsert(vectors=B[:4], namespace="tenant-b")  # the namespace starts afresh
    s = idx.describe_index_stats()
    assert s.dimension == DIM
    assert s.namespaces["tenant-b"].vector_count == 4
    assert s.total_vector_count == sum(n.vector_count for n in s.namespaces.values())
    assert idx.fetch(ids=["b#doc5"], namespace="tenant-b").vectors == {}  # dropped data stays dropped


def test_freshness_headers(idx):
    import httpx

    r = httpx.post(f"{URL}/index/{NAME}/vectors/upsert", headers={"Api-Key": KEY},
                   json={"vectors": [{"id": "lsn", "values": vec(5)}], "namespace": "fresh"})
    lsn = int(r.headers["x-pinecone-request-lsn"])
    q = httpx.post(f"{URL}/index/{NAME}/query", headers={"Api-Key": KEY},
                   json={"vector": vec(5), "topK": 1, "namespace": "fresh"})
    assert int(q.headers["x-pinecone-max-indexed-lsn"]) >= lsn
    assert q.headers["x-pinecone-lsn-committed"] and q.headers["x-pinecone-lsn-reconciled"]
    assert q.json()["matches"][0]["id"] == "lsn"


# ---- error cases: Pinecone's status and body, and nothing stored changes ----


def test_wrong_dimension(idx):
    before = count(idx, "tenant-b")
    with pytest.raises(ApiError) as e:
        idx.upsert(vectors=[{"id": "bad", "values": [0.1, 0.2, 0.3]}], namespace="tenant-b")
    assert e.value.status_code == 400
    assert e.value.body == {"code": 3, "message": f"Vector dimension 3 does not match the dimension of the index {DIM}", "details": []}
    assert count(idx, "tenant-b") == before
    assert idx.fetch(ids=["bad"], namespace="tenant-b").vectors == {}


def test_malformed_filter(idx):
    before = count(idx, "tenant-b")
    with pytest.raises(ApiError) as e:
        idx.query(vector=vec(1), top_k=3, namespace="tenant-b", filter={"kind": {"$regex": "x"}})
    assert e.value.status_code == 400
    assert e.value.body["code"] == 3 and "Invalid filter" in e.value.body["message"]
    with pytest.raises(ApiError) as e:
        idx.delete(filter={"$and": "nope"}, namespace="tenant-b")
    assert e.value.status_code == 400 and e.value.body["code"] == 3
    assert count(idx, "tenant-b") == before


def test_wrong_key(idx):
    import httpx

    bad = Pinecone(api_key="wrong-key", host=URL)
    with pytest.raises(ApiError) as e:
        bad.list_indexes()
    assert e.value.status_code == 401
    assert e.value.body == {"error": {"code": "UNAUTHENTICATED", "message": "Invalid API key."}, "status": 401}
    with pytest.raises(ApiError) as e:
        bad.Index(host=f"{URL}/index/{NAME}").upsert(vectors=[{"id": "x", "values": vec(1)}], namespace="tenant-b")
    assert e.value.status_code == 401
    r = httpx.post(f"{URL}/index/{NAME}/query", headers={"Api-Key": "wrong"}, json={"topK": 1, "vector": vec(1)})
    assert (r.status_code, r.headers["content-type"], r.text) == (401, "text/plain", "Unauthorized")
    assert idx.fetch(ids=["x"], namespace="tenant-b").vectors == {}


def test_unknown_index(pc):
    with pytest.raises(ApiError) as e:
        pc.describe_index("no-such-index")
    assert e.value.status_code == 404
    assert e.value.body == {"error": {"code": "NOT_FOUND", "message": "Index no-such-index not found."}, "status": 404}
    with pytest.raises(ApiError) as e:
        pc.Index(host=f"{URL}/index/no-such-index").query(vector=vec(1), top_k=1)
    assert e.value.status_code == 404
    assert e.value.body == {"code": 5, "message": "Index no-such-index not found.", "details": []}


def test_oversized_body(idx):
    before = count(idx, "tenant-b")
    big = [{"id": f"big{i}", "values": vec(i), "metadata": {"text": "x" * 3000}} for i in range(800)]
    with pytest.raises(ApiError) as e:
        idx.upsert(vectors=big, namespace="tenant-b")
    assert e.value.status_code == 400
    assert e.value.body["code"] == 3
    assert "exceeds the maximum supported size of 2097152 bytes" in e.value.body["message"]
    assert count(idx, "tenant-b") == before


def test_api_versions(idx):
    import httpx

    for v in ("2025-01", "2025-04", "2025-10", "2026-04", "2026-07"):
        r = httpx.post(f"{URL}/index/{NAME}/describe_index_stats", headers={"Api-Key": KEY, "X-Pinecone-Api-Version": v}, json={})
        assert r.status_code == 200, (v, r.text)
        r = httpx.get(f"{URL}/indexes/{NAME}", headers={"Api-Key": KEY, "X-Pinecone-Api-Version": v})
        assert r.status_code == 200 and is_host(r.json()["host"]), (v, r.text)


# ---- end of the scenario ----


def test_deletion_protection_then_delete(pc, idx):
    pc.configure_index(NAME, deletion_protection="enabled")
    with pytest.raises(ApiError) as e:
        pc.delete_index(NAME)
    assert e.value.status_code == 403
    assert e.value.body["error"]["code"] == "FORBIDDEN"
    assert pc.describe_index(NAME).deletion_protection == "enabled"
    pc.configure_index(NAME, deletion_protection="disabled")
    pc.delete_index(NAME)
    assert NAME not in [i.name for i in pc.list_indexes()]
    with pytest.raises(ApiError) as e:
        idx.query(vector=vec(1), top_k=1, namespace="tenant-b")
    assert e.value.status_code == 404
