//! Sharded namespaces (`Api::shard_step`): on random workloads a namespace spread over four
//! engines answers exactly as one engine holding every record.

use larch::api::{Api, ApiOptions, Request, Response, ShardAnswer, ShardStep, shard_of};
use serde_json::{Value, json};

use crate::common::{VERSION, text};

/// Engines standing for a namespace's shard objects, driven as the Worker drives them.
struct Sharded {
    shards: Vec<Api>,
    create: Vec<u8>,
}

fn index_with(create: &Value) -> Api {
    let mut api = Api::new(ApiOptions::default());
    let body = serde_json::to_vec(create).unwrap();
    let r = api.handle(&Request {
        method: "POST",
        path: "/indexes",
        body: &body,
        api_version: Some(VERSION),
        ..Request::default()
    });
    assert_eq!(r.status, 201, "{}", text(&r));
    api
}

impl Sharded {
    fn new(create: &Value, n: usize) -> Self {
        Sharded {
            shards: (0..n).map(|_| index_with(create)).collect(),
            create: serde_json::to_vec(create).unwrap(),
        }
    }

    fn handle(&mut self, req: &Request<'_>) -> Response {
        let mut rounds: Vec<Vec<ShardAnswer>> = Vec::new();
        let mut last: Vec<Response> = Vec::new();
        for _ in 0..4 {
            match Api::shard_step(req, &self.create, self.shards.len() as u32, &rounds) {
                ShardStep::Send(parts) => {
                    assert!(!parts.is_empty());
                    last = parts
                        .iter()
                        .map(|p| {
                            self.shards[p.shard as usize].handle(&Request {
                                method: &p.method,
                                path: &p.path,
                                query: &p.query,
                                body: &p.body,
                                ..*req
                            })
                        })
                        .collect();
                    rounds.push(
                        last.iter()
                            .map(|r| ShardAnswer {
                                status: r.status,
                                body: r.body.clone(),
                            })
                            .collect(),
                    );
                }
                ShardStep::Pass(i) => return last[i].clone(),
                ShardStep::Respond(r) => return r,
            }
        }
        panic!("more than three rounds");
    }
}

/// xorshift64*: a reproducible workload per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const DIM: usize = 4;

fn id(rng: &mut Rng) -> String {
    format!("r{}", rng.below(40))
}

/// Small integer components: many exact ties between scores.
fn vector(rng: &mut Rng) -> Value {
    json!((0..DIM).map(|_| rng.below(3) as f64).collect::<Vec<_>>())
}

fn sparse(rng: &mut Rng) -> Value {
    let mut indices: Vec<u32> = (0..1 + rng.below(3)).map(|_| rng.below(6) as u32).collect();
    indices.sort_unstable();
    indices.dedup();
    let values: Vec<f64> = indices.iter().map(|_| 1.0 + rng.below(2) as f64).collect();
    json!({"indices": indices, "values": values})
}

fn filter(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => json!({"g": {"$eq": group(rng)}}),
        1 => json!({"n": {"$gte": rng.below(5)}}),
        2 => json!({"$or": [{"g": "a"}, {"n": {"$lt": 2}}]}),
        _ => json!({"g": {"$in": ["b", "c"]}}),
    }
}

fn group(rng: &mut Rng) -> &'static str {
    ["a", "b", "c"][rng.below(3) as usize]
}

fn metadata(rng: &mut Rng) -> Value {
    json!({"g": group(rng), "n": rng.below(5)})
}

struct Case {
    dense: bool,
    hybrid: bool,
    ns: &'static str,
}

fn record(rng: &mut Rng, case: &Case) -> Value {
    let mut r = json!({"id": id(rng), "metadata": metadata(rng)});
    if case.dense {
        r["values"] = vector(rng);
    }
    if !case.dense || (case.hybrid && rng.chance(60)) {
        r["sparseValues"] = sparse(rng);
    }
    r
}

