//! Shards: one namespace spread over several engines, each holding the records whose id hashes
//! to it (the Worker's shard objects of an index with `read_capacity.dedicated.manual.shards`
//! above 1).
//!
//! [`shard_of`] is the routing function. [`Api::shard_step`] is the whole protocol, stateless:
//! given the client's request, the index's create request, the shard count and the answers
//! of the rounds so far, it names the requests to send to which shards next, or the final
//! answer. Every operation takes one round except a query by id (two: fetch the vector from
//! its shard, then query every shard with it). The merged answers equal those of one engine
//! holding every record:
//! - a query asks every shard for its top k and keeps the best k of their union, ordered as
//!   the engine orders matches (score, then ascending id), so ids and scores are the same;
//! - list and fetch by metadata page in id order: every shard is asked for the ids after the
//!   page's position, the union is cut at the limit, and since every id up to the last one
//!   returned has been seen on every shard, that one id is every shard's position: the
//!   pagination token is the unsharded one (`larch1:` + the last id);
//! - fetch, upsert and delete by id split their ids by shard; update by id goes to one shard;
//!   update and delete by filter, delete all and the namespace routes go to every shard.
//!
//! An upsert is validated as a whole against the index configuration before any shard sees a
//! part of it, so an invalid record refuses the whole batch as in one engine; fetches and
//! deletes with an invalid id go whole to one shard, which refuses them.

use serde_json::{Map, Value as Json, json};

use super::limits::{FETCH_BY_METADATA_DEFAULT, LIST_DEFAULT, LIST_MAX, MAX_IDS_PER_REQUEST};
use super::wire::{self, QueryParams};
use super::{Api, ApiOptions, Request, Response, Route, data, error, namespaces, route};
use crate::error::Error;

/// The shard (`0..shards`) of a record id: FNV-1a 64 over the id's UTF-8 bytes, then Lamping
/// and Veach's jump consistent hash to `shards` buckets (going from n to n + 1 shards moves
/// only 1/(n + 1) of the ids). `shards` 0 is read as 1. Fixed test vectors below pin it.
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    jump(h, shards.max(1))
}

/// Jump consistent hash (Lamping & Veach 2014), with the paper's constants.
fn jump(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = (((b + 1) as f64) * ((1u64 << 31) as f64 / (((key >> 33) + 1) as f64))) as i64;
    }
    b as u32
}

/// One request to one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRequest {
    pub shard: u32,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
}

/// A shard's answer as the protocol reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What a host does next with a sharded request.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardStep {
    /// Send these requests (in parallel), then call [`Api::shard_step`] again with their
    /// answers appended as one more round.
    Send(Vec<ShardRequest>),
    /// Answer the client with the last round's answer of this position, as the shard sent
    /// it (headers included).
    Pass(usize),
    /// Answer the client with this.
    Respond(Response),
}

/// How a round's answers become the client's.
enum Merge {
    /// One part: its answer.
    Single,
    Upsert,
    Update,
    Delete,
    Fetch,
    Query {
        top_k: usize,
        higher_is_better: bool,
    },
    List {
        limit: usize,
    },
    FetchByMetadata {
        limit: usize,
    },
    DescribeNamespace,
    DeleteNamespace,
    CreateNamespace,
}

