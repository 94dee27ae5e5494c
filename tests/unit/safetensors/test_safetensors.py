"""The safetensors reader against files written here byte by byte from the
format's description (u64 LE header length, JSON header, data), with numpy
as the reference for float16/bfloat16/float32 values; then hostile files
that must be refused with a message, never read out of bounds."""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

DUMP = sys.argv[1]
failures = []


def write(path, tensors, header_extra=None, raw_header=None, data_extra=b"", cut=0,
          length_delta=0, raw_file=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    if raw_file is not None:
        with open(path, "wb") as f:
            f.write(raw_file)
        return
    header, data = {}, b""
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    if header_extra:
        header.update(header_extra)
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    blob = struct.pack("<Q", len(text) + length_delta) + text + data + data_extra
    with open(path, "wb") as f:
        f.write(blob[:len(blob) - cut] if cut else blob)


def dump(path):
    proc = subprocess.run([DUMP, path], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def bf16_bytes(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    # round to nearest even, as torch does when casting to bfloat16
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded.astype("<u2").tobytes(), (rounded.astype(np.uint32) << 16).view(np.float32)


def main():
    rng = np.random.default_rng(7)
    tmp = tempfile.mkdtemp(prefix="st-test-")
    good = os.path.join(tmp, "good.safetensors")
    f32 = rng.standard_normal((3, 5)).astype("<f4")
    # float16 with subnormals, infinities, zero signs and the largest values
    f16 = np.array([0.0, -0.0, 1.0, -2.5, 65504, -65504, 6e-8, 3e-5, np.inf, -np.inf],
                   dtype="<f2")
    bf_blob, bf_values = bf16_bytes(rng.standard_normal(7) * 1e3)
    write(good, [("text.weight", "F32", f32.shape, f32.tobytes()),
                 ("halves", "F16", f16.shape, f16.tobytes()),
                 ("brain", "BF16", (7,), bf_blob),
                 ("scalar", "F32", (), np.array(3.25, "<f4").tobytes()),
                 ("empty", "F32", (0, 4), b""),
                 ("ids", "I64", (2,), np.array([1, 2], "<i8").tobytes())],
          header_extra={"__metadata__": {"format": "pt"}})
    rc, out = dump(good)
    check(rc == 0, f"good file refused: {out}")
    got = {d["name"]: d for d in (json.loads(l) for l in out.splitlines() if l.startswith("{"))}
    check(sorted(got) == sorted(["text.weight", "halves", "brain", "scalar", "empty", "ids"]),
          f"names: {sorted(got)}")
    if not failures:
        check(got["text.weight"]["shape"] == [3, 5], "shape")
        check(np.array_equal(np.array(got["text.weight"]["values"], np.float32), f32.ravel()),
              "float32 values")
        ref = f16.astype(np.float32)
        mine = np.array(got["halves"]["values"], dtype=np.float32)
        check(np.array_equal(mine, ref) and
              all(math.copysign(1, a) == math.copysign(1, b) for a, b in zip(mine, ref)),
              f"float16 values {mine} vs {ref}")
        check(np.array_equal(np.array(got["brain"]["values"], np.float32), bf_values),
              "bfloat16 values")
        check(got["scalar"]["shape"] == [] and got["scalar"]["values"] == [3.25], "scalar")
        check(got["empty"]["values"] == [], "empty tensor")
        check(got["ids"]["dtype"] == "I64" and got["ids"]["values"] == [], "int tensor")

    one = [("w", "F32", (2, 2), np.ones(4, "<f4").tobytes())]
    hostile = {
        "empty file": dict(raw_file=b""),
        "shorter than a header length": dict(raw_file=b"\x05\0\0"),
        "header length past the end": dict(tensors=one, length_delta=1000),
        "header length absurd": dict(tensors=one, length_delta=1 << 40),
        "truncated data": dict(tensors=one, cut=3),
        "not JSON": dict(raw_header=b"{not json"),
        "not an object": dict(raw_header=b"[1, 2]"),
        "unknown dtype": dict(raw_header=json.dumps(
            {"w": {"dtype": "F7", "shape": [1], "data_offsets": [0, 4]}}).encode(),
            data_extra=b"\0" * 4),
        "size mismatch": dict(raw_header=json.dumps(
            {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode(),
            data_extra=b"\0" * 8),
        "offsets past the end": dict(raw_header=json.dumps(
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode(),
            data_extra=b"\0" * 8),
        "negative offset": dict(raw_header=json.dumps(
            {"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}).encode()),
        "end before begin": dict(raw_header=json.dumps(
            {"w": {"dtype": "U8", "shape": [0], "data_offsets": [4, 2]}}).encode(),
            data_extra=b"\0" * 4),
        "overlapping tensors": dict(raw_header=json.dumps(
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode(),
            data_extra=b"\0" * 12),
        "negative dimension": dict(raw_header=json.dumps(
            {"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}).encode(),
            data_extra=b"\0" * 4),
        "nine dimensions": dict(raw_header=json.dumps(
            {"w": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}).encode(),
            data_extra=b"\0" * 4),
        "overflowing shape": dict(raw_header=json.dumps(
            {"w": {"dtype": "F32", "shape": [2 ** 31, 2 ** 31, 2 ** 31],
                   "data_offsets": [0, 4]}}).encode(), data_extra=b"\0" * 4),
        "duplicate names": dict(raw_header=b'{"w": {"dtype": "U8", "shape": [1], '
                                b'"data_offsets": [0, 1]}, "w": {"dtype": "U8", "shape": [1], '
                                b'"data_offsets": [1, 2]}}', data_extra=b"\0" * 2),
        "description not an object": dict(raw_header=b'{"w": 5}'),
    }
    for what, kw in hostile.items():
        path = os.path.join(tmp, "bad.safetensors")
        tensors = kw.pop("tensors", [])
        write(path, tensors, **kw)
        rc, out = dump(path)
        check(rc == 1 and out.startswith("error: ") and path in out,
              f"{what}: exit {rc}, {out.strip()[:200]}")
    # random corruption of the good file's header and lengths: refused or read, never a crash
    blob = open(good, "rb").read()
    for i in range(300):
        b = bytearray(blob)
        for _ in range(rng.integers(1, 4)):
            b[rng.integers(0, min(len(b), 8 + 600))] = rng.integers(0, 256)
        path = os.path.join(tmp, "fuzz.safetensors")
        open(path, "wb").write(bytes(b[:rng.integers(1, len(b) + 1)] if i % 3 == 0 else b))
        rc, out = dump(path)
        check(rc in (0, 1), f"corrupted file {i}: exit {rc}")
    print(f"{len(hostile)} hostile files, 300 corrupted ones")
    if failures:
        sys.exit(1)
    print("ok")


main()