/// One random request: (method, path with query, body).
fn request(rng: &mut Rng, case: &Case) -> (&'static str, String, Value) {
    let ns = case.ns;
    match rng.below(12) {
        0..=2 => {
            let mut vectors: Vec<Value> =
                (0..1 + rng.below(8)).map(|_| record(rng, case)).collect();
            if case.dense && rng.chance(5) {
                vectors[0]["values"] = json!([1.0]); // wrong dimension: nothing stored
            }
            (
                "POST",
                "/vectors/upsert".into(),
                json!({"vectors": vectors, "namespace": ns}),
            )
        }
        3 => {
            let mut b = json!({"id": id(rng), "namespace": ns});
            if case.dense && rng.chance(50) {
                b["values"] = vector(rng);
            } else {
                b["setMetadata"] = metadata(rng);
            }
            ("POST", "/vectors/update".into(), b)
        }
        4 => (
            "POST",
            "/vectors/update".into(),
            json!({"filter": filter(rng), "setMetadata": {"n": rng.below(5)}, "namespace": ns}),
        ),
        5 => {
            let ids: Vec<String> = (0..1 + rng.below(5)).map(|_| id(rng)).collect();
            (
                "POST",
                "/vectors/delete".into(),
                json!({"ids": ids, "namespace": ns}),
            )
        }
        6 => {
            if rng.chance(10) {
                (
                    "POST",
                    "/vectors/delete".into(),
                    json!({"deleteAll": true, "namespace": ns}),
                )
            } else {
                (
                    "POST",
                    "/vectors/delete".into(),
                    json!({"filter": filter(rng), "namespace": ns}),
                )
            }
        }
        7..=9 => {
            let mut q = json!({"topK": 1 + rng.below(15), "namespace": ns});
            if rng.chance(20) {
                q["id"] = json!(id(rng));
            } else {
                if case.dense {
                    q["vector"] = vector(rng);
                }
                if !case.dense || (case.hybrid && rng.chance(50)) {
                    q["sparseVector"] = sparse(rng);
                }
            }
            if rng.chance(40) {
                q["filter"] = filter(rng);
            }
            q["includeValues"] = json!(rng.chance(50));
            q["includeMetadata"] = json!(rng.chance(50));
            ("POST", "/query".into(), q)
        }
        10 => {
            let ids: Vec<String> = (0..1 + rng.below(6))
                .map(|_| format!("ids={}", id(rng)))
                .collect();
            (
                "GET",
                format!("/vectors/fetch?{}&namespace={ns}", ids.join("&")),
                Value::Null,
            )
        }
        _ => (
            "POST",
            "/vectors/fetch_by_metadata".into(),
            json!({"filter": filter(rng), "limit": 1 + rng.below(6), "namespace": ns}),
        ),
    }
}

