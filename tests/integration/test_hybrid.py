"""Hybrid search features on a library of 150 small pictures embedded with a
tiny random-weight CLIP model (tools/gen-test-clip): the query embedding
cache (explain's "query_embedding", /metrics, invalidated when the vectors
move to another model), composed queries ("boat" + 2:"kite" - "tree"; the
vector ranking must be numpy's brute-force cosine order for the weighted,
re-normalised sum of the terms' embeddings; hostile input), and the camera,
has-text and has-faces filters: for text, vector, similar and search by
picture, a filtered ranking must be exactly the unfiltered ranking (and
numpy's brute force) restricted to the images the filter keeps, and a
selective filter must still fill the page. OCR text and faces are written
into the catalog directly (these tests run without the tagger's models and
check the filters' mechanics); camera names come from real EXIF."""
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import numpy as np
from PIL import Image

from harness import CAPSEARCH, run, run_json
from server import Server

GEN_TEST_CLIP = os.environ.get("GEN_TEST_CLIP") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "gen-test-clip")
WORDS = ["boat", "kite", "tree", "cup", "cat"]
NIMAGES = 150
ALL = str(NIMAGES + 10)
# Cosine scores closer than this may come out in either order.
TIE = 1e-5
CAMERAS = {0: ("OLYMPUS CORPORATION", "E-M1MarkII"), 1: ("Canon", "Canon EOS 5D")}


def make_model(folder, seed):
    subprocess.run([GEN_TEST_CLIP, folder, "--size", "tiny", "--seed", str(seed)], check=True,
                   capture_output=True)
    return folder