impl Api {
    /// The next step of a namespace request (`Scope::Namespace`) to a namespace of `shards`
    /// shards, given the answers of the rounds sent so far (`rounds`, oldest first).
    /// `create` is the request that created the index (its configuration: metric, dimension).
    pub fn shard_step(
        req: &Request<'_>,
        create: &[u8],
        shards: u32,
        rounds: &[Vec<ShardAnswer>],
    ) -> ShardStep {
        let whole = |shard| {
            ShardStep::Send(vec![ShardRequest {
                shard,
                method: req.method.to_string(),
                path: req.path.to_string(),
                query: req.query.to_string(),
                body: req.body.to_vec(),
            }])
        };
        let shards = shards.max(1);
        let Ok((plane, Route::Data { op, .. })) = route(req) else {
            return if rounds.is_empty() {
                whole(0)
            } else {
                ShardStep::Pass(0)
            };
        };
        let planned = match plan(req, create, shards, &op, rounds) {
            Ok(p) => p,
            Err(e) => return ShardStep::Respond(error::respond(plane, &e)),
        };
        match planned {
            Planned::Step(step) => step,
            Planned::Merge(merge) => {
                let answers = rounds.last().map(Vec::as_slice).unwrap_or_default();
                match merge_answers(&merge, answers) {
                    Ok(step) => step,
                    Err(e) => ShardStep::Respond(error::respond(plane, &e)),
                }
            }
        }
    }
}

enum Planned {
    Step(ShardStep),
    Merge(Merge),
}

/// A request like `req` with another body or query.
fn part(req: &Request<'_>, shard: u32, query: String, body: Vec<u8>) -> ShardRequest {
    ShardRequest {
        shard,
        method: req.method.to_string(),
        path: req.path.to_string(),
        query,
        body,
    }
}

fn same(req: &Request<'_>, shard: u32) -> ShardRequest {
    part(req, shard, req.query.to_string(), req.body.to_vec())
}

fn every(req: &Request<'_>, shards: u32) -> Vec<ShardRequest> {
    (0..shards).map(|s| same(req, s)).collect()
}

/// Round 0 sends; round 1 merges with `merge` (plans of one round).
fn one_round(rounds: &[Vec<ShardAnswer>], send: Vec<ShardRequest>, merge: Merge) -> Planned {
    if rounds.is_empty() {
        Planned::Step(ShardStep::Send(send))
    } else {
        Planned::Merge(merge)
    }
}

fn body_json(body: &[u8]) -> Option<Map<String, Json>> {
    super::parse_body::<Json>(body).ok()?.as_object().cloned()
}

/// The index configuration a create request describes.
fn config_of(create: &[u8]) -> crate::error::Result<crate::config::IndexConfig> {
    let body: Json = super::parse_body(create)?;
    super::control::parse_create(&body)
}

