"""An independent CLIP reference in numpy (float64), written from Hugging
Face's CLIPModel forward pass as documented: its own safetensors reader,
config defaults, and both towers."""
import json
import math
import os
import struct

import numpy as np

HF_TEXT = dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8,
               num_hidden_layers=12, max_position_embeddings=77, hidden_act="quick_gelu",
               layer_norm_eps=1e-5, vocab_size=49408)
HF_VISION = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                 num_hidden_layers=12, image_size=224, patch_size=32, hidden_act="quick_gelu",
                 layer_norm_eps=1e-5)


def read_safetensors(path):
    """name -> float64 array (int64 for integer tensors kept as float64 too)."""
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        raw = data[d["data_offsets"][0]:d["data_offsets"][1]]
        if d["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, {"F32": "<f4", "F16": "<f2", "I64": "<i8"}[d["dtype"]])
        out[name] = a.astype(np.float32).astype(np.float64).reshape(d["shape"])
    return header, out


def load_config(folder):
    """(text, vision, whole config.json): the towers' sections over Hugging
    Face's defaults, with the old *_config_dict sections overlaid."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    text = {**HF_TEXT, **cfg.get("text_config", {}), **cfg.get("text_config_dict", {})}
    vision = {**HF_VISION, **cfg.get("vision_config", {}), **cfg.get("vision_config_dict", {})}
    return text, vision, cfg


def load(folder):
    text, vision, _ = load_config(folder)
    _, t = read_safetensors(os.path.join(folder, "model.safetensors"))
    return text, vision, t


def layer_norm(x, g, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + b


def act(x, name):
    if name == "quick_gelu":
        return x / (1 + np.exp(-1.702 * x))
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def encoder(h, t, prefix, cfg, causal):
    n, d = h.shape
    heads = cfg["num_attention_heads"]
    dh = d // heads
    mask = np.triu(np.full((n, n), -np.inf), 1) if causal else np.zeros((n, n))
    for i in range(cfg["num_hidden_layers"]):
        p = f"{prefix}.encoder.layers.{i}"
        w = lambda k: t[f"{p}.{k}"]
        x = layer_norm(h, w("layer_norm1.weight"), w("layer_norm1.bias"), cfg["layer_norm_eps"])
        q = x @ w("self_attn.q_proj.weight").T + w("self_attn.q_proj.bias")
        k = x @ w("self_attn.k_proj.weight").T + w("self_attn.k_proj.bias")
        v = x @ w("self_attn.v_proj.weight").T + w("self_attn.v_proj.bias")
        o = np.zeros_like(x)
        for hd in range(heads):
            sl = slice(hd * dh, (hd + 1) * dh)
            s = q[:, sl] @ k[:, sl].T * dh ** -0.5 + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            o[:, sl] = s @ v[:, sl]
        h = h + o @ w("self_attn.out_proj.weight").T + w("self_attn.out_proj.bias")
        x = layer_norm(h, w("layer_norm2.weight"), w("layer_norm2.bias"), cfg["layer_norm_eps"])
        m = act(x @ w("mlp.fc1.weight").T + w("mlp.fc1.bias"), cfg["hidden_act"])
        h = h + m @ w("mlp.fc2.weight").T + w("mlp.fc2.bias")
    return h


def normalise(x):
    return x / np.sqrt((x ** 2).sum())


def image_embedding(folder, pixels):
    """pixels: [3, S, S] preprocessed."""
    _, cfg, t = load(folder)
    p = cfg["patch_size"]
    g = cfg["image_size"] // p
    conv = t["vision_model.embeddings.patch_embedding.weight"]   # [D, 3, P, P]
    patches = np.array([[(conv * pixels[:, gy * p:(gy + 1) * p, gx * p:(gx + 1) * p]).sum((1, 2, 3))
                         for gx in range(g)] for gy in range(g)]).reshape(g * g, -1)
    h = np.concatenate([t["vision_model.embeddings.class_embedding"][None], patches])
    h = h + t["vision_model.embeddings.position_embedding.weight"]
    eps = cfg["layer_norm_eps"]
    h = layer_norm(h, t["vision_model.pre_layrnorm.weight"], t["vision_model.pre_layrnorm.bias"], eps)
    h = encoder(h, t, "vision_model", cfg, False)
    pooled = layer_norm(h[0], t["vision_model.post_layernorm.weight"],
                        t["vision_model.post_layernorm.bias"], eps)
    return normalise(t["visual_projection.weight"] @ pooled)


def text_embedding(folder, ids, end_id):
    cfg, _, t = load(folder)
    ids = list(ids)
    pool = ids.index(end_id) if end_id in ids else len(ids) - 1
    h = t["text_model.embeddings.token_embedding.weight"][ids] + \
        t["text_model.embeddings.position_embedding.weight"][:len(ids)]
    h = encoder(h, t, "text_model", cfg, True)   # all positions: the mask makes the rest moot
    pooled = layer_norm(h[pool], t["text_model.final_layer_norm.weight"],
                        t["text_model.final_layer_norm.bias"], cfg["layer_norm_eps"])
    return normalise(t["text_projection.weight"] @ pooled)
