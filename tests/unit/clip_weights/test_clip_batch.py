"""capsearch embed in batches, with threads and in int8, against numpy_clip.py
(float64): many images and texts of different lengths in one call, split
unevenly over workers; --threads 1 --batch 1 gives the same numbers; the int8
path stays within cosine 0.995 of the reference, and the f16 one (float16
weights, through the few-row kernel at a batch of one and widened panels for
sgemm at larger batches) within 0.9999; --dump-layers writes every
layer, ending with the printed embedding; bad options are refused."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_clip  # noqa: E402

CAPSEARCH, GEN = sys.argv[1], sys.argv[2]
TOLERANCE = 1e-4
INT8_MIN_COSINE = 0.995
F16_MIN_COSINE = 0.9999
failures = 0


def fail(message):
    global failures
    failures += 1
    print("FAIL", message)


def embed(folder, args):
    proc = subprocess.run([CAPSEARCH, "embed", "--model", folder, "--json"] + args,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"embed {args[:6]}: {proc.stderr}")
    return json.loads(proc.stdout)


def write_ppm(path, w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x * y) % 256], -1)
    noise = rng.integers(0, 60, (h, w, 3))
    rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + rgb.tobytes())


def strip_vision(path):
    """Rewrites a safetensors file without the vision tower's tensors (the
    header only: the data offsets stay valid)."""
    with open(path, "rb") as f:
        blob = f.read()
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    header = {k: v for k, v in header.items()
              if not k.startswith(("vision_model.", "visual_projection."))}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + blob[8 + size:])


def vectors(doc):
    return np.array([item["embedding"] for item in doc["embeddings"]], dtype=np.float64)


def main():
    tmp = tempfile.mkdtemp(prefix="clip-batch-")
    try:
        folder = os.path.join(tmp, "model")
        subprocess.run([GEN, folder, "--size", "small", "--dtype", "F16", "--act", "gelu",
                        "--seed", "7"], check=True)
        cfg = json.load(open(os.path.join(folder, "config.json")))
        s = cfg["vision_config"]["image_size"]
        end = cfg["text_config"]["vocab_size"] - 1

        # the reference for each image, from its preprocessed tensor
        images, want_images = [], []
        for i in range(7):
            path = os.path.join(tmp, f"img{i}.ppm")
            write_ppm(path, s + 13 * i, s + 5 * (6 - i), i)
            images.append(path)
            dumped = os.path.join(tmp, f"img{i}.f32")
            embed(folder, ["--dump-input", dumped, "--image", path])
            tensor = np.fromfile(dumped, "<f4").reshape(3, s, s).astype(np.float64)
            want_images.append(numpy_clip.image_embedding(folder, tensor))
        want_images = np.array(want_images)

        texts = ["a photo of a cat", "", "dog", "the photo of the dog at the beach " * 3,
                 "x", "Caf\u00e9 & cr\u00e8me", "two dogs", "a", "photos of " * 40]
        want_texts = []
        for text in texts:
            ids = json.loads(subprocess.run([CAPSEARCH, "tokenize", "--model", folder, "--json",
                                             "--", text], capture_output=True,
                                            check=True).stdout)["ids"]
            want_texts.append(numpy_clip.text_embedding(folder, ids, end))
        want_texts = np.array(want_texts)

        runs = {}
        for label, args in (("batch 4, 2 threads", ["--batch", "4", "--threads", "2"]),
                            ("batch 16, 3 threads", ["--batch", "16", "--threads", "3"]),
                            ("batch 1, 1 thread", ["--batch", "1", "--threads", "1"]),
                            ("batch 2, 2 threads", ["--batch", "2", "--threads", "2"])):
            got_images = vectors(embed(folder, args + ["--image"] + images))
            got_texts = vectors(embed(folder, args + ["--text", "--"] + texts))
            runs[label] = (got_images, got_texts)
            for what, got, want in (("images", got_images, want_images),
                                    ("texts", got_texts, want_texts)):
                diff = float(np.abs(got - want).max())
                print(f"{label} {what}: max abs diff {diff:.3g}")
                if got.shape != want.shape or diff > TOLERANCE:
                    fail(f"{label} {what}: {diff:.3g}")
        base = runs["batch 1, 1 thread"]
        for label, (got_images, got_texts) in runs.items():
            diff = max(float(np.abs(got_images - base[0]).max()),
                       float(np.abs(got_texts - base[1]).max()))
            if diff > 1e-6:
                fail(f"{label} differs from batch 1, 1 thread by {diff:.3g}")

        # int8: close to the float64 reference by cosine
        for threads in ("1", "2"):
            doc = embed(folder, ["--precision", "int8", "--threads", threads, "--batch", "4",
                                 "--image"] + images)
            if not doc["precision"].startswith("int8"):
                fail(f"int8 run reports {doc['precision']!r}")
            got_images = vectors(doc)
            got_texts = vectors(embed(folder, ["--precision", "int8", "--threads", threads,
                                               "--text", "--"] + texts))
            for what, got, want in (("images", got_images, want_images),
                                    ("texts", got_texts, want_texts)):
                cosine = float((got * want).sum(1).min())
                print(f"int8 ({doc['precision']}), {threads} thread(s), {what}: worst cosine "
                      f"{cosine:.5f}")
                if cosine < INT8_MIN_COSINE:
                    fail(f"int8 {what}: cosine {cosine:.5f}")

        # f16: the few-row kernel (batch 1, 1 and 2 threads sharing each
        # GEMM) and widened panels (7 images x 17 tokens in one worker)
        for args in (["--batch", "1", "--threads", "1"], ["--batch", "1", "--threads", "2"],
                     ["--batch", "16", "--threads", "1"]):
            doc = embed(folder, ["--precision", "f16"] + args + ["--image"] + images)
            if doc["precision"] != "f16":
                fail(f"f16 run reports {doc['precision']!r}")
            got_texts = vectors(embed(folder, ["--precision", "f16"] + args +
                                      ["--text", "--"] + texts))
            for what, got, want in (("images", vectors(doc), want_images),
                                    ("texts", got_texts, want_texts)):
                cosine = float((got * want).sum(1).min())
                print(f"f16 {' '.join(args)}, {what}: worst cosine {cosine:.7f}")
                if got.shape != want.shape or cosine < F16_MIN_COSINE:
                    fail(f"f16 {args} {what}: cosine {cosine:.7f}")

        # --dump-layers: every layer of the first input, the last = the output
        layers_dir = os.path.join(tmp, "layers")
        for what, inputs, want_names in (
                ("image", images[:2], ["vision.embeddings", "vision.pre_layrnorm"] +
                 [f"vision.layer.{i}" for i in range(cfg["vision_config"]["num_hidden_layers"])]
                 + ["vision.post_layernorm", "vision.embeds"]),
                ("text", texts[:2], ["text.embeddings"] +
                 [f"text.layer.{i}" for i in range(cfg["text_config"]["num_hidden_layers"])] +
                 ["text.final_layer_norm", "text.embeds"])):
            shutil.rmtree(layers_dir, ignore_errors=True)
            doc = embed(folder, ["--dump-layers", layers_dir, "--" + what] + inputs)
            listing = json.load(open(os.path.join(layers_dir, "layers.json")))["layers"]
            names = [layer["name"] for layer in listing]
            if names != want_names:
                fail(f"dump {what}: layers {names}")
                continue
            for layer in listing:
                data = np.fromfile(os.path.join(layers_dir, layer["name"] + ".f32"), "<f4")
                if data.size != int(np.prod(layer["shape"])) or not np.isfinite(data).all():
                    fail(f"dump {what}: {layer['name']} has {data.size} values for "
                         f"{layer['shape']}")
            last = np.fromfile(os.path.join(layers_dir, want_names[-1] + ".f32"), "<f4")
            if np.abs(last - vectors(doc)[0]).max() > 1e-6:
                fail(f"dump {what}: the last layer is not the first embedding")

        # bad options
        for args in (["--precision", "fp16"], ["--threads", "0"], ["--batch", "0"],
                     ["--batch", "x"]):
            proc = subprocess.run([CAPSEARCH, "embed", "--model", folder] + args +
                                  ["--text", "x"], capture_output=True, text=True)
            if proc.returncode == 0 or "capsearch" not in proc.stderr:
                fail(f"embed {args} was accepted: {proc.returncode} {proc.stderr}")
        proc = subprocess.run([CAPSEARCH, "embed", "--model", folder, "--dump-layers",
                               os.path.join(tmp, "no", "such", "dir"), "--text", "x"],
                              capture_output=True, text=True)
        if proc.returncode != 1 or "cannot create" not in proc.stderr:
            fail(f"dump into a missing parent: {proc.returncode} {proc.stderr}")

        # texts read the text tower alone: a model without its vision
        # tensors embeds them exactly as the whole model does, in every
        # precision, and refuses pictures naming what is missing
        textual = os.path.join(tmp, "text-only")
        shutil.copytree(folder, textual)
        strip_vision(os.path.join(textual, "model.safetensors"))
        for precision in ("f32", "int8", "f16"):
            args = ["--precision", precision, "--text", "--"] + texts
            if not np.array_equal(vectors(embed(textual, args)), vectors(embed(folder, args))):
                fail(f"{precision}: texts differ without the vision tower")
        proc = subprocess.run([CAPSEARCH, "embed", "--model", textual, "--image", images[0]],
                              capture_output=True, text=True)
        if proc.returncode != 1 or "vision_model" not in proc.stderr:
            fail(f"pictures without the vision tower: {proc.returncode} {proc.stderr}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        sys.exit(1)
    print("ok")


main()