fn plan(
    req: &Request<'_>,
    create: &[u8],
    shards: u32,
    op: &data::Op,
    rounds: &[Vec<ShardAnswer>],
) -> crate::error::Result<Planned> {
    use data::Op;
    let to_first =
        |rounds: &[Vec<ShardAnswer>]| one_round(rounds, vec![same(req, 0)], Merge::Single);
    if shards == 1 {
        return Ok(to_first(rounds));
    }
    Ok(match op {
        Op::Upsert => {
            if !rounds.is_empty() {
                return Ok(Planned::Merge(Merge::Upsert));
            }
            if let Some(refused) = validate_upsert(req, create)? {
                return Ok(Planned::Step(ShardStep::Respond(refused)));
            }
            let Some(mut body) = body_json(req.body) else {
                return Ok(to_first(rounds));
            };
            let Some(Json::Array(vectors)) = body.remove("vectors") else {
                return Ok(to_first(rounds));
            };
            let mut groups: Vec<Vec<Json>> = vec![Vec::new(); shards as usize];
            for v in vectors {
                let s = v
                    .get("id")
                    .and_then(Json::as_str)
                    .map_or(0, |id| shard_of(id, shards));
                groups[s as usize].push(v);
            }
            let send = split_bodies(req, &body, "vectors", groups);
            if send.is_empty() {
                return Ok(to_first(rounds));
            }
            Planned::Step(ShardStep::Send(send))
        }
        Op::Update => {
            let body = body_json(req.body).unwrap_or_default();
            match (body.get("id").and_then(Json::as_str), body.get("filter")) {
                (Some(id), None | Some(Json::Null)) => {
                    one_round(rounds, vec![same(req, shard_of(id, shards))], Merge::Single)
                }
                (None, Some(f)) if !f.is_null() => {
                    one_round(rounds, every(req, shards), Merge::Update)
                }
                _ => to_first(rounds),
            }
        }
        Op::Delete => {
            if !rounds.is_empty() {
                return Ok(Planned::Merge(Merge::Delete));
            }
            let Some(mut body) = body_json(req.body) else {
                return Ok(to_first(rounds));
            };
            let only_ids = body.contains_key("ids")
                && !body
                    .get("deleteAll")
                    .or(body.get("delete_all"))
                    .is_some_and(|v| v != &Json::Bool(false) && !v.is_null())
                && body.get("filter").is_none_or(Json::is_null);
            if !only_ids {
                return Ok(Planned::Step(ShardStep::Send(every(req, shards))));
            }
            let Some(ids) = valid_ids(body.get("ids")) else {
                return Ok(to_first(rounds));
            };
            body.remove("ids");
            let groups = group_ids(&ids, shards)
                .into_iter()
                .map(|g| g.into_iter().map(Json::from).collect())
                .collect();
            let ns = body
                .get("namespace")
                .and_then(Json::as_str)
                .unwrap_or_default();
            let send = with_probes(req, shards, ns, split_bodies(req, &body, "ids", groups));
            Planned::Step(ShardStep::Send(send))
        }
        Op::Fetch => {
            if !rounds.is_empty() {
                return Ok(Planned::Merge(Merge::Fetch));
            }
            let Ok(params) = QueryParams::parse(req.query) else {
                return Ok(to_first(rounds));
            };
            let ids: Vec<String> = params.all(&["ids", "ids[]"]).map(str::to_string).collect();
            let Some(ids) = valid_ids(Some(&json!(ids))) else {
                return Ok(to_first(rounds));
            };
            let Ok(ns) = params.one(&["namespace"]) else {
                return Ok(to_first(rounds));
            };
            let send = group_ids(&ids, shards)
                .into_iter()
                .enumerate()
                .filter(|(_, g)| !g.is_empty())
                .map(|(s, g)| part(req, s as u32, fetch_query(&g, ns), Vec::new()))
                .collect();
            let send = with_probes(req, shards, ns.unwrap_or_default(), send);
            Planned::Step(ShardStep::Send(send))
        }
        Op::Query => query_plan(req, create, shards, rounds)?,
        Op::List => {
            let limit = QueryParams::parse(req.query)
                .and_then(|p| p.int(&["limit"], LIST_DEFAULT, LIST_MAX))
                .unwrap_or(LIST_DEFAULT);
            one_round(rounds, every(req, shards), Merge::List { limit })
        }
        Op::FetchByMetadata => {
            let limit = body_json(req.body)
                .and_then(|b| b.get("limit").and_then(Json::as_u64))
                .map_or(FETCH_BY_METADATA_DEFAULT, |n| n as usize);
            one_round(rounds, every(req, shards), Merge::FetchByMetadata { limit })
        }
        Op::Namespaces(namespaces::Op::Describe(_)) => {
            one_round(rounds, every(req, shards), Merge::DescribeNamespace)
        }
        Op::Namespaces(namespaces::Op::Delete(_)) => {
            one_round(rounds, every(req, shards), Merge::DeleteNamespace)
        }
        Op::Namespaces(namespaces::Op::Create) => {
            one_round(rounds, every(req, shards), Merge::CreateNamespace)
        }
        Op::Records(_) => {
            return Err(Error::Unimplemented {
                what: "The records API on an index of more than one shard".into(),
            });
        }
        Op::Stats | Op::Namespaces(_) => to_first(rounds),
    })
}