fn send(
    api: &mut dyn FnMut(&Request<'_>) -> Response,
    method: &str,
    path: &str,
    body: &Value,
) -> Response {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    api(&Request {
        method,
        path,
        query,
        body: &bytes,
        api_version: Some(VERSION),
        index: Some("ix"),
        ..Request::default()
    })
}

/// The body to compare: a query's `usage` is the shards' sum, so it is left out, and the ids
/// of the matches tied with the last one are sorted and cut out (the engine breaks a tie at
/// the k-th place inside a memtable by slot, that is by write order, which no other layout
/// of the same records reproduces; every other tie goes to the lower id, and is compared).
fn comparable(path: &str, r: &Response) -> (u16, Value) {
    let mut body = r.json_body();
    if path == "/query"
        && let Some(o) = body.as_object_mut()
    {
        o.remove("usage");
        if let Some(Value::Array(ms)) = o.get_mut("matches")
            && let Some(last) = ms.last().map(|m| m["score"].clone())
        {
            for m in ms.iter_mut().filter(|m| m["score"] == last) {
                *m = json!({"score": last, "tied": true});
            }
        }
    }
    (r.status, body)
}

fn run(seed: u64, create: Value, case: Case) {
    let mut one = index_with(&create);
    let mut four = Sharded::new(&create, 4);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let ns = case.ns;
    for step in 0..160 {
        let (method, path, body) = request(&mut rng, &case);
        let a = send(&mut |r| one.handle(r), method, &path, &body);
        let b = send(&mut |r| four.handle(r), method, &path, &body);
        let p = path.split('?').next().unwrap();
        assert_eq!(
            comparable(p, &a),
            comparable(p, &b),
            "seed {seed} step {step}: {method} {path} {body}"
        );
        if step % 20 == 19 {
            // Every list page (prefix, limit, tokens), the namespace's description.
            let prefix = ["", "r1", "r2"][rng.below(3) as usize];
            let limit = 1 + rng.below(7);
            let mut token = String::new();
            for page in 0..100 {
                let path = format!(
                    "/vectors/list?namespace={ns}&prefix={prefix}&limit={limit}&paginationToken={token}"
                );
                let a = send(&mut |r| one.handle(r), "GET", &path, &Value::Null);
                let b = send(&mut |r| four.handle(r), "GET", &path, &Value::Null);
                assert_eq!(
                    comparable("", &a),
                    comparable("", &b),
                    "seed {seed} page {page}: {path}"
                );
                match a.json_body()["pagination"]["next"].as_str() {
                    Some(t) => token = t.to_string(),
                    None => break,
                }
            }
            let path = format!(
                "/namespaces/{}",
                if ns.is_empty() { "__default__" } else { ns }
            );
            let a = send(&mut |r| one.handle(r), "GET", &path, &Value::Null);
            let b = send(&mut |r| four.handle(r), "GET", &path, &Value::Null);
            assert_eq!(a.status, b.status, "seed {seed}: {}", text(&b));
            assert_eq!(
                a.json_body()["record_count"],
                b.json_body()["record_count"],
                "seed {seed}"
            );
        }
    }
    // Every record lives in exactly the shard its id hashes to.
    for (s, shard) in four.shards.iter_mut().enumerate() {
        let path = format!("/vectors/list?namespace={ns}");
        let r = send(&mut |r| shard.handle(r), "GET", &path, &Value::Null);
        for v in r.json_body()["vectors"].as_array().into_iter().flatten() {
            let id = v["id"].as_str().unwrap();
            assert_eq!(shard_of(id, 4) as usize, s, "{id}");
        }
    }
}

fn create(metric: &str, dense: bool) -> Value {
    let mut c = json!({
        "name": "ix", "metric": metric,
        "spec": {"serverless": {"cloud": "aws", "region": "us-east-1",
            "read_capacity": {"mode": "Dedicated", "dedicated": {"node_type": "b1", "scaling": "Manual",
                "manual": {"shards": 4, "replicas": 1}}}}}
    });
    if dense {
        c["dimension"] = json!(DIM);
    } else {
        c["vector_type"] = json!("sparse");
    }
    c
}

#[test]
fn four_shards_answer_as_one_hybrid_dotproduct() {
    for seed in 1..=6 {
        let case = Case {
            dense: true,
            hybrid: true,
            ns: if seed % 2 == 0 { "" } else { "tenant" },
        };
        run(seed, create("dotproduct", true), case);
    }
}

#[test]
fn four_shards_answer_as_one_cosine_and_euclidean() {
    for seed in 1..=4 {
        let metric = if seed % 2 == 0 { "cosine" } else { "euclidean" };
        let case = Case {
            dense: true,
            hybrid: false,
            ns: "tenant",
        };
        run(seed + 100, create(metric, true), case);
    }
}

#[test]
fn four_shards_answer_as_one_sparse() {
    for seed in 1..=4 {
        let case = Case {
            dense: false,
            hybrid: false,
            ns: "tenant",
        };
        run(seed + 200, create("dotproduct", false), case);
    }
}

fn configure(api: &mut Api, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap();
    api.handle(&Request {
        method: "PATCH",
        path: "/indexes/ix",
        body: &bytes,
        api_version: Some(VERSION),
        ..Request::default()
    })
}

fn capacity(shards: u32, replicas: u32) -> Value {
    json!({"spec": {"serverless": {"read_capacity": {"mode": "Dedicated", "dedicated": {
        "node_type": "b1", "scaling": "Manual", "manual": {"shards": shards, "replicas": replicas}}}}}})
}

#[test]
fn replicas_zero_pauses_every_data_plane_request_until_resumed() {
    let mut api = index_with(&create("cosine", true));
    let call = |api: &mut Api, method: &str, path: &str, body: Value| {
        send(&mut |r| api.handle(r), method, path, &body)
    };
    let upsert = json!({"vectors": [{"id": "a", "values": [1.0, 0.0, 0.0, 0.0]}]});
    assert_eq!(
        call(&mut api, "POST", "/vectors/upsert", upsert).status,
        200
    );
    let r = configure(&mut api, &capacity(4, 0));
    assert_eq!(r.status, 202, "{}", text(&r));
    let status = &r.json_body()["spec"]["serverless"]["read_capacity"]["status"];
    assert_eq!(status["current_replicas"], 0);
    assert_eq!(status["current_shards"], 4);
    let paused = [
        (
            "POST",
            "/query",
            json!({"topK": 1, "vector": [1.0, 0.0, 0.0, 0.0]}),
        ),
        ("GET", "/vectors/fetch?ids=a", Value::Null),
        (
            "POST",
            "/vectors/upsert",
            json!({"vectors": [{"id": "b", "values": [0.0, 1.0, 0.0, 0.0]}]}),
        ),
        ("POST", "/vectors/delete", json!({"ids": ["a"]})),
        ("GET", "/vectors/list", Value::Null),
        ("POST", "/describe_index_stats", json!({})),
    ];
    for (method, path, body) in paused {
        let r = call(&mut api, method, path, body);
        assert_eq!(r.status, 400, "{path}: {}", text(&r));
        let b = r.json_body();
        assert_eq!(b["code"], 9, "{path}");
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .starts_with("Index 'ix' is paused"),
            "{b}"
        );
    }
    assert_eq!(configure(&mut api, &capacity(4, 2)).status, 202);
    let r = call(&mut api, "GET", "/vectors/fetch?ids=a&ids=b", Value::Null);
    let body = r.json_body();
    let ids: Vec<&str> = body["vectors"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ids, ["a"], "nothing written while paused, nothing deleted");
}

