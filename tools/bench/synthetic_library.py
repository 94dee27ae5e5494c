#!/usr/bin/python3
"""Fills a capsearch library with N synthetic images (catalog rows with
captions, tags and colour-layout vectors; no image files) for benchmarks.

usage: tools/bench/synthetic_library.py --capsearch BIN --db DIR --count N [--seed S]

The schema comes from capsearch itself: it indexes an empty folder first, then
rows are inserted with SQLite and `capsearch stats` builds the vector file."""
import argparse
import os
import random
import sqlite3
import struct
import subprocess
import tempfile

WORDS = ("beach sunset dog cat kite boat lake mountain forest city street night snow "
         "flower garden bridge river car bicycle portrait family birthday cake coffee "
         "market train station sky cloud rain autumn summer winter spring red blue green "
         "yellow orange purple brown gray black white canon nikon sony olympus landscape").split()
FORMATS = ["jpeg", "jpeg", "jpeg", "png", "webp", "heif"]
DIM = 192


def vector(rng):
    v = [rng.gauss(0, 1) for _ in range(DIM)]
    norm = sum(x * x for x in v) ** 0.5
    return struct.pack(f"<{DIM}f", *(x / norm for x in v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capsearch", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as empty:
        subprocess.run([args.capsearch, "--db", args.db, "index", "--quiet", empty], check=True)
    con = sqlite3.connect(os.path.join(args.db, "catalog.db"))
    con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('embedding_model', 'capsearch/color-layout-v1')")
    for i in range(args.count):
        words = rng.sample(WORDS, 6)
        folder = f"/photos/{2010 + i % 15}/{rng.choice(WORDS)}"
        path = f"{folder}/IMG_{i:07d}.jpg"
        taken = 1262304000 + rng.randrange(15 * 365 * 86400)
        cur = con.execute(
            "INSERT INTO images(path, folder, size, mtime_ns, content_hash, width, height, format,"
            " taken_at, status, indexed_at, phash) VALUES (?,?,?,?,?,?,?,?,?,0,0,?)",
            (path, folder, rng.randrange(10**5, 10**7), i, f"{i:032x}", 4000, 3000,
             rng.choice(FORMATS), taken, rng.getrandbits(63)))
        image_id = cur.lastrowid
        caption = f"A landscape photo of a {words[0]} and a {words[1]}, mostly {words[2]} and {words[3]}."
        con.execute("INSERT INTO captions(image_id, caption, tags, path_words, exif_text)"
                    " VALUES (?,?,?,?,?)", (image_id, caption, " ".join(words[2:]),
                                            folder.replace("/", " "), "2020 july summer"))
        con.execute("INSERT INTO embeddings(image_id, model, dim, data) VALUES (?,?,?,?)",
                    (image_id, "capsearch/color-layout-v1", DIM, vector(rng)))
    con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    con.commit()
    con.close()
    subprocess.run([args.capsearch, "--db", args.db, "stats"], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
