#!/usr/bin/python3
"""CLIP's forward pass in PyTorch, written from the model's description (not
with transformers): a second reference for capsearch's towers, the PyTorch
peer of tools/bench/clip, and the exporter of the ONNX models that benchmark
runs in ONNX Runtime.

usage (--threads N before the command; default one per core):
  tools/torch_clip.py embed MODEL [--pixels FILE] [--ids JSON] [--out-images F] [--out-texts F]
  tools/torch_clip.py layers MODEL (--pixels FILE | --ids JSON) OUTDIR
  tools/torch_clip.py export-onnx MODEL OUTDIR [--opset N]
  tools/torch_clip.py bench MODEL --pixels FILE --ids JSON [--batch N] [--rounds N] ...

MODEL is a folder in Hugging Face layout: config.json (missing keys take
Hugging Face's defaults, as tests/unit/clip_weights/numpy_clip.py reads
them), model.safetensors (F32, F16 or BF16; computed in float32) and
vocab.json (the end-of-text id is that of "<|endoftext|>"). --pixels is raw
little-endian float32, N x 3 x S x S (what `capsearch embed --dump-input`
writes); --ids is a JSON file {"ids": [[...], ...]} or an inline JSON list of
lists. Embeddings are written as raw float32, N x projection_dim.

`layers` writes the intermediate activations of the first input under the
names `capsearch embed --dump-layers` uses: OUTDIR/<name>.f32 and
OUTDIR/layers.json = {"layers": [{"name", "shape"}, ...]}.

`export-onnx` writes OUTDIR/vision.onnx (pixel_values [B,3,S,S] float32 ->
image_embeds [B,E]) and OUTDIR/text.onnx (input_ids [B,L] int64 ->
text_embeds [B,E]) with torch.onnx.export, which serialises the protobuf in
torch's own C++ code: the `onnx` Python package is not needed.

Needs Debian's python3-torch and python3-numpy."""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "clip_weights"))
from numpy_clip import load_config  # noqa: E402

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x * (1 / math.sqrt(2))))


ACTIVATIONS = {"quick_gelu": quick_gelu, "gelu": gelu}


class Attention(nn.Module):
    def __init__(self, width, heads, device):
        super().__init__()
        self.heads = heads
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self, name, nn.Linear(width, width, device=device))

    def forward(self, x, mask):
        b, n, d = x.shape
        dh = d // self.heads

        def split(t):
            return t.reshape(b, n, self.heads, dh).transpose(1, 2)

        q = split(self.q_proj(x) * dh ** -0.5)
        scores = q @ split(self.k_proj(x)).transpose(-1, -2)
        if mask is not None:
            scores = scores + mask
        o = scores.softmax(-1) @ split(self.v_proj(x))
        return self.out_proj(o.transpose(1, 2).reshape(b, n, d))


class MLP(nn.Module):
    def __init__(self, width, hidden, act, device):
        super().__init__()
        self.act = ACTIVATIONS[act]
        self.fc1 = nn.Linear(width, hidden, device=device)
        self.fc2 = nn.Linear(hidden, width, device=device)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    """Pre-norm block: h + attn(ln1(h)), then h + mlp(ln2(h))."""

    def __init__(self, cfg, device):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.layer_norm1 = nn.LayerNorm(d, eps=eps, device=device)
        self.self_attn = Attention(d, cfg["num_attention_heads"], device)
        self.layer_norm2 = nn.LayerNorm(d, eps=eps, device=device)
        self.mlp = MLP(d, cfg["intermediate_size"], cfg["hidden_act"], device)

    def forward(self, h, mask):
        h = h + self.self_attn(self.layer_norm1(h), mask)
        return h + self.mlp(self.layer_norm2(h))


class Encoder(nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(cfg, device)
                                    for _ in range(cfg["num_hidden_layers"]))

    def forward(self, h, mask, taps, prefix, rows):
        for i, layer in enumerate(self.layers):
            h = layer(h, mask)
            taps(f"{prefix}.layer.{i}", h[0, :rows])
        return h


class VisionEmbeddings(nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        d, p = cfg["hidden_size"], cfg["patch_size"]
        grid = cfg["image_size"] // p
        self.class_embedding = nn.Parameter(torch.empty(d, device=device))
        self.patch_embedding = nn.Conv2d(3, d, p, stride=p, bias=False, device=device)
        self.position_embedding = nn.Embedding(grid * grid + 1, d, device=device)

    def forward(self, pixels):
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)   # [B, G*G, D], row-major grid
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        return torch.cat([cls, patches], 1) + self.position_embedding.weight


