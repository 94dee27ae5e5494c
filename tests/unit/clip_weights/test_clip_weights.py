"""CLIP model folders from tools/gen-test-clip (several sizes, F32/F16/BF16,
both activations, full and sparse configs) loaded by the C loader; every
weight array's sum and sum of squares compared with numpy's own reading of
the same safetensors file; q, k and v stacked in order. Then broken folders:
a missing tensor, a wrong shape, a truncated file, an integer tensor, a bad
config; each refused with a message naming the file and the tensor or key."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from numpy_clip import read_safetensors  # noqa: E402

DUMP, GEN = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def dump(folder):
    proc = subprocess.run([DUMP, folder], capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def compare(folder, expect_act):
    rc, out = dump(folder)
    check(rc == 0, f"{folder}: {out[:300]}")
    if rc:
        return
    got = json.loads(out)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    _, t = read_safetensors(os.path.join(folder, "model.safetensors"))
    vd = t["vision_model.embeddings.class_embedding"].shape[0]
    check(got["config"]["vision"][0] == vd, f"vision width {got['config']}")
    check(got["config"]["vision"][6] == expect_act and got["config"]["text"][5] == expect_act,
          f"activation {got['config']}")
    check(close(got["logit_scale"], float(t["logit_scale"])), "logit_scale")
    names = {
        "class_embedding": "vision_model.embeddings.class_embedding",
        "patch_w": "vision_model.embeddings.patch_embedding.weight",
        "vision_positions": "vision_model.embeddings.position_embedding.weight",
        "pre_ln_w": "vision_model.pre_layrnorm.weight",
        "post_ln_b": "vision_model.post_layernorm.bias",
        "visual_projection": "visual_projection.weight",
        "token_embedding": "text_model.embeddings.token_embedding.weight",
        "text_positions": "text_model.embeddings.position_embedding.weight",
        "final_ln_w": "text_model.final_layer_norm.weight",
        "text_projection": "text_projection.weight",
    }
    for tower, prefix, layers in (("vision", "vision_model", got["config"]["vision"][3]),
                                  ("text", "text_model", got["config"]["text"][3])):
        for i in range(layers):
            p = f"{prefix}.encoder.layers.{i}"
            for mine, theirs in (("ln1_w", "layer_norm1.weight"), ("ln1_b", "layer_norm1.bias"),
                                 ("ln2_w", "layer_norm2.weight"), ("ln2_b", "layer_norm2.bias"),
                                 ("out_w", "self_attn.out_proj.weight"),
                                 ("out_b", "self_attn.out_proj.bias"),
                                 ("fc1_w", "mlp.fc1.weight"), ("fc1_b", "mlp.fc1.bias"),
                                 ("fc2_w", "mlp.fc2.weight"), ("fc2_b", "mlp.fc2.bias")):
                names[f"{tower}.{i}.{mine}"] = f"{p}.{theirs}"
            qkv_w = np.concatenate([t[f"{p}.self_attn.{x}_proj.weight"] for x in "qkv"])
            qkv_b = np.concatenate([t[f"{p}.self_attn.{x}_proj.bias"] for x in "qkv"])
            for key, ref in ((f"{tower}.{i}.qkv_w", qkv_w), (f"{tower}.{i}.qkv_b", qkv_b)):
                s, q, first = got["arrays"][key]
                check(close(s, ref.sum()) and close(q, (ref ** 2).sum()) and
                      np.float32(first) == np.float32(ref.flat[0]), f"{folder}: {key}")
            check(np.float32(got["arrays"][f"{tower}.{i}.k00"]) ==
                  np.float32(t[f"{p}.self_attn.k_proj.weight"].flat[0]), f"{tower}.{i} k order")
            check(np.float32(got["arrays"][f"{tower}.{i}.v00"]) ==
                  np.float32(t[f"{p}.self_attn.v_proj.weight"].flat[0]), f"{tower}.{i} v order")
    for key, name in names.items():
        ref = t[name]
        s, q, first = got["arrays"][key]
        check(close(s, ref.sum()) and close(q, (ref ** 2).sum()) and
              np.float32(first) == np.float32(ref.flat[0]), f"{folder}: {key} ({name}): {s} vs {ref.sum()}")


def edit_safetensors(path, change):
    """Rewrites the file with change(header, tensors) applied (numpy arrays, F32)."""
    header, t = read_safetensors(path)
    change(t)
    hdr, blobs, off = {}, [], 0
    for name, a in t.items():
        kind = "I64" if a.dtype == np.int64 else "F32"
        b = a.astype("<i8" if kind == "I64" else "<f4").tobytes()
        hdr[name] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    text = json.dumps(hdr).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    tmp = tempfile.mkdtemp(prefix="clip-weights-")
    try:
        runs = [("tiny", "F32", "quick_gelu", []), ("tiny", "F16", "gelu", []),
                ("small", "BF16", "quick_gelu", []), ("small", "F16", "gelu", ["--sparse-config"]),
                ("tiny", "F32", "quick_gelu", ["--sparse-config"])]
        for k, (size, dtype, act, extra) in enumerate(runs):
            folder = os.path.join(tmp, f"m{k}")
            subprocess.run([GEN, folder, "--size", size, "--dtype", dtype, "--act", act,
                            "--seed", str(k)] + extra, check=True)
            compare(folder, 0 if act == "quick_gelu" else 1)
        base = os.path.join(tmp, "m0")
        st = "model.safetensors"

        def broken(name, damage, expect):
            folder = os.path.join(tmp, name)
            shutil.copytree(base, folder)
            damage(folder)
            rc, out = dump(folder)
            check(rc == 1 and all(e in out for e in expect), f"{name}: {rc} {out[:300]}")

        def drop(t):
            del t["text_model.encoder.layers.1.mlp.fc2.bias"]

        def reshape(t):
            t["visual_projection.weight"] = t["visual_projection.weight"].T.copy()

        def integer(t):
            t["text_model.final_layer_norm.bias"] = np.zeros(32, np.int64)

        broken("missing", lambda f: edit_safetensors(os.path.join(f, st), drop),
               [st, "text_model.encoder.layers.1.mlp.fc2.bias", "missing"])
        broken("shape", lambda f: edit_safetensors(os.path.join(f, st), reshape),
               [st, "visual_projection.weight", "[32,16]", "[16,32]"])
        broken("integer", lambda f: edit_safetensors(os.path.join(f, st), integer),
               [st, "text_model.final_layer_norm.bias", "I64"])
        broken("truncated", lambda f: open(os.path.join(f, st), "r+b").truncate(
            os.path.getsize(os.path.join(f, st)) - 100), [st, "truncated"])
        broken("no weights", lambda f: os.remove(os.path.join(f, st)), [st, "no such file"])
        # weights in another format: named, with what to get instead
        for other in ("pytorch_model.bin", "open_clip_model.safetensors"):
            broken("other " + other,
                   lambda f, other=other: os.rename(os.path.join(f, st), os.path.join(f, other)),
                   [other, "no model.safetensors", "one model.safetensors file"])
        broken("no config", lambda f: os.remove(os.path.join(f, "config.json")), ["config.json"])

        def config(text):
            return lambda f: open(os.path.join(f, "config.json"), "w").write(text)
        broken("bad json", config("{"), ["config.json"])
        broken("bad act", config('{"text_config": {"hidden_act": "relu"}}'),
               ["text_config.hidden_act", "relu"])
        broken("bad heads", config('{"vision_config": {"hidden_size": 30, "num_attention_heads": 4}}'),
               ["vision_config.hidden_size"])
        broken("bad width", config('{"vision_config": {"hidden_size": "wide"}}'),
               ["vision_config.hidden_size"])
        # the config says B/32 (defaults) while the weights are tiny
        broken("defaults vs tiny weights", config("{}"), [st, "shape"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print("ok")


main()
