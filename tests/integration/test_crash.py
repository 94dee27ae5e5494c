"""Interrupting the indexer: kill -9 and Ctrl-C in the middle of a run lose at
most the batch in flight, leave catalog and vector file consistent, and the
next run resumes. Also: one indexer per library at a time."""
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import unittest

from harness import CAPSEARCH, TempDirs, json_lines, run, run_json, samples_dir

JPEGS = ["Kite.jpg", "EveningGlow.jpg", "ColorfulCups.jpg", "Autumn.jpg", "Path.jpg",
         "BytheWater.jpg", "FallenLeaf.jpg", "summer_1am.jpg"]


class Interruptions(TempDirs):

    def make_many(self, count):
        """count distinct JPEG files: real photos with unique bytes appended
        after the end-of-image marker (decoders ignore them; hashes differ)."""
        src = os.path.join(samples_dir(), "wallpapers")
        for i in range(count):
            name = JPEGS[i % len(JPEGS)]
            with open(os.path.join(src, name), "rb") as f:
                data = f.read()
            sub = os.path.join(self.photos, f"set{i // 100:02d}")
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, f"{i:05d}-{name}"), "wb") as f:
                f.write(data + b"capsearch-test-%d" % i)
        return count

    def start_index(self, extra=()):
        return subprocess.Popen([CAPSEARCH, "--db", self.db, "index", "--json", "--threads", "2",
                                 "--batch", "8", *extra, self.photos],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_for_batches(self, proc, batches):
        seen = 0
        for line in proc.stdout:
            if b'"event":"progress"' in line:
                seen += 1
                if seen >= batches:
                    return True
        return False

    def check_consistent(self, expected_images=None):
        con = sqlite3.connect(os.path.join(self.db, "catalog.db"))
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        # the full-text index matches its content table
        fts = con.execute("SELECT count(*) FROM captions_fts").fetchone()[0]
        caps = con.execute("SELECT count(*) FROM captions").fetchone()[0]
        imgs = con.execute("SELECT count(*) FROM images").fetchone()[0]
        con.execute("INSERT INTO captions_fts(captions_fts) VALUES ('integrity-check')")
        con.close()
        self.assertEqual(fts, caps)
        self.assertEqual(caps, imgs)
        stats = run_json(["stats"], self.db)   # opening repairs the vector file
        self.assertEqual(stats["vectors"], stats["embeddings"])
        self.assertEqual(stats["embeddings"], stats["images"])
        if expected_images is not None:
            self.assertEqual(stats["images"], expected_images)
        return stats

    def test_kill_9_then_resume(self):
        total = self.make_many(240)
        proc = self.start_index()
        self.assertTrue(self.wait_for_batches(proc, 3), "indexer finished before it could be killed")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stats = self.check_consistent()
        self.assertGreaterEqual(stats["images"], 24)   # three committed batches of 8
        self.assertLess(stats["images"], total)
        # the library is not left locked, and the next run resumes
        done = json_lines(run(["index", "--json", self.photos], self.db))[-1]
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["unchanged"], stats["images"])
        self.assertEqual(done["indexed"], total - stats["images"])
        self.check_consistent(total)
        again = json_lines(run(["index", "--json", self.photos], self.db))[-1]
        self.assertEqual(again["unchanged"], total)

    def test_kill_9_while_vector_file_is_stale(self):
        # After a first complete run, kill a second run that changes things:
        # the old vector file must be repaired (not trusted) on the next open.
        total = self.make_many(160)
        run(["index", self.photos], self.db)
        for name in sorted(os.listdir(os.path.join(self.photos, "set00")))[:40]:
            os.remove(os.path.join(self.photos, "set00", name))
        extra = os.path.join(self.photos, "set99")
        os.makedirs(extra)
        with open(os.path.join(samples_dir(), "wallpapers", "Kite.jpg"), "rb") as f:
            kite = f.read()
        for i in range(120):
            with open(os.path.join(extra, f"new{i}.jpg"), "wb") as f:
                f.write(kite + b"extra-%d" % i)
        proc = self.start_index()
        self.wait_for_batches(proc, 4)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.check_consistent()
        run(["index", self.photos], self.db)
        self.check_consistent(total - 40 + 120)

    def test_ctrl_c_stops_cleanly(self):
        total = self.make_many(240)
        proc = self.start_index()
        self.assertTrue(self.wait_for_batches(proc, 2))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 130, err)
        last = json_lines(subprocess.CompletedProcess([], 0, out, b""))[-1]
        self.assertEqual(last["event"], "done")
        self.assertEqual(last["status"], "cancelled")
        stats = self.check_consistent()
        # nothing already processed was thrown away
        self.assertEqual(stats["images"], last["indexed"])
        run(["index", self.photos], self.db)
        self.check_consistent(total)

    def test_one_indexer_at_a_time(self):
        self.make_many(240)
        proc = self.start_index()
        self.assertTrue(self.wait_for_batches(proc, 1))
        second = run(["index", self.photos], self.db, check=False)
        self.assertEqual(second.returncode, 4, second.stderr)
        self.assertIn(b"another capsearch process", second.stderr)
        # searching while indexing works
        self.assertEqual(run(["search", "kite", "--json"], self.db).returncode, 0)
        proc.communicate(timeout=300)
        self.assertEqual(proc.returncode, 0)


if __name__ == "__main__":
    unittest.main()
