"""CLIP in the library, through the capsearch CLI and the HTTP API, with tiny
CLIP models of random weights from tools/gen-test-clip: the embeddings
`index --model` stores (equal to `capsearch embed`'s), the model recorded
for later runs, re-embedding nothing twice, moving to another model only
once it is complete, hybrid text search (alpha 0 = the text ranking, 1 = the
vector ranking, which must be the brute-force cosine order), search by
picture and "similar" on CLIP vectors, and missing or broken model folders.
Random weights make the rankings meaningless: these tests check mechanics,
not relevance."""
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import CAPSEARCH, json_lines, run, run_json
from server import Server

import numpy as np
from PIL import Image, ImageDraw

GEN_TEST_CLIP = os.environ.get("GEN_TEST_CLIP") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "gen-test-clip")
WORDS = ["boat", "kite", "tree", "cup", "cat", "dog"]
NIMAGES = 18
QUERY = "boat"
# Ranks closer than this in cosine may come out in either order (float
# rounding differs between FAISS and Python).
TIE = 1e-5
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def make_model(folder, seed):
    subprocess.run([GEN_TEST_CLIP, folder, "--size", "tiny", "--seed", str(seed)], check=True,
                   capture_output=True)
    return folder


def write_pictures(folder):
    """NIMAGES small pictures with a word of WORDS in their names, JPEG and
    PNG, of different sizes and content."""
    rng = random.Random(7)
    paths = []
    for i in range(NIMAGES):
        w, h = 40 + 7 * i, 30 + 5 * (i % 4)
        im = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
        for _ in range(w * h // 4):
            im.putpixel((rng.randrange(w), rng.randrange(h)),
                        tuple(rng.randrange(256) for _ in range(3)))
        ext = "jpg" if i % 2 else "png"
        path = os.path.join(folder, f"{WORDS[i % len(WORDS)]}_{i:02d}.{ext}")
        im.save(path)
        paths.append(path)
    return paths


def catalog(db):
    return sqlite3.connect(os.path.join(db, "catalog.db"))


def meta(db, key):
    con = catalog(db)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def stored_embeddings(db, model):
    """path -> the embedding stored for `model` (little-endian float32)."""
    con = catalog(db)
    try:
        rows = con.execute("SELECT i.path, e.dim, e.data FROM embeddings e JOIN images i "
                           "ON i.id = e.image_id WHERE e.model = ?", (model,)).fetchall()
    finally:
        con.close()
    return {path: list(struct.unpack(f"<{dim}f", data)) for path, dim, data in rows}


def embed(model, kind, inputs, *options):
    proc = subprocess.run([CAPSEARCH, "embed", "--model", model, "--json", *options,
                           f"--{kind}"] + inputs, capture_output=True, check=True, timeout=300)
    return [e["embedding"] for e in json.loads(proc.stdout)["embeddings"]]


def model_input(model, path, *options):
    """The preprocessed tensor `embed --dump-input` writes for `path`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "input.f32")
        embed(model, "image", [path], "--dump-input", out, *options)
        with open(out, "rb") as f:
            return np.frombuffer(f.read(), dtype="<f4").astype(np.float64)


def draft_reference(path, side):
    """What draft decoding should give, from Pillow: its own DCT-scaled JPEG
    decode (Image.draft, the largest scale keeping both sides >= the size
    asked for: the model's input side), then the model's resize, crop and normalisation as in
    tests/unit/clip_preprocess (Pillow's antialiased bicubic)."""
    im = Image.open(path)
    im.draft("RGB", (side, side))
    im = im.convert("RGB")
    w, h = im.size
    short, long = min(w, h), max(w, h)
    new_long = int(side * long / short)
    rw, rh = (side, new_long) if w <= h else (new_long, side)
    im = im.resize((rw, rh), getattr(Image, "Resampling", Image).BICUBIC)
    top, left = (rh - side) // 2, (rw - side) // 2
    crop = np.asarray(im, dtype=np.float64)[top:top + side, left:left + side] / 255.0
    crop = (crop - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    return crop.transpose(2, 0, 1).ravel()


def cosine_order(query, vectors):
    """(path, score) best first, by inner product (the vectors are normalised)."""
    scored = [(p, sum(a * b for a, b in zip(query, v))) for p, v in vectors.items()]
    return sorted(scored, key=lambda ps: -ps[1])


def index(db, *args, check=True):
    proc = run(["index", "--json", *args], db, check=check)
    return json_lines(proc), proc


def done_event(events):
    done = events[-1]
    assert done["event"] == "done", done
    return done


def search(db, query, *args):
    return run_json(["search", query, "-k", str(NIMAGES), "--explain", *args], db)


def ranking(doc):
    return [(r["path"], r["score"]) for r in doc["results"]]


class ClipLibrary(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="capsearch-clip-models-")
        cls.model_a = make_model(os.path.join(cls.shared, "clip-a"), 1)
        cls.model_b = make_model(os.path.join(cls.shared, "clip-b"), 2)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="capsearch-clip-test-")
        self.db = os.path.join(self.tmp, "library")
        self.photos = os.path.join(self.tmp, "photos")
        os.makedirs(self.photos)
        self.paths = write_pictures(self.photos)
        index(self.db, self.photos)
        self.text_only = search(self.db, QUERY)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def index_with(self, model, *args):
        events, _ = index(self.db, self.photos, "--model", model, *args)
        return done_event(events)

    def check_vector_order(self, got, query, vectors):
        """got: [(path, raw score)] from the vector source; must be the
        brute-force order, ties within TIE aside."""
        want = cosine_order(query, vectors)
        self.assertEqual(sorted(p for p, _ in got), sorted(vectors))
        want_score = dict(want)
        for (path, score) in got:
            self.assertAlmostEqual(score, want_score[path], delta=1e-5)
        for (p1, _), (p2, _) in zip(got, got[1:]):
            self.assertGreaterEqual(want_score[p1] + TIE, want_score[p2],
                                    f"{p1} ranked before {p2}")

    # ---- indexing ----

    def test_index_stores_the_model_embeddings(self):
        done = self.index_with(self.model_a)
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["embed_total"], NIMAGES)
        self.assertEqual(done["embedded"], NIMAGES)
        model_id = meta(self.db, "embedding_model")
        self.assertRegex(model_id, r"^clip:clip-a:[0-9a-f]{12}$")
        self.assertEqual(meta(self.db, "clip_model_dir"), os.path.realpath(self.model_a))
        stored = stored_embeddings(self.db, model_id)
        self.assertEqual(sorted(stored), sorted(self.paths))
        for path, want in zip(self.paths, embed(self.model_a, "image", self.paths)):
            got = stored[path]
            self.assertEqual(len(got), len(want))
            self.assertLessEqual(max(abs(a - b) for a, b in zip(got, want)), 1e-6, path)
        stats = run_json(["stats"], self.db)
        self.assertEqual(stats["embedding_model"], model_id)
        self.assertEqual(stats["vectors"], NIMAGES)
        # the next run embeds nothing, and uses the recorded model
        events, _ = index(self.db, self.photos)
        self.assertEqual(done_event(events)["embedded"], 0)
        self.assertEqual(done_event(events)["embed_total"], 0)
        # a new picture gets its embedding and joins the vectors
        extra = os.path.join(self.photos, "boat_extra.png")
        Image.new("RGB", (50, 60), (200, 10, 10)).save(extra)
        events, _ = index(self.db, self.photos)
        self.assertEqual(done_event(events)["embedded"], 1)
        self.assertEqual(run_json(["stats"], self.db)["vectors"], NIMAGES + 1)
        self.assertEqual(stored_embeddings(self.db, model_id)[extra],
                         embed(self.model_a, "image", [extra])[0])
        # a changed picture: its new embedding replaces the old vector
        changed = self.paths[0]
        Image.new("RGB", (64, 48), (0, 0, 250)).save(changed)
        events, _ = index(self.db, self.photos)
        self.assertEqual(done_event(events)["indexed"], 1)
        self.assertEqual(done_event(events)["embedded"], 1)
        stats = run_json(["stats"], self.db)
        self.assertEqual(stats["images"], NIMAGES + 1)
        self.assertEqual(stats["vectors"], NIMAGES + 1)
        doc = run_json(["search", "--image", changed, "-k", "1", "--explain"], self.db)
        self.assertEqual(doc["results"][0]["path"], changed)
        self.assertGreater(doc["results"][0]["explain"]["vector"]["score"], 0.99999)

    def test_progress_events(self):
        events, _ = index(self.db, self.photos, "--model", self.model_a)
        embedded = [e for e in events if e["event"] == "embedded"]
        self.assertTrue(embedded)
        # batches of 16
        self.assertEqual([e["embedded"] for e in embedded], [16, NIMAGES])

    def test_other_weights_give_another_id(self):
        folder = os.path.join(self.tmp, "model")
        shutil.copytree(self.model_a, folder)
        self.index_with(folder)
        first = meta(self.db, "embedding_model")
        shutil.copy(os.path.join(self.model_b, "model.safetensors"), folder)
        events, _ = index(self.db, self.photos)
        self.assertEqual(done_event(events)["embedded"], NIMAGES)
        second = meta(self.db, "embedding_model")
        self.assertNotEqual(first, second)
        self.assertTrue(second.startswith("clip:model:"))

    def test_switching_models_waits_for_completeness(self):
        self.index_with(self.model_a)
        id_a = meta(self.db, "embedding_model")
        # One picture the CLIP stage cannot read, while the indexer sees it
        # unchanged (same size and time): the run with B stays incomplete.
        victim = self.paths[3]
        original = open(victim, "rb").read()
        st = os.stat(victim)
        with open(victim, "wb") as f:
            f.write(b"\0" * len(original))
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
        events, _ = index(self.db, self.photos, "--model", self.model_b)
        done = done_event(events)
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["embedded"], NIMAGES - 1)
        self.assertTrue(any(e["event"] == "error" and e["path"] == victim for e in events))
        self.assertTrue(any(e["event"] == "warning" and "CLIP" in e["message"] for e in events))
        self.assertEqual(meta(self.db, "embedding_model"), id_a)
        self.assertEqual(run_json(["stats"], self.db)["embedding_model"], id_a)
        # searches still rank with A's vectors
        vectors_a = stored_embeddings(self.db, id_a)
        query_a = embed(self.model_a, "text", [QUERY])[0]
        doc = search(self.db, QUERY, "--alpha", "1")
        self.check_vector_order([(r["path"], r["explain"]["vector"]["score"])
                                 for r in doc["results"]], query_a, vectors_a)
        # the picture is back: the recorded model (B) completes and takes over
        with open(victim, "wb") as f:
            f.write(original)
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
        events, _ = index(self.db, self.photos)
        self.assertEqual(done_event(events)["embedded"], 1)
        id_b = meta(self.db, "embedding_model")
        self.assertRegex(id_b, r"^clip:clip-b:")
        vectors_b = stored_embeddings(self.db, id_b)
        self.assertEqual(len(vectors_b), NIMAGES)
        query_b = embed(self.model_b, "text", [QUERY])[0]
        doc = search(self.db, QUERY, "--alpha", "1")
        self.check_vector_order([(r["path"], r["explain"]["vector"]["score"])
                                 for r in doc["results"]], query_b, vectors_b)

    # ---- hybrid text search ----

    def test_alpha(self):
        self.index_with(self.model_a)
        model_id = meta(self.db, "embedding_model")
        # 0: exactly the text ranking of the library before CLIP
        doc = search(self.db, QUERY, "--alpha", "0")
        self.assertEqual(ranking(doc), ranking(self.text_only))
        self.assertTrue(doc["results"])
        for r in doc["results"]:
            self.assertEqual(set(r["explain"]), {"text"})
        # 1: the vector ranking alone, in brute-force cosine order
        doc = search(self.db, QUERY, "--alpha", "1")
        got = [(r["path"], r["explain"]["vector"]["score"]) for r in doc["results"]]
        for r in doc["results"]:
            self.assertEqual(set(r["explain"]), {"vector"})
        self.check_vector_order(got, embed(self.model_a, "text", [QUERY])[0],
                                stored_embeddings(self.db, model_id))
        # between: both sources, text weighted 1 - alpha and vectors alpha
        # (default 0.5)
        for alpha in [None, 0.25, 0.9]:
            doc = search(self.db, QUERY, *(["--alpha", str(alpha)] if alpha is not None else []))
            weight = 0.5 if alpha is None else alpha
            self.assertEqual(len(doc["results"]), NIMAGES)
            both = [r for r in doc["results"] if r["explain"]["text"]["rank"]]
            self.assertTrue(both)
            for r in doc["results"]:
                e = r["explain"]
                want = weight / (60 + e["vector"]["rank"])
                if e["text"]["rank"]:
                    want += (1 - weight) / (60 + e["text"]["rank"])
                self.assertAlmostEqual(r["score"], want, places=9)
            scores = [r["score"] for r in doc["results"]]
            self.assertEqual(scores, sorted(scores, reverse=True))
        # --explain in text shows both sources
        text = run(["search", QUERY, "--explain"], self.db).stdout.decode()
        self.assertIn("text #1", text)
        self.assertIn("vector #", text)

    def test_query_precision(self):
        """CAPSEARCH_QUERY_PRECISION: the search copy's precision. f16 ranks
        as f32 does (scores within 1e-3 of the float32 query's cosines); an
        unknown value leaves the words alone, with a warning saying why."""
        self.index_with(self.model_a)
        model_id = meta(self.db, "embedding_model")
        want = dict(cosine_order(embed(self.model_a, "text", [QUERY])[0],
                                 stored_embeddings(self.db, model_id)))
        for precision in ("f16", "int8"):
            env = dict(os.environ, CAPSEARCH_QUERY_PRECISION=precision)
            doc = run_json(["search", QUERY, "-k", str(NIMAGES), "--explain", "--alpha", "1"],
                           self.db, env=env)
            self.assertNotIn("warning", doc)
            self.assertEqual(len(doc["results"]), NIMAGES)
            for r in doc["results"]:
                self.assertAlmostEqual(r["explain"]["vector"]["score"], want[r["path"]],
                                       delta=1e-3 if precision == "f16" else 2e-2)
        env = dict(os.environ, CAPSEARCH_QUERY_PRECISION="fp16")
        doc = run_json(["search", QUERY, "-k", str(NIMAGES), "--explain"], self.db, env=env)
        self.assertIn("CAPSEARCH_QUERY_PRECISION", doc.get("warning", ""))
        self.assertEqual(ranking(doc), ranking(self.text_only))

    def test_bad_alpha_is_refused(self):
        self.index_with(self.model_a)
        for bad in ["-0.1", "1.5", "abc", "nan", ""]:
            proc = run(["search", QUERY, "--alpha", bad], self.db, check=False)
            self.assertEqual(proc.returncode, 2, bad)
            self.assertIn(b"--alpha", proc.stderr)
        server = Server(self.db, env=dict(os.environ))
        try:
            for bad in ["2", "-1", "abc", "nan", "1e400"]:
                status, _, body = server.request(f"/api/search?q={QUERY}&alpha={bad}")
                self.assertEqual(status, 400, bad)
                self.assertIn("alpha", json.loads(body)["error"]["message"])
            doc = server.json(f"/api/search?q={QUERY}&alpha=1&k={NIMAGES}")
            cli = search(self.db, QUERY, "--alpha", "1")
            self.assertEqual([r["path"] for r in doc["results"]],
                             [r["path"] for r in cli["results"]])
            doc = server.json(f"/api/search?q={QUERY}&alpha=0&k={NIMAGES}")
            self.assertEqual([r["path"] for r in doc["results"]],
                             [r["path"] for r in self.text_only["results"]])
        finally:
            server.stop()

    # ---- pictures ----

    def test_search_by_picture_and_similar(self):
        self.index_with(self.model_a)
        model_id = meta(self.db, "embedding_model")
        vectors = stored_embeddings(self.db, model_id)
        probe = self.paths[5]
        doc = run_json(["search", "--image", probe, "-k", str(NIMAGES), "--explain"], self.db)
        got = [(r["path"], r["explain"]["vector"]["score"]) for r in doc["results"]]
        self.assertEqual(got[0][0], probe)
        self.assertGreater(got[0][1], 0.99999)
        self.check_vector_order(got, vectors[probe], vectors)
        # the HTTP route embeds the same way, also after a text search opened
        # the text tower alone; texts are embedded the same way after it
        server = Server(self.db, env=dict(os.environ))
        try:
            def texts(q):
                doc = server.json("/api/search?" + urllib.parse.urlencode(
                    {"q": q, "alpha": "1", "k": NIMAGES, "explain": "1"}))
                self.assertEqual(doc["query_embedding"], "computed")
                return [(r["path"], r["score"]) for r in doc["results"]]

            def cli_texts(q):
                doc = run_json(["search", q, "--alpha", "1", "-k", str(NIMAGES)], self.db)
                return [(r["path"], r["score"]) for r in doc["results"]]

            self.assertEqual(texts("kite"), cli_texts("kite"))
            with open(probe, "rb") as f:
                status, _, body = server.request(f"/api/search/image?k={NIMAGES}", "POST",
                                                 f.read())
            self.assertEqual(status, 200, body[:300])
            self.assertEqual([r["path"] for r in json.loads(body)["results"]],
                             [p for p, _ in got])
            self.assertEqual(texts("boat"), cli_texts("boat"))
        finally:
            server.stop()
        # similar: the stored vector, the image itself left out
        con = catalog(self.db)
        probe_id = con.execute("SELECT id FROM images WHERE path = ?", (probe,)).fetchone()[0]
        con.close()
        doc = run_json(["similar", str(probe_id), "-k", str(NIMAGES), "--explain"], self.db)
        got = [(r["path"], r["explain"]["vector"]["score"]) for r in doc["results"]]
        others = {p: v for p, v in vectors.items() if p != probe}
        self.check_vector_order(got, vectors[probe], others)

    # ---- missing and broken models ----

    def test_missing_model_folder(self):
        folder = os.path.join(self.tmp, "gone")
        shutil.copytree(self.model_a, folder)
        self.index_with(folder)
        model_id = meta(self.db, "embedding_model")
        shutil.rmtree(folder)
        # text search goes on, with the text ranking alone and a warning
        doc = search(self.db, QUERY)
        self.assertEqual(ranking(doc), ranking(self.text_only))
        self.assertIn(folder, doc["warning"])
        proc = run(["search", QUERY], self.db)
        self.assertIn(b"warning:", proc.stderr)
        # a picture cannot be embedded: a clear error naming the folder
        proc = run(["search", "--image", self.paths[0]], self.db, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(folder.encode(), proc.stderr)
        # similar still works on the stored vectors
        run(["similar", "1"], self.db)
        # indexing goes on without CLIP, once warned; nothing is lost
        extra = os.path.join(self.photos, "kite_extra.png")
        Image.new("RGB", (50, 60), (10, 200, 10)).save(extra)
        events, _ = index(self.db, self.photos)
        done = done_event(events)
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["indexed"], 1)
        warnings = [e for e in events if e["event"] == "warning" and folder in e["message"]]
        self.assertEqual(len(warnings), 1)
        self.assertEqual(meta(self.db, "embedding_model"), model_id)
        self.assertEqual(len(stored_embeddings(self.db, model_id)), NIMAGES)
        self.assertIn(extra, [r["path"] for r in search(self.db, "kite")["results"]])

    def test_bad_model_is_an_error_and_loses_nothing(self):
        self.index_with(self.model_a)
        model_id = meta(self.db, "embedding_model")
        broken = os.path.join(self.tmp, "broken")
        shutil.copytree(self.model_a, broken)
        with open(os.path.join(broken, "model.safetensors"), "r+b") as f:
            f.truncate(1000)
        missing = os.path.join(self.tmp, "no-such-model")
        for folder in [broken, missing]:
            events, proc = index(self.db, self.photos, "--model", folder, check=False)
            self.assertEqual(proc.returncode, 1, folder)
            self.assertIn(folder, done_event(events)["message"])
            proc = run(["index", self.photos, "--model", folder], self.db, check=False)
            self.assertIn(folder.encode(), proc.stderr)
        self.assertEqual(meta(self.db, "embedding_model"), model_id)
        self.assertEqual(meta(self.db, "clip_model_dir"), os.path.realpath(self.model_a))
        self.assertEqual(len(stored_embeddings(self.db, model_id)), NIMAGES)
        doc = search(self.db, QUERY, "--alpha", "0")
        self.assertEqual(ranking(doc), ranking(self.text_only))
        # --precision needs --model
        proc = run(["index", self.photos, "--precision", "int8"], self.db, check=False)
        self.assertEqual(proc.returncode, 2)

    def test_draft_decoding(self):
        """Indexing decodes a large JPEG at a reduced DCT scale (short side
        still >= the model's input): the stored embedding is `embed
        --draft`'s, its input is Pillow's own draft decode resized the
        reference way (within 1e-6), and it stays close to the full-size
        decode's."""
        photos = os.path.join(self.tmp, "large")
        os.makedirs(photos)
        big = os.path.join(photos, "big_scene.jpg")
        rng = random.Random(3)
        # 480x320 for a 32-pixel model: 1/8 keeps the short side >= 32 (the
        # rule), where twice the side would have taken 1/4
        im = Image.new("RGB", (480, 320), (90, 140, 200))
        draw = ImageDraw.Draw(im)
        for _ in range(60):
            x, y = rng.randrange(480), rng.randrange(320)
            r = rng.randrange(10, 80)
            draw.ellipse((x - r, y - r, x + r, y + r),
                         fill=tuple(rng.randrange(256) for _ in range(3)))
        im.save(big, quality=92)
        db = os.path.join(self.tmp, "large-library")
        index(db, photos, "--model", self.model_a)
        stored = stored_embeddings(db, meta(db, "embedding_model"))[big]
        draft = embed(self.model_a, "image", [big], "--draft")[0]
        self.assertLessEqual(max(abs(a - b) for a, b in zip(stored, draft)), 1e-6)
        with open(os.path.join(self.model_a, "config.json")) as f:
            side = json.load(f)["vision_config"]["image_size"]
        got = model_input(self.model_a, big, "--draft")
        want = draft_reference(big, side)
        self.assertEqual(got.shape, want.shape)
        self.assertLessEqual(float(np.abs(got - want).max()), 1e-6)
        full = model_input(self.model_a, big)
        self.assertGreater(float(np.abs(got - full).max()), 0.0, "draft decoded at full size")
        exact = embed(self.model_a, "image", [big])[0]
        self.assertGreater(sum(a * b for a, b in zip(draft, exact)), 0.99)

    def test_int8(self):
        done = self.index_with(self.model_a, "--precision", "int8")
        self.assertEqual(done["embedded"], NIMAGES)
        self.assertEqual(meta(self.db, "clip_precision"), "int8")
        model_id = meta(self.db, "embedding_model")
        stored = stored_embeddings(self.db, model_id)
        for path, want in zip(self.paths, embed(self.model_a, "image", self.paths)):
            self.assertGreater(sum(a * b for a, b in zip(stored[path], want)), 0.99, path)


if __name__ == "__main__":
    unittest.main()
