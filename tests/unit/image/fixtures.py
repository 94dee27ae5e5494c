#!/usr/bin/python3
"""Fixture generator and driver for the src/image tests.

    fixtures.py KIND CHECKER [ARGS...]

Writes fixture files and their references into a temporary folder, lists the
checks in manifest.tsv, then runs CHECKER (fixture_check) on the folder and
exits with its status (77 = skipped, as meson reads it).

The references are independent of the code under test: pixels come from PIL's
own decoders (and, for lossless formats, are also checked here against the
array that was encoded), EXIF values are the ones written by a TIFF writer in
this file (and by PIL), the pHash reference is a numpy transcription of the
definition in image.h, and orientation is checked both against PIL's
ImageOps.exif_transpose and against where a coloured quadrant must land.

KIND: decode | exif | phash | photos | heif | hostile
Set CAPSEARCH_KEEP_FIXTURES=1 to keep the folder for inspection.
"""
import calendar
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image, ImageOps

SKIP = 77


class Manifest:
    def __init__(self, folder):
        self.folder = folder
        self.lines = []

    def path(self, name):
        return os.path.join(self.folder, name)

    def add(self, *fields):
        self.lines.append("\t".join(str(f) for f in fields))

    def write_raw(self, name, rgb):
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        assert rgb.ndim == 3 and rgb.shape[2] == 3
        with open(self.path(name), "wb") as f:
            f.write(rgb.tobytes())
        return name

    def write(self):
        with open(self.path("manifest.tsv"), "w") as f:
            f.write("\n".join(self.lines) + "\n")


# ---------------------------------------------------------------- pictures

