"""`capsearch embed` against tools/torch_clip.py (CLIP in PyTorch, float32,
written from the model's description) on models from tools/gen-test-clip:
tiny and small, F32 and F16, quick_gelu and gelu, and one whose image size
(60, patch 12) is not a multiple of 32, in BF16.

Checks, each within 1e-4 (max abs diff):
  - image embeddings of random PNGs and of the sample photos, all in one
    batched `embed` call, against torch on the tensor `--dump-input` wrote
    for that image (the towers are checked here; preprocessing has its own
    test);
  - text embeddings of a handful of strings (empty, unicode, one cut to the
    context length), in one call, against torch on `capsearch tokenize`'s ids;
  - every layer `embed --dump-layers DIR` lists (one image, two texts) against
    torch's activation of the same name, within 1e-4 * max(1, max|ref|); the
    first layer that diverges is reported;
  - `embed --precision int8` on the small models: cosine similarity with
    torch's float32 embeddings at least 0.995 (reported).

Exit 77 (skipped) without python3-torch unless CAPSEARCH_REQUIRE_MODELS=1.
The sample photos (tools/fetch-samples.sh) are skipped when absent unless
CAPSEARCH_REQUIRE_SAMPLES=1.

usage: test_clip_torch.py CAPSEARCH GEN_TEST_CLIP TORCH_CLIP_PY"""
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.machinery import SourceFileLoader

import numpy as np

CAPSEARCH, GEN, TORCH_CLIP = sys.argv[1:4]
TOLERANCE = 1e-4
INT8_MIN_COSINE = 0.995
SAMPLES = os.environ.get("CAPSEARCH_SAMPLES") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "capsearch", "samples")
TEXTS = [
    "a photo of the cat",
    "",
    "Dogs & cats, 2 of them!",
    "café über naïve — 東京の夜景 🐱 don’t",
    "  tabs\tand\nnew lines  ",
    "a very long caption that goes on and on " * 6,   # past 77 tokens: cut, end token kept
]
LONG_TEXT = 5

try:
    import torch
except ImportError:
    if os.environ.get("CAPSEARCH_REQUIRE_MODELS") == "1":
        print("FAIL python3-torch is not installed (CAPSEARCH_REQUIRE_MODELS=1)")
        sys.exit(1)
    print("python3-torch is not installed: skipping")
    sys.exit(77)
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(TORCH_CLIP)))
import torch_clip  # noqa: E402


def load_generator():
    """tools/gen-test-clip as a module, to add a size it does not offer."""
    loader = SourceFileLoader("gen_test_clip", GEN)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


