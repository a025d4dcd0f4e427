//! The embedding oracle: Larch's tokenizer and all-MiniLM-L6-v2 against sentence-transformers on
//! 1,000 real texts (`tests/fixtures/embed`, made once by `scripts/embed-oracle.py`). Needs the
//! weights in the model cache (`scripts/fetch-model.sh`, run by `scripts/setup.sh`).

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use larch_embed::MiniLm;
use larch_embed::minilm::{DIMENSION, cosine};

struct Fixture {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    vectors: Vec<Vec<f32>>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = repo().join("tests/fixtures/embed");
        let gz = std::fs::read(dir.join("texts.jsonl.gz")).unwrap();
        let mut jsonl = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut jsonl)
            .unwrap();
        let (mut texts, mut ids) = (Vec::new(), Vec::new());
        for line in jsonl.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            texts.push(v["text"].as_str().unwrap().to_owned());
            ids.push(serde_json::from_value(v["ids"].clone()).unwrap());
        }
        let raw = std::fs::read(dir.join("minilm.i8")).unwrap();
        let vectors: Vec<Vec<f32>> = raw
            .chunks_exact(4 + DIMENSION)
            .map(|c| {
                let scale = f32::from_le_bytes(c[..4].try_into().unwrap());
                c[4..].iter().map(|&q| f32::from(q as i8) * scale).collect()
            })
            .collect();
        assert_eq!(texts.len(), 1000);
        assert_eq!(vectors.len(), 1000);
        Fixture {
            texts,
            ids,
            vectors,
        }
    })
}

fn model_dir() -> PathBuf {
    let home = std::env::var_os("LARCH_MODEL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/larch-models")
        });
    home.join("all-minilm-l6-v2")
}

fn load(file: &str) -> MiniLm {
    let dir = model_dir();
    let weights = std::fs::read(dir.join(file)).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/fetch-model.sh",
            dir.join(file).display()
        )
    });
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).unwrap();
    MiniLm::load(&weights, &vocab).unwrap()
}

/// (min, mean) cosine of the model's embeddings to the reference over the 1,000 texts.
fn agreement(model: &MiniLm) -> (f32, f32) {
    let f = fixture();
    let texts: Vec<&str> = f.texts.iter().map(String::as_str).collect();
    let got = model.embed(&texts).unwrap();
    let cos: Vec<f32> = got
        .iter()
        .zip(&f.vectors)
        .map(|(g, r)| cosine(&g.values, r))
        .collect();
    for g in &got {
        let norm: f32 = g.values.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "embedding not unit-norm: {norm}");
    }
    let min = cos.iter().copied().fold(1.0, f32::min);
    let mean = cos.iter().sum::<f32>() / cos.len() as f32;
    (min, mean)
}

#[test]
fn tokenizer_matches_the_reference_ids_on_1000_texts() {
    let f = fixture();
    let model = load("model.int8.safetensors");
    let mut wrong = Vec::new();
    for (text, ids) in f.texts.iter().zip(&f.ids) {
        let got = model.encode(text).ids;
        if &got != ids {
            wrong.push((text.clone(), got, ids.clone()));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} texts tokenized differently, first: {:?}",
        wrong.len(),
        wrong.first()
    );
}

#[test]
fn f16_weights_match_sentence_transformers() {
    let (min, mean) = agreement(&load("model.f16.safetensors"));
    println!("f16: min cosine {min:.6}, mean {mean:.6}");
    assert!(min >= 0.999, "f16 min cosine {min}");
}

#[test]
fn int8_weights_match_sentence_transformers() {
    let (min, mean) = agreement(&load("model.int8.safetensors"));
    println!("int8: min cosine {min:.6}, mean {mean:.6}");
    assert!(min >= 0.99, "int8 min cosine {min}");
}
