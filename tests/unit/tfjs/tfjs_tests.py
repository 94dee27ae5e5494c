#!/usr/bin/python3
"""The interpreter's parity tests against TF.js (tests/tfjs, run with Node).

  tfjs_tests.py ops    CHECK TFJS_DIR   op-level: every op x attribute case
  tfjs_tests.py models CHECK TFJS_DIR   centernet, blazeface, emotion on photos
  tfjs_tests.py bad    CHECK            hostile and broken models are refused

CHECK is the built tfjs_check. ops/models need node and `npm ci` in
tests/tfjs (models also the models from tools/fetch-models.sh and the sample
photos); without them they skip (77) unless CAPSEARCH_REQUIRE_MODELS=1.
Set TFJS_LAYERS=1 to compare every node of the models (finds where a
divergence starts) and TFJS_KEEP=DIR to keep the generated files."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77
REQUIRE = os.environ.get("CAPSEARCH_REQUIRE_MODELS") == "1"
MODELS = ("centernet", "blazeface", "emotion", "nanodet")
PHOTOS = ("photos/astronaut.png", "photos/chelsea.png", "photos/coffee.png",
          "photos/motorcycle_left.png", "wallpapers/Kite.jpg")


def skip(why):
    if REQUIRE:
        print(f"required but missing: {why}")
        sys.exit(1)
    print(f"skipped: {why}")
    sys.exit(SKIP)


def need_node(tfjs_dir):
    node = shutil.which("node")
    if not node:
        skip("node is not installed")
    if not os.path.isdir(os.path.join(tfjs_dir, "node_modules", "@tensorflow", "tfjs")):
        skip(f"npm modules missing: run `npm ci` in {tfjs_dir}")
    return node


def models_dir():
    root = os.environ.get("CAPSEARCH_MODELS") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"),
        "capsearch", "models")
    d = os.path.join(root, "human-models-3.0.4")
    for m in MODELS:
        if not os.path.isfile(os.path.join(d, m + ".json")):
            skip(f"model {m} missing in {d}: run tools/fetch-models.sh")
    return d


def samples_dir():
    d = os.environ.get("CAPSEARCH_SAMPLES") or os.path.expanduser("~/.cache/capsearch/samples")
    for p in PHOTOS:
        if not os.path.isfile(os.path.join(d, p)):
            skip(f"sample photo {p} missing in {d}: run tools/fetch-samples.sh")
    return d


def workdir():
    keep = os.environ.get("TFJS_KEEP")
    if keep:
        os.makedirs(keep, exist_ok=True)
        return keep, None
    t = tempfile.TemporaryDirectory(prefix="tfjs-")
    return t.name, t


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kw).returncode


# ---- model inputs: one fixed recipe, written as float32 so both sides read
# the same numbers (only the graph is compared) ----

def write_f32(path, values):
    with open(path, "wb") as f:
        f.write(struct.pack(f"<{len(values)}f", *values))


def model_inputs(samples, out):
    from PIL import Image
    cases = []
    mdir = models_dir()
    for i, rel in enumerate(PHOTOS):
        img = Image.open(os.path.join(samples, rel)).convert("RGB")
        stem = os.path.splitext(os.path.basename(rel))[0]
        # centernet: 512x512 RGB 0..255 (stretch, bilinear)
        c = img.resize((512, 512), Image.BILINEAR)
        write_f32(os.path.join(out, f"{stem}.cn.f32"), [float(v) for px in c.getdata() for v in px])
        cases.append({"name": f"centernet/{stem}", "model": os.path.join(mdir, "centernet.json"),
                      "input": {"file": f"{stem}.cn.f32", "shape": [1, 512, 512, 3]},
                      "wasm_check": i == 0, "atol": 1e-3, "rtol": 1e-3})
        # blazeface: 256x256 RGB in [-1, 1]
        b = img.resize((256, 256), Image.BILINEAR)
        write_f32(os.path.join(out, f"{stem}.bf.f32"),
                  [v / 127.5 - 1.0 for px in b.getdata() for v in px])
        cases.append({"name": f"blazeface/{stem}", "model": os.path.join(mdir, "blazeface.json"),
                      "input": {"file": f"{stem}.bf.f32", "shape": [1, 256, 256, 3]},
                      "wasm_check": i == 0, "atol": 1e-3, "rtol": 1e-3})
        # emotion: the centre square, 64x64 grey in [-1, 1] (batch 1)
        w, h = img.size
        side = min(w, h)
        sq = img.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
        e = sq.resize((64, 64), Image.BILINEAR)
        grey = [(0.2989 * r + 0.5870 * g + 0.1140 * b_) / 255.0 for r, g, b_ in e.getdata()]
        write_f32(os.path.join(out, f"{stem}.em.f32"), [(g - 0.5) * 2.0 for g in grey])
        cases.append({"name": f"emotion/{stem}", "model": os.path.join(mdir, "emotion.json"),
                      "input": {"file": f"{stem}.em.f32", "shape": [1, 64, 64, 1]},
                      "wasm_check": i == 0, "atol": 1e-3, "rtol": 1e-3})
        # nanodet (two photos; slower on TF.js's CPU backend): NCHW 416x416,
        # BGR, (x - mean) / std as the model was trained
        if i < 2:
            n = img.resize((416, 416), Image.BILINEAR)
            mean, std = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
            px = list(n.getdata())
            planes = [(p[ch] - mean[k]) / std[k] for k, ch in enumerate((2, 1, 0)) for p in px]
            write_f32(os.path.join(out, f"{stem}.nd.f32"), planes)
            cases.append({"name": f"nanodet/{stem}", "model": os.path.join(mdir, "nanodet.json"),
                          "input": {"file": f"{stem}.nd.f32", "shape": [1, 3, 416, 416]},
                          "wasm_check": i == 0, "atol": 1e-3, "rtol": 1e-3})
    if os.environ.get("TFJS_LAYERS") == "1":
        for c in cases:
            c["layers"] = True
    return cases


def cmd_models(check, tfjs_dir):
    node = need_node(tfjs_dir)
    samples = samples_dir()
    models_dir()
    out, keep = workdir()
    spec = os.path.join(out, "models.json")
    with open(spec, "w") as f:
        json.dump({"cases": model_inputs(samples, out)}, f, indent=1)
    if run([node, os.path.join(tfjs_dir, "reference.mjs"), spec]) != 0:
        return 1
    return run([check, os.path.join(out, "models.expected.json")])


def cmd_ops(check, tfjs_dir):
    node = need_node(tfjs_dir)
    out, keep = workdir()
    if run([node, os.path.join(tfjs_dir, "gen_ops.mjs"), out]) != 0:
        return 1
    return run([check, os.path.join(out, "ops.json")])


def cmd_bad(check):
    import bad_models
    out, keep = workdir()
    bad_models.write_all(out)
    return run([check, os.path.join(out, "bad.json")])


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    kind, check = sys.argv[1], sys.argv[2]
    if kind == "models":
        return cmd_models(check, sys.argv[3])
    if kind == "ops":
        return cmd_ops(check, sys.argv[3])
    if kind == "bad":
        return cmd_bad(check)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
