"""The official Python SDK against an index of dedicated read capacity with 3 shards.

Each namespace of the index lives in 3 shard objects (records routed by `shard_of(id)`), and
every answer must be the one an on-demand (one-object) index gives on the same data: the test
keeps a twin on-demand index and compares query, fetch, list and stats. Then pause
(`replicas: 0`) and resume through `configure_index`: while paused every read and write is
refused with the engine's FAILED_PRECONDITION (HTTP 400), nothing is written, and after the
resume every record is there. Run by worker/test/run.sh against `wrangler dev`.
"""

import os
import random

import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors.exceptions import ApiError

URL = os.environ.get("LARCH_URL", "http://127.0.0.1:8787")
KEY = os.environ.get("LARCH_API_KEY", "larch-local-key")
SHARDED = "py-shards"
TWIN = "py-shards-twin"
DIM = 8
NS = "tenant"


def dedicated(shards: int, replicas: int) -> dict:
    return {
        "mode": "Dedicated",
        "dedicated": {"node_type": "b1", "scaling": "Manual", "manual": {"shards": shards, "replicas": replicas}},
    }


def vec(r: random.Random) -> list[float]:
    # Few distinct values: exact score ties, broken by id the same way in both indexes.
    return [float(r.randint(-2, 2)) for _ in range(DIM)]


R = random.Random(12)
RECORDS = [
    {"id": f"doc-{i:03d}", "values": vec(R), "metadata": {"kind": "odd" if i % 2 else "even", "n": i % 7}}
    for i in range(120)
]


@pytest.fixture(scope="module")
def pc():
    pc = Pinecone(api_key=KEY, host=URL)
    for name in (SHARDED, TWIN):
        if name in [i.name for i in pc.list_indexes()]:
            pc.delete_index(name)
    return pc


@pytest.fixture(scope="module")
def both(pc):
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(3, 1))
    pc.create_index(name=SHARDED, dimension=DIM, metric="dotproduct", spec=spec)
    pc.create_index(
        name=TWIN, dimension=DIM, metric="dotproduct", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    return pc.Index(name=SHARDED), pc.Index(name=TWIN)


def test_describe_reports_three_shards(pc, both):
    d = pc.describe_index(SHARDED)
    rc = d.read_capacity
    assert type(rc).__name__ == "ReadCapacityDedicatedResponse", rc
    assert rc.dedicated.manual.shards == 3 and rc.dedicated.manual.replicas == 1
    assert rc.status.state == "Ready"
    assert rc.status.current_shards == 3 and rc.status.current_replicas == 1


def test_upsert_update_delete_as_one(both):
    sharded, twin = both
    for ix in (sharded, twin):
        for i in range(0, len(RECORDS), 40):
            assert ix.upsert(vectors=RECORDS[i : i + 40], namespace=NS).upserted_count == 40
        ix.update(id="doc-007", set_metadata={"kind": "updated"}, namespace=NS)
        ix.delete(ids=["doc-001", "doc-002", "doc-050"], namespace=NS)
        ix.delete(filter={"n": {"$eq": 6}}, namespace=NS)


def test_query_as_one(both):
    sharded, twin = both
    r = random.Random(5)
    for _ in range(12):
        q = vec(r)
        flt = r.choice([None, {"kind": "odd"}, {"n": {"$gte": 3}}])
        k = r.randint(1, 30)
        a = sharded.query(vector=q, top_k=k, filter=flt, namespace=NS, include_metadata=True)
        b = twin.query(vector=q, top_k=k, filter=flt, namespace=NS, include_metadata=True)
        # Ties at the k-th place may differ (see tests/it/shard.rs); everything above must not.
        last = b.matches[-1].score if b.matches else None
        assert [m.score for m in a.matches] == [m.score for m in b.matches]
        assert [(m.id, m.metadata) for m in a.matches if m.score != last] == [
            (m.id, m.metadata) for m in b.matches if m.score != last
        ]
    a = sharded.query(id="doc-010", top_k=5, namespace=NS)
    b = twin.query(id="doc-010", top_k=5, namespace=NS)
    assert [m.score for m in a.matches] == [m.score for m in b.matches]


def test_fetch_as_one(both):
    sharded, twin = both
    ids = ["doc-000", "doc-001", "doc-007", "doc-013", "doc-099", "missing"]
    a = sharded.fetch(ids=ids, namespace=NS)
    b = twin.fetch(ids=ids, namespace=NS)
    assert sorted(a.vectors) == sorted(b.vectors) and "doc-001" not in a.vectors
    assert a.vectors["doc-007"].metadata == {"kind": "updated", "n": 0}
    for k in a.vectors:
        assert a.vectors[k].values == b.vectors[k].values


def test_list_pages_as_one(both):
    sharded, twin = both
    def pages(ix):
        return [
            ([v.id for v in p.vectors], p.pagination.next if p.pagination else None)
            for p in ix.list(prefix="doc-0", limit=7, namespace=NS)
        ]

    pages_a, pages_b = pages(sharded), pages(twin)
    # The same pages and the same pagination tokens.
    assert pages_a == pages_b and len(pages_a) > 3
    ids = [i for p, _ in pages_a for i in p]
    assert ids == sorted(ids) and len(ids) == len(set(ids))


def test_stats_sum_the_shards(both):
    sharded, twin = both
    a, b = sharded.describe_index_stats(), twin.describe_index_stats()
    assert a.total_vector_count == b.total_vector_count > 90
    assert a.namespaces[NS].vector_count == b.namespaces[NS].vector_count


def test_pause_refuses_reads_and_writes_then_resume(pc, both):
    sharded, _ = both
    before = sharded.describe_index_stats().total_vector_count
    pc.configure_index(SHARDED, read_capacity=dedicated(3, 0))
    d = pc.describe_index(SHARDED)
    assert d.read_capacity.status.current_replicas == 0
    calls = [
        lambda: sharded.query(vector=[1.0] * DIM, top_k=3, namespace=NS),
        lambda: sharded.fetch(ids=["doc-000"], namespace=NS),
        lambda: sharded.upsert(vectors=[{"id": "paused", "values": [1.0] * DIM}], namespace=NS),
        lambda: sharded.delete(ids=["doc-000"], namespace=NS),
        lambda: sharded.describe_index_stats(),
    ]
    for call in calls:
        with pytest.raises(ApiError) as e:
            call()
        assert e.value.status_code == 400, e.value
        assert "paused" in str(e.value)
    pc.configure_index(SHARDED, read_capacity=dedicated(3, 1))
    assert pc.describe_index(SHARDED).read_capacity.status.current_replicas == 1
    assert sharded.describe_index_stats().total_vector_count == before
    assert "paused" not in sharded.fetch(ids=["paused"], namespace=NS).vectors
    assert "doc-000" in sharded.fetch(ids=["doc-000"], namespace=NS).vectors


def test_changing_the_shard_count_is_refused(pc, both):
    with pytest.raises(ApiError) as e:
        pc.configure_index(SHARDED, read_capacity=dedicated(4, 1))
    assert e.value.status_code == 501, e.value
    assert pc.describe_index(SHARDED).read_capacity.dedicated.manual.shards == 3


def test_delete_both(pc, both):
    pc.delete_index(SHARDED)
    pc.delete_index(TWIN)
    names = [i.name for i in pc.list_indexes()]
    assert SHARDED not in names and TWIN not in names
