//! Integrated embedding through the API: create-for-model, configure with `embed`, the records
//! API, `/embed`, `/models`, and the host protocol (`Api::step` → `Step::Embed` →
//! `Api::provide_embeddings`). The model here is a deterministic test embedder (bag of hashed
//! words, unit length) so the engine's side is tested on every target; the real model runs
//! end to end in `pkg-js/embed/tests/api.rs`.

use larch::api::{Api, ApiOptions, Embedded, Request, Response, Step};
use larch::namespace::StorageConfig;
use larch::storage::MemoryStore;
use serde_json::{Value, json};

use crate::wasm_test;

/// Bag of words hashed into 384 dimensions, normalized: texts sharing words are close.
fn test_embed(text: &str) -> Embedded {
    let mut v = vec![0f32; 384];
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    for w in &words {
        let h = w.bytes().fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        });
        v[(h % 384) as usize] += 1.0;
    }
    v[383] += 0.01;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    let tokens = words.len() as u32 + 2;
    Embedded {
        values: v,
        tokens: tokens.min(256),
        untruncated_tokens: tokens,
    }
}

/// The host loop with a model: provides blobs from `store` and embeddings from the test
/// embedder until the request answers, then applies its writes. Counts the embed rounds.
fn serve(
    api: &mut Api,
    store: &mut MemoryStore,
    req: &Request<'_>,
    embed_rounds: &mut usize,
) -> Response {
    for _ in 0..20 {
        match api.step(req) {
            Step::Done(r) => {
                for batch in api.take_writes() {
                    store.apply(&batch);
                }
                return r;
            }
            Step::Blobs(keys) => {
                for k in keys {
                    let bytes = store.get(&k).map(<[u8]>::to_vec);
                    api.provide(k, bytes);
                }
            }
            Step::Embed {
                model,
                input_type,
                texts,
            } => {
                assert_eq!(model, "all-minilm-l6-v2");
                *embed_rounds += 1;
                let vectors = texts.iter().map(|t| test_embed(t)).collect();
                api.provide_embeddings(&model, input_type, texts, vectors);
            }
            Step::Module(feature) => panic!("the full build asked for the {feature} module"),
        }
    }
    panic!("the host loop did not end");
}

struct Host {
    api: Api,
    store: MemoryStore,
    embed_rounds: usize,
}

impl Host {
    fn new() -> Self {
        Host {
            api: Api::open(ApiOptions::default(), StorageConfig::default()),
            store: MemoryStore::new(),
            embed_rounds: 0,
        }
    }

    fn send(&mut self, method: &str, path: &str, body: &[u8]) -> Response {
        let req = Request {
            method,
            path,
            body,
            api_version: Some("2025-10"),
            ..Request::default()
        };
        serve(&mut self.api, &mut self.store, &req, &mut self.embed_rounds)
    }

    fn json(&mut self, method: &str, path: &str, body: Value) -> Response {
        self.send(method, path, &serde_json::to_vec(&body).unwrap())
    }