def pattern(w, h, seed=1, noise=6.0):
    """A photo-like test picture: gradients, waves, a few blocks and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255.0 * x / max(w - 1, 1)
    g = 255.0 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(x / 7.0 + seed) * np.cos(y / 5.0)
    img = np.stack([r, g, b], axis=-1)
    for _ in range(4):
        x0, y0 = rng.integers(0, max(w - w // 4, 1)), rng.integers(0, max(h - h // 4, 1))
        img[y0:y0 + h // 4, x0:x0 + w // 4] = rng.integers(0, 256, 3)
    img += rng.normal(0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def quadrants(w, h):
    """Upright test picture: red, green / blue, white quadrants. Every one of
    the 8 EXIF orientations moves these to a different arrangement."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (255, 0, 0)
    img[: h // 2, w // 2:] = (0, 255, 0)
    img[h // 2:, : w // 2] = (0, 0, 255)
    img[h // 2:, w // 2:] = (255, 255, 255)
    return img


QUADRANT_COLOURS = ["255", "0", "0", "0", "255", "0", "0", "0", "255", "255", "255", "255"]

# PIL transposes that undo each orientation (stored -> upright), as
# ImageOps.exif_transpose uses them, and their inverses (upright -> stored).
TO_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
TO_STORED = dict(TO_UPRIGHT)
TO_STORED[6] = Image.Transpose.ROTATE_90
TO_STORED[8] = Image.Transpose.ROTATE_270


def stored_for(upright, orientation):
    im = Image.fromarray(upright)
    return im if orientation == 1 else im.transpose(TO_STORED[orientation])


# ----------------------------------------------------------- references

def over_white(rgba):
    """RGBA composited over white, rounded to nearest (the documented rule)."""
    rgba = rgba.astype(np.float64)
    a = rgba[..., 3:4] / 255.0
    return np.rint(rgba[..., :3] * a + 255.0 * (1.0 - a)).astype(np.uint8)


def pil_reference(path, upright=True):
    """RGB pixels as PIL decodes the file (orientation applied when asked)."""
    im = Image.open(path)
    im.load()
    if upright:
        im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "I;16", "I;16B"):   # 16-bit gray: the high byte
        gray = (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return over_white(np.asarray(im.convert("RGBA")))


# ------------------------------------------------------- file writers

def png_bytes(arr, bit_depth, colour_type):
    """A minimal PNG writer (for 16-bit RGB, which PIL cannot write)."""
    h, w = arr.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\0" + arr[y].astype(dtype).tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) +
            chunk(b"IEND", b""))


def bmp_top_down(arr):
    """24-bit BMP with a negative height (rows stored top to bottom)."""
    h, w = arr.shape[:2]
    stride = (w * 3 + 3) & ~3
    rows = b"".join(arr[y, :, ::-1].tobytes().ljust(stride, b"\0") for y in range(h))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return header + info + rows


TIFF_TYPES = {"ascii": 2, "short": 3, "long": 4, "rational": 5, "srational": 10}


def ifd_bytes(entries, start, bo):
    entries = sorted(entries, key=lambda e: e[0])
    head = 2 + 12 * len(entries) + 4
    records, extra = b"", b""
    for tag, kind, value in entries:
        if kind == "ascii":
            payload = value if isinstance(value, bytes) else value.encode() + b"\0"
            count = len(payload)
        elif kind in ("rational", "srational"):
            fmt = "II" if kind == "rational" else "ii"
            payload = b"".join(struct.pack(bo + fmt, n, d) for n, d in value)
            count = len(value)
        else:
            fmt = "H" if kind == "short" else "I"
            payload = struct.pack(bo + fmt * len(value), *value)
            count = len(value)
        if len(payload) <= 4:
            field = payload.ljust(4, b"\0")
        else:
            field = struct.pack(bo + "I", start + head + len(extra))
            extra += payload + (b"\0" if len(payload) % 2 else b"")
        records += struct.pack(bo + "HHI", tag, TIFF_TYPES[kind], count) + field
    return struct.pack(bo + "H", len(entries)) + records + struct.pack(bo + "I", 0) + extra


def tiff_block(ifd0, exif=None, gps=None, big_endian=False):
    """A TIFF structure as EXIF stores it: IFD0 with optional Exif and GPS
    sub-IFDs. Entries are (tag, type, value)."""
    bo = ">" if big_endian else "<"
    header = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(bo + "I", 8)

    def with_pointers(exif_at, gps_at):
        e = list(ifd0)
        if exif is not None:
            e.append((0x8769, "long", [exif_at]))
        if gps is not None:
            e.append((0x8825, "long", [gps_at]))
        return e

    at = 8 + len(ifd_bytes(with_pointers(0, 0), 8, bo))
    exif_at, exif_blob = at, b""
    if exif is not None:
        exif_blob = ifd_bytes(exif, at, bo)
        at += len(exif_blob)
    gps_at, gps_blob = at, b""
    if gps is not None:
        gps_blob = ifd_bytes(gps, at, bo)
    return header + ifd_bytes(with_pointers(exif_at, gps_at), 8, bo) + exif_blob + gps_blob


def dms(rationals):
    return sum((n / d if d else 0.0) / unit for (n, d), unit in zip(rationals, (1, 60, 3600)))


def save_jpeg(m, name, arr_or_image, **options):
    im = arr_or_image if isinstance(arr_or_image, Image.Image) else Image.fromarray(arr_or_image)
    im.save(m.path(name), "JPEG", **options)
    return name


# ------------------------------------------------------------- decode

def lossless_reference(m, name, source_rgb):
    """For lossless files: PIL's decode is the reference, and must itself
    equal what was encoded (else the fixture, not the code, is wrong)."""
    ref = pil_reference(m.path(name), upright=False)
    if source_rgb is not None:
        assert np.array_equal(ref, source_rgb), f"PIL disagrees with the source of {name}"
    return m.write_raw(name + ".rgb", ref)


def draft_eighth(m, name):
    """PIL's decode at 1/8 scale (draft mode) as the raw RGB reference."""
    im = Image.open(m.path(name))
    im.draft(im.mode, (im.size[0] // 8, im.size[1] // 8))
    assert im.size == (500, 375), f"draft mode did not reduce {name}"
    return m.write_raw(name + ".rgb", over_white(np.asarray(im.convert("RGBA"))))


def jpeg_scans(data):
    """(start, end, first component id, Ss) of each scan's entropy-coded
    data, in file order."""
    scans, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xD9:
            break
        seg = struct.unpack(">H", data[at + 2:at + 4])[0]
        at += 2 + seg
        if marker == 0xDA:
            header, start = data[at - seg + 2:at], at
            while not (data[at] == 0xFF and data[at + 1] not in (0x00, *range(0xD0, 0xD8))):
                at += 1
            scans.append((start, at, header[1], header[1 + 2 * header[0]]))
    return scans


def add_decode(m, name, ref, target, max_diff, mean_diff, shape, full, fmt):
    m.add("decode", name, ref, target, max_diff, mean_diff, shape[1], shape[0], full[1], full[0], fmt)


def gen_decode(m, args):
    base = pattern(173, 97, seed=3)        # odd sizes: partial JPEG blocks, BMP row padding
    h, w = base.shape[:2]

    # JPEG: PIL decodes with the same libjpeg-turbo, so differences are tiny.
    for name, opts in [("baseline.jpg", {"quality": 90}),
                       ("progressive.jpg", {"quality": 85, "progressive": True}),
                       ("444.jpg", {"quality": 95, "subsampling": 0}),
                       ("422.jpg", {"quality": 80, "subsampling": 1})]:
        save_jpeg(m, name, base, **opts)
        ref = m.write_raw(name + ".rgb", pil_reference(m.path(name)))
        add_decode(m, name, ref, 0, 3, 0.5, (h, w), (h, w), "jpeg")
    Image.fromarray(base).convert("L").save(m.path("gray.jpg"), quality=90)
    ref = m.write_raw("gray.jpg.rgb", pil_reference(m.path("gray.jpg")))
    add_decode(m, "gray.jpg", ref, 0, 3, 0.5, (h, w), (h, w), "jpeg")
    Image.fromarray(base).convert("CMYK").save(m.path("cmyk.jpg"), quality=92)
    ref = m.write_raw("cmyk.jpg.rgb", pil_reference(m.path("cmyk.jpg")))
    add_decode(m, "cmyk.jpg", ref, 0, 3, 0.6, (h, w), (h, w), "jpeg")
    # The same without its Adobe segment (as metadata strippers leave it):
    # still read with the Adobe convention, as PIL does.
    with open(m.path("cmyk.jpg"), "rb") as f:
        data = f.read()
    at = data.index(b"\xff\xee")
    data = data[:at] + data[at + 2 + struct.unpack(">H", data[at + 2:at + 4])[0]:]
    with open(m.path("cmyk_plain.jpg"), "wb") as f:
        f.write(data)
    ref = m.write_raw("cmyk_plain.jpg.rgb", pil_reference(m.path("cmyk_plain.jpg")))
    add_decode(m, "cmyk_plain.jpg", ref, 0, 3, 0.6, (h, w), (h, w), "jpeg")

    # DCT-domain scaling: 4000x3000 at target 256 decodes at 1/8 (500x375),
    # compared with PIL's own reduced decode (draft mode, also 1/8).
    big = pattern(4000, 3000, seed=5, noise=3.0)
    save_jpeg(m, "big.jpg", big, quality=85)
    im = Image.open(m.path("big.jpg"))
    im.draft("RGB", (500, 375))
    assert im.size == (500, 375)
    ref = m.write_raw("big.jpg.rgb", np.asarray(im.convert("RGB")))
    add_decode(m, "big.jpg", ref, 256, 3, 0.5, (375, 500), (3000, 4000), "jpeg")
    # 1200x900 at target 256: 1/4 would give 225 rows, so 3/8 (450x338).
    mid = pattern(1200, 900, seed=6, noise=3.0)
    save_jpeg(m, "mid.jpg", mid, quality=90)
    # No PIL decode at 3/8: the reference is its full decode box-filtered to
    # that size, so only the mean difference is meaningful.
    box = np.asarray(Image.open(m.path("mid.jpg")).convert("RGB").resize((450, 338), Image.BOX))
    ref = m.write_raw("mid.jpg.rgb", box)
    add_decode(m, "mid.jpg", ref, 256, 255, 3, (338, 450), (900, 1200), "jpeg")
    # Orientation 6 on the big one: upright 375x500, full size 3000x4000.
    exif6 = b"Exif\0\0" + tiff_block([(0x0112, "short", [6])])
    save_jpeg(m, "big_rot6.jpg", big, quality=85, exif=exif6)
    im = Image.open(m.path("big_rot6.jpg"))
    im.draft("RGB", (500, 375))
    ref = m.write_raw("big_rot6.jpg.rgb", np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
    add_decode(m, "big_rot6.jpg", ref, 256, 3, 0.5, (500, 375), (4000, 3000), "jpeg")
    # A progressive file at 1/8 is decoded from its DC scans alone: the same
    # pixels as PIL's whole decode at that scale, to the bit, whatever the
    # chroma layout.
    for name, opts in [("prog420.jpg", {"quality": 85, "progressive": True}),
                       ("prog422.jpg", {"quality": 80, "progressive": True, "subsampling": 1}),
                       ("prog444.jpg", {"quality": 92, "progressive": True, "subsampling": 0})]:
        save_jpeg(m, name, big, **opts)
        add_decode(m, name, draft_eighth(m, name), 256, 0, 0, (375, 500), (3000, 4000), "jpeg")
    Image.fromarray(big).convert("L").save(m.path("prog_gray.jpg"), quality=85, progressive=True)
    add_decode(m, "prog_gray.jpg", draft_eighth(m, "prog_gray.jpg"), 256, 0, 0, (375, 500),
               (3000, 4000), "jpeg")
    # CMYK: PIL's CMYK to RGB differs from ours by rounding (as cmyk.jpg).
    Image.fromarray(big).convert("CMYK").save(m.path("prog_cmyk.jpg"), quality=90,
                                              progressive=True)
    add_decode(m, "prog_cmyk.jpg", draft_eighth(m, "prog_cmyk.jpg"), 256, 3, 0.6, (375, 500),
               (3000, 4000), "jpeg")
    # A luma AC scan damaged: all-ones bits (stuffed 0xFF bytes) are no
    # Huffman code, so a whole decode warns (the result would be partial);
    # a decode from the DC scans never reads them. Pixels are those of the
    # intact file.
    with open(m.path("prog420.jpg"), "rb") as f:
        data = bytearray(f.read())
    start, end = next((s, e) for s, e, comp, ss in jpeg_scans(bytes(data)) if ss > 0 and comp == 1)
    middle = (start + end) // 2
    data[middle:middle + 64] = b"\xff\x00" * 32
    with open(m.path("prog_ac_damaged.jpg"), "wb") as f:
        f.write(bytes(data))
    add_decode(m, "prog_ac_damaged.jpg", "prog420.jpg.rgb", 256, 0, 0, (375, 500),
               (3000, 4000), "jpeg")
    # A PNG much larger than needed is reduced to target on its short side by
    # area averaging. At an integer ratio that is exactly PIL's BOX filter (up
    # to rounding); at a fractional one PIL's BOX samples pixels whole where
    # ours weighs partial ones, so only the mean difference is tight.
    Image.fromarray(big[:1536, :1024]).save(m.path("large8.png"))
    box = np.asarray(Image.fromarray(big[:1536, :1024]).resize((128, 192), Image.BOX))
    add_decode(m, "large8.png", m.write_raw("large8.png.rgb", box), 128, 1, 0.25, (192, 128), (1536, 1024), "png")
    Image.fromarray(big[:1200, :1600]).save(m.path("large.png"))
    box = np.asarray(Image.fromarray(big[:1200, :1600]).resize((341, 256), Image.BOX))
    add_decode(m, "large.png", m.write_raw("large.png.rgb", box), 256, 40, 1.0, (256, 341), (1200, 1600), "png")

    # PNG, every colour type. Lossless: exact.
    rgba = np.dstack([base, np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))])
    pngs = {
        "rgb8.png": (Image.fromarray(base), base),
        "rgba8.png": (Image.fromarray(rgba, "RGBA"), over_white(rgba)),
        "gray8.png": (Image.fromarray(base[..., 1]), np.repeat(base[..., 1:2], 3, axis=2)),
        "graya8.png": (Image.fromarray(rgba[..., [1, 3]], "LA"), None),
        "palette.png": (Image.fromarray(base).quantize(64), None),
    }
    pal_t = Image.fromarray(base).quantize(16)
    pal_t.info["transparency"] = 3
    pngs["palette_trns.png"] = (pal_t, None)
    for name, (im, source) in pngs.items():
        im.save(m.path(name))
        add_decode(m, name, lossless_reference(m, name, source), 0, 0, 0, (h, w), (h, w), "png")
    wide = (base.astype(np.uint16) * 257 + np.uint16(77))   # low byte non-zero on purpose
    with open(m.path("rgb16.png"), "wb") as f:
        f.write(png_bytes(wide, 16, 2))
    add_decode(m, "rgb16.png", lossless_reference(m, "rgb16.png", (wide >> 8).astype(np.uint8)),
               0, 0, 0, (h, w), (h, w), "png")
    gray16 = wide[..., 0]
    with open(m.path("gray16.png"), "wb") as f:
        f.write(png_bytes(gray16, 16, 0))
    add_decode(m, "gray16.png", lossless_reference(
        m, "gray16.png", np.repeat((gray16 >> 8).astype(np.uint8)[..., None], 3, axis=2)),
        0, 0, 0, (h, w), (h, w), "png")

    # GIF (palette, with a transparent index), BMP, TGA, PNM.
    gif = Image.fromarray(base).quantize(32)
    gif.save(m.path("image.gif"), transparency=5)
    add_decode(m, "image.gif", lossless_reference(m, "image.gif", None), 0, 0, 0, (h, w), (h, w), "gif")
    Image.fromarray(base).save(m.path("image.bmp"))
    add_decode(m, "image.bmp", lossless_reference(m, "image.bmp", base), 0, 0, 0, (h, w), (h, w), "bmp")
    Image.fromarray(base).quantize(50).save(m.path("palette.bmp"))
    add_decode(m, "palette.bmp", lossless_reference(m, "palette.bmp", None), 0, 0, 0, (h, w), (h, w), "bmp")
    with open(m.path("topdown.bmp"), "wb") as f:
        f.write(bmp_top_down(base))
    add_decode(m, "topdown.bmp", lossless_reference(m, "topdown.bmp", base), 0, 0, 0, (h, w), (h, w), "bmp")
    Image.fromarray(base).save(m.path("image.tga"))
    add_decode(m, "image.tga", lossless_reference(m, "image.tga", base), 0, 0, 0, (h, w), (h, w), "tga")
    Image.fromarray(base).save(m.path("rle.tga"), rle=True)
    add_decode(m, "rle.tga", lossless_reference(m, "rle.tga", base), 0, 0, 0, (h, w), (h, w), "tga")
    Image.fromarray(base).save(m.path("image.ppm"))
    add_decode(m, "image.ppm", lossless_reference(m, "image.ppm", base), 0, 0, 0, (h, w), (h, w), "pnm")
    Image.fromarray(base[..., 0]).save(m.path("image.pgm"))
    add_decode(m, "image.pgm", lossless_reference(m, "image.pgm", None), 0, 0, 0, (h, w), (h, w), "pnm")
    Image.fromarray(base[..., 0]).convert("1").save(m.path("bits.pbm"))
    add_decode(m, "bits.pbm", lossless_reference(m, "bits.pbm", None), 0, 0, 0, (h, w), (h, w), "pnm")
    # Plain (ASCII) Netpbm, written here; PIL reads them too.
    small = base[:13, :17]
    bits = (small[..., 0] > 127).astype(np.uint8)
    plain = {
        "plain.pbm": b"P1\n# plain bitmap\n17 13\n" + b"\n".join(
            b"".join(b"%d" % v for v in row) for row in bits) + b"\n",   # digits run together
        "plain.pgm": b"P2\n17 13\n255\n" + b"\n".join(
            b" ".join(b"%d" % v for v in row) for row in small[..., 1]) + b"\n",
        "plain.ppm": b"P3\n17 13 255\n" + b"\n".join(
            b" ".join(b"%d" % v for v in row.reshape(-1)) for row in small) + b"\n",
    }
    for name, data in plain.items():
        with open(m.path(name), "wb") as f:
            f.write(data)
        add_decode(m, name, lossless_reference(m, name, None), 0, 0, 0, (13, 17), (13, 17), "pnm")
    # Other maxvals, scaled to 8 bits by rounding v * 255 / maxval (the
    # reference is that formula; PIL's scaling differs in places).
    for name, maxval, magic in [("max15.pgm", 15, b"P5"), ("max1000.ppm", 1000, b"P6"),
                                ("max65535.ppm", 65535, b"P6"), ("max7.ppm", 7, b"P3")]:
        channels = 1 if magic == b"P5" else 3
        values = (base[..., :channels].astype(np.int64) * maxval) // 255
        if magic == b"P3":
            raster = b" ".join(b"%d" % v for v in values.reshape(-1))
        else:
            raster = values.astype(">u2" if maxval > 255 else "u1").tobytes()
        with open(m.path(name), "wb") as f:
            f.write(magic + b"\n%d %d\n%d\n" % (w, h, maxval) + raster)
        ref = np.floor(values * 255.0 / maxval + 0.5).astype(np.uint8)
        ref = np.repeat(ref, 3 // channels, axis=2)
        add_decode(m, name, m.write_raw(name + ".rgb", ref), 0, 0, 0, (h, w), (h, w), "pnm")

    # WebP: lossless exact; lossy decoded by the same libwebp in PIL.
    Image.fromarray(base).save(m.path("lossless.webp"), lossless=True)
    add_decode(m, "lossless.webp", lossless_reference(m, "lossless.webp", base), 0, 0, 0, (h, w), (h, w), "webp")
    Image.fromarray(rgba, "RGBA").save(m.path("alpha.webp"), lossless=True, exact=True)
    add_decode(m, "alpha.webp", lossless_reference(m, "alpha.webp", over_white(rgba)), 0, 0, 0, (h, w), (h, w), "webp")
    Image.fromarray(base).save(m.path("lossy.webp"), quality=80)
    ref = m.write_raw("lossy.webp.rgb", pil_reference(m.path("lossy.webp")))
    add_decode(m, "lossy.webp", ref, 0, 3, 0.5, (h, w), (h, w), "webp")
    frames = [Image.fromarray(base), Image.fromarray(255 - base)]
    frames[0].save(m.path("anim.webp"), save_all=True, append_images=frames[1:], lossless=True,
                   duration=100, loop=0)
    add_decode(m, "anim.webp", lossless_reference(m, "anim.webp", base), 0, 0, 0, (h, w), (h, w), "webp")
    # Large WebP: libwebp's own scaler brings it to target (2000x1500 -> 341x256).
    Image.fromarray(big[:1500, :2000]).save(m.path("large.webp"), quality=70)
    box = np.asarray(Image.open(m.path("large.webp")).convert("RGB").resize((341, 256), Image.BOX))
    add_decode(m, "large.webp", m.write_raw("large.webp.rgb", box), 256, 40, 2.0, (256, 341), (1500, 2000), "webp")
    return 0


# --------------------------------------------------------------- exif

def gen_exif(m, args):
    w, h = 64, 48
    upright = quadrants(w, h)
    # Orientation 1..8, in JPEG (APP1), PNG (eXIf) and WebP (EXIF chunk):
    # decoded pixels must equal PIL's exif_transpose, and the quadrants must
    # sit where they are in the upright picture.
    for o in range(1, 9):
        block = b"Exif\0\0" + tiff_block([(0x0112, "short", [o])], big_endian=(o % 2 == 0))
        stored = stored_for(upright, o)
        for ext, save in [("jpg", lambda p: stored.save(p, "JPEG", quality=95, subsampling=0, exif=block)),
                          ("png", lambda p: stored.save(p, "PNG", exif=block)),
                          ("webp", lambda p: stored.save(p, "WEBP", lossless=True, exif=block))]:
            name = f"orient{o}.{ext}"
            save(m.path(name))
            ref = m.write_raw(name + ".rgb", pil_reference(m.path(name)))
            assert Image.open(m.path(name)).getexif().get(0x0112) == o
            fmt = {"jpg": "jpeg"}.get(ext, ext)
            lossy = ext == "jpg"
            add_decode(m, name, ref, 0, 3 if lossy else 0, 0.5 if lossy else 0, (h, w), (h, w), fmt)
            m.add("quads", name, *QUADRANT_COLOURS, 12)
        m.add("exif", f"orient{o}.jpg", o, "-", "", "", "-", "-")

    pixels = pattern(32, 24, seed=9)
    # 1: little-endian, everything present.
    lat = [(48, 1), (51, 1), (2960, 100)]
    lon = [(2, 1), (17, 1), (4020, 100)]
    t1 = tiff_block([(0x010F, "ascii", "Canon"), (0x0110, "ascii", "Canon EOS 5D Mark IV"),
                     (0x0112, "short", [6]), (0x0132, "ascii", "2001:01:01 00:00:00")],
                    exif=[(0x9003, "ascii", "2021:07:04 15:30:45"),
                          (0x9004, "ascii", "2021:07:05 00:00:00")],
                    gps=[(1, "ascii", "N"), (2, "rational", lat), (3, "ascii", "E"), (4, "rational", lon)])
    save_jpeg(m, "exif1.jpg", pixels, exif=b"Exif\0\0" + t1)
    m.add("exif", "exif1.jpg", 6, calendar.timegm((2021, 7, 4, 15, 30, 45)), "Canon",
          "Canon EOS 5D Mark IV", f"{dms(lat):.9f}", f"{dms(lon):.9f}")
    # The same block alone: raw TIFF and "Exif\0\0"-prefixed.
    with open(m.path("exif1.tif"), "wb") as f:
        f.write(t1)
    m.add("exif", "exif1.tif", 6, calendar.timegm((2021, 7, 4, 15, 30, 45)), "Canon",
          "Canon EOS 5D Mark IV", f"{dms(lat):.9f}", f"{dms(lon):.9f}")
    with open(m.path("exif1.exif"), "wb") as f:
        f.write(b"Exif\0\0" + t1)
    m.add("exif", "exif1.exif", 6, calendar.timegm((2021, 7, 4, 15, 30, 45)), "Canon",
          "Canon EOS 5D Mark IV", f"{dms(lat):.9f}", f"{dms(lon):.9f}")

    # 2: big-endian, padded strings, only IFD0 DateTime, south-west GPS.
    lat = [(33, 1), (52, 1), (767, 100)]
    lon = [(151, 1), (12, 1), (3348, 100)]
    t2 = tiff_block([(0x010F, "ascii", b"NIKON CORPORATION   \0\0\0"),
                     (0x0110, "ascii", b"  NIKON  D750\0"), (0x0112, "short", [3]),
                     (0x0132, "ascii", "2019:12:31 23:59:59")],
                    gps=[(1, "ascii", "S"), (2, "rational", lat), (3, "ascii", "W"), (4, "rational", lon)],
                    big_endian=True)
    save_jpeg(m, "exif2.jpg", pixels, exif=b"Exif\0\0" + t2)
    m.add("exif", "exif2.jpg", 3, calendar.timegm((2019, 12, 31, 23, 59, 59)), "NIKON CORPORATION",
          "NIKON D750", f"{-dms(lat):.9f}", f"{-dms(lon):.9f}")

    # 3: impossible DateTimeOriginal -> DateTimeDigitized (a leap day);
    # orientation out of range; a GPS minute with a zero denominator.
    t3 = tiff_block([(0x0112, "short", [9])],
                    exif=[(0x9003, "ascii", "0000:00:00 00:00:00"),
                          (0x9004, "ascii", "2020:02:29 12:00:00")],
                    gps=[(1, "ascii", "N"), (2, "rational", [(10, 1), (5, 0), (0, 1)]),
                         (3, "ascii", "E"), (4, "rational", [(10, 1), (0, 1), (0, 1)])])
    save_jpeg(m, "exif3.jpg", pixels, exif=b"Exif\0\0" + t3)
    m.add("exif", "exif3.jpg", 0, calendar.timegm((2020, 2, 29, 12, 0, 0)), "", "", "-", "-")

    # 4: February 30th and nothing else to fall back on; GPS exactly 0,0.
    zero = [(0, 1), (0, 1), (0, 1)]
    t4 = tiff_block([(0x0110, "ascii", "X")], exif=[(0x9003, "ascii", "2021:02:30 10:00:00")],
                    gps=[(1, "ascii", "N"), (2, "rational", zero), (3, "ascii", "E"), (4, "rational", zero)])
    save_jpeg(m, "exif4.jpg", pixels, exif=b"Exif\0\0" + t4)
    m.add("exif", "exif4.jpg", 0, "-", "", "X", "-", "-")

    # 5: written by PIL's own EXIF writer.
    e = Image.Exif()
    e[0x010F] = "Apple"
    e[0x0110] = "iPhone 12"
    e[0x0112] = 8
    e[0x8769] = {0x9003: "2022:03:14 09:26:53"}
    e[0x8825] = {1: "N", 2: (37.0, 46.0, 29.7), 3: "W", 4: (122.0, 25.0, 9.9)}
    Image.fromarray(pixels).save(m.path("exif5.jpg"), exif=e)
    m.add("exif", "exif5.jpg", 8, calendar.timegm((2022, 3, 14, 9, 26, 53)), "Apple", "iPhone 12",
          f"{37 + 46 / 60 + 29.7 / 3600:.9f}", f"{-(122 + 25 / 60 + 9.9 / 3600):.9f}")

    # 6: an XMP APP1 segment before the EXIF one.
    with open(m.path("exif1.jpg"), "rb") as f:
        jpeg = f.read()
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"
    segment = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    with open(m.path("xmp_first.jpg"), "wb") as f:
        f.write(jpeg[:2] + segment + jpeg[2:])
    m.add("exif", "xmp_first.jpg", 6, calendar.timegm((2021, 7, 4, 15, 30, 45)), "Canon",
          "Canon EOS 5D Mark IV", f"{dms([(48, 1), (51, 1), (2960, 100)]):.9f}",
          f"{dms([(2, 1), (17, 1), (4020, 100)]):.9f}")

    # Garbage where EXIF should be: nothing parsed, nothing crashes.
    rng = np.random.default_rng(12)
    for i in range(4):
        junk = b"Exif\0\0" + (b"II*\0" if i % 2 else b"MM\0*") + rng.integers(0, 256, 300 + 700 * i, dtype=np.uint8).tobytes()
        save_jpeg(m, f"junk{i}.jpg", pixels, exif=junk)
        m.add("exif", f"junk{i}.jpg", 0, "-", "", "", "-", "-")
        m.add("mutate", "exif1.exif", 300, 1000 + i)
    # Orientation from a damaged block must not break decoding.
    m.add("mutate", "exif1.jpg", 300, 77)
    return 0


# -------------------------------------------------------------- phash

def phash_reference(block):
    """The hash as image.h defines it, in numpy: unnormalised DCT-II as a
    cosine matrix product, 8x8 low frequencies with DC, strict comparison
    with the median plus a 1e-9 relative margin, bit 63 = (0,0)."""
    n = np.arange(32)
    u = np.arange(8)
    basis = np.cos(np.pi * np.outer(u, 2 * n + 1) / 64.0)        # [u, x]
    coef = basis @ block.astype(np.float64) @ basis.T            # [u, v]
    flat = coef.reshape(-1)
    threshold = np.median(flat) + 1e-9 * np.abs(flat).max()
    value = 0
    for i, above in enumerate(flat > threshold):
        if above:
            value |= 1 << (63 - i)
    return value


def gen_phash(m, args):
    rng = np.random.default_rng(2024)
    y, x = np.mgrid[0:32, 0:32].astype(np.float64)
    blocks = [
        rng.uniform(0, 255, (32, 32)),
        rng.normal(0, 1, (32, 32)),                       # any scale, negative values too
        rng.uniform(0, 1, (32, 32)) * 1e4,
        x * 8, y * 8, x + y, 255 - x * y / 4,             # gradients (many exact zeros)
        np.full((32, 32), 128.0), np.zeros((32, 32)),     # flat
        ((x // 4 + y // 4) % 2) * 255,                    # checkerboard
        128 + 100 * np.sin(x / 3) * np.cos(y / 5),
        np.asarray(Image.fromarray(pattern(96, 96, seed=4)).convert("L").resize((32, 32), Image.BOX), np.float64),
    ]
    for i in range(20):                                    # smooth random fields
        coarse = rng.uniform(0, 255, (4 + i % 5, 4 + i % 7))
        blocks.append(np.asarray(Image.fromarray(coarse.astype(np.float32), "F").resize((32, 32), Image.BICUBIC), np.float64))
    data = np.stack(blocks).astype("<f4")
    with open(m.path("blocks.f32"), "wb") as f:
        f.write(data.tobytes())
    for i, block in enumerate(data):
        m.add("phash", "blocks.f32", i, f"{phash_reference(block):016x}")
    return 0


# ------------------------------------------------------------- photos

def gen_photos(m, args):
    convert = args[0] if args else ""
    if not convert or not shutil.which(convert):
        print("ImageMagick 'convert' not found: skipping")
        return SKIP
    photos = []
    found = sample_files()
    if found:
        # Up to 10, spread over the sorted list (photos and wallpapers alike).
        step = max(1, len(found) // 10)
        for path in found[::step][:10]:
            local = os.path.basename(path)
            shutil.copy(path, m.path(local))
            photos.append(local)
    if len(photos) < 2:    # synthetic "photos": fractal plasma, fixed seeds
        photos = []
        for seed in (7, 11, 23, 42):
            name = f"plasma{seed}.png"
            subprocess.run([convert, "-seed", str(seed), "-size", "256x192", "plasma:fractal",
                            "-blur", "0x1", m.path(name)], check=True)
            photos.append(name)
    for name in photos:
        small = name + ".small.jpg"
        subprocess.run([convert, m.path(name), "-resize", "50%", "-quality", "75", m.path(small)],
                       check=True)
        m.add("near", name, small, 6, 0.95)
        # What the indexer hashes (a reduced decode) matches the full image.
        m.add("scaled", name, 256, 4)
    # Different pictures differ; names sharing a first word (a stereo pair,
    # a series) may legitimately be alike and are not compared.
    def stem(name):
        return name.replace("-", "_").split("_")[0].split(".")[0].lower()
    pairs = [(a, b) for a, b in zip(photos, photos[1:]) if stem(a) != stem(b)]
    for a, b in pairs:
        m.add("far", a, b, 16)
    return 0


def sample_files():
    """Images under $CAPSEARCH_SAMPLES (its known-bad folder aside), sorted."""
    root = os.environ.get("CAPSEARCH_SAMPLES", "")
    if not root or not os.path.isdir(root):
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "known-bad")
        for n in files:
            path = os.path.join(folder, n)
            if n.lower().endswith((".jpg", ".jpeg", ".png", ".webp")) and os.path.getsize(path) < (20 << 20):
                found.append(path)
    return sorted(found)


# --------------------------------------------------------------- heif

def gen_heif(m, args):
    convert, have_heif, make_heif = (args + ["", "", ""])[:3]
    w, h = 96, 64
    made = 0
    # ImageMagick-written files (lossy: compared by quadrant colours).
    if convert and shutil.which(convert):
        Image.fromarray(quadrants(w, h)).save(m.path("source.png"))
        for ext in ("heic", "avif"):
            name = "image." + ext
            r = subprocess.run([convert, m.path("source.png"), "-quality", "90", m.path(name)],
                               capture_output=True)
            if r.returncode != 0 or not os.path.exists(m.path(name)):
                print(f"convert cannot write {ext} here: {r.stderr.decode(errors='replace').strip()}")
                continue
            made += 1
            if have_heif == "yes":
                add_decode(m, name, "-", 0, 0, 0, (h, w), (h, w), "heif")
                m.add("quads", name, *QUADRANT_COLOURS, 16)
                m.add("prefixes", name, 97)
            else:
                m.add("fail", name, "unsupported")
    # Files with a container orientation and an EXIF block saying the same
    # (as phones write them): libheif turns the picture upright, and the
    # EXIF orientation must not be applied a second time.
    if have_heif == "yes" and make_heif:
        lat = [(35, 1), (39, 1), (3120, 100)]
        lon = [(139, 1), (41, 1), (3000, 100)]
        for o, ext in [(1, "heic"), (3, "heic"), (6, "heic"), (8, "avif"), (5, "heic")]:
            stored = np.asarray(stored_for(quadrants(w, h), o))
            sh, sw = stored.shape[:2]
            raw = m.write_raw(f"stored{o}.rgb", stored)
            block = b"Exif\0\0" + tiff_block(
                [(0x010F, "ascii", "Apple"), (0x0110, "ascii", "iPhone 13"), (0x0112, "short", [o])],
                exif=[(0x9003, "ascii", "2023:05:06 07:08:09")],
                gps=[(1, "ascii", "N"), (2, "rational", lat), (3, "ascii", "E"), (4, "rational", lon)])
            with open(m.path(f"exif{o}.bin"), "wb") as f:
                f.write(block)
            name = f"orient{o}.{ext}"
            # x265 leaks a little inside its encoder: not ours to report.
            env = dict(os.environ)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
            r = subprocess.run([make_heif, m.path(name), m.path(raw), str(sw), str(sh), str(o),
                                m.path(f"exif{o}.bin"), ext], capture_output=True, env=env)
            if r.returncode == SKIP:
                print(f"no {ext} encoder in this libheif: {name} not tested")
                continue
            if r.returncode != 0:
                raise RuntimeError(f"make_heif failed for {name}: {r.stderr.decode(errors='replace')}")
            made += 1
            add_decode(m, name, "-", 0, 0, 0, (h, w), (h, w), "heif")
            m.add("quads", name, *QUADRANT_COLOURS, 16)
            m.add("dexif", name, o, calendar.timegm((2023, 5, 6, 7, 8, 9)), "Apple", "iPhone 13",
                  f"{dms(lat):.9f}", f"{dms(lon):.9f}")
    return 0 if made else SKIP


# ------------------------------------------------------------ hostile

def gen_hostile(m, args):
    def write(name, data):
        with open(m.path(name), "wb") as f:
            f.write(data)
        return name

    rng = np.random.default_rng(99)
    write("empty.jpg", b"")
    m.add("fail", "empty.jpg", "corrupt")
    write("random.bin", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    m.add("fail", "random.bin", "unsupported")
    write("random_after_magic.jpg", b"\xff\xd8\xff" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    m.add("fail", "random_after_magic.jpg", "corrupt")
    write("random_after_magic.png", b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    m.add("fail", "random_after_magic.png", "corrupt")

    base = pattern(256, 256, seed=8)
    save_jpeg(m, "whole.jpg", base, quality=90)
    with open(m.path("whole.jpg"), "rb") as f:
        jpeg = f.read()
    # Cut at 50%: the top part is there, the rest is gray; accepted as partial.
    write("half.jpg", jpeg[: len(jpeg) // 2])
    ref = m.write_raw("whole.jpg.rgb", pil_reference(m.path("whole.jpg")))
    m.add("partial", "half.jpg", ref, 25, 3, 0.5)
    # Cut right after the scan header: nothing decodable.
    sos = jpeg.index(b"\xff\xda")
    sos_end = sos + 2 + struct.unpack(">H", jpeg[sos + 2: sos + 4])[0]
    write("no_scan_data.jpg", jpeg[:sos_end])
    m.add("fail", "no_scan_data.jpg", "corrupt")
    write("header_only.jpg", jpeg[:sos // 2])
    m.add("fail", "header_only.jpg", "corrupt")
    # A header declaring 65000x65000 (SOF0 patched).
    sof = jpeg.index(b"\xff\xc0")
    write("huge.jpg", jpeg[: sof + 5] + struct.pack(">HH", 65000, 65000) + jpeg[sof + 9:])
    m.add("fail", "huge.jpg", "too_large")
    # PNG whose IHDR says 100000x100000 (valid CRC, tiny IDAT).
    png = png_bytes(np.zeros((1, 1, 3), np.uint8), 8, 2)
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    write("huge.png", png[:16] + ihdr + crc + png[33:])
    m.add("fail", "huge.png", "too_large")
    # BMPs: huge, negative width, INT_MIN height.
    bmp = bmp_top_down(pattern(8, 8, seed=1))
    write("huge.bmp", bmp[:18] + struct.pack("<ii", 0x7FFFFFFF, 0x7FFFFFFF) + bmp[26:])
    m.add("fail", "huge.bmp", "too_large")
    write("negative_width.bmp", bmp[:18] + struct.pack("<ii", -8, 8) + bmp[26:])
    m.add("fail", "negative_width.bmp", "corrupt")
    write("int_min_height.bmp", bmp[:18] + struct.pack("<ii", 8, -0x80000000) + bmp[26:])
    m.add("fail", "int_min_height.bmp", "corrupt")
    # GIF with a zero-sized screen.
    Image.fromarray(pattern(8, 8, seed=2)).quantize(8).save(m.path("ok.gif"))
    with open(m.path("ok.gif"), "rb") as f:
        gif = f.read()
    write("zero.gif", gif[:6] + struct.pack("<HH", 0, 0) + gif[10:])
    m.add("fail", "zero.gif", "corrupt")
    # WebP: truncated, and a header naming an impossible size is refused by libwebp.
    Image.fromarray(base).save(m.path("whole.webp"), quality=80)
    with open(m.path("whole.webp"), "rb") as f:
        webp = f.read()
    write("half.webp", webp[: len(webp) // 2])
    m.add("fail", "half.webp", "corrupt")
    # PNM declaring a giant size with no data; one promising more pixels than
    # it holds; ASCII samples that stop early or are not numbers.
    write("huge.ppm", b"P6\n# comment\n200000 200000\n255\n")
    m.add("fail", "huge.ppm", "too_large")
    write("short.ppm", b"P6\n5000 5000\n255\n" + bytes(1000))
    m.add("fail", "short.ppm", "corrupt")
    write("short.pgm", b"P2\n3 3\n255\n1 2 3 4 5 6 7 8\n")
    m.add("fail", "short.pgm", "corrupt")
    write("letters.pbm", b"P1\n3 3\n0 1 0 1 x 1 0 1 0\n")
    m.add("fail", "letters.pbm", "corrupt")
    write("no_maxval.pgm", b"P5\n3 3\n")
    m.add("fail", "no_maxval.pgm", "corrupt")
    # TGA recognised by name only; the same bytes named .bin are unknown.
    Image.fromarray(pattern(8, 8, seed=2)).save(m.path("small.tga"))
    shutil.copy(m.path("small.tga"), m.path("small_tga.bin"))
    m.add("fail", "small_tga.bin", "unsupported")
    # HEIF brand with garbage after it.
    write("junk.heic", struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0mif1heic" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    have_heif = (args + ["yes"])[0] == "yes"
    m.add("fail", "junk.heic", "corrupt" if have_heif else "unsupported")

    # Every truncation and random damage of small files: clear errors or
    # images, never a crash (run under ASan/UBSan too).
    small = pattern(40, 30, seed=4)
    save_jpeg(m, "small.jpg", small, quality=80)
    save_jpeg(m, "small_prog.jpg", small, quality=80, progressive=True)
    Image.fromarray(small).save(m.path("small.png"))
    Image.fromarray(small).quantize(16).save(m.path("small.gif"))
    Image.fromarray(small).save(m.path("small.bmp"))
    Image.fromarray(small).save(m.path("small.webp"), quality=70)
    Image.fromarray(small).save(m.path("small_ll.webp"), lossless=True)
    Image.fromarray(small).save(m.path("small.ppm"))
    Image.fromarray(small).save(m.path("small2.tga"), rle=True)
    with open(m.path("small_plain.ppm"), "wb") as f:
        f.write(b"P3\n40 30\n255\n" + b" ".join(b"%d" % v for v in small.reshape(-1)))
    for name in ("small.jpg", "small_prog.jpg", "small.png", "small.gif", "small.bmp",
                 "small.webp", "small_ll.webp", "small.ppm", "small2.tga", "small_plain.ppm"):
        m.add("prefixes", name, 7)
        m.add("mutate", name, 400, sum(map(ord, name)))
    # Large enough to decode at 1/8 (target 64), so from its DC scans when
    # whole: every cut and byte damage lands in that path or its fallback.
    save_jpeg(m, "eighth_prog.jpg", pattern(600, 528, seed=9), quality=75, progressive=True)
    m.add("prefixes", "eighth_prog.jpg", 101)
    m.add("mutate", "eighth_prog.jpg", 400, 1234)
    # Known-bad samples, when there are any: a clear result, no crash.
    root = os.environ.get("CAPSEARCH_SAMPLES", "")
    bad = os.path.join(root, "known-bad") if root else ""
    if bad and os.path.isdir(bad):
        for n in sorted(os.listdir(bad)):
            if os.path.isfile(os.path.join(bad, n)):
                shutil.copy(os.path.join(bad, n), m.path("known-bad-" + n))
                m.add("nocrash", "known-bad-" + n)
    return 0


GENERATORS = {"decode": gen_decode, "exif": gen_exif, "phash": gen_phash,
              "photos": gen_photos, "heif": gen_heif, "hostile": gen_hostile}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in GENERATORS:
        print(__doc__, file=sys.stderr)
        return 2
    kind, checker, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    folder = tempfile.mkdtemp(prefix=f"capsearch-image-{kind}-")
    try:
        m = Manifest(folder)
        status = GENERATORS[kind](m, extra)
        if status == SKIP:
            return SKIP
        m.write()
        return subprocess.call([checker, folder])
    finally:
        if os.environ.get("CAPSEARCH_KEEP_FIXTURES"):
            print(f"fixtures kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