/// `parts` plus, for every shard they leave out, a description of namespace `ns` (a probe:
/// whether the namespace exists there), so that a split whose shards all lack the namespace
/// can tell "not found" from "found elsewhere".
fn with_probes(
    req: &Request<'_>,
    shards: u32,
    ns: &str,
    mut parts: Vec<ShardRequest>,
) -> Vec<ShardRequest> {
    let Some(at) = req.path.rfind("/vectors/") else {
        return parts;
    };
    let ns = crate::db::canonical_namespace(ns).unwrap_or(ns);
    let path = format!("{}/namespaces/{}", &req.path[..at], escape(ns));
    for s in 0..shards {
        if !parts.iter().any(|p| p.shard == s) {
            parts.push(ShardRequest {
                shard: s,
                method: "GET".into(),
                path: path.clone(),
                query: String::new(),
                body: Vec::new(),
            });
        }
    }
    parts
}

/// The ids of a body's `ids` when every one is a valid id and their number is within
/// bounds (else the request goes whole to one shard, which refuses it).
fn valid_ids(ids: Option<&Json>) -> Option<Vec<String>> {
    let ids = ids?.as_array()?;
    if ids.is_empty() || ids.len() > MAX_IDS_PER_REQUEST {
        return None;
    }
    ids.iter()
        .map(|v| {
            let id = v.as_str()?;
            crate::record::validate_id(id).ok()?;
            Some(id.to_string())
        })
        .collect()
}

fn group_ids(ids: &[String], shards: u32) -> Vec<Vec<String>> {
    let mut groups = vec![Vec::new(); shards as usize];
    for id in ids {
        groups[shard_of(id, shards) as usize].push(id.clone());
    }
    groups
}

/// One request per non-empty group: `body` with `key` set to the group.
fn split_bodies(
    req: &Request<'_>,
    body: &Map<String, Json>,
    key: &str,
    groups: Vec<Vec<Json>>,
) -> Vec<ShardRequest> {
    groups
        .into_iter()
        .enumerate()
        .filter(|(_, g)| !g.is_empty())
        .map(|(s, g)| {
            let mut b = body.clone();
            b.insert(key.into(), Json::Array(g));
            part(
                req,
                s as u32,
                req.query.to_string(),
                serde_json::to_vec(&b).unwrap_or_default(),
            )
        })
        .collect()
}

