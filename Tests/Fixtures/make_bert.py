"""Reference values for DeepNN's BertModel, from Hugging Face transformers' `BertModel`.

A small random config (vocab 120, hidden 32, 2 layers, 4 heads, intermediate 64, 40 positions,
2 token types). Writes:
- bert_tiny.safetensors: the model's state dict (its persistent keys only, Float32), with the
  keys in the model's order in the metadata entry "keys";
- bert_tiny_config.json: its config.json as `save_pretrained` writes it;
- bert_tiny_gelu_new_config.json: the same config with hidden_act "gelu_new" (same weights);
- bert_tiny.json: for 3 input batches (b0 all-ones mask; b1 and b2 padded; b2 without token
  types) the ids, masks, token types, `last_hidden_state` and `pooler_output`; for b1 the weights
  `b1.w` of the scalar sum(last_hidden_state * w) and its gradients with respect to the word
  embeddings (`b1.d_word`) and layer 1's query weight (`b1.d_query1`); the same outputs for the
  gelu_new config under `gelu_new.b1.*`.

HF's initialisation (std 0.02) gives near-trivial attention, so every weight is redrawn larger
(seeded) to make each part of the model matter. References are computed in float64 from the
Float32-rounded weights. Run with the venv that has torch and transformers:
    /tmp/venv/bin/python Tests/Fixtures/make_bert.py
"""
import os
import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel
from fixture_util import save, HERE

torch.manual_seed(0)

CONFIG = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=40, type_vocab_size=2)


def make_model(hidden_act="gelu"):
    config = BertConfig(**CONFIG, hidden_act=hidden_act)
    return BertModel(config, add_pooling_layer=True).eval(), config


model, config = make_model()
with torch.no_grad():
    for name, p in model.named_parameters():
        if "LayerNorm.weight" in name:
            p.copy_(1 + 0.2 * torch.randn_like(p))
        elif name.endswith("bias"):
            p.copy_(0.1 * torch.randn_like(p))
        elif "embeddings" in name:
            p.copy_(0.5 * torch.randn_like(p))
        else:
            p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    model.embeddings.word_embeddings.weight[config.pad_token_id].zero_()

state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
keys = list(state.keys())
save_file(state, os.path.join(HERE, "bert_tiny.safetensors"), metadata={"keys": ",".join(keys)})
config.to_json_file(os.path.join(HERE, "bert_tiny_config.json"))
gelu_new_config = BertConfig(**CONFIG, hidden_act="gelu_new")
gelu_new_config.to_json_file(os.path.join(HERE, "bert_tiny_gelu_new_config.json"))


def reference(hidden_act):
    m, _ = make_model(hidden_act)
    m.load_state_dict(state)
    m.config._attn_implementation = "eager"
    return m.double().eval()


def batch(n, length, lengths, token_types):
    ids = torch.randint(1, CONFIG["vocab_size"], (n, length))
    mask = torch.zeros(n, length, dtype=torch.long)
    for i, l in enumerate(lengths):
        mask[i, :l] = 1
        ids[i, l:] = 0   # [PAD]
    types = None
    if token_types:
        types = torch.zeros(n, length, dtype=torch.long)
        for i, l in enumerate(lengths):
            types[i, l // 2:l] = 1
    return ids, mask, types


out = {}
batches = {
    "b0": batch(2, 7, [7, 7], True),
    "b1": batch(3, 9, [9, 5, 2], True),
    "b2": batch(2, 40, [40, 23], False),
}
ref = reference("gelu")
for name, (ids, mask, types) in batches.items():
    out[f"{name}.ids"] = ids
    out[f"{name}.mask"] = mask
    if types is not None:
        out[f"{name}.types"] = types
    with torch.no_grad():
        y = ref(input_ids=ids, attention_mask=mask, token_type_ids=types)
    out[f"{name}.last"] = y.last_hidden_state
    out[f"{name}.pooled"] = y.pooler_output

# Gradients of sum(last_hidden_state * w) on b1.
ids, mask, types = batches["b1"]
ref.zero_grad()
y = ref(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
w = torch.randn(y.shape, dtype=torch.float64)
(y * w).sum().backward()
out["b1.w"] = w
out["b1.d_word"] = ref.embeddings.word_embeddings.weight.grad
out["b1.d_query1"] = ref.encoder.layer[1].attention.self.query.weight.grad

ref_new = reference("gelu_new")
with torch.no_grad():
    y = ref_new(input_ids=ids, attention_mask=mask, token_type_ids=types)
out["gelu_new.b1.last"] = y.last_hidden_state
out["gelu_new.b1.pooled"] = y.pooler_output

# Float32-rounded values: the comparison is in Float32, and the JSON stays small.
save("bert_tiny", {k: np.array([float(str(x)) for x in v.detach().double().numpy().astype(np.float32).ravel()])
                   .reshape(tuple(v.shape)) for k, v in out.items()})
print("wrote bert_tiny.safetensors,", len(keys), "keys;",
      os.path.getsize(os.path.join(HERE, "bert_tiny.safetensors")), "bytes")
