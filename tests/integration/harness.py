"""Shared helpers for the integration tests: run the built capsearch, make
temporary libraries and photo folders, and generate bad files."""
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib

CAPSEARCH = os.environ.get("CAPSEARCH_BIN", "capsearch")
SAMPLES = os.environ.get("CAPSEARCH_SAMPLES") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "capsearch", "samples")


def samples_dir():
    """The sample photo folder from tools/fetch-samples.sh. Without it the
    tests skip, unless CAPSEARCH_REQUIRE_SAMPLES=1 (tools/test.sh sets it)."""
    if not os.path.isfile(os.path.join(SAMPLES, ".complete")):
        message = f"no sample photos in {SAMPLES} (run tools/fetch-samples.sh)"
        if os.environ.get("CAPSEARCH_REQUIRE_SAMPLES") == "1":
            raise AssertionError(message)
        raise unittest.SkipTest(message)
    return SAMPLES


def run(args, db, check=True, timeout=600, **kw):
    """Runs capsearch --db DB ARGS; returns the CompletedProcess."""
    proc = subprocess.run([CAPSEARCH, "--db", db] + args, capture_output=True,
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"capsearch {args} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout.decode(errors='replace')}\n"
                             f"stderr: {proc.stderr.decode(errors='replace')}")
    return proc


def run_json(args, db, **kw):
    proc = run(args + ["--json"], db, **kw)
    return json.loads(proc.stdout)


def json_lines(proc):
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


def search_paths(db, query, k=10):
    doc = run_json(["search", query, "-k", str(k)], db)
    return [r["path"] for r in doc["results"]]


class TempDirs(unittest.TestCase):
    """A test case with a fresh library folder and a fresh photo folder."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="capsearch-test-")
        self.db = os.path.join(self.tmp, "library")
        self.photos = os.path.join(self.tmp, "photos")
        os.makedirs(self.photos)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def copy_samples(self, names, subdir=""):
        src = samples_dir()
        dest = os.path.join(self.photos, subdir)
        os.makedirs(dest, exist_ok=True)
        for name in names:
            shutil.copy(os.path.join(src, name), dest)
        return dest


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_size(width, height):
    """A PNG whose header declares width x height, with a tiny valid body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def write_bad_files(folder, good_jpeg):
    """Writes the hostile files every indexer must survive; returns their names."""
    rng = random.Random(1234)
    data = open(good_jpeg, "rb").read()
    files = {
        "empty.jpg": b"",
        "truncated.jpg": data[: len(data) // 2],
        "header-only.jpg": data[:200],
        "huge.png": png_with_size(100000, 100000),
        "random.jpg": bytes(rng.getrandbits(8) for _ in range(5000)),
        "text.png": b"this is not a picture\n" * 20,
        "zero-size.png": png_with_size(0, 0),
        "wrong-crc.webp": b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(20),
    }
    for name, content in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(content)
    return sorted(files)
