"""Writes a tiny sentence-transformers folder and the embeddings sentence-transformers computes
with it, for SentenceEncoderTests (no Python at test time).

    /tmp/venv/bin/python make_sentence_encoder.py    # needs torch, transformers, sentence-transformers

Outputs: sentence_encoder_tiny/ (saved by SentenceTransformer.save: modules.json, config.json,
model.safetensors, vocab.txt, tokenizer files, sentence_bert_config.json, 1_Pooling/config.json)
and sentence_encoder_tiny.json (embeddings for mean/cls/max/mean-sqrt-len pooling, with and
without normalisation, max_seq_length 12 so that truncation shows).
"""
import json
import os
import shutil
import tempfile

import torch
from sentence_transformers import SentenceTransformer, models
from transformers import BertConfig, BertModel, BertTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "sentence_encoder_tiny")

words = ["the", "a", "photo", "of", "shirt", "shoe", "bag", "red", "blue", "on", "plain", "background", "is",
         "this", "and", "dress", "coat", "cafe", "run", "##s", "##ing", "##ed", "##er", "sneak", "boot", "trouser",
         "pull", "##over", "sand", "##al", "ankle", "t", "-", ".", ",", "!", "?", "'", "中", "文", "好"]
letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + [l for l in letters if l not in words] + ["##" + l for l in letters]

torch.manual_seed(0)
work = tempfile.mkdtemp()
with open(os.path.join(work, "vocab.txt"), "w") as f:
    f.write("\n".join(vocab) + "\n")
tokenizer = BertTokenizerFast(vocab_file=os.path.join(work, "vocab.txt"), do_lower_case=True)
config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=32, type_vocab_size=2)
bert = BertModel(config).eval()
bert.save_pretrained(work)
tokenizer.save_pretrained(work)

sentences = ["A photo of a red shirt.", "This blue dress is on a plain background!", "Sneakers and ankle boots",
             "Café au lait", "中文 好", "zzzz", "a", "The pullover, the trousers and the sandals are running on and on and on."]
word = models.Transformer(work, max_seq_length=12)
results = {"sentences": sentences, "max_seq_length": 12, "dimension": 16, "embeddings": {}}
for mode in ["mean", "cls", "max", "mean_sqrt_len_tokens"]:
    pooling = models.Pooling(16, pooling_mode=mode)
    for normalize in [False, True]:
        st = SentenceTransformer(modules=[word, pooling] + ([models.Normalize()] if normalize else []), device="cpu")
        emb = st.encode(sentences, batch_size=3, convert_to_numpy=True)
        results["embeddings"][f"{mode}{'_normalized' if normalize else ''}"] = [[float(x) for x in row] for row in emb]
        if mode == "mean" and normalize:
            shutil.rmtree(OUT, ignore_errors=True)
            st.save(OUT)
# Only what the library reads, to keep the fixture small.
for extra in ["README.md", "config_sentence_transformers.json", "special_tokens_map.json"]:
    if os.path.exists(os.path.join(OUT, extra)):
        os.remove(os.path.join(OUT, extra))
with open(os.path.join(HERE, "sentence_encoder_tiny.json"), "w") as f:
    json.dump(results, f, indent=1)
print("wrote", OUT, sorted(os.listdir(OUT)))
