"""Zero-shot captions from CLIP, through the capsearch CLI, with tiny CLIP
models of random weights from tools/gen-test-clip: `index --model` stores
concept tags and a zero-shot sentence merged into the caption (searchable),
the concept vocabulary's embeddings are computed once per model and then
read from the catalog, images embedded earlier are captioned from their
stored embeddings, running again changes nothing, and `caption --model
--json` shows the candidates and concept scores.

Random weights make every concept about equally likely (about 1/5000 each,
at most ~0.013), so the rule's threshold is lowered through
CAPSEARCH_ZEROSHOT_MIN_PROB for these tests: they check the mechanics, and
the scoring math (softmax of 100 x cosine over the stored concept
embeddings, the candidates' cosines) against numpy, not the relevance."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

from harness import CAPSEARCH, json_lines, run, run_json

GEN_TEST_CLIP = os.environ.get("GEN_TEST_CLIP") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "gen-test-clip")
MIN_PROB = 0.008
REL_TO_BEST = 0.25
NIMAGES = 6
# per kind: how many concepts the rule keeps (picture kinds: see below)
LIMITS = {"object": 2, "scene": 1, "activity": 1, "event": 1, "weather": 1}
RESTATED_MAX = 2


def make_model(folder, seed):
    subprocess.run([GEN_TEST_CLIP, folder, "--size", "tiny", "--seed", str(seed)], check=True,
                   capture_output=True)
    return folder


def write_pictures(folder, n, seed=3):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        pixels = rng.integers(0, 256, size=(30 + 4 * i, 40 + 6 * i, 3), dtype=np.uint8)
        path = os.path.join(folder, f"picture_{i:02d}.png")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def query(db, sql, *args):
    con = sqlite3.connect(os.path.join(db, "catalog.db"))
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def write(db, sql, *args):
    con = sqlite3.connect(os.path.join(db, "catalog.db"))
    try:
        with con:
            con.execute(sql, args)
    finally:
        con.close()


# What the lexicon leaves out as too general (src/caption/lexicon.c).
TOO_GENERAL = {"entity", "physical entity", "abstraction", "object", "whole", "artifact",
               "instrumentality", "living thing", "organism", "matter", "substance", "part",
               "thing", "causal agent", "psychological feature", "attribute", "relation",
               "communication", "measure", "group", "set", "unit", "physical object"}


def first_sense_parent(word):
    """The first word of the direct hypernym of WORD's first noun sense, as
    WordNet's own `wn` prints it, when that sense is a physical thing, not a
    proper noun and its parent not too general; else None."""
    out = subprocess.run(["wn", word.replace(" ", "_"), "-hypen"], capture_output=True,
                         text=True).stdout
    if "Sense 1" not in out:
        return None
    sense = out.split("Sense 1", 1)[1].split("Sense 2", 1)[0]
    lines = [l.strip() for l in sense.strip().splitlines()]
    if len(lines) < 2 or "=> physical entity" not in lines or lines[0][:1].isupper():
        return None
    parent = lines[1].removeprefix("=> ").split(", ")[0]
    return None if parent in TOO_GENERAL or parent[:1].isupper() else parent.lower()


def index_events(db, *args):
    events = json_lines(run(["index", "--json", *args], db))
    assert events[-1]["event"] == "done", events[-1]
    return events


def index(db, *args):
    return index_events(db, *args)[-1]


class ZeroShot(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        os.environ["CAPSEARCH_ZEROSHOT_MIN_PROB"] = str(MIN_PROB)
        cls.shared = tempfile.mkdtemp(prefix="capsearch-zs-models-")
        cls.model = make_model(os.path.join(cls.shared, "clip-z"), 5)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="capsearch-zs-test-")
        # the user's concept cache, empty for each test
        os.environ["CAPSEARCH_CACHE"] = os.path.join(self.tmp, "user-cache")
        self.db = os.path.join(self.tmp, "library")
        self.photos = os.path.join(self.tmp, "photos")
        os.makedirs(self.photos)
        self.paths = write_pictures(self.photos, NIMAGES)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def model_id(self):
        (model,), = query(self.db, "SELECT DISTINCT model FROM embeddings "
                                   "WHERE model LIKE 'clip:%'")
        return model

    def concepts(self, model_id):
        """(keys, matrix) of the stored concept embeddings."""
        rows = query(self.db, "SELECT concept, dim, data FROM concept_embeddings "
                              "WHERE model = ? ORDER BY concept", model_id)
        keys = [r[0] for r in rows]
        matrix = np.stack([np.frombuffer(r[2], dtype="<f4") for r in rows])
        return keys, matrix

    def captions(self):
        return dict(query(self.db, "SELECT i.path, c.caption || '|' || c.tags FROM images i "
                                   "JOIN captions c ON c.image_id = i.id"))

    def test_index_captions_and_caches(self):
        plain = index(self.db, self.photos)
        self.assertEqual(plain["captioned"], 0)
        before = self.captions()
        events = index_events(self.db, self.photos, "--model", self.model)
        done = events[-1]
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["embedded"], NIMAGES)
        self.assertEqual(done["captioned"], NIMAGES)
        # the vocabulary's progress: chunk by chunk, up to all of it, before
        # the first picture is embedded
        steps = [e for e in events if e["event"] == "concepts"]
        self.assertGreater(len(steps), 1)
        made = [e["concepts_embedded"] for e in steps]
        self.assertEqual(made, sorted(made))
        self.assertEqual(made[-1], steps[-1]["concepts_total"])
        self.assertEqual(made[-1], done["concepts_embedded"])
        first_embedded = next(i for i, e in enumerate(events) if e["event"] == "embedded")
        self.assertLess(events.index(steps[-1]), first_embedded)
        model_id = self.model_id()
        (count,), = query(self.db, "SELECT count(*) FROM concept_embeddings WHERE model = ?",
                          model_id)
        self.assertGreaterEqual(count, 3000)
        self.assertEqual(done["concepts_embedded"], count)
        keys, concepts = self.concepts(model_id)
        self.assertTrue(np.allclose(np.linalg.norm(concepts, axis=1), 1, atol=1e-5))
        kind_of = {}
        for key in keys:
            kind, word = key.split(":", 1)
            kind_of[word] = kind

        # every image: a zero-shot row, its sentence in front of the caption,
        # its words after the tags, its picks as `concept` tags with the
        # softmax probabilities numpy computes from the stored embeddings
        rows = query(self.db, "SELECT i.id, i.path, z.sentence, z.words, c.caption, c.tags, "
                              "e.data FROM images i JOIN zeroshot z ON z.image_id = i.id "
                              "JOIN captions c ON c.image_id = i.id JOIN embeddings e ON "
                              "e.image_id = i.id AND e.model = z.model WHERE z.model = ?",
                     model_id)
        self.assertEqual(len(rows), NIMAGES)
        for image_id, path, sentence, words, caption, tags, data in rows:
            self.assertTrue(sentence, path)
            self.assertEqual(caption, sentence + " " + before[path].split("|")[0])
            self.assertEqual(tags, before[path].split("|")[1] + " " + words)
            image = np.frombuffer(data, dtype="<f4")
            logits = 100.0 * concepts.astype(np.float64) @ image.astype(np.float64)
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            prob_of = dict(zip((k.split(":", 1)[1] for k in keys), probs))
            got = query(self.db, "SELECT tag, score FROM tags WHERE image_id = ? AND "
                                 "kind = 'concept' ORDER BY score DESC", image_id)
            self.assertTrue(got, path)
            self.assertEqual(" ".join(t for t, _ in got), words)
            best_of_kind = {}
            for word, p in prob_of.items():
                kind = kind_of[word]
                best_of_kind[kind] = max(best_of_kind.get(kind, 0), p)
            per_kind = {}
            for word, score in got:
                self.assertAlmostEqual(score, prob_of[word], delta=1e-5)
                self.assertGreaterEqual(score, MIN_PROB - 1e-6)
                kind = kind_of[word]
                self.assertGreaterEqual(score, REL_TO_BEST * best_of_kind[kind] - 1e-6)
                per_kind[kind] = per_kind.get(kind, 0) + 1
            # beyond each kind's places, at most two picks that restate
            # an earlier one (a kind of it in WordNet)
            beyond = sum(max(0, n - LIMITS.get(kind, 2)) for kind, n in per_kind.items())
            self.assertLessEqual(beyond, RESTATED_MAX, (path, got))
            # the most probable concept of all is kept
            self.assertEqual(got[0][0], max(prob_of, key=prob_of.get))
        # the concept words are searched like any caption word
        word = rows[0][3].split()[0]
        doc = run_json(["search", word, "--alpha", "0", "-k", str(NIMAGES)], self.db)
        self.assertIn(rows[0][1], [r["path"] for r in doc["results"]])

        # again: nothing to embed, caption or compute, nothing changes
        after = self.captions()
        events = index_events(self.db, self.photos)
        self.assertFalse([e for e in events if e["event"] == "concepts"])
        done = events[-1]
        self.assertEqual((done["embedded"], done["captioned"], done["concepts_embedded"]),
                         (0, 0, 0))
        self.assertEqual(self.captions(), after)

        # a new picture: captioned with the cached concept embeddings
        extra = write_pictures(self.tmp, 1, seed=9)[0]
        shutil.move(extra, os.path.join(self.photos, "extra.png"))
        done = index(self.db, self.photos)
        self.assertEqual((done["embedded"], done["captioned"], done["concepts_embedded"]),
                         (1, 1, 0))
        (again,), = query(self.db, "SELECT count(*) FROM concept_embeddings WHERE model = ?",
                          model_id)
        self.assertEqual(again, count)

        # a library embedded before zero-shot captions existed: captioned from
        # the stored embeddings, the same captions as before
        after = self.captions()
        con = sqlite3.connect(os.path.join(self.db, "catalog.db"))
        with con:
            con.execute("DELETE FROM tags WHERE kind = 'concept'")
            for path, text in self.captions().items():
                caption, tags = text.split("|")
                sentence, words = con.execute(
                    "SELECT sentence, words FROM zeroshot z JOIN images i ON i.id = z.image_id "
                    "WHERE i.path = ?", (path,)).fetchone()
                con.execute("UPDATE captions SET caption = ?, tags = ? WHERE image_id = "
                            "(SELECT id FROM images WHERE path = ?)",
                            (caption[len(sentence) + 1:], tags[:-len(words) - 1], path))
            con.execute("DELETE FROM zeroshot")
        con.close()
        done = index(self.db, self.photos)
        self.assertEqual((done["embedded"], done["captioned"], done["concepts_embedded"]),
                         (0, NIMAGES + 1, 0))
        self.assertEqual(self.captions(), after)

        # captions made under earlier rules (no rules version recorded, or
        # another): made again from the stored embeddings, then left alone
        (rules,), = query(self.db, "SELECT value FROM meta WHERE key = 'zeroshot_rules'")
        self.assertTrue(rules)
        write(self.db, "UPDATE meta SET value = '1' WHERE key = 'zeroshot_rules'")
        done = index(self.db, self.photos)
        self.assertEqual((done["embedded"], done["captioned"], done["concepts_embedded"]),
                         (0, NIMAGES + 1, 0))
        self.assertEqual(self.captions(), after)
        self.assertEqual(query(self.db, "SELECT value FROM meta WHERE key = 'zeroshot_rules'"),
                         [(rules,)])
        done = index(self.db, self.photos)
        self.assertEqual(done["captioned"], 0)
        write(self.db, "DELETE FROM meta WHERE key = 'zeroshot_rules'")
        self.assertEqual(index(self.db, self.photos)["captioned"], NIMAGES + 1)
        self.assertEqual(self.captions(), after)

        # a renamed picture keeps its zero-shot caption
        renamed = os.path.join(self.photos, "renamed.png")
        os.rename(self.paths[0], renamed)
        done = index(self.db, self.photos)
        self.assertEqual(done["reused"], 1)
        self.assertEqual(done["captioned"], 0)
        self.assertEqual(self.captions()[renamed].split("|")[0], after[self.paths[0]].split("|")[0])

    def test_related_words_of_concepts(self):
        """A picture's zero-shot concepts bring their WordNet related words
        (what `wn WORD -hypen` shows above the word's first sense), as a
        detector's labels do, so "canine" finds a picture captioned "dog";
        the related words made with the caption are the ones the catalog's
        backfill makes from the stored tags."""
        if not shutil.which("wn"):
            self.skipTest("WordNet's wn command is needed as the reference")
        index(self.db, self.photos, "--model", self.model)
        rows = query(self.db, "SELECT c.image_id, c.related FROM captions c "
                              "JOIN zeroshot z ON z.image_id = c.image_id")
        self.assertEqual(len(rows), NIMAGES)
        checked = 0
        for image_id, related in rows:
            words = [t for t, in query(self.db, "SELECT tag FROM tags WHERE image_id = ? AND "
                                                "kind = 'concept' ORDER BY tag", image_id)]
            for word in words:
                parent = first_sense_parent(word)
                if parent is None:
                    continue
                self.assertIn(parent, related.lower(), (word, related))
                checked += 1
                doc = run_json(["search", parent, "--alpha", "0", "-k", str(NIMAGES)], self.db)
                self.assertIn(image_id, [r["id"] for r in doc["results"]], (word, parent))
                break   # the first of an image's words: the synset cap leaves it room
        self.assertGreater(checked, 0)
        # the backfill, from the stored tags, makes the same related words
        before = dict(rows)
        write(self.db, "UPDATE captions SET related = ''")
        write(self.db, "UPDATE meta SET value = '' WHERE key = 'related_words'")
        index(self.db, self.photos)
        self.assertEqual(dict(query(self.db, "SELECT image_id, related FROM captions")), before)
        # a renamed picture keeps its concepts' related words
        renamed = os.path.join(self.photos, "renamed.png")
        os.rename(self.paths[0], renamed)
        self.assertEqual(index(self.db, self.photos)["reused"], 1)
        (image_id, related), = query(self.db, "SELECT c.image_id, c.related FROM captions c "
                                              "JOIN images i ON i.id = c.image_id "
                                              "WHERE i.path = ?", renamed)
        words = [t for t, in query(self.db, "SELECT tag FROM tags WHERE image_id = ? AND "
                                            "kind = 'concept'", image_id)]
        parents = [p for p in map(first_sense_parent, words) if p]
        self.assertTrue(parents, words)   # the seeds give one: the check runs
        self.assertTrue(any(p in related.lower() for p in parents), (words, related))

    def stored_concepts(self, path, model_id):
        """The concept embeddings of a catalog file, sorted."""
        con = sqlite3.connect(path)
        try:
            return con.execute("SELECT concept, prompts, dim, data FROM concept_embeddings "
                               "WHERE model = ? ORDER BY concept", (model_id,)).fetchall()
        finally:
            con.close()

    def test_user_cache_serves_other_libraries(self):
        first = index(self.db, self.photos, "--model", self.model)
        model_id = self.model_id()
        mine = self.stored_concepts(os.path.join(self.db, "catalog.db"), model_id)
        self.assertEqual(first["concepts_embedded"], len(mine))
        cache = os.environ["CAPSEARCH_CACHE"]
        self.assertEqual(self.stored_concepts(os.path.join(cache, "concepts.db"), model_id),
                         mine)
        captions = {os.path.basename(p): c for p, c in self.captions().items()}

        # a second library: nothing computed, the same vectors stored, the
        # same captions
        other = os.path.join(self.tmp, "other")
        events = index_events(other, self.photos, "--model", self.model)
        self.assertFalse([e for e in events if e["event"] == "concepts"])
        self.assertEqual(events[-1]["concepts_embedded"], 0)
        self.assertEqual(events[-1]["captioned"], NIMAGES)
        self.assertEqual(self.stored_concepts(os.path.join(other, "catalog.db"), model_id),
                         mine)
        db, self.db = self.db, other
        self.assertEqual({os.path.basename(p): c for p, c in self.captions().items()},
                         captions)

        # a damaged cache is left aside: a third library computes the
        # vocabulary again, to the same vectors and captions
        with open(os.path.join(cache, "concepts.db"), "wb") as f:
            f.write(b"not a database" * 100)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(os.path.join(cache, "concepts.db" + suffix)):
                os.unlink(os.path.join(cache, "concepts.db" + suffix))
        self.db = os.path.join(self.tmp, "third")
        done = index(self.db, self.photos, "--model", self.model)
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["concepts_embedded"], len(mine))
        got = self.stored_concepts(os.path.join(self.db, "catalog.db"), model_id)
        self.assertEqual([r[:3] for r in got], [r[:3] for r in mine])
        for a, b in zip(got, mine):
            np.testing.assert_allclose(np.frombuffer(a[3], "<f4"), np.frombuffer(b[3], "<f4"),
                                       atol=1e-6)
        self.db = db

    def test_caption_command(self):
        index(self.db, self.photos, "--model", self.model)
        model_id = self.model_id()
        (count,), = query(self.db, "SELECT count(*) FROM concept_embeddings")
        path = self.paths[1]
        doc = run_json(["caption", path, "--model", self.model], self.db)
        (image,) = doc["images"]
        # nothing computed again: the library's cache served
        (count2,), = query(self.db, "SELECT count(*) FROM concept_embeddings")
        self.assertEqual(count2, count)
        self.assertTrue(image["zeroshot"])
        self.assertTrue(image["caption"].startswith(image["zeroshot"] + " "))
        # what indexing stored for the same file
        (stored,), = query(self.db, "SELECT c.caption FROM captions c JOIN images i ON "
                                    "i.id = c.image_id WHERE i.path = ?", path)
        self.assertEqual(image["caption"], stored)
        concept_tags = [t for t in image["tags"] if t["kind"] == "concept"]
        self.assertTrue(concept_tags)
        # and the related words it stored, the concepts' among them
        (related,), = query(self.db, "SELECT c.related FROM captions c JOIN images i ON "
                                     "i.id = c.image_id WHERE i.path = ?", path)
        self.assertEqual(image["related"], related)
        parents = [p for p in (first_sense_parent(t["name"]) for t in concept_tags) if p]
        self.assertTrue(parents and any(p in related.lower() for p in parents),
                        (concept_tags, related))
        # candidates: CLIP's cosine of the prompt with the picture, best chosen
        candidates = image["candidates"]
        self.assertTrue(1 <= len(candidates) <= 8)
        best = max(candidates, key=lambda c: c["score"])
        self.assertEqual(best["sentence"], image["zeroshot"])
        prompts = [c["prompt"] for c in candidates]
        proc = subprocess.run([CAPSEARCH, "embed", "--model", self.model, "--json", "--text"] +
                              prompts, capture_output=True, check=True, timeout=300)
        texts = np.array([e["embedding"] for e in json.loads(proc.stdout)["embeddings"]])
        proc = subprocess.run([CAPSEARCH, "embed", "--model", self.model, "--json", "--image",
                               path], capture_output=True, check=True, timeout=300)
        picture = np.array(json.loads(proc.stdout)["embeddings"][0]["embedding"])
        for c, cosine in zip(candidates, texts @ picture):
            self.assertAlmostEqual(c["score"], cosine, delta=1e-4)
        # the top concepts: probabilities, best first, as numpy has them
        concepts = image["concepts"]
        self.assertEqual(len(concepts), 10)
        probs = [c["probability"] for c in concepts]
        self.assertEqual(probs, sorted(probs, reverse=True))
        keys, matrix = self.concepts(model_id)
        logits = 100.0 * matrix.astype(np.float64) @ picture
        p = np.exp(logits - logits.max())
        p /= p.sum()
        order = np.argsort(-p)[:10]
        self.assertEqual([c["kind"] + ":" + c["name"] for c in concepts][:3],
                         [keys[i] for i in order][:3])
        self.assertAlmostEqual(probs[0], p[order[0]], delta=1e-5)
        # text output says the same
        proc = run(["caption", path, "--model", self.model], self.db)
        out = proc.stdout.decode()
        self.assertIn("zero-shot: " + image["zeroshot"], out)
        self.assertIn("concepts: " + concepts[0]["name"], out)

    def test_caption_without_library(self):
        # no catalog at --db: the vocabulary is embedded in memory, nothing written
        nowhere = os.path.join(self.tmp, "none")
        doc = run_json(["caption", self.paths[0], "--model", self.model], nowhere)
        self.assertTrue(doc["images"][0]["zeroshot"])
        self.assertFalse(os.path.exists(nowhere))
        # a model folder that does not load is an error that says so
        proc = run(["caption", self.paths[0], "--model", os.path.join(self.tmp, "missing")],
                   nowhere, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"CLIP model", proc.stderr)


if __name__ == "__main__":
    unittest.main()
