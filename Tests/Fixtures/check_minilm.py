"""Live check of SentenceEncoder against sentence-transformers on all-MiniLM-L6-v2 (not part of the
test command: it needs the model, fetched by scripts/fetch-minilm.sh, and sentence-transformers).

    python check_minilm.py MODEL_DIR SWIFT_EMBEDDINGS.npy      # the equality
    python check_minilm.py MODEL_DIR --time-only                # sentences per second only

Compares the library's embeddings of minilm_sentences.txt (max length 64, batch 32) with
sentence-transformers' (largest absolute difference, tolerance 1e-5); or times sentence-
transformers' encoding of the first 32 of them in one batch on 2 threads (sentences per second,
median of 7 blocks of 5 batches), the figure `deep-bench minilm_encode_b32` gives for the library.
"""
import json
import statistics
import sys
import time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

model_dir = sys.argv[1]
time_only = "--time-only" in sys.argv
torch.set_num_threads(2)
sentences = open("minilm_sentences.txt", encoding="utf-8").read().split("\n")
sentences = [s for s in sentences if s != ""]
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 64
worst = 0.0
if not time_only:
    reference = model.encode(sentences, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
    ours = np.load(sys.argv[2])
    assert ours.shape == reference.shape, f"shapes {ours.shape} vs {reference.shape}"
    worst = float(np.abs(ours - reference).max())
    cosine = float((ours * reference).sum(axis=1).min())
    print(json.dumps({"sentences": len(sentences), "dimension": reference.shape[1], "max_abs_difference": worst,
                      "min_cosine": cosine, "tolerance": 1e-5, "equal": worst <= 1e-5}))
    sys.exit(0 if worst <= 1e-5 else 1)

batch = (sentences * 2)[:32]
for _ in range(3):
    model.encode(batch, batch_size=32)
rates = []
for _ in range(7):
    start = time.perf_counter()
    for _ in range(5):
        model.encode(batch, batch_size=32)
    rates.append(5 * 32 / (time.perf_counter() - start))
torch_rate = statistics.median(rates)
print(json.dumps({"workload": "minilm_encode_b32", "impl": "sentence-transformers", "sentences_per_s": round(torch_rate, 1)}))