class Checker:
    def __init__(self, tmp):
        self.tmp = tmp
        self.failures = 0
        self.checks = 0
        self.worst = 0.0
        self.worst_layer_ratio = 0.0
        self.int8_cosines = []

    def fail(self, message):
        print("FAIL", message, flush=True)
        self.failures += 1

    def run(self, args, what):
        proc = subprocess.run([CAPSEARCH] + args, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            self.fail(f"{what}: capsearch {' '.join(args[:6])} ... exited {proc.returncode}: "
                      f"{proc.stderr.strip()[:500]}")
            return None
        return proc.stdout

    def embed(self, folder, args, what):
        out = self.run(["embed", "--model", folder, "--json"] + args, what)
        if out is None:
            return None
        return [np.array(e["embedding"], dtype=np.float64) for e in json.loads(out)["embeddings"]]

    def compare(self, what, got, want):
        self.checks += 1
        diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        self.worst = max(self.worst, diff)
        if diff > TOLERANCE:
            self.fail(f"{what}: max abs diff {diff:.3g} (shape {got.shape} vs {want.shape})")

    def compare_layers(self, what, dump_dir, ref):
        """Every layer capsearch listed against torch's; the set of names must
        be the same. Reports the first layer beyond tolerance."""
        try:
            with open(os.path.join(dump_dir, "layers.json")) as f:
                listing = json.load(f)["layers"]
        except (OSError, ValueError, KeyError) as e:
            self.fail(f"{what}: no usable layers.json in {dump_dir}: {e}")
            return
        names = [layer["name"] for layer in listing]
        missing = [n for n in ref if n not in names]
        unknown = [n for n in names if n not in ref]
        if missing or unknown:
            self.fail(f"{what}: layers missing from the dump {missing}, unknown to torch {unknown}")
        first_bad = None
        for layer in listing:
            name, shape = layer["name"], tuple(layer["shape"])
            if name not in ref:
                continue
            self.checks += 1
            want = ref[name].numpy().astype(np.float64)
            path = os.path.join(dump_dir, name + ".f32")
            got = np.fromfile(path, "<f4") if os.path.isfile(path) else np.zeros(0, np.float32)
            if shape != want.shape or got.size != want.size:
                self.fail(f"{what}: layer {name}: listed shape {list(shape)}, {got.size} floats "
                          f"in the file, torch's shape {list(want.shape)}")
                continue
            got = got.reshape(shape).astype(np.float64)
            diff = float(np.abs(got - want).max())
            allowed = TOLERANCE * max(1.0, float(np.abs(want).max()))
            self.worst_layer_ratio = max(self.worst_layer_ratio, diff / allowed)
            if diff > allowed and first_bad is None:
                first_bad = (name, diff, allowed)
        if first_bad:
            name, diff, allowed = first_bad
            self.fail(f"{what}: first diverging layer {name}: max abs diff {diff:.3g} > "
                      f"{allowed:.3g}")

    def cosines(self, what, got, want):
        for i, (g, w) in enumerate(zip(got, want)):
            cos = float(g @ w / (np.linalg.norm(g) * np.linalg.norm(w)))
            self.int8_cosines.append(cos)
            self.checks += 1
            if not cos >= INT8_MIN_COSINE:
                self.fail(f"{what} #{i}: int8 cosine {cos:.4f} < {INT8_MIN_COSINE}")


def write_random_pngs(rng, tmp, count, tag):
    """Noise over gradients at random sizes, both orientations."""
    paths = []
    for i in range(count):
        w, h = (int(v) for v in rng.integers(16, 320, 2))
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255 / w, y * 255 / h, (x + 2 * y) % 256], -1)
        rgb = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        path = os.path.join(tmp, f"{tag}-random{i}.png")
        Image.fromarray(rgb, "RGB").save(path)
        paths.append(path)
    return paths


def sample_photos():
    if os.path.isfile(os.path.join(SAMPLES, ".complete")):
        photos = sorted(glob.glob(os.path.join(SAMPLES, "photos", "*")))
        if photos:
            return photos
    if os.environ.get("CAPSEARCH_REQUIRE_SAMPLES") == "1":
        print(f"FAIL no sample photos in {SAMPLES} (run tools/fetch-samples.sh)")
        sys.exit(1)
    print(f"no sample photos in {SAMPLES}: random images only")
    return []