#[test]
fn a_shard_host_refuses_to_change_the_shard_count() {
    let mut plain = index_with(&create("cosine", true));
    assert_eq!(configure(&mut plain, &capacity(5, 1)).status, 202);
    let mut host = Api::new(ApiOptions {
        shard_host: true,
        ..ApiOptions::default()
    });
    let body = serde_json::to_vec(&create("cosine", true)).unwrap();
    let r = host.handle(&Request {
        method: "POST",
        path: "/indexes",
        body: &body,
        api_version: Some(VERSION),
        ..Request::default()
    });
    assert_eq!(r.status, 201);
    let r = configure(&mut host, &capacity(5, 1));
    assert_eq!(r.status, 501, "{}", text(&r));
    assert_eq!(
        r.json_body()["error"]["message"],
        "Changing the shard count of index 'ix' (from 4 to 5) is not supported by Larch"
    );
    let r = configure(&mut host, &capacity(4, 0));
    assert_eq!(r.status, 202, "replicas may change");
    // A shard host enforces the pause itself: its engines answer.
    let r = send(
        &mut |r| host.handle(r),
        "GET",
        "/vectors/list",
        &Value::Null,
    );
    assert_eq!(
        r.status,
        200,
        "a shard host does not enforce the pause itself: {}",
        text(&r)
    );
    let r = Api::index_paused("/index/ix/query", "ix");
    assert_eq!((r.status, r.json_body()["code"].clone()), (400, json!(9)));
}