    fn create_docs(&mut self) {
        let r = self.json(
            "POST",
            "/indexes/create-for-model",
            json!({"name": "docs", "cloud": "aws", "region": "us-east-1",
                   "embed": {"model": "all-minilm-l6-v2", "field_map": {"text": "chunk_text"}}}),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
    }

    fn upsert_docs(&mut self) {
        let ndjson = concat!(
            r#"{"_id":"rec1","chunk_text":"Apples are a sweet red fruit","category":"fruit"}"#,
            "\n",
            r#"{"_id":"rec2","chunk_text":"The stock market fell sharply today","category":"finance"}"#,
            "\n",
            r#"{"id":"rec3","chunk_text":"Bananas are a yellow fruit rich in potassium","category":"fruit","year":2024}"#,
            "\n",
        );
        let r = self.send(
            "POST",
            "/index/docs/records/namespaces/ns1/upsert",
            ndjson.as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", text(&r));
        assert!(r.body.is_empty());
    }

    fn count(&mut self) -> u64 {
        let r = self.json("POST", "/index/docs/describe_index_stats", json!({}));
        r.json_body()["totalVectorCount"].as_u64().unwrap()
    }
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

wasm_test! {
    fn create_for_model_describes_the_embedding() {
        let mut h = Host::new();
        h.create_docs();
        let d = h.json("GET", "/indexes/docs", json!(null)).json_body();
        assert_eq!(d["dimension"], 384);
        assert_eq!(d["metric"], "cosine");
        assert_eq!(d["embed"]["model"], "all-minilm-l6-v2");
        assert_eq!(d["embed"]["field_map"], json!({"text": "chunk_text"}));
        assert_eq!(d["embed"]["dimension"], 384);
        assert_eq!(d["embed"]["vector_type"], "dense");
        assert!(d["tags"].is_null(), "the stored embed tag never shows: {d}");
    }
}

wasm_test! {
    fn the_embedding_configuration_survives_a_reload() {
        let mut h = Host::new();
        h.create_docs();
        h.upsert_docs();
        let mut cold = Host { api: Api::open(ApiOptions::default(), StorageConfig::default()), store: h.store.clone(), embed_rounds: 0 };
        let d = cold.json("GET", "/indexes/docs", json!(null)).json_body();
        assert_eq!(d["embed"]["field_map"]["text"], "chunk_text", "{d}");
        let r = cold.json("POST", "/index/docs/records/namespaces/ns1/search",
            json!({"query": {"top_k": 1, "inputs": {"text": "yellow bananas"}}}));
        assert_eq!(r.json_body()["result"]["hits"][0]["_id"], "rec3", "{}", text(&r));
    }
}

wasm_test! {
    fn an_unknown_model_is_not_found_and_lists_the_available_ones() {
        let mut h = Host::new();
        for model in ["multilingual-e5-large", "llama-text-embed-v2"] {
            let r = h.json("POST", "/indexes/create-for-model",
                json!({"name": "docs", "cloud": "aws", "region": "us-east-1",
                       "embed": {"model": model, "field_map": {"text": "t"}}}));
            assert_eq!(r.status, 404, "{}", text(&r));
            let b = r.json_body();
            assert_eq!(b["error"]["code"], "NOT_FOUND");
            assert_eq!(b["error"]["message"], format!("Model '{model}' not found. Available models: all-minilm-l6-v2"));
        }
        assert_eq!(h.json("GET", "/indexes", json!(null)).json_body()["indexes"], json!([]));
        let r = h.json("POST", "/embed", json!({"model": "multilingual-e5-large", "inputs": [{"text": "x"}]}));
        assert_eq!(r.status, 404);
        assert_eq!(h.json("GET", "/models/llama-text-embed-v2", json!(null)).status, 404);
        assert_eq!(h.embed_rounds, 0);
    }
}

wasm_test! {
    fn records_upsert_embeds_the_mapped_field_and_search_finds_it_by_text() {
        let mut h = Host::new();
        h.create_docs();
        h.upsert_docs();
        assert_eq!(h.embed_rounds, 1, "one round for the whole upsert");
        assert_eq!(h.count(), 3);
        let r = h.json("POST", "/index/docs/records/namespaces/ns1/search",
            json!({"query": {"top_k": 2, "inputs": {"text": "which fruit is yellow"}}}));
        assert_eq!(r.status, 200, "{}", text(&r));
        let b = r.json_body();
        let hits = b["result"]["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0]["_id"], "rec3");
        assert!(hits[0]["_score"].as_f64().unwrap() > hits[1]["_score"].as_f64().unwrap());
        assert_eq!(hits[0]["fields"]["chunk_text"], "Bananas are a yellow fruit rich in potassium");
        assert_eq!(hits[0]["fields"]["year"], 2024);
        assert_eq!(b["usage"]["embed_total_tokens"], 6);
    }
}

wasm_test! {
    fn search_by_text_with_a_filter_and_fields_by_id_and_by_vector() {
        let mut h = Host::new();
        h.create_docs();
        h.upsert_docs();
        let path = "/index/docs/records/namespaces/ns1/search";
        let r = h.json("POST", path, json!({"query": {"top_k": 3, "inputs": {"text": "fruit"},
            "filter": {"category": {"$eq": "finance"}}}, "fields": ["category"]}));
        let hits = r.json_body()["result"]["hits"].clone();
        assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
        assert_eq!(hits[0]["_id"], "rec2");
        assert_eq!(hits[0]["fields"], json!({"category": "finance"}));
        let r = h.json("POST", path, json!({"query": {"top_k": 1, "id": "rec1"}}));
        assert_eq!(r.json_body()["result"]["hits"][0]["_id"], "rec1", "{}", text(&r));
        assert!(r.json_body()["usage"].get("embed_total_tokens").is_none());
        let v = test_embed("The stock market fell sharply today").values;
        let r = h.json("POST", path, json!({"query": {"top_k": 1, "vector": {"values": v}}}));
        assert_eq!(r.json_body()["result"]["hits"][0]["_id"], "rec2", "{}", text(&r));
    }
}

wasm_test! {
    fn a_record_without_the_mapped_field_fails_the_upsert_and_stores_nothing() {
        let mut h = Host::new();
        h.create_docs();
        let ndjson = concat!(
            r#"{"_id":"ok","chunk_text":"fine"}"#, "\n",
            r#"{"_id":"bad","text":"wrong field"}"#, "\n",
        );
        let r = h.send("POST", "/index/docs/records/namespaces/ns1/upsert", ndjson.as_bytes());
        assert_eq!(r.status, 400, "{}", text(&r));
        let b = r.json_body();
        assert_eq!(b["error"]["code"], "INVALID_ARGUMENT", "records errors use the control-plane shape: {b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("'chunk_text'"), "{b}");
        assert_eq!(h.embed_rounds, 0, "nothing embedded before every record is checked");
        assert_eq!(h.count(), 0);
    }
}

wasm_test! {
    fn records_routes_refuse_an_index_without_embedding() {
        let mut h = Host::new();
        let r = h.json("POST", "/indexes", json!({"name": "plain", "dimension": 384, "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}}));
        assert_eq!(r.status, 201);
        let r = h.send("POST", "/index/plain/records/namespaces/ns1/upsert", br#"{"_id":"a","chunk_text":"x"}"#);
        assert_eq!(r.status, 400, "{}", text(&r));
        assert!(text(&r).contains("not configured for integrated embedding"), "{}", text(&r));
        let r = h.json("POST", "/index/plain/records/namespaces/ns1/search", json!({"query": {"top_k": 1, "inputs": {"text": "x"}}}));
        assert_eq!(r.status, 400);
        assert_eq!(h.embed_rounds, 0);
    }
}

wasm_test! {
    fn configure_with_embed_converts_a_fitting_index_and_refuses_a_wrong_dimension() {
        let mut h = Host::new();
        for (name, dim) in [("fits", 384), ("wrong", 768)] {
            let r = h.json("POST", "/indexes", json!({"name": name, "dimension": dim, "metric": "dotproduct",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}}));
            assert_eq!(r.status, 201);
        }
        let embed = json!({"embed": {"model": "all-minilm-l6-v2", "field_map": {"text": "body"}}});
        let r = h.json("PATCH", "/indexes/wrong", embed.clone());
        assert_eq!(r.status, 400, "{}", text(&r));
        assert!(text(&r).contains("dimension 768"), "{}", text(&r));
        assert!(h.json("GET", "/indexes/wrong", json!(null)).json_body().get("embed").is_none());
        let r = h.json("PATCH", "/indexes/fits", embed);
        assert_eq!(r.status, 202, "{}", text(&r));
        assert_eq!(r.json_body()["embed"]["metric"], "dotproduct");
        let r = h.json("PATCH", "/indexes/fits", json!({"embed": {"model": "multilingual-e5-large"}}));
        assert_eq!(r.status, 400, "the model cannot change: {}", text(&r));
        let r = h.json("PATCH", "/indexes/fits", json!({"embed": {"field_map": {"text": "content"},
            "write_parameters": {"truncate": "NONE"}}}));
        assert_eq!(r.status, 202, "{}", text(&r));
        assert_eq!(r.json_body()["embed"]["field_map"]["text"], "content");
    }
}

wasm_test! {
    fn embed_returns_unit_vectors_and_refuses_long_text_with_truncate_none() {
        let mut h = Host::new();
        let r = h.json("POST", "/embed", json!({"model": "all-minilm-l6-v2",
            "inputs": [{"text": "hello world"}, {"text": "another text"}],
            "parameters": {"input_type": "query"}}));
        assert_eq!(r.status, 200, "{}", text(&r));
        let b = r.json_body();
        assert_eq!(b["vector_type"], "dense");
        assert_eq!(b["data"].as_array().unwrap().len(), 2);
        assert_eq!(b["data"][0]["values"].as_array().unwrap().len(), 384);
        assert_eq!(b["usage"]["total_tokens"], 8);
        let long = "word ".repeat(300);
        let r = h.json("POST", "/embed", json!({"model": "all-minilm-l6-v2",
            "inputs": [{"text": long}], "parameters": {"truncate": "NONE"}}));
        assert_eq!(r.status, 400, "{}", text(&r));
        assert!(text(&r).contains("302 tokens"), "{}", text(&r));
        let r = h.json("POST", "/embed", json!({"model": "all-minilm-l6-v2", "inputs": [{"text": long}]}));
        assert_eq!(r.status, 200, "truncate END is the default");
    }
}

wasm_test! {
    fn models_lists_what_larch_runs_and_rerank_is_model_not_found() {
        let mut h = Host::new();
        let b = h.json("GET", "/models", json!(null)).json_body();
        assert_eq!(b["models"][0]["model"], "all-minilm-l6-v2");
        assert_eq!(b["models"][0]["default_dimension"], 384);
        let b = h.json("GET", "/models/all-minilm-l6-v2", json!(null)).json_body();
        assert_eq!(b["max_sequence_length"], 256);
        let r = h.json("POST", "/rerank", json!({"model": "bge-reranker-v2-m3", "query": "q", "documents": []}));
        assert_eq!(r.status, 404, "{}", text(&r));
        h.create_docs();
        let r = h.json("POST", "/index/docs/records/namespaces/ns1/search", json!({"query": {"top_k": 1, "inputs": {"text": "x"}},
            "rerank": {"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"]}}));
        assert_eq!(r.status, 404, "{}", text(&r));
        assert!(text(&r).contains("bge-reranker-v2-m3"));
    }
}

wasm_test! {
    fn a_host_without_a_model_gets_an_internal_error_not_a_loop() {
        let mut api = Api::new(ApiOptions::default());
        let body = serde_json::to_vec(&json!({"model": "all-minilm-l6-v2", "inputs": [{"text": "x"}]})).unwrap();
        let req = Request { method: "POST", path: "/embed", body: &body, ..Request::default() };
        let r = api.try_handle(&req).unwrap();
        assert_eq!(r.status, 500, "{}", text(&r));
        // A host that provides nothing and retries is stopped on the second ask.
        assert!(matches!(api.step(&req), Step::Embed { .. }));
        match api.step(&req) {
            Step::Done(r) => assert_eq!(r.status, 500),
            other => panic!("expected the loop to end, got {other:?}"),
        }
    }
}
