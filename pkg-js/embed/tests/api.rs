//! The real model end to end through Larch's API: the host loop answers `Step::Embed` with
//! all-MiniLM-L6-v2 (int8 weights), as pkg-js and the Worker do with the wasm module.

use std::path::PathBuf;

use larch::api::{Api, ApiOptions, Embedded, Request, Response, Step};
use larch_embed::MiniLm;
use serde_json::json;

fn model() -> MiniLm {
    let dir = std::env::var_os("LARCH_MODEL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/larch-models")
        })
        .join("all-minilm-l6-v2");
    let weights =
        std::fs::read(dir.join("model.int8.safetensors")).expect("run scripts/fetch-model.sh");
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).unwrap();
    MiniLm::load(&weights, &vocab).unwrap()
}

fn send(api: &mut Api, model: &MiniLm, method: &str, path: &str, body: &[u8]) -> Response {
    let req = Request {
        method,
        path,
        body,
        ..Request::default()
    };
    loop {
        match api.step(&req) {
            Step::Done(r) => return r,
            Step::Blobs(keys) => panic!("an in-memory engine asked for blobs {keys:?}"),
            Step::Embed {
                model: name,
                input_type,
                texts,
            } => {
                assert_eq!(name, larch_embed::minilm::NAME);
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let embedded = model
                    .embed(&refs)
                    .unwrap()
                    .into_iter()
                    .zip(&refs)
                    .map(|(e, t)| Embedded {
                        tokens: e.tokens as u32,
                        untruncated_tokens: model.encode(t).untruncated_len as u32,
                        values: e.values,
                    })
                    .collect();
                api.provide_embeddings(&name, input_type, texts, embedded);
            }
            Step::Module(feature) => panic!("the full build asked for the {feature} module"),
        }
    }
}

#[test]
fn text_search_finds_the_semantically_closest_record_with_the_real_model() {
    let model = model();
    let mut api = Api::new(ApiOptions::default());
    let body = json!({"name": "docs", "cloud": "aws", "region": "us-east-1",
        "embed": {"model": "all-minilm-l6-v2", "field_map": {"text": "chunk_text"}}});
    let r = send(
        &mut api,
        &model,
        "POST",
        "/indexes/create-for-model",
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201);
    let ndjson = [
        json!({"_id": "apple", "chunk_text": "Apples are sweet fruits that grow on trees in orchards.", "kind": "food"}),
        json!({"_id": "market", "chunk_text": "Share prices dropped after the central bank raised interest rates.", "kind": "finance"}),
        json!({"_id": "goal", "chunk_text": "The striker scored twice in the second half of the football match.", "kind": "sport"}),
        json!({"_id": "rain", "chunk_text": "Heavy rain and strong winds are expected across the region tomorrow.", "kind": "weather"}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect::<String>();
    let r = send(
        &mut api,
        &model,
        "POST",
        "/index/docs/records/namespaces/ns/upsert",
        ndjson.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    for (query, expected) in [
        ("Which team won the soccer game?", "goal"),
        ("stock market news", "market"),
        ("what fruit grows in an orchard", "apple"),
        ("will there be a storm", "rain"),
    ] {
        let body = json!({"query": {"top_k": 1, "inputs": {"text": query}}, "fields": ["kind"]});
        let r = send(
            &mut api,
            &model,
            "POST",
            "/index/docs/records/namespaces/ns/search",
            body.to_string().as_bytes(),
        );
        let b = r.json_body();
        assert_eq!(b["result"]["hits"][0]["_id"], expected, "{query}: {b}");
        assert!(b["usage"]["embed_total_tokens"].as_u64().unwrap() > 2);
    }
    let body = json!({"model": "all-minilm-l6-v2", "inputs": [{"text": "hello"}]});
    let r = send(
        &mut api,
        &model,
        "POST",
        "/embed",
        body.to_string().as_bytes(),
    );
    let values = r.json_body()["data"][0]["values"].as_array().unwrap().len();
    assert_eq!(values, 384);
}