class VisionModel(nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.embeddings = VisionEmbeddings(cfg, device)
        self.pre_layrnorm = nn.LayerNorm(d, eps=eps, device=device)   # sic: Hugging Face's name
        self.encoder = Encoder(cfg, device)
        self.post_layernorm = nn.LayerNorm(d, eps=eps, device=device)

    def forward(self, pixels, taps):
        h = self.embeddings(pixels)
        taps("vision.embeddings", h[0])
        h = self.pre_layrnorm(h)
        taps("vision.pre_layrnorm", h[0])
        h = self.encoder(h, None, taps, "vision", h.shape[1])
        pooled = self.post_layernorm(h[:, 0])
        taps("vision.post_layernorm", pooled[0])
        return pooled


class TextEmbeddings(nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        d = cfg["hidden_size"]
        self.token_embedding = nn.Embedding(cfg["vocab_size"], d, device=device)
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], d, device=device)

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding.weight[:ids.shape[1]]


class TextModel(nn.Module):
    def __init__(self, cfg, eos, device):
        super().__init__()
        self.eos = eos
        n = cfg["max_position_embeddings"]
        self.embeddings = TextEmbeddings(cfg, device)
        self.encoder = Encoder(cfg, device)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"],
                                             device=device)
        # not saved: filled by fill_buffers() once the module is materialised
        self.register_buffer("causal", torch.empty(n, n, device=device), persistent=False)

    def fill_buffers(self):
        n = self.causal.shape[0]
        self.causal.copy_(torch.full((n, n), float("-inf")).triu(1))

    def forward(self, ids, taps):
        n = ids.shape[1]
        # The first end token is pooled (the argmax rule: the first maximum);
        # with a causal mask whatever follows it cannot change that row.
        pool = (ids == self.eos).to(torch.float32).argmax(-1)
        rows = int(pool[0]) + 1 if taps.active else n
        h = self.embeddings(ids)
        taps("text.embeddings", h[0, :rows])
        h = self.encoder(h, self.causal[:n, :n], taps, "text", rows)
        pooled = torch.gather(h, 1, pool.reshape(-1, 1, 1).expand(-1, 1, h.shape[2])).squeeze(1)
        pooled = self.final_layer_norm(pooled)
        taps("text.final_layer_norm", pooled[0])
        return pooled


def normalise(x):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True))


class Taps:
    """Collects named activations of the first input when active."""

    def __init__(self, active=False):
        self.active = active
        self.layers = {}

    def __call__(self, name, tensor):
        if self.active:
            self.layers[name] = tensor.detach().to(torch.float32).clone()


NO_TAPS = Taps(False)


class ClipModel(nn.Module):
    def __init__(self, text_cfg, vision_cfg, projection_dim, eos, device=None):
        super().__init__()
        self.text_cfg, self.vision_cfg, self.eos = text_cfg, vision_cfg, eos
        self.vision_model = VisionModel(vision_cfg, device)
        self.text_model = TextModel(text_cfg, eos, device)
        self.visual_projection = nn.Linear(vision_cfg["hidden_size"], projection_dim, bias=False,
                                           device=device)
        self.text_projection = nn.Linear(text_cfg["hidden_size"], projection_dim, bias=False,
                                         device=device)
        self.logit_scale = nn.Parameter(torch.empty((), device=device))

    @property
    def image_size(self):
        return self.vision_cfg["image_size"]

    @property
    def dim(self):
        return self.visual_projection.out_features

    def image_embeds(self, pixels, taps=NO_TAPS):
        """pixels [B, 3, S, S] -> L2-normalised [B, E]."""
        out = normalise(self.visual_projection(self.vision_model(pixels, taps)))
        taps("vision.embeds", out[0])
        return out

    def text_embeds(self, ids, taps=NO_TAPS):
        """ids [B, L] int64 (anything may follow each row's first end token)
        -> L2-normalised [B, E]."""
        out = normalise(self.text_projection(self.text_model(ids, taps)))
        taps("text.embeds", out[0])
        return out