def check_model(c, folder, tag, images, int8):
    model = torch_clip.load(folder)
    s = model.image_size

    # images: each alone with its tensor (--dump-input), then all in one call
    tensors, alone = [], []
    for image in images:
        dump = os.path.join(c.tmp, "input.f32")
        single = c.embed(folder, ["--dump-input", dump, "--image", image],
                         f"{tag} embed --dump-input {os.path.basename(image)}")
        if single is None:
            return
        alone.append(single[0])
        tensors.append(torch_clip.read_pixels(dump, s))
    pixels = torch.cat(tensors)
    want = torch_clip.embed_images(model, pixels).numpy().astype(np.float64)
    got = c.embed(folder, ["--image"] + images, f"{tag} embed --image (batch)")
    if got is not None and len(got) != len(images):
        c.fail(f"{tag}: {len(got)} embeddings for {len(images)} images")
        got = None
    for i, image in enumerate(images):
        name = os.path.basename(image)
        c.compare(f"{tag} image {name} alone", alone[i], want[i])
        if got is not None:
            c.compare(f"{tag} image {name} in a batch", got[i], want[i])

    # texts: one batched call, torch on the tokenizer's ids
    ids = []
    for text in TEXTS:
        out = c.run(["tokenize", "--model", folder, "--json", "--", text], f"{tag} tokenize")
        if out is None:
            return
        doc = json.loads(out)
        ids.append(doc["ids"])
        if text == TEXTS[LONG_TEXT] and not doc["truncated"]:
            c.fail(f"{tag}: the long text was expected to be cut ({len(doc['ids'])} ids)")
    want_text = torch_clip.embed_ids(model, ids).numpy().astype(np.float64)
    got = c.embed(folder, ["--text"] + TEXTS, f"{tag} embed --text")
    if got is not None and len(got) != len(TEXTS):
        c.fail(f"{tag}: {len(got)} embeddings for {len(TEXTS)} texts")
    elif got is not None:
        for text, g, w in zip(TEXTS, got, want_text):
            c.compare(f"{tag} text {text[:24]!r}", g, w)

    # layer by layer: the first image, a short text and the cut one
    cases = [(["--image", images[0]], torch_clip.layers_of_image(model, pixels[:1]), "image")]
    for k in (0, LONG_TEXT):
        cases.append((["--text", TEXTS[k]], torch_clip.layers_of_ids(model, ids[k]),
                      f"text {TEXTS[k][:16]!r}"))
    for args, ref, name in cases:
        dump_dir = os.path.join(c.tmp, f"layers-{tag}")
        shutil.rmtree(dump_dir, ignore_errors=True)
        if c.embed(folder, ["--dump-layers", dump_dir] + args,
                   f"{tag} --dump-layers {name}") is not None:
            c.compare_layers(f"{tag} layers of {name}", dump_dir, ref)

    if int8:
        got = c.embed(folder, ["--precision", "int8", "--image"] + images, f"{tag} int8 images")
        if got is not None:
            c.cosines(f"{tag} int8 image", got, want)
        got = c.embed(folder, ["--precision", "int8", "--text"] + TEXTS, f"{tag} int8 texts")
        if got is not None:
            c.cosines(f"{tag} int8 text", got, want_text)
    print(f"{tag}: checked ({len(images)} images, {len(TEXTS)} texts)", flush=True)


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    photos = sample_photos()
    tmp = tempfile.mkdtemp(prefix="clip-torch-")
    c = Checker(tmp)
    rng = np.random.default_rng(7)
    gen = load_generator()
    gen.SIZES["odd"] = dict(vision=(40, 2, 5, 96), patch=12, image=60, text=(40, 3, 5, 72),
                            proj=20)
    runs = [("tiny", "F32", "quick_gelu", False), ("tiny", "F16", "gelu", False),
            ("small", "F32", "gelu", True), ("small", "F16", "quick_gelu", True),
            ("odd", "BF16", "gelu", False)]
    try:
        for k, (size, dtype, act, int8) in enumerate(runs):
            tag = f"{size}-{dtype}-{act}"
            folder = os.path.join(tmp, tag)
            gen.generate(folder, size, dtype, act, 300 + k, False)
            images = write_random_pngs(rng, tmp, 3, tag) + photos
            check_model(c, folder, tag, images, int8)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{c.checks} checks; worst embedding max abs diff {c.worst:.3g} (tolerance "
          f"{TOLERANCE}); worst layer diff {c.worst_layer_ratio:.3g} of its tolerance")
    if c.int8_cosines:
        print(f"int8 vs torch float32: cosine min {min(c.int8_cosines):.5f}, mean "
              f"{float(np.mean(c.int8_cosines)):.5f} over {len(c.int8_cosines)} embeddings")
    if c.failures:
        print(f"{c.failures} failure(s)")
        sys.exit(1)
    print("ok")


main()