/// The query string of a fetch of `ids` in namespace `ns`.
fn fetch_query(ids: &[String], ns: Option<&str>) -> String {
    let mut q: Vec<String> = ids.iter().map(|id| format!("ids={}", escape(id))).collect();
    if let Some(ns) = ns {
        q.push(format!("namespace={}", escape(ns)));
    }
    q.join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn escape(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Validates a whole upsert against the index configuration (an empty index of it): the
/// error one engine would answer for the batch, before any shard stores a part of it.
fn validate_upsert(req: &Request<'_>, create: &[u8]) -> crate::error::Result<Option<Response>> {
    let config = config_of(create)?;
    let mut api = Api::new(ApiOptions::default());
    api.db_mut().create_index(config.clone())?;
    let check = Request {
        method: "POST",
        path: "/vectors/upsert",
        query: "",
        body: req.body,
        api_version: req.api_version,
        index: Some(&config.name),
        validate_only: true,
        ..Request::default()
    };
    let r = api.handle(&check);
    Ok((r.status >= 300).then_some(r))
}

fn query_plan(
    req: &Request<'_>,
    create: &[u8],
    shards: u32,
    rounds: &[Vec<ShardAnswer>],
) -> crate::error::Result<Planned> {
    let body = body_json(req.body).unwrap_or_default();
    let top_k = body
        .get("topK")
        .or(body.get("top_k"))
        .and_then(Json::as_u64)
        .unwrap_or(0) as usize;
    let metric_higher = config_of(create)?.metric.higher_is_better();
    let sparse = body
        .get("sparseVector")
        .or(body.get("sparse_vector"))
        .is_some_and(|v| !v.is_null());
    let by_id = body.get("id").and_then(Json::as_str).filter(|_| {
        body.get("vector")
            .is_none_or(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty))
            && !sparse
    });
    let Some(id) = by_id else {
        let merge = Merge::Query {
            top_k,
            higher_is_better: metric_higher || sparse,
        };
        return Ok(one_round(rounds, every(req, shards), merge));
    };
    let owner = shard_of(id, shards);
    match rounds.len() {
        // The vector of `id`, from its shard.
        0 => {
            let ns = body.get("namespace").and_then(Json::as_str);
            let fetch = ShardRequest {
                shard: owner,
                method: "GET".into(),
                path: req.path.replace("/query", "/vectors/fetch"),
                query: fetch_query(&[id.to_string()], ns),
                body: Vec::new(),
            };
            Ok(Planned::Step(ShardStep::Send(vec![fetch])))
        }
        1 => {
            let found = rounds[0].first().filter(|a| a.status == 200).and_then(|a| {
                let b: Json = serde_json::from_slice(&a.body).ok()?;
                b.get("vectors")?.get(id).cloned()
            });
            // Not stored (or refused): its shard answers the query as one engine would.
            let Some(record) = found else {
                return Ok(Planned::Step(ShardStep::Send(vec![same(req, owner)])));
            };
            let mut q = body.clone();
            q.remove("id");
            let values = record
                .get("values")
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
            match values {
                Some(v) => {
                    q.insert("vector".into(), v.clone());
                }
                None => {
                    q.remove("vector");
                    let sv = record.get("sparseValues").cloned().unwrap_or(Json::Null);
                    q.insert("sparseVector".into(), sv);
                }
            }
            let bytes = serde_json::to_vec(&q).unwrap_or_default();
            let send = (0..shards)
                .map(|s| part(req, s, req.query.to_string(), bytes.clone()))
                .collect();
            Ok(Planned::Step(ShardStep::Send(send)))
        }
        _ => {
            // The second round's answers: one (the id was not stored) or every shard's.
            let sparse_index = matches!(
                config_of(create)?.vector_type,
                crate::config::VectorType::Sparse
            );
            Ok(Planned::Merge(Merge::Query {
                top_k,
                higher_is_better: metric_higher || sparse_index,
            }))
        }
    }
}

fn parse(a: &ShardAnswer) -> crate::error::Result<Map<String, Json>> {
    serde_json::from_slice::<Json>(&a.body)
        .ok()
        .and_then(|j| j.as_object().cloned())
        .ok_or_else(|| Error::Internal {
            message: "a shard answered with a body that is not a JSON object".into(),
        })
}

fn respond(body: Json) -> ShardStep {
    ShardStep::Respond(Response::json(200, &body))
}

fn merge_answers(merge: &Merge, answers: &[ShardAnswer]) -> crate::error::Result<ShardStep> {
    let ok = |a: &ShardAnswer| (200..300).contains(&a.status);
    let first_error = answers.iter().position(|a| !ok(a));
    match merge {
        Merge::DescribeNamespace | Merge::DeleteNamespace => {
            let found: Vec<usize> = (0..answers.len()).filter(|&i| ok(&answers[i])).collect();
            if let Some(e) = answers
                .iter()
                .position(|a| !ok(a) && a.status != 404)
                .or(if found.is_empty() { Some(0) } else { None })
            {
                return Ok(ShardStep::Pass(e));
            }
            if matches!(merge, Merge::DeleteNamespace) {
                return Ok(ShardStep::Pass(found[0]));
            }
            let mut out = parse(&answers[found[0]])?;
            let mut count = 0u64;
            let mut size = 0u64;
            for &i in &found {
                let b = parse(&answers[i])?;
                count += b.get("record_count").and_then(Json::as_u64).unwrap_or(0);
                size += b.get("size_bytes").and_then(Json::as_u64).unwrap_or(0);
            }
            out.insert("record_count".into(), json!(count));
            if out.contains_key("size_bytes") {
                out.insert("size_bytes".into(), json!(size));
            }
            return Ok(respond(Json::Object(out)));
        }
        Merge::CreateNamespace => {
            let conflict = answers.iter().position(|a| a.status == 409);
            return Ok(ShardStep::Pass(conflict.or(first_error).unwrap_or(0)));
        }
        _ => {}
    }
    // A shard that holds none of the namespace's records answers 404 (namespace not found):
    // the namespace exists when any shard has it.
    let holding: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i].status != 404)
        .collect();
    if let Some(e) = holding.iter().copied().find(|&i| !ok(&answers[i])) {
        return Ok(ShardStep::Pass(e));
    }
    if holding.is_empty() {
        return Ok(ShardStep::Pass(first_error.unwrap_or(0)));
    }
    if answers.len() == 1 && !matches!(merge, Merge::List { .. } | Merge::FetchByMetadata { .. }) {
        return Ok(ShardStep::Pass(0));
    }
    let bodies = holding
        .iter()
        .map(|&i| parse(&answers[i]))
        .collect::<crate::error::Result<Vec<_>>>()?;
    let sum = |key: &str| -> u64 {
        bodies
            .iter()
            .map(|b| b.get(key).and_then(Json::as_u64).unwrap_or(0))
            .sum()
    };
    let first = bodies.first().cloned().unwrap_or_default();
    Ok(match merge {
        Merge::Single => ShardStep::Pass(0),
        Merge::Upsert => respond(json!({"upsertedCount": sum("upsertedCount")})),
        Merge::Update => respond(json!({"matchedRecords": sum("matchedRecords")})),
        Merge::Delete => respond(json!({})),
        Merge::Fetch => {
            let mut vectors = Map::new();
            for b in &bodies {
                if let Some(Json::Object(v)) = b.get("vectors") {
                    for (k, r) in v {
                        vectors.insert(k.clone(), r.clone());
                    }
                }
            }
            let read_units = vectors.len().div_ceil(10).max(1);
            let namespace = bodies.iter().find_map(|b| b.get("namespace")).cloned();
            respond(json!({
                "vectors": vectors,
                "namespace": namespace.unwrap_or(json!("")),
                "usage": {"readUnits": read_units},
            }))
        }
        Merge::Query {
            top_k,
            higher_is_better,
        } => {
            let mut matches: Vec<(f64, String, Json)> = Vec::new();
            for b in &bodies {
                if let Some(Json::Array(ms)) = b.get("matches") {
                    for m in ms {
                        let score = m.get("score").and_then(Json::as_f64).unwrap_or(f64::NAN);
                        let id = m
                            .get("id")
                            .and_then(Json::as_str)
                            .unwrap_or_default()
                            .to_string();
                        matches.push((score, id, m.clone()));
                    }
                }
            }
            // The engine's order: best score first, ties to the lower id.
            matches.sort_by(|a, b| {
                let o = if *higher_is_better {
                    b.0.total_cmp(&a.0)
                } else {
                    a.0.total_cmp(&b.0)
                };
                o.then_with(|| a.1.cmp(&b.1))
            });
            matches.truncate(*top_k);
            let read_units: u64 = bodies
                .iter()
                .map(|b| {
                    b.get("usage")
                        .and_then(|u| u.get("readUnits"))
                        .and_then(Json::as_u64)
                        .unwrap_or(0)
                })
                .sum();
            respond(json!({
                "results": [],
                "matches": matches.into_iter().map(|m| m.2).collect::<Vec<_>>(),
                "namespace": first.get("namespace").cloned().unwrap_or(json!("")),
                "usage": {"readUnits": read_units},
            }))
        }
        Merge::List { limit } => {
            let mut ids: Vec<String> = Vec::new();
            let mut more = false;
            for b in &bodies {
                more |= has_next(b);
                if let Some(Json::Array(vs)) = b.get("vectors") {
                    ids.extend(
                        vs.iter()
                            .filter_map(|v| v.get("id")?.as_str().map(str::to_string)),
                    );
                }
            }
            ids.sort();
            ids.dedup();
            more |= ids.len() > *limit;
            ids.truncate(*limit);
            let vectors: Vec<Json> = ids.iter().map(|id| json!({ "id": id })).collect();
            let mut out = json!({
                "vectors": vectors,
                "namespace": first.get("namespace").cloned().unwrap_or(json!("")),
                "usage": {"readUnits": 1},
            });
            if let Some(p) = wire::pagination(ids.last().filter(|_| more).map(String::as_str)) {
                out["pagination"] = p;
            }
            respond(out)
        }
        Merge::FetchByMetadata { limit } => {
            let mut records: Vec<(String, Json)> = Vec::new();
            let mut more = false;
            for b in &bodies {
                more |= has_next(b);
                if let Some(Json::Object(v)) = b.get("vectors") {
                    records.extend(v.iter().map(|(k, r)| (k.clone(), r.clone())));
                }
            }
            records.sort_by(|a, b| a.0.cmp(&b.0));
            more |= records.len() > *limit;
            records.truncate(*limit);
            let last = records.last().map(|r| r.0.clone()).filter(|_| more);
            let read_units = records.len().div_ceil(10).max(1);
            let mut vectors = Map::new();
            for (k, r) in records {
                vectors.insert(k, r);
            }
            let mut out = json!({
                "vectors": vectors,
                "namespace": first.get("namespace").cloned().unwrap_or(json!("")),
                "usage": {"readUnits": read_units},
            });
            if let Some(p) = wire::pagination(last.as_deref()) {
                out["pagination"] = p;
            }
            respond(out)
        }
        Merge::DescribeNamespace | Merge::DeleteNamespace | Merge::CreateNamespace => {
            ShardStep::Pass(0)
        }
    })
}

