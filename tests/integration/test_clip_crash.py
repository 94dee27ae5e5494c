"""Interrupting the CLIP stage of `capsearch index --model`: a `kill -9` or a
Ctrl-C after its first committed batch leaves a consistent library (the
committed embeddings kept, the vectors still on the earlier model, the
vector file matching the catalog), and the next run without --model embeds
exactly what is missing and moves the vectors to the model."""
import os
import random
import signal
import shutil
import subprocess
import tempfile
import unittest

from harness import CAPSEARCH, json_lines, run, run_json
from test_clip_library import GEN_TEST_CLIP, catalog, embed, meta, stored_embeddings

from PIL import Image

NPICTURES = 96
BATCH = 16   # the CLIP stage's batch


def make_model(folder, seed, size):
    subprocess.run([GEN_TEST_CLIP, folder, "--size", size, "--seed", str(seed)], check=True,
                   capture_output=True)
    return folder


def write_pictures(folder, count):
    """Noisy 320x240 JPEGs: big enough that embedding them takes a while."""
    rng = random.Random(11)
    paths = []
    for i in range(count):
        im = Image.effect_noise((320, 240), 40 + i % 50).convert("RGB")
        im.paste(tuple(rng.randrange(256) for _ in range(3)), (0, 0, 40 + i, 30))
        path = os.path.join(folder, f"pic_{i:03d}.jpg")
        im.save(path, quality=90)
        paths.append(path)
    return paths


class ClipStageInterrupted(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="capsearch-clip-crash-models-")
        cls.model = make_model(os.path.join(cls.shared, "clip-small"), 3, "small")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="capsearch-clip-crash-")
        self.db = os.path.join(self.tmp, "library")
        self.photos = os.path.join(self.tmp, "photos")
        os.makedirs(self.photos)
        self.paths = write_pictures(self.photos, NPICTURES)
        run(["index", self.photos], self.db)   # the CLIP run below only embeds
        self.before = meta(self.db, "embedding_model")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def interrupt_after_first_batch(self, sig):
        proc = subprocess.Popen([CAPSEARCH, "--db", self.db, "index", "--json", "--threads", "2",
                                 "--model", self.model, self.photos],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for line in proc.stdout:
            if b'"event":"embedded"' in line:
                proc.send_signal(sig)
                break
        else:
            proc.wait()
            self.fail("the CLIP stage never reported a batch")
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out, err

    def clip_id(self):
        con = catalog(self.db)
        try:
            rows = con.execute("SELECT DISTINCT model FROM embeddings WHERE model LIKE 'clip:%'")
            ids = [r[0] for r in rows]
        finally:
            con.close()
        self.assertEqual(len(ids), 1, ids)
        return ids[0]

    def check_consistent(self):
        con = catalog(self.db)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        finally:
            con.close()
        stats = run_json(["stats"], self.db)   # opening repairs the vector file
        self.assertEqual(stats["images"], NPICTURES)
        self.assertEqual(stats["vectors"], NPICTURES)
        return stats

    def check_partial(self):
        """After the interruption: whole batches kept, vectors not moved."""
        committed = len(stored_embeddings(self.db, self.clip_id()))
        self.assertGreaterEqual(committed, BATCH)
        self.assertLess(committed, NPICTURES, "the stage finished before the signal")
        self.assertEqual(committed % BATCH, 0)
        self.assertEqual(meta(self.db, "embedding_model"), self.before)
        stats = self.check_consistent()
        self.assertEqual(stats["embedding_model"], self.before)
        return committed

    def check_resumed(self, committed):
        model_id = self.clip_id()
        events = json_lines(run(["index", "--json", self.photos], self.db))
        done = events[-1]
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["unchanged"], NPICTURES)
        self.assertEqual(done["embed_total"], NPICTURES - committed)
        self.assertEqual(done["embedded"], NPICTURES - committed)
        self.assertEqual(meta(self.db, "embedding_model"), model_id)
        stats = self.check_consistent()
        self.assertEqual(stats["embedding_model"], model_id)
        # what was embedded before the interruption is what embed computes
        # (indexing decodes as --draft does)
        stored = stored_embeddings(self.db, model_id)
        self.assertEqual(sorted(stored), sorted(self.paths))
        probe = self.paths[:3] + self.paths[-3:]
        for path, want in zip(probe, embed(self.model, "image", probe, "--draft")):
            self.assertLessEqual(max(abs(a - b) for a, b in zip(stored[path], want)), 1e-6)
        doc = run_json(["search", "--image", self.paths[-1], "-k", "1"], self.db)
        self.assertEqual(doc["results"][0]["path"], self.paths[-1])

    def test_kill_9_during_clip_stage_then_resume(self):
        code, _, _ = self.interrupt_after_first_batch(signal.SIGKILL)
        self.assertEqual(code, -signal.SIGKILL)
        self.check_resumed(self.check_partial())

    def test_ctrl_c_during_clip_stage(self):
        code, out, err = self.interrupt_after_first_batch(signal.SIGINT)
        self.assertEqual(code, 130, err)
        last = json_lines(subprocess.CompletedProcess([], 0, out, b""))[-1]
        self.assertEqual(last["event"], "done")
        self.assertEqual(last["status"], "cancelled")
        committed = self.check_partial()
        self.assertEqual(last["embedded"], committed)
        self.check_resumed(committed)


if __name__ == "__main__":
    unittest.main()
