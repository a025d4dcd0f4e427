//! A quick experiment, not wired into the engine: how many candidates a smaller search
//! representation needs before f32 rescoring to reach a recall@10, at 8, 4 and 1 bit per
//! dimension, on a dataset directory of `../shared/bench` (cosine).
//!
//!   cargo bench --bench lowbit -- DATASET_DIR [queries=200]
//!
//! Each representation is scanned exhaustively (no graph, so only the codes' ranking
//! matters): the query (f32) against every decoded code, the best C candidates rescored with
//! the f32 rows, recall@10 against `gt_cos.ivecs`. Codes: 8 and 4 bits are per-dimension
//! scalar quantization between each dimension's min and max (a proxy of the engine's int8
//! codes, not their exact layout); 1 bit is the sign around each dimension's mean, decoded as
//! mean ± the mean absolute deviation (asymmetric: the query stays f32).

const K: usize = 10;
const CANDIDATES: [usize; 9] = [10, 20, 40, 80, 160, 320, 640, 1280, 2560];

fn fvecs(bytes: &[u8]) -> (Vec<f32>, usize) {
    let d = i32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let mut out = Vec::with_capacity(bytes.len() / 4);
    for row in bytes.chunks_exact(4 * (d + 1)) {
        out.extend(
            row[4..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
        );
    }
    (out, d)
}

fn ivecs(bytes: &[u8]) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let d = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 4;
        out.push(
            bytes[at..at + 4 * d]
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as u32)
                .collect(),
        );
        at += 4 * d;
    }
    out
}

fn normalize(v: &mut [f32], dim: usize) {
    for r in v.chunks_exact_mut(dim) {
        let n = r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        r.iter_mut().for_each(|x| *x /= n);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A decoded representation: per-vector levels (u8) and per-dimension `value = lo + level * step`.
struct Codes {
    bits: u32,
    levels: Vec<u8>,
    lo: Vec<f32>,
    step: Vec<f32>,
}

fn quantize(base: &[f32], dim: usize, bits: u32) -> Codes {
    let n = base.len() / dim;
    let (mut lo, mut step) = (vec![0f32; dim], vec![0f32; dim]);
    if bits == 1 {
        for d in 0..dim {
            let mean = (0..n).map(|i| base[i * dim + d]).sum::<f32>() / n as f32;
            let dev = (0..n)
                .map(|i| (base[i * dim + d] - mean).abs())
                .sum::<f32>()
                / n as f32;
            lo[d] = mean - dev;
            step[d] = 2.0 * dev;
        }
    } else {
        let top = ((1u32 << bits) - 1) as f32;
        for d in 0..dim {
            let (mut mn, mut mx) = (f32::MAX, f32::MIN);
            for i in 0..n {
                mn = mn.min(base[i * dim + d]);
                mx = mx.max(base[i * dim + d]);
            }
            lo[d] = mn;
            step[d] = (mx - mn).max(1e-12) / top;
        }
    }
    let top = ((1u32 << bits) - 1) as f32;
    let levels = (0..n * dim)
        .map(|j| {
            let d = j % dim;
            if bits == 1 {
                u8::from(base[j] >= lo[d] + step[d] / 2.0)
            } else {
                ((base[j] - lo[d]) / step[d]).round().clamp(0.0, top) as u8
            }
        })
        .collect();
    Codes {
        bits,
        levels,
        lo,
        step,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let dir = args
        .first()
        .expect("usage: cargo bench --bench lowbit -- DATASET_DIR [queries=200]");
    let nq: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("queries="))
        .map_or(200, |v| v.parse().unwrap());
    let read = |f: &str| std::fs::read(format!("{dir}/{f}")).unwrap_or_else(|e| panic!("{f}: {e}"));
    let (mut base, dim) = fvecs(&read("base.fvecs"));
    let (mut queries, _) = fvecs(&read("query.fvecs"));
    let gt = ivecs(&read("gt_cos.ivecs"));
    normalize(&mut base, dim);
    normalize(&mut queries, dim);
    let n = base.len() / dim;
    let nq = nq.min(gt.len()).min(queries.len() / dim);
    println!(
        "<!-- lowbit: {dir}, n={n} dim={dim} queries={nq}, exhaustive scan of the codes, top-C rescored in f32 -->"
    );
    println!(
        "| bits/dim | bytes/vector | C=10 | 20 | 40 | 80 | 160 | 320 | 640 | 1280 | 2560 | C for recall ≥ 0.95 | C for ≥ 0.99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for bits in [8u32, 4, 1] {
        let codes = quantize(&base, dim, bits);
        let mut recall = [0f64; CANDIDATES.len()];
        let mut approx = vec![0f32; n];
        let mut order: Vec<u32> = (0..n as u32).collect();
        for qi in 0..nq {
            let q = &queries[qi * dim..(qi + 1) * dim];
            let qs: Vec<f32> = q.iter().zip(&codes.step).map(|(a, s)| a * s).collect();
            let q0 = dot(q, &codes.lo);
            for (i, a) in approx.iter_mut().enumerate() {
                let c = &codes.levels[i * dim..(i + 1) * dim];
                *a = q0
                    + c.iter()
                        .zip(&qs)
                        .map(|(&l, s)| f32::from(l) * s)
                        .sum::<f32>();
            }
            let cmax = *CANDIDATES.last().unwrap();
            order.select_nth_unstable_by(cmax, |&a, &b| {
                approx[b as usize].total_cmp(&approx[a as usize])
            });
            let mut top: Vec<u32> = order[..cmax].to_vec();
            top.sort_unstable_by(|&a, &b| approx[b as usize].total_cmp(&approx[a as usize]));
            let truth = &gt[qi][..K];
            for (ci, &c) in CANDIDATES.iter().enumerate() {
                let mut rescored: Vec<(f32, u32)> = top[..c]
                    .iter()
                    .map(|&i| (dot(q, &base[i as usize * dim..(i as usize + 1) * dim]), i))
                    .collect();
                rescored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
                let hits = rescored[..K]
                    .iter()
                    .filter(|(_, i)| truth.contains(i))
                    .count();
                recall[ci] += hits as f64 / K as f64;
            }
        }
        let recall: Vec<f64> = recall.iter().map(|r| r / nq as f64).collect();
        let need = |r: f64| {
            CANDIDATES
                .iter()
                .zip(&recall)
                .find(|(_, x)| **x >= r)
                .map_or("> 2560".to_string(), |(c, _)| c.to_string())
        };
        let bytes = (dim * bits as usize).div_ceil(8);
        println!(
            "| {} | {bytes} | {} | {} | {} |",
            codes.bits,
            recall
                .iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(" | "),
            need(0.95),
            need(0.99)
        );
        eprintln!("lowbit: {bits} bits done");
    }
}