/// True when a page says more follows.
fn has_next(b: &Map<String, Json>) -> bool {
    b.get("pagination")
        .and_then(|p| p.get("next"))
        .is_some_and(|n| n.as_str().is_some_and(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routing function is part of the stored layout: these values must never change.
    #[test]
    fn shard_of_is_pinned() {
        let got: Vec<u32> = ["", "a", "doc-1", "doc-2", "tenant#17", "é"]
            .iter()
            .map(|id| shard_of(id, 4))
            .collect();
        assert_eq!(got, PINNED_4);
        assert_eq!(
            ["doc-1", "doc-2", "doc-3"].map(|id| shard_of(id, 3)),
            [0, 2, 2]
        );
        assert_eq!(shard_of("anything", 1), 0);
        assert_eq!(shard_of("anything", 0), 0);
    }

    /// Computed independently (a Python transcription of FNV-1a 64 and the paper's jump hash).
    const PINNED_4: [u32; 6] = [1, 2, 3, 2, 0, 2];

    #[test]
    fn jump_moves_few_ids_when_a_shard_is_added() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("id-{i}")).collect();
        let moved = ids
            .iter()
            .filter(|id| shard_of(id, 4) != shard_of(id, 5))
            .count();
        // Ideal: 1/5 of the ids move, all of them to the new shard.
        assert!((1_700..2_300).contains(&moved), "{moved} moved");
        assert!(ids.iter().all(|id| {
            let (a, b) = (shard_of(id, 4), shard_of(id, 5));
            a == b || b == 4
        }));
        let mut per = [0usize; 4];
        for id in &ids {
            per[shard_of(id, 4) as usize] += 1;
        }
        assert!(per.iter().all(|&n| (2_200..2_800).contains(&n)), "{per:?}");
    }

    #[test]
    fn escape_round_trips_through_the_query_parser() {
        let ids = vec!["a b".to_string(), "x&y=z".into(), "100%+é".into()];
        let q = fetch_query(&ids, Some("ns/1"));
        let p = QueryParams::parse(&q).unwrap();
        assert_eq!(
            p.all(&["ids"]).collect::<Vec<_>>(),
            ["a b", "x&y=z", "100%+é"]
        );
        assert_eq!(p.one(&["namespace"]).unwrap(), Some("ns/1"));
    }
}
