//! Embeddings per second of all-MiniLM-L6-v2 natively, one thread, for 32- and 128-token
//! texts, in batches of 16 (as `MiniLm::embed` runs them) and one at a time, per weight form.
//! Numbers go to BENCHMARKS.md:
//!
//!     RAYON_NUM_THREADS=1 cargo bench -p larch-embed --bench embed
//!
//! Needs the weights (`scripts/fetch-model.sh`).

use std::path::PathBuf;
use std::time::Instant;

use larch_embed::MiniLm;

#[allow(clippy::disallowed_methods)] // the native harness's clock, not the engine's
fn main() {
    let dir = std::env::var_os("LARCH_MODEL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/larch-models")
        })
        .join("all-minilm-l6-v2");
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).expect("run scripts/fetch-model.sh");
    for file in ["model.int8.safetensors", "model.f16.safetensors"] {
        let bytes = std::fs::read(dir.join(file)).expect("run scripts/fetch-model.sh");
        let start = Instant::now();
        let model = MiniLm::load(&bytes, &vocab).unwrap();
        println!(
            "{file}: {} bytes, load {:.0} ms",
            bytes.len(),
            start.elapsed().as_secs_f64() * 1e3
        );
        drop(bytes);
        let text =
            "the quick brown fox jumps over the lazy dog while a cat watches from the window "
                .repeat(20);
        let words = model.encode(&text).ids;
        for tokens in [32usize, 128] {
            let mut ids = words[..tokens - 1].to_vec();
            ids.push(102);
            for batch in [16usize, 1] {
                let seqs: Vec<&[u32]> = (0..batch).map(|_| ids.as_slice()).collect();
                model.embed_ids(&seqs).unwrap(); // warm up
                let rounds = (64 / batch).max(4);
                let start = Instant::now();
                for _ in 0..rounds {
                    std::hint::black_box(model.embed_ids(&seqs).unwrap());
                }
                let per_s = (rounds * batch) as f64 / start.elapsed().as_secs_f64();
                println!("  {tokens:>3} tokens, batch {batch:>2}: {per_s:7.1} embeddings/s");
            }
        }
    }
}