def read_safetensors_into(path, state):
    """Reads every tensor of a safetensors file straight into the tensors of
    `state` (a state_dict), converting F16/BF16 to float32; checks names,
    shapes, dtypes and byte ranges. position_ids are ignored."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size - 8:
            raise ValueError(f"{path}: header of {n} bytes in a file of {size}")
        header = json.loads(f.read(n))
        base = 8 + n
        seen = set()
        for name, d in header.items():
            if name == "__metadata__" or name.endswith("position_ids"):
                continue
            if name not in state:
                raise ValueError(f"{path}: unexpected tensor {name}")
            target, dtype = state[name], DTYPES.get(d["dtype"])
            if dtype is None:
                raise ValueError(f"{path}: {name}: dtype {d['dtype']} is not F32, F16 or BF16")
            if list(d["shape"]) != list(target.shape):
                raise ValueError(f"{path}: {name}: shape {d['shape']}, expected "
                                 f"{list(target.shape)}")
            begin, end = d["data_offsets"]
            nbytes = target.numel() * torch.finfo(dtype).bits // 8
            if end - begin != nbytes or base + end > size:
                raise ValueError(f"{path}: {name}: byte range {begin}..{end} is wrong")
            f.seek(base + begin)
            if dtype == torch.float32:
                raw = target.view(torch.uint8) if target.dim() else target.reshape(1).view(torch.uint8)
                f.readinto(memoryview(raw.numpy()))
            else:
                raw = torch.empty(nbytes, dtype=torch.uint8)
                f.readinto(memoryview(raw.numpy()))
                target.copy_(raw.view(dtype).reshape(target.shape))
            seen.add(name)
    missing = sorted(set(state) - seen)
    if missing:
        raise ValueError(f"{path}: missing tensor(s) {', '.join(missing[:5])}")


def end_of_text_id(folder):
    with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
        return json.load(f)["<|endoftext|>"]


def load(folder):
    """The model of a Hugging Face folder, in float32, in eval mode."""
    text_cfg, vision_cfg, cfg = load_config(folder)
    # built on the meta device so that nothing is initialised only to be overwritten
    model = ClipModel(text_cfg, vision_cfg, cfg.get("projection_dim", 512),
                      end_of_text_id(folder), device="meta")
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        model.text_model.fill_buffers()
        read_safetensors_into(os.path.join(folder, "model.safetensors"), model.state_dict())
    return model.eval()


def read_pixels(path, size):
    a = np.fromfile(path, "<f4")
    per = 3 * size * size
    if a.size == 0 or a.size % per:
        raise ValueError(f"{path}: {a.size} floats is not a whole number of 3x{size}x{size} images")
    return torch.from_numpy(a.reshape(-1, 3, size, size).copy())


def read_ids(arg):
    """A JSON file {"ids": [[...], ...]} or an inline JSON list of lists."""
    if os.path.isfile(arg):
        with open(arg) as f:
            doc = json.load(f)
        return doc["ids"] if isinstance(doc, dict) else doc
    return json.loads(arg)


def pad_ids(rows, value=0):
    """A [B, max len] int64 tensor; padding after the end token is inert."""
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [value] * (width - len(r)) for r in rows], dtype=torch.int64)


def embed_images(model, pixels, batch=16):
    with torch.inference_mode():
        return torch.cat([model.image_embeds(pixels[i:i + batch])
                          for i in range(0, len(pixels), batch)])


def embed_ids(model, rows, batch=16):
    with torch.inference_mode():
        return torch.cat([model.text_embeds(pad_ids(rows[i:i + batch]))
                          for i in range(0, len(rows), batch)])


def layers_of_image(model, pixels):
    """name -> float32 tensor for the first image of pixels [B, 3, S, S]."""
    taps = Taps(True)
    with torch.inference_mode():
        model.image_embeds(pixels[:1], taps)
    return taps.layers


def layers_of_ids(model, ids):
    taps = Taps(True)
    with torch.inference_mode():
        model.text_embeds(pad_ids([ids]), taps)
    return taps.layers


def write_layers(layers, outdir):
    os.makedirs(outdir, exist_ok=True)
    listing = []
    for name, t in layers.items():
        t.numpy().astype("<f4").tofile(os.path.join(outdir, name + ".f32"))
        listing.append({"name": name, "shape": list(t.shape)})
    with open(os.path.join(outdir, "layers.json"), "w") as f:
        json.dump({"layers": listing}, f, indent=1)


class _ImageTower(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model.image_embeds(pixel_values)


class _TextTower(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model.text_embeds(input_ids)


def export_onnx(model, outdir, opset=14):
    """vision.onnx and text.onnx with a dynamic batch axis (and a dynamic
    sequence axis for the text); returns their paths."""
    os.makedirs(outdir, exist_ok=True)
    s = model.image_size
    vision = os.path.join(outdir, "vision.onnx")
    text = os.path.join(outdir, "text.onnx")
    with torch.no_grad():
        torch.onnx.export(_ImageTower(model), (torch.zeros(2, 3, s, s),), vision,
                          opset_version=opset, input_names=["pixel_values"],
                          output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
        ids = torch.tensor([[model.eos - 1, 5, model.eos], [model.eos - 1, model.eos, 0]])
        torch.onnx.export(_TextTower(model), (ids,), text, opset_version=opset,
                          input_names=["input_ids"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "text_embeds": {0: "batch"}})
    return vision, text


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(model, pixels, rows, batch, rounds):
    """Best and median throughput over rounds, after one warm-up batch of each."""
    def timed(fn, items):
        rates = []
        for _ in range(rounds):
            start = time.perf_counter()
            out = fn(items)
            rates.append(len(items) / (time.perf_counter() - start))
        return out, sorted(rates)

    with torch.inference_mode():
        model.image_embeds(pixels[:batch])
        model.text_embeds(pad_ids(rows[:batch]))
    images, image_rates = timed(lambda p: embed_images(model, p, batch), pixels)
    texts, text_rates = timed(lambda r: embed_ids(model, r, batch), rows)
    return images, texts, image_rates, text_rates


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch.set_num_threads (default: one per core)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("embed", help="embeddings of preprocessed images and token ids")
    p.add_argument("model")
    p.add_argument("--pixels")
    p.add_argument("--ids")
    p.add_argument("--out-images")
    p.add_argument("--out-texts")
    p.add_argument("--batch", type=int, default=16)
    p = sub.add_parser("layers", help="intermediate activations of one input")
    p.add_argument("model")
    p.add_argument("outdir")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pixels")
    g.add_argument("--ids", help="token ids, e.g. [49406, 320, 49407] (a file: its first row)")
    p = sub.add_parser("export-onnx", help="both towers to ONNX")
    p.add_argument("model")
    p.add_argument("outdir")
    p.add_argument("--opset", type=int, default=14)
    p = sub.add_parser("bench", help="images/s and texts/s (one JSON line)")
    p.add_argument("model")
    p.add_argument("--pixels", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out-images")
    p.add_argument("--out-texts")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    start = time.perf_counter()
    try:
        model = load(a.model)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"torch_clip.py: {a.model}: {e}")
    load_s = time.perf_counter() - start
    if a.cmd == "export-onnx":
        for path in export_onnx(model, a.outdir, a.opset):
            print(path)
    elif a.cmd == "layers":
        if a.pixels:
            layers = layers_of_image(model, read_pixels(a.pixels, model.image_size))
        else:
            ids = read_ids(a.ids)
            layers = layers_of_ids(model, ids[0] if ids and isinstance(ids[0], list) else ids)
        write_layers(layers, a.outdir)
    elif a.cmd == "embed":
        for arg, out, fn in ((a.pixels, a.out_images,
                              lambda v: embed_images(model, read_pixels(v, model.image_size), a.batch)),
                             (a.ids, a.out_texts, lambda v: embed_ids(model, read_ids(v), a.batch))):
            if arg is None:
                continue
            e = fn(arg).numpy()
            if out:
                e.astype("<f4").tofile(out)
            else:
                for row in e:
                    print(" ".join(f"{x:.7g}" for x in row))
    else:
        pixels = read_pixels(a.pixels, model.image_size)
        rows = read_ids(a.ids)
        images, texts, ir, tr = bench(model, pixels, rows, a.batch, a.rounds)
        for out, e in ((a.out_images, images), (a.out_texts, texts)):
            if out:
                e.numpy().astype("<f4").tofile(out)
        print(json.dumps({"peer": "pytorch", "version": torch.__version__, "threads": a.threads,
                          "batch": a.batch, "images": len(pixels), "texts": len(rows),
                          "images_per_s": ir[len(ir) // 2], "images_per_s_best": ir[-1],
                          "texts_per_s": tr[len(tr) // 2], "texts_per_s_best": tr[-1],
                          "load_s": load_s, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