def write_pictures(folder):
    """NIMAGES pictures named after WORDS; 10 of them in few/; every 9th a
    JPEG with an Olympus or Canon in its EXIF."""
    rng = np.random.default_rng(3)
    paths = []
    os.makedirs(os.path.join(folder, "few"))
    for i in range(NIMAGES):
        w, h = 28 + i % 7, 20 + i % 3
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        pixels[: h // 2] = rng.integers(0, 256, 3, dtype=np.uint8)
        im = Image.fromarray(pixels)
        sub = "few" if i % 15 == 7 else ""
        name = f"{WORDS[i % len(WORDS)]}_{i:03d}"
        if i % 9 == 0:
            exif = Image.Exif()
            exif[0x010F], exif[0x0110] = CAMERAS[(i // 9) % 2]
            path = os.path.join(folder, sub, name + ".jpg")
            im.save(path, quality=95, exif=exif)
        else:
            path = os.path.join(folder, sub, name + ".png")
            im.save(path)
        paths.append(path)
    return paths


def connect(db):
    return sqlite3.connect(os.path.join(db, "catalog.db"))


def meta(db, key):
    with connect(db) as con:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def stored(db, model):
    """path -> stored embedding (float32, as numpy reads the blob)."""
    with connect(db) as con:
        rows = con.execute("SELECT i.path, e.dim, e.data FROM embeddings e JOIN images i "
                           "ON i.id = e.image_id WHERE e.model = ?", (model,)).fetchall()
    return {p: np.array(struct.unpack(f"<{d}f", data), dtype=np.float64) for p, d, data in rows}


def embed_texts(model, texts):
    proc = subprocess.run([CAPSEARCH, "embed", "--model", model, "--json", "--text"] + texts,
                          capture_output=True, check=True, timeout=300)
    return [np.array(e["embedding"], dtype=np.float64)
            for e in json.loads(proc.stdout)["embeddings"]]


def brute_force(query, vectors):
    """(path, cosine) best first."""
    return sorted(((p, float(v @ query)) for p, v in vectors.items()), key=lambda ps: -ps[1])


def paths(doc):
    return [r["path"] for r in doc["results"]]


def source_scores(doc):
    """Each result's score in the one ranking that found it."""
    return [next(s for s in r["explain"].values() if s["rank"] is not None)["score"]
            for r in doc["results"]]


class Hybrid(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="capsearch-hybrid-")
        cls.model_a = make_model(os.path.join(cls.tmp, "clip-a"), 1)
        cls.model_b = make_model(os.path.join(cls.tmp, "clip-b"), 2)
        cls.photos = os.path.join(cls.tmp, "photos")
        cls.paths = write_pictures(cls.photos)
        cls.db = os.path.join(cls.tmp, "library")
        run(["index", "--quiet", cls.photos, "--model", cls.model_a], cls.db)
        cls.model_id = meta(cls.db, "embedding_model")
        assert cls.model_id.startswith("clip:clip-a:"), cls.model_id
        cls.vectors = stored(cls.db, cls.model_id)
        assert len(cls.vectors) == NIMAGES
        # what OCR and the tagger would have stored
        with connect(cls.db) as con:
            ids = dict(con.execute("SELECT path, id FROM images"))
            cls.ids = ids
            cls.text_paths = {p for i, p in enumerate(cls.paths) if i % 23 == 4}
            cls.face_paths = {p for i, p in enumerate(cls.paths) if i % 19 == 2 or i % 23 == 4}
            for p in cls.text_paths:
                con.execute("UPDATE captions SET ocr = 'open daily' WHERE image_id = ?",
                            (ids[p],))
            for p in cls.face_paths:
                con.execute("INSERT INTO tags (image_id, tag, kind, score) VALUES "
                            "(?, 'face', 'face', 0.9)", (ids[p],))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def search(self, query, *args, db=None):
        return run_json(["search", query, "--explain", *args], db or self.db)

    def check_order(self, got, query, vectors):
        """got: [(path, raw vector score)]: the brute-force order over
        `vectors`, ties within TIE aside, and all of it."""
        want = brute_force(query, vectors)
        self.assertEqual(sorted(p for p, _ in got), sorted(p for p, _ in want))
        score = dict(want)
        for path, s in got:
            self.assertAlmostEqual(s, score[path], delta=1e-5)
        for (p1, _), (p2, _) in zip(got, got[1:]):
            self.assertGreaterEqual(score[p1] + TIE, score[p2], f"{p1} before {p2}")

    # ---- filters ----

    def check_restricted(self, doc, unfiltered, keep, k, kind):
        """doc is the first k of `unfiltered` restricted to `keep`, but for
        the order of pictures whose scores are within TIE: the same scores
        position by position and, for a whole list, the same pictures."""
        score = dict(zip(paths(unfiltered), source_scores(unfiltered)))
        want = [p for p in paths(unfiltered) if p in keep][:k]
        got = paths(doc)
        self.assertEqual(len(got), len(want), kind)
        self.assertLessEqual(set(got), keep, kind)
        if len(want) < k:
            self.assertEqual(set(got), set(want), kind)
        for p, s in zip(got, source_scores(doc)):
            self.assertAlmostEqual(s, score[p], delta=TIE, msg=f"{kind}: {p}")
        for g, w in zip(got, want):
            self.assertAlmostEqual(score[g], score[w], delta=TIE, msg=f"{kind}: {g} for {w}")

    def filters(self):
        """(CLI args, HTTP params, the paths they keep), computed here from
        the catalog rather than by capsearch."""
        with connect(self.db) as con:
            cams = {p: f"{m or ''} {n or ''}".lower() for p, m, n in
                    con.execute("SELECT path, camera_make, camera_model FROM images")}
        few = os.path.join(self.photos, "few")
        olympus = {p for p, c in cams.items() if "olympus" in c}
        self.assertEqual(len(olympus), 9)   # EXIF camera names were read
        return [
            (["--camera", "olympus"], {"camera": "olympus"}, olympus),
            (["--camera", "EOS 5"], {"camera": "EOS 5"}, {p for p, c in cams.items()
                                                          if "eos 5" in c}),
            (["--has-text"], {"has_text": "1"}, self.text_paths),
            (["--has-faces"], {"has_faces": "1"}, self.face_paths),
            (["--has-faces", "--has-text"], {"has_faces": "1", "has_text": "1"},
             self.face_paths & self.text_paths),
            (["--folder", few], {"folder": few}, {p for p in cams if p.startswith(few + "/")}),
            (["--type", "jpeg"], {"type": "jpeg"}, {p for p in cams if p.endswith(".jpg")}),
            (["--folder", few, "--camera", "canon"], {"folder": few, "camera": "canon"},
             {p for p in cams if p.startswith(few + "/") and "canon" in cams[p]}),
            (["--camera", "no such camera"], {"camera": "no such camera"}, set()),
        ]

    def test_filters_restrict_every_ranking(self):
        query = embed_texts(self.model_a, ["boat"])[0]
        probe = self.paths[40]
        probe_id = self.ids[probe]
        unfiltered = {
            "text": self.search("boat", "--alpha", "0", "-k", ALL),
            "vector": self.search("boat", "--alpha", "1", "-k", ALL),
            "similar": run_json(["similar", str(probe_id), "-k", ALL, "--explain"], self.db),
            "image": run_json(["search", "--image", probe, "-k", ALL, "--explain"], self.db),
        }
        self.assertEqual(len(unfiltered["vector"]["results"]), NIMAGES)
        self.assertEqual(len(unfiltered["text"]["results"]), NIMAGES // len(WORDS))
        selectors = 0
        for args, _, keep in self.filters():
            for k in ["3", ALL]:
                with self.subTest(filter=args, k=k):
                    docs = {
                        "text": self.search("boat", "--alpha", "0", "-k", k, *args),
                        "vector": self.search("boat", "--alpha", "1", "-k", k, *args),
                        "similar": run_json(["similar", str(probe_id), "-k", k, "--explain",
                                             *args], self.db),
                        "image": run_json(["search", "--image", probe, "-k", k, "--explain",
                                           *args], self.db),
                    }
                    for kind, doc in docs.items():
                        self.check_restricted(doc, unfiltered[kind], keep, int(k), kind)
                        selectors += doc.get("vector_filter") == "id-selector"
                    # and numpy's brute force over the stored embeddings
                    if k == ALL:
                        kept = {p: v for p, v in self.vectors.items() if p in keep}
                        self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                          for r in docs["vector"]["results"]], query, kept)
                        kept.pop(probe, None)
                        self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                          for r in docs["similar"]["results"]],
                                         self.vectors[probe], kept)
        # the selective filters went through the index's id selector
        self.assertGreater(selectors, 0)

    def test_filtered_hybrid_restricts_both_rankings(self):
        """At alpha 0.5 both rankings run, the text one on a thread of its
        own beside the vector one, sharing one listing of the filter's
        pictures: each source's ranks among the fused results are its
        unfiltered ranking restricted to the pictures kept."""
        unfiltered = {kind: self.search("boat", "--alpha", alpha, "-k", ALL)
                      for kind, alpha in (("text", "0"), ("vector", "1"))}
        for args, _, keep in self.filters():
            with self.subTest(filter=args):
                doc = self.search("boat", "--alpha", "0.5", "-k", ALL, *args)
                self.assertLessEqual(set(paths(doc)), keep)
                for kind in ("text", "vector"):
                    ranked = sorted((r["explain"][kind]["rank"], r["path"],
                                     r["explain"][kind]["score"]) for r in doc["results"]
                                    if r["explain"][kind]["rank"] is not None)
                    self.assertEqual([rank for rank, _, _ in ranked],
                                     list(range(1, len(ranked) + 1)), kind)
                    score = dict(zip(paths(unfiltered[kind]), source_scores(unfiltered[kind])))
                    want = [p for p in paths(unfiltered[kind]) if p in keep]
                    self.assertEqual(len(ranked), len(want), kind)
                    for (_, got, got_score), wanted in zip(ranked, want):
                        self.assertAlmostEqual(got_score, score[got], delta=TIE, msg=kind)
                        self.assertAlmostEqual(score[got], score[wanted], delta=TIE, msg=kind)
        # a page the index's candidates do not fill: the id selector, from
        # the same listing, finds every picture kept
        doc = self.search("boat", "--alpha", "0.5", "-k", "20", "--has-faces")
        self.assertEqual(doc["vector_filter"], "id-selector")
        vector = [r["path"] for r in sorted(doc["results"],
                                            key=lambda r: r["explain"]["vector"]["rank"] or 999)
                  if r["explain"]["vector"]["rank"] is not None]
        want = [p for p in paths(unfiltered["vector"]) if p in self.face_paths]
        self.assertEqual(len(vector), len(want))
        score = dict(zip(paths(unfiltered["vector"]), source_scores(unfiltered["vector"])))
        for got, wanted in zip(vector, want):
            self.assertAlmostEqual(score[got], score[wanted], delta=TIE)

    def test_ivf_ranks_few_kept_pictures_by_their_embeddings(self):
        """An IVF index (CAPSEARCH_EXACT_MAX below the library's size) and a
        filter that lists its pictures from a catalog index: they are
        scored by their stored embeddings, every one, in numpy's order
        (with the exact index the same filters take the index's paths)."""
        db = os.path.join(self.tmp, "ivf-library")
        shutil.rmtree(db, ignore_errors=True)
        os.makedirs(db)
        with connect(self.db) as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(os.path.join(self.db, "catalog.db"), db)
        env = dict(os.environ, CAPSEARCH_EXACT_MAX="50")
        query = embed_texts(self.model_a, ["boat"])[0]
        probe = self.paths[7]
        for args, _, keep in self.filters():
            if args[0] == "--camera":
                continue   # no catalog index serves a camera
            with self.subTest(filter=args):
                doc = run_json(["search", "boat", "--explain", "--alpha", "1", "-k", ALL,
                                *args], db, env=env)
                self.assertEqual(doc.get("vector_filter"), "stored")   # only with IVF
                kept = {p: v for p, v in self.vectors.items() if p in keep}
                self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                  for r in doc["results"]], query, kept)
                # hybrid: the same stored ranking from the listing both share
                doc = run_json(["search", "boat", "--explain", "--alpha", "0.5", "-k", ALL,
                                *args], db, env=env)
                self.assertEqual(doc.get("vector_filter"), "stored")
                by_vector = sorted((r for r in doc["results"] if r["explain"]["vector"]["rank"]),
                                   key=lambda r: r["explain"]["vector"]["rank"])
                self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                  for r in by_vector], query, kept)
                doc = run_json(["similar", str(self.ids[probe]), "-k", ALL, "--explain",
                                *args], db, env=env)
                kept.pop(probe, None)
                self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                  for r in doc["results"]], self.vectors[probe], kept)

    def test_selective_filter_fills_the_page(self):
        keep = self.face_paths
        self.assertLess(len(keep), 20)
        # more asked for than the filter keeps: every kept image, and the
        # index searched only those (one candidate round would miss some)
        doc = self.search("boat", "--alpha", "1", "-k", "20", "--has-faces")
        self.assertEqual(doc["vector_filter"], "id-selector")
        self.assertEqual(sorted(paths(doc)), sorted(keep))
        # a page inside them, and the next one
        full = paths(doc)
        for offset in [0, 3, 6]:
            doc = self.search("boat", "--alpha", "1", "-k", "3", "--offset", str(offset),
                              "--has-faces")
            self.assertEqual(paths(doc), full[offset:offset + 3])
        doc = run_json(["similar", str(self.ids[self.paths[0]]), "-k", "20", "--explain",
                        "--has-faces"], self.db)
        self.assertEqual(doc["vector_filter"], "id-selector")
        self.assertEqual(sorted(paths(doc)), sorted(keep - {self.paths[0]}))
        # an unselective filter: one round of candidates is enough
        doc = self.search("boat", "--alpha", "1", "-k", "3", "--type", "png")
        self.assertEqual(doc["vector_filter"], "post-filter")
        self.assertEqual(len(doc["results"]), 3)

    def test_filter_usage(self):
        proc = run(["search", "boat", "--camera"], self.db, check=False)
        self.assertEqual(proc.returncode, 2)
        proc = run(["search", "--help"], self.db)
        for option in [b"--camera", b"--has-text", b"--has-faces"]:
            self.assertIn(option, proc.stdout)

    # ---- composed queries ----

    def composed_vector(self, model, terms):
        embeddings = embed_texts(model, [t for t, _ in terms])
        v = sum(w * e for (_, w), e in zip(terms, embeddings))
        return v / np.linalg.norm(v)

    def test_composed_vector_is_the_weighted_sum(self):
        cases = [
            ('"boat" + "kite"', [("boat", 1), ("kite", 1)]),
            ('"boat" + 2:"kite" - 0.5:"tree"', [("boat", 1), ("kite", 2), ("tree", -0.5)]),
            ('"a cat on a boat" - "water" + 3.25:"cup"',
             [("a cat on a boat", 1), ("water", -1), ("cup", 3.25)]),
        ]
        for text, terms in cases:
            with self.subTest(query=text):
                doc = self.search(text, "--alpha", "1", "-k", ALL)
                self.assertEqual([(t["text"], t["weight"]) for t in doc["terms"]],
                                 [(t, float(w)) for t, w in terms])
                query = self.composed_vector(self.model_a, terms)
                self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                  for r in doc["results"]], query, self.vectors)
                # filtered: the same order restricted
                keep = self.face_paths
                doc = self.search(text, "--alpha", "1", "-k", ALL, "--has-faces")
                self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                  for r in doc["results"]], query,
                                 {p: v for p, v in self.vectors.items() if p in keep})

    def test_exclusions_leave_the_vector_ranking(self):
        """"boat -kite": the text tower reads "boat" (a CLIP model reads
        "-kite" as wanting a kite), and the vector ranking leaves out the
        pictures whose words SQLite's FTS5 matches to "kite", as the text
        ranking's NOT does. Quote marks and stars are not read either."""
        with connect(self.db) as con:
            ids = {i: p for p, i in self.ids.items()}
            matched = {ids[r] for (r,) in con.execute(
                "SELECT rowid FROM captions_fts WHERE captions_fts MATCH '\"kite\" OR \"tree\"'")}
        self.assertTrue(0 < len(matched) < NIMAGES)
        boat = embed_texts(self.model_a, ["boat"])[0]
        for text in ("boat -kite -tree", "boat  -\"tree\"   -kite"):
            with self.subTest(query=text):
                doc = self.search(text, "--alpha", "1", "-k", ALL)
                self.assertEqual([(t["text"], t["weight"]) for t in doc["terms"]],
                                 [("boat", 1.0)])
                self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                  for r in doc["results"]], boat,
                                 {p: v for p, v in self.vectors.items() if p not in matched})
                fused = paths(self.search(text, "-k", ALL))
                self.assertTrue(fused)
                self.assertFalse(set(fused) & matched)
        # a page deeper than the first fetch still fills
        doc = self.search("boat -kite -tree", "--alpha", "1", "-k", "20", "--offset", "60")
        self.assertEqual(len(doc["results"]), 20)
        # the phrase's quote marks and a prefix's star are syntax, not words
        for text in ('"boat"', "boat*", "  boat "):
            with self.subTest(query=text):
                doc = self.search(text, "--alpha", "1", "-k", ALL)
                self.assertEqual([(t["text"], t["weight"]) for t in doc["terms"]],
                                 [("boat", 1.0)])
                self.check_order([(r["path"], r["explain"]["vector"]["score"])
                                  for r in doc["results"]], boat, self.vectors)
        self.assertNotIn("terms", self.search("boat", "--alpha", "1"))

    def test_composed_text_side_and_fusion(self):
        doc = self.search('"boat" + "kite" - "tree"', "-k", ALL)
        self.assertEqual(doc["fts_query"], '("boat" OR "kite") NOT "tree"')
        words = {p: os.path.basename(p).split("_")[0] for p in self.paths}
        text_hits = {r["path"] for r in doc["results"] if r["explain"]["text"]["rank"]}
        self.assertEqual(text_hits, {p for p, w in words.items() if w in ("boat", "kite")})
        for r in doc["results"]:
            e = r["explain"]
            want = 0.5 / (60 + e["vector"]["rank"])
            if e["text"]["rank"]:
                want += 0.5 / (60 + e["text"]["rank"])
            self.assertAlmostEqual(r["score"], want, places=12)
        # text only (alpha 0): no embedding at all
        doc = self.search('"boat" + "kite"', "--alpha", "0", "-k", ALL)
        self.assertNotIn("query_embedding", doc)
        self.assertEqual(set(paths(doc)),
                         {p for p, w in words.items() if w in ("boat", "kite")})

    def test_composed_without_clip_vectors(self):
        db = os.path.join(self.tmp, "plain-library")
        run(["index", "--quiet", self.photos], db)
        doc = self.search('"boat" + 2:"cup" - "kite"', "-k", ALL, db=db)
        self.assertNotIn("warning", doc)
        self.assertNotIn("query_embedding", doc)
        self.assertEqual(doc["fts_query"], '("boat" OR "cup") NOT "kite"')
        self.assertEqual(set(paths(doc)), {p for p in self.paths if os.path.basename(p)
                                           .split("_")[0] in ("boat", "cup")})
        for r in doc["results"]:
            self.assertEqual(set(r["explain"]), {"text"})

    def test_composed_hostile_input(self):
        errors = {
            '"boat" + 1e999:"kite"': b"'1e999'",
            '"boat" + -:"kite"': b"weight '-'",
            '"boat" -:"kite"': b"weight ''",
            '"" + "kite"': b"term 1 of the composed query is empty",
            " + ".join(f'"w{i}"' for i in range(17)): b"at most 16",
            " + ".join(f'"w{i % 7}"' for i in range(10000)): b"this one has 10000",
            '"boat" - "boat"': b"cancel out",
        }
        for text, message in errors.items():
            with self.subTest(query=text[:40]):
                proc = run(["search", text], self.db, check=False)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertIn(message, proc.stderr)
        # plain text as before: no crash, ordinary results
        for text in ['"boat" + "kite', '"boat" +', '"boat" + kite', '-"tree" + "boat"',
                     '"boat"', "-boat kite", '"\udcff\udcfe" + "boat"'.encode(
                         "utf-8", "surrogateescape").decode("utf-8", "surrogateescape")]:
            with self.subTest(query=text):
                run(["search", "--json", "--", text], self.db)
        # 16 terms is the limit, and it runs
        doc = self.search(" + ".join(f'"w{i}"' for i in range(16)), "--alpha", "1")
        self.assertEqual(len(doc["terms"]), 16)
        self.assertEqual(doc["query_embedding"], "computed")

    # ---- the cache and the HTTP API ----

    def check_timings(self, doc, ranked):
        """explain's timings_ms: the parts that ran, none that did not; the
        embedding, vector ranking and page are consecutive parts of took_ms
        (the text ranking runs beside the embedding)."""
        t = doc["timings_ms"]
        self.assertEqual(set(t), {"text", "embed", "vector", "page"})
        for part in ("text", "vector"):
            if part in ranked:
                self.assertGreater(t[part], 0, part)
            else:
                self.assertEqual(t[part], 0, part)
        if "vector" not in ranked:
            self.assertEqual(t["embed"], 0)
        self.assertGreaterEqual(t["page"], 0)
        self.assertLessEqual(t["embed"] + t["vector"] + t["page"], doc["took_ms"] + 0.01)
        self.assertLessEqual(t["text"], doc["took_ms"] + 0.01)

    def test_cache_and_http(self):
        db = os.path.join(self.tmp, "served")
        shutil.copytree(self.db, db)
        server = Server(db, env=dict(os.environ))
        try:
            def get(q, **params):
                params = {"q": q, "explain": "1", "k": ALL, **params}
                return server.json("/api/search?" + urllib.parse.urlencode(params))

            def metric(name):
                status, _, body = server.request("/metrics")
                self.assertEqual(status, 200)
                for line in body.decode().splitlines():
                    if line.startswith(name + " "):
                        return float(line.split()[1])
                raise AssertionError(f"no {name} in /metrics")

            hits = "capsearch_query_embedding_cache_hits_total"
            misses = "capsearch_query_embedding_cache_misses_total"
            self.assertEqual(metric(hits), 0)
            first = get("kite")
            self.assertEqual(first["query_embedding"], "computed")
            self.check_timings(first, ranked=("text", "vector"))
            second = get("kite")
            self.assertEqual(second["query_embedding"], "cached")
            self.assertEqual(paths(second), paths(first))
            self.assertEqual([r["score"] for r in second["results"]],
                             [r["score"] for r in first["results"]])
            page = get("kite", offset="5", k="5")
            self.assertEqual(page["query_embedding"], "cached")
            self.assertEqual(paths(page), paths(first)[5:10])
            self.assertEqual(get("Kite")["query_embedding"], "computed")   # exact text
            self.assertEqual(metric(hits), 2)
            self.assertEqual(metric(misses), 2)
            # a composed query reuses its terms' entries
            doc = get('"kite" + 2:"boat"', alpha="1")
            self.assertEqual(doc["query_embedding"], "partly cached")
            self.assertEqual(get('"kite" + 2:"boat"', alpha="1")["query_embedding"], "cached")
            self.assertEqual(metric("capsearch_query_embedding_cache_entries"), 3)
            # alpha 0: the text tower is not asked
            self.assertNotIn("query_embedding", get("kite", alpha="0"))
            self.check_timings(get("kite", alpha="0"), ranked=("text",))
            self.check_timings(get("kite", alpha="1"), ranked=("vector",))
            # hostile composed queries are 400s with the reason (300 terms:
            # ten thousand would pass the URL limit, 414, before parsing)
            for q, says in [('"a" + 1e999:"b"', "1e999"), ('"" + "b"', "empty"),
                            (" + ".join(['"x"'] * 300), "this one has 300")]:
                status, _, body = server.request(
                    "/api/search?" + urllib.parse.urlencode({"q": q}))
                self.assertEqual(status, 400, q[:30])
                self.assertIn(says, json.loads(body)["error"]["message"])
            # the filters over HTTP equal the CLI's
            for args, params, keep in self.filters():
                with self.subTest(filter=args):
                    doc = get("boat", alpha="1", **params)
                    cli = self.search("boat", "--alpha", "1", "-k", ALL, *args, db=db)
                    self.assertEqual(paths(doc), paths(cli))
                    self.assertEqual(set(paths(doc)), keep)
            # the vectors move to model B (indexed by another process): the
            # cache must not answer with model A's embedding
            run(["index", "--quiet", self.photos, "--model", self.model_b], db)
            id_b = meta(db, "embedding_model")
            self.assertTrue(id_b.startswith("clip:clip-b:"))
            self.assertTrue(server.wait_for(
                lambda: server.json("/api/stats")["embedding_model"] == id_b, timeout=60))
            before = metric(misses)
            doc = get("kite", alpha="1")
            self.assertEqual(doc["query_embedding"], "computed")
            self.assertEqual(metric(misses), before + 1)
            self.check_order([(r["path"], r["explain"]["vector"]["score"])
                              for r in doc["results"]],
                             embed_texts(self.model_b, ["kite"])[0], stored(db, id_b))
            self.assertEqual(get("kite", alpha="1")["query_embedding"], "cached")
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
