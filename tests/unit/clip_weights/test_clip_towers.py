"""Both CLIP towers in C against numpy_clip.py (float64, written from the
forward pass as documented) on models from tools/gen-test-clip: several
sizes, F32/F16/BF16 weights, quick_gelu and gelu; random image tensors and
token ids (with padding after the end token, which must not matter).
Embeddings within 1e-4 (max abs diff)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_clip  # noqa: E402

RUN, GEN = sys.argv[1], sys.argv[2]
TOLERANCE = 1e-4


def check_cli(capsearch, folder, tmp):
    """capsearch embed: texts through its own tokenizer, images through its
    own decoding and preprocessing (--dump-input), against the reference."""
    failures = 0
    texts = ["a photo of the cat", "", "Dogs & cats, 2 of them!"]
    doc = json.loads(subprocess.run([capsearch, "embed", "--model", folder, "--json", "--text"]
                                    + texts, capture_output=True, check=True).stdout)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    end = cfg["text_config"]["vocab_size"] - 1
    for text, item in zip(texts, doc["embeddings"]):
        ids = json.loads(subprocess.run([capsearch, "tokenize", "--model", folder, "--json", "--",
                                         text], capture_output=True, check=True).stdout)["ids"]
        diff = float(np.abs(np.array(item["embedding"]) -
                            numpy_clip.text_embedding(folder, ids, end)).max())
        if diff > TOLERANCE:
            print(f"FAIL embed --text {text!r}: {diff:.3g}")
            failures += 1
    # an image: a PNG written here, embedded from its preprocessed tensor
    s = cfg["vision_config"]["image_size"]
    image = os.path.join(tmp, "gradient.ppm")
    w, h = 3 * s // 2, s + 7
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], -1).astype(np.uint8)
    with open(image, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + rgb.tobytes())
    dumped = os.path.join(tmp, "input.f32")
    doc = json.loads(subprocess.run([capsearch, "embed", "--model", folder, "--json",
                                     "--dump-input", dumped, "--image", image],
                                    capture_output=True, check=True).stdout)
    tensor = np.fromfile(dumped, "<f4").reshape(3, s, s).astype(np.float64)
    diff = float(np.abs(np.array(doc["embeddings"][0]["embedding"]) -
                        numpy_clip.image_embedding(folder, tensor)).max())
    if diff > TOLERANCE:
        print(f"FAIL embed --image: {diff:.3g}")
        failures += 1
    # bad input: not an image, a missing model
    for args in (["--model", folder, "--image", dumped], ["--model", tmp, "--text", "x"]):
        proc = subprocess.run([capsearch, "embed"] + args, capture_output=True, text=True)
        if proc.returncode != 1 or "capsearch:" not in proc.stderr:
            print(f"FAIL embed {args}: {proc.returncode} {proc.stderr}")
            failures += 1
    print("cli: capsearch embed checked")
    return failures


def main():
    tmp = tempfile.mkdtemp(prefix="clip-towers-")
    failures = 0
    worst = 0.0
    rng = np.random.default_rng(11)
    try:
        runs = [("tiny", "F32", "quick_gelu"), ("tiny", "F16", "gelu"),
                ("small", "BF16", "gelu"), ("small", "F32", "quick_gelu")]
        for k, (size, dtype, act) in enumerate(runs):
            folder = os.path.join(tmp, f"m{k}")
            subprocess.run([GEN, folder, "--size", size, "--dtype", dtype, "--act", act,
                            "--seed", str(100 + k)], check=True)
            cfg = json.load(open(os.path.join(folder, "config.json")))
            s = cfg["vision_config"]["image_size"]
            vocab = cfg["text_config"]["vocab_size"]
            start, end = vocab - 2, vocab - 1
            for trial in range(3):
                pixels = rng.standard_normal((3, s, s)).astype(np.float32)
                path = os.path.join(tmp, "pixels.f32")
                pixels.tofile(path)
                body = list(rng.integers(0, vocab - 2, rng.integers(0, 20)))
                ids = [start] + body + [end] + [end] * trial + [0] * (2 * trial)
                proc = subprocess.run([RUN, folder, path, str(end)] + [str(i) for i in ids],
                                      capture_output=True, text=True, timeout=300)
                if proc.returncode != 0:
                    print(f"FAIL {size}/{dtype}/{act}: {proc.stdout} {proc.stderr}")
                    failures += 1
                    continue
                got = json.loads(proc.stdout)
                want_image = numpy_clip.image_embedding(folder, pixels.astype(np.float64))
                want_text = numpy_clip.text_embedding(folder, ids, end)
                for what, g, w in (("image", got["image"], want_image),
                                   ("text", got["text"], want_text)):
                    diff = float(np.abs(np.array(g) - w).max())
                    worst = max(worst, diff)
                    if diff > TOLERANCE:
                        print(f"FAIL {size}/{dtype}/{act} {what}: max abs diff {diff:.3g}")
                        failures += 1
        # bad input: an id outside the vocabulary, too many tokens
        folder = os.path.join(tmp, "m0")
        for ids in (["5", "999999"], [str(1)] * 100):
            proc = subprocess.run([RUN, folder, path, "1"] + ids, capture_output=True, text=True)
            if proc.returncode != 1 or "error:" not in proc.stdout:
                print(f"FAIL bad ids {ids[:3]}: {proc.stdout}")
                failures += 1
        if len(sys.argv) > 3:
            failures += check_cli(sys.argv[3], os.path.join(tmp, "m2"), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"worst max abs diff {worst:.3g} (tolerance {TOLERANCE})")
    if failures:
        sys.exit(1)
    print("ok")


main()
