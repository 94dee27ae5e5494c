"""CLIP image preprocessing in C (src/models/clip/preprocess.c) against the
Python reference: Pillow's Image.resize((w, h), BICUBIC) (reducing_gap=None,
the default used by torchvision and HF), HF's centre crop ((len - size) // 2),
then numpy: (v / 255 - mean) / std in float64, CHW.

Requirements: every resized uint8 image bit-exact with Pillow's (max abs diff
0), every tensor within 1e-6 of the reference.

Cases: random images of random sizes (1x1 to a few hundred, both directions,
one axis only, unchanged), random output sizes and model sizes; the sample
photos and wallpapers (tools/fetch-samples.sh) decoded by Pillow, at several
model sizes, portrait, panorama crops and upscaled small images. The samples
are skipped when absent unless CAPSEARCH_REQUIRE_SAMPLES=1.

The C decoder (image_decode) against Pillow's decoding is measured and printed
for information only: it is not the resize's business.

Usage: test_clip_preprocess.py CLIP_PREPROCESS_RUN"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

RUN = sys.argv[1]
TOLERANCE = 1e-6
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
BICUBIC = getattr(Image, "Resampling", Image).BICUBIC
SAMPLES = os.environ.get("CAPSEARCH_SAMPLES") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "capsearch", "samples")


def ref_dims(w, h, size):
    """torchvision Resize / HF get_resize_output_image_size."""
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    return (size, new_long) if w <= h else (new_long, size)


def ref_resize(arr, ow, oh):
    img = Image.fromarray(arr, "RGB")
    return np.asarray(img.resize((ow, oh), BICUBIC))


def ref_preprocess(arr, size, mean=MEAN, std=STD):
    h, w = arr.shape[:2]
    rw, rh = ref_dims(w, h, size)
    resized = ref_resize(arr, rw, rh)
    top, left = (rh - size) // 2, (rw - size) // 2
    crop = resized[top:top + size, left:left + size]
    x = crop.astype(np.float64) / 255.0
    x = (x - np.array(mean)) / np.array(std)
    return x.transpose(2, 0, 1), crop


def hf_float32(crop, mean=MEAN, std=STD):
    """HF's slow processor arithmetic (rescale in float64 -> float32, then
    normalise in float32), for information."""
    x = (crop.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return x.transpose(2, 0, 1)


class Runner:
    def __init__(self, tmp):
        self.tmp = tmp
        self.failures = 0
        self.cases = 0
        self.worst_resize = 0
        self.worst_tensor = 0.0
        self.worst_hf = 0.0

    def fail(self, msg):
        print("FAIL", msg)
        self.failures += 1

    def check(self, label, arr, out_size=None, size=0, mean=None, std=None):
        """Runs the C driver on arr (H x W x 3 uint8): the resize to out_size
        (w, h) and/or the preprocessing at size, and compares."""
        arr = np.ascontiguousarray(arr, dtype=np.uint8)
        h, w = arr.shape[:2]
        src = os.path.join(self.tmp, "in.rgb")
        rgb_out = os.path.join(self.tmp, "out.rgb")
        f32_out = os.path.join(self.tmp, "out.f32")
        for p in (rgb_out, f32_out):
            if os.path.exists(p):
                os.remove(p)
        arr.tofile(src)
        ow, oh = out_size if out_size else (0, 0)
        args = [RUN, "run", src, str(w), str(h), str(ow), str(oh), rgb_out, str(size), f32_out]
        if mean is not None:
            args += [repr(float(v)) for v in mean] + [repr(float(v)) for v in std]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
        self.cases += 1
        if proc.returncode != 0:
            self.fail(f"{label}: driver exit {proc.returncode}: {proc.stderr.strip()}")
            return
        if out_size:
            got = np.fromfile(rgb_out, dtype=np.uint8).reshape(oh, ow, 3)
            want = ref_resize(arr, ow, oh)
            diff = int(np.abs(got.astype(np.int16) - want.astype(np.int16)).max())
            self.worst_resize = max(self.worst_resize, diff)
            if diff != 0:
                n = int((got != want).sum())
                self.fail(f"{label}: resize {w}x{h} -> {ow}x{oh}: max abs diff {diff} "
                          f"({n} values differ)")
        if size:
            m, s = (mean, std) if mean is not None else (MEAN, STD)
            got = np.fromfile(f32_out, dtype=np.float32).reshape(3, size, size)
            want, crop = ref_preprocess(arr, size, m, s)
            diff = float(np.abs(got.astype(np.float64) - want).max())
            self.worst_tensor = max(self.worst_tensor, diff)
            hf = float(np.abs(got - hf_float32(crop, m, s)).max())
            self.worst_hf = max(self.worst_hf, hf)
            if diff > TOLERANCE:
                self.fail(f"{label}: preprocess {w}x{h} at {size}: max abs diff {diff:.3g}")


def random_image(rng, w, h):
    kind = rng.integers(0, 4)
    if kind == 0:    # noise: every overshoot and clamp
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == 1:    # hard 0/255 blocks: maximal ringing, clamping both ways
        bw, bh = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        yy, xx = np.mgrid[0:h, 0:w]
        board = (((yy // bh) + (xx // bw)) % 2 * 255).astype(np.uint8)
        return np.stack([board, 255 - board, board], axis=2)
    if kind == 2:    # smooth gradient with a little noise
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255.0 / max(w - 1, 1), yy * 255.0 / max(h - 1, 1),
                         (xx + yy) * 127.0 / max(w + h - 2, 1)], axis=2)
        return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    return np.full((h, w, 3), rng.integers(0, 256, 3), dtype=np.uint8)


def random_side(rng):
    r = rng.random()
    if r < 0.2:
        return int(rng.integers(1, 9))
    if r < 0.8:
        return int(rng.integers(9, 301))
    return int(rng.integers(301, 700))


def run_random(runner):
    rng = np.random.default_rng(20240607)
    # fixed edge cases first
    fixed = [((1, 1), (224, 224), 224), ((1, 1), (1, 1), 1), ((1, 1), (3, 5), 7),
             ((2, 3), (5, 1), 3), ((3, 2), (3, 7), 5), ((7, 5), (7, 5), 5),
             ((224, 224), (224, 224), 224), ((225, 224), (224, 224), 224),
             ((1, 300), (1, 13), 4), ((300, 1), (17, 1), 4), ((640, 480), (320, 240), 224),
             ((100, 100), (101, 99), 99), ((513, 257), (19, 500), 224),
             ((5, 997), (3, 5), 3), ((997, 5), (2, 2), 1)]
    for (w, h), out, size in fixed:
        runner.check(f"fixed {w}x{h}", random_image(rng, w, h), out, size)
    for i in range(220):
        w, h = random_side(rng), random_side(rng)
        r = rng.random()
        if r < 0.1:
            ow, oh = w, random_side(rng)          # vertical pass only
        elif r < 0.2:
            ow, oh = random_side(rng), h          # horizontal pass only
        elif r < 0.3:
            ow, oh = max(1, w // 3), max(1, h * 2)
        else:
            ow, oh = random_side(rng), random_side(rng)
        size = int(rng.choice([224, 336, 1, 2, 3, int(rng.integers(1, 320))]))
        mean = std = None
        if i % 7 == 3:   # another model's normalisation
            mean = rng.uniform(0.3, 0.6, 3).astype(np.float32)
            std = rng.uniform(0.2, 0.4, 3).astype(np.float32)
        runner.check(f"random #{i}", random_image(rng, w, h), (ow, oh), size, mean, std)


def load_rgb(path):
    with Image.open(path) as img:
        img.load()
        return np.asarray(img.convert("RGB"))


def run_samples(runner):
    if not os.path.isfile(os.path.join(SAMPLES, ".complete")):
        msg = f"no sample photos in {SAMPLES} (run tools/fetch-samples.sh)"
        if os.environ.get("CAPSEARCH_REQUIRE_SAMPLES") == "1":
            runner.fail(msg)
        else:
            print("SKIP samples:", msg)
        return 0
    photos = sorted(glob.glob(os.path.join(SAMPLES, "photos", "*")))
    walls = sorted(glob.glob(os.path.join(SAMPLES, "wallpapers", "*")))
    # a spread of the wallpapers: 16:10 and 16:9, PNG and JPEG, RGBA, grayscale
    wanted = ["Altai.png", "Autumn.jpg", "Grey.jpg", "Flow.jpg", "Elarun.png",
              "PastelHills.jpg", "Kokkini.png", "Kite.jpg"]
    walls = [p for p in walls if os.path.basename(p) in wanted]
    if len(photos) < 5 or len(walls) < 4:
        runner.fail(f"expected sample photos and wallpapers in {SAMPLES}")
        return 0
    rng = np.random.default_rng(7)
    decode_info = []
    n = 0
    for path in photos + walls:
        name = os.path.basename(path)
        arr = load_rgb(path)
        h, w = arr.shape[:2]
        rw, rh = ref_dims(w, h, 224)
        runner.check(f"{name} @224", arr, (rw, rh), 224)
        n += 1
        if path in photos:
            for size in (336, 97):
                ow, oh = ref_dims(w, h, size)
                runner.check(f"{name} @{size}", arr, (ow, oh), size)
            # an odd target, up or down on each axis
            ow = max(1, int(w * rng.uniform(0.1, 2.5)))
            oh = max(1, int(h * rng.uniform(0.1, 2.5)))
            runner.check(f"{name} -> {ow}x{oh}", arr, (ow, oh))
            n += 3
        info = decode_parity(runner, path, arr)
        if info:
            decode_info.append(info)
    # portrait, panorama and odd shapes cut from real pictures
    flow = load_rgb(os.path.join(SAMPLES, "wallpapers", "Flow.jpg"))
    shapes = {
        "Flow portrait (transposed)": np.ascontiguousarray(flow.transpose(1, 0, 2)),
        "Flow panorama 5120x701": flow[1000:1701],
        "Flow panorama 4001x333": flow[2000:2333, 7:4008],
        "Flow tall strip 187x2880": flow[:, 3000:3187],
        "Flow odd 1023x767": flow[11:778, 101:1124],
        "Flow tiny 37x23 (upscaled)": flow[500:523, 900:937],
        "Flow 5x3 (upscaled)": flow[1500:1503, 1500:1505],
    }
    for label, arr in shapes.items():
        h, w = arr.shape[:2]
        rw, rh = ref_dims(w, h, 224)
        runner.check(label + " @224", arr, (rw, rh), 224)
        n += 1
    # small pictures upscaled a lot
    tiny = load_rgb(os.path.join(SAMPLES, "photos", "no_time_for_that_tiny.gif"))
    runner.check("tiny gif 14x25 -> 250x403", tiny, (250, 403), 336)
    n += 1
    print("decoder vs Pillow (information only):")
    for line in decode_info:
        print("  " + line)
    return n


def decode_parity(runner, path, pil_rgb):
    out = os.path.join(runner.tmp, "dec.rgb")
    proc = subprocess.run([RUN, "decode", path, out], capture_output=True, text=True,
                          timeout=300)
    name = os.path.basename(path)
    if proc.returncode != 0:
        return f"{name}: C decode failed: {proc.stderr.strip()}"
    w, h = map(int, proc.stdout.split())
    got = np.fromfile(out, dtype=np.uint8).reshape(h, w, 3)
    if got.shape != pil_rgb.shape:
        return f"{name}: C {w}x{h} vs Pillow {pil_rgb.shape[1]}x{pil_rgb.shape[0]}"
    diff = int(np.abs(got.astype(np.int16) - pil_rgb.astype(np.int16)).max())
    return f"{name}: max abs diff {diff}"


def main():
    tmp = tempfile.mkdtemp(prefix="clip-preprocess-")
    try:
        runner = Runner(tmp)
        proc = subprocess.run([RUN, "errors"], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            runner.fail(f"errors: {proc.stderr.strip()}")
        run_random(runner)
        samples = run_samples(runner)
        print(f"{runner.cases} cases ({samples} on sample pictures); "
              f"resize max abs diff {runner.worst_resize}; "
              f"tensor max abs diff {runner.worst_tensor:.3g} (float64 reference), "
              f"{runner.worst_hf:.3g} (HF float32 arithmetic)")
        if runner.failures:
            print(f"{runner.failures} failure(s)")
            return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
