"""A filter too broad to list for every search (has faces: 1 in 10 of
12,000 synthetic pictures), or served by no catalog index (a camera: 1 in
4), with an IVF index: the server lists its pictures once, for the vector
ranking, and keeps the list while the catalog is unchanged; the vector
ranking then searches the index among them alone. Checked against numpy's
brute force over the stored embeddings of the pictures kept, and after a
change to the catalog (a picture indexed) the list is made again."""
import json
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.parse

import numpy as np
from PIL import Image

from harness import CAPSEARCH, run
from server import Server

DRIVER = os.environ["SCALE_LIBRARY_DRIVER"]
WORDS = os.environ["SCALE_WORDS"]
GEN_TEST_CLIP = os.environ["GEN_TEST_CLIP"]
COUNT = 12000
K = 20


class FilterListsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="capsearch-filter-lists-")
        cls.model = os.path.join(cls.tmp, "clip")
        subprocess.run([GEN_TEST_CLIP, cls.model, "--size", "tiny", "--seed", "3"], check=True,
                       capture_output=True)
        cls.db = os.path.join(cls.tmp, "library")
        # IVF above 2,000 vectors: the server must see the same threshold
        cls.env = dict(os.environ, CAPSEARCH_EXACT_MAX="2000")
        subprocess.run([DRIVER, "--db", cls.db, "--model", cls.model, "--words", WORDS,
                        "--count", str(COUNT)], check=True, capture_output=True, env=cls.env)
        words = [line.split()[1] for line in open(WORDS) if line.startswith("noun ")]
        random.seed(5)
        cls.queries = random.sample(words, 12)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def kept(self, where):
        """{id: embedding} of the pictures `where` keeps, from the catalog."""
        with sqlite3.connect(os.path.join(self.db, "catalog.db")) as con:
            rows = con.execute("SELECT e.image_id, e.data FROM embeddings e WHERE e.image_id IN "
                               f"({where})").fetchall()
        return {i: np.frombuffer(blob, dtype=np.float32).astype(np.float64) for i, blob in rows}

    def faces(self):
        return self.kept("SELECT image_id FROM tags WHERE kind = 'face'")

    def embed(self, texts):
        proc = subprocess.run([CAPSEARCH, "embed", "--model", self.model, "--json", "--text",
                               *texts], capture_output=True, check=True)
        return [np.array(e["embedding"]) for e in json.loads(proc.stdout)["embeddings"]]

    def search(self, server, query, alpha, **filters):
        q = urllib.parse.urlencode({"q": query, "k": K, "alpha": alpha, "explain": 1,
                                    **(filters or {"has_faces": 1})})
        return server.json(f"/api/search?{q}")

    def check_ranking(self, doc, kept, vector):
        """doc's vector ranking: K pictures kept, scored as their stored
        embeddings; returns its recall@K against numpy's."""
        got = [r["id"] for r in doc["results"]]
        self.assertEqual(len(got), K)
        self.assertLessEqual(set(got), set(kept))
        for r in doc["results"]:   # the index holds 8-bit vectors
            self.assertAlmostEqual(r["explain"]["vector"]["score"], float(kept[r["id"]] @ vector),
                                   delta=0.02)
        ids = np.array(list(kept))
        matrix = np.stack([kept[i] for i in ids])
        want = ids[np.argsort(-(matrix @ vector), kind="stable")[:K]]
        return len(set(got) & set(want.tolist())) / K

    def test_broad_filter_listed_once_and_searched_among(self):
        faces = self.faces()
        self.assertGreater(len(faces), COUNT // 16)   # more than a search lists itself
        nikon = self.kept("SELECT id FROM images WHERE camera_make = 'Nikon'")
        self.assertGreater(len(nikon), COUNT // 5)
        server = Server(self.db, env=self.env)
        try:
            for name, filters, kept in [("faces", {"has_faces": 1}, faces),
                                        ("camera", {"camera": "nikon"}, nikon)]:
                recall = []
                for n, (query, vector) in enumerate(zip(self.queries,
                                                        self.embed(self.queries))):
                    doc = self.search(server, query, 1, **filters)
                    self.assertEqual(doc.get("vector_filter"), "id-selector", name)
                    self.assertEqual(doc.get("filter_list"), "listed" if n == 0 else "kept",
                                     name)
                    recall.append(self.check_ranking(doc, kept, vector))
                    # fused with the text ranking: the same list, the same filter
                    doc = self.search(server, query, 0.5, **filters)
                    self.assertEqual(doc.get("filter_list"), "kept", name)
                    self.assertLessEqual({r["id"] for r in doc["results"]}, set(kept), name)
                self.assertGreaterEqual(np.mean(recall), 0.9, (name, recall))
                # "more like this" among them: the same kept list, the
                # picture itself left out
                probe = sorted(kept)[7]
                q = urllib.parse.urlencode({"k": K, "explain": 1, **filters})
                doc = server.json(f"/api/images/{probe}/similar?{q}")
                self.assertEqual(doc.get("filter_list"), "kept", name)
                self.assertEqual(doc.get("vector_filter"), "id-selector", name)
                others = {i: e for i, e in kept.items() if i != probe}
                self.assertGreaterEqual(self.check_ranking(doc, others, kept[probe]), 0.8, name)
            # a picture indexed: the catalog's generation moves on, the list
            # is made again
            photos = os.path.join(self.tmp, "new")
            os.makedirs(photos)
            Image.new("RGB", (64, 48), (200, 30, 30)).save(os.path.join(photos, "red.png"))
            run(["index", photos], self.db, env=self.env)
            doc = self.search(server, self.queries[0], 1)
            self.assertEqual(doc.get("filter_list"), "listed")
            doc = self.search(server, self.queries[0], 1)
            self.assertEqual(doc.get("filter_list"), "kept")
        finally:
            server.stop()

    def test_cli_lists_for_its_one_search(self):
        doc = json.loads(run(["search", self.queries[0], "--alpha", "1", "--has-faces", "-k",
                              str(K), "--explain", "--json"], self.db, env=self.env).stdout)
        self.assertEqual(doc.get("vector_filter"), "id-selector")
        self.assertEqual(doc.get("filter_list"), "listed")


if __name__ == "__main__":
    unittest.main()
