"""Indexing real photos and searching them through the capsearch CLI:
what gets indexed, what a search finds, bad files, and re-indexing after
renames, edits and deletions."""
import calendar
import json
import os
import shutil
import sqlite3
import subprocess
import time
import unittest

from harness import (CAPSEARCH, TempDirs, json_lines, run, run_json, samples_dir, search_paths,
                     write_bad_files)


def image_files(folder):
    exts = (".jpg", ".jpeg", ".png", ".gif", ".webp")
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs
                  if f.lower().endswith(exts) and not f.startswith("."))


def catalog_ids(db):
    """path -> image id, read from the catalog itself."""
    con = sqlite3.connect(os.path.join(db, "catalog.db"))
    try:
        return dict(con.execute("SELECT path, id FROM images"))
    finally:
        con.close()


class SampleLibrary(unittest.TestCase):
    """One library built from all sample photos, shared by the read-only tests."""

    @classmethod
    def setUpClass(cls):
        cls.samples = samples_dir()
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="capsearch-samples-")
        cls.db = os.path.join(cls.tmp, "library")
        cls.folders = [os.path.join(cls.samples, "photos"), os.path.join(cls.samples, "wallpapers")]
        proc = run(["index", "--json"] + cls.folders, cls.db)
        cls.events = json_lines(proc)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_photo_is_indexed(self):
        expected = sum(len(image_files(f)) for f in self.folders)
        done = self.events[-1]
        self.assertEqual(done["event"], "done")
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["indexed"], expected)
        self.assertEqual(done["failed"], 0)
        stats = run_json(["stats"], self.db)
        self.assertEqual(stats["images"], expected)
        self.assertEqual(stats["errors"], 0)
        # one colour-layout vector per image, in the catalog and in the index
        self.assertEqual(stats["embeddings"], expected)
        self.assertEqual(stats["vectors"], expected)

    def test_second_run_changes_nothing(self):
        done = json_lines(run(["index", "--json"] + self.folders, self.db))[-1]
        self.assertEqual(done["indexed"], 0)
        self.assertEqual(done["removed"], 0)
        self.assertEqual(done["unchanged"], sum(len(image_files(f)) for f in self.folders))
        self.assertEqual(done["total"], 0)

    def test_file_names_are_searchable(self):
        # Words a person would type for these files, from their names.
        for query, expected in [("kite", "wallpapers/Kite.jpg"),
                                ("chelsea", "photos/chelsea.png"),
                                ("coffee", "photos/coffee.png"),
                                ("motorcycle", "photos/motorcycle_left.png"),
                                ("evening glow", "wallpapers/EveningGlow.jpg"),
                                ("colorful cups", "wallpapers/ColorfulCups.jpg"),
                                ("milky way", "wallpapers/MilkyWay.png")]:
            paths = search_paths(self.db, query, k=3)
            self.assertTrue(paths, f"no result for {query!r}")
            self.assertTrue(paths[0].endswith(expected), f"{query!r} -> {paths}")

    def test_shape_and_colour_words(self):
        # Altai, Kay, Patak, MilkyWay ship 1080x1920 portraits but the largest
        # file is used; SafeLanding's largest is 5120x2880. So only the
        # portrait-shaped sample photos: astronaut is 512x512 (square).
        paths = search_paths(self.db, "square", k=50)
        self.assertTrue(any(p.endswith("photos/astronaut.png") for p in paths))
        # camera.png (the cameraman) is a greyscale photo.
        grey = search_paths(self.db, "gray", k=50)
        self.assertTrue(any(p.endswith("photos/camera.png") for p in grey), grey)

    def test_explain_and_json_shape(self):
        doc = run_json(["search", "kite", "--explain"], self.db)
        first = doc["results"][0]
        for key in ("id", "path", "score", "caption", "tags", "width", "height", "taken_at"):
            self.assertIn(key, first)
        self.assertEqual(first["explain"]["text"]["rank"], 1)
        # RRF with one list, k = 60: 1 / (60 + 1)
        self.assertAlmostEqual(first["score"], 1 / 61, places=6)
        self.assertIn('"kite"', doc["fts_query"])
        self.assertEqual((first["width"], first["height"]), (2560, 1600))

    def test_hostile_queries_never_fail(self):
        for query in ['"', '""', "NEAR(a b)", "*", "AND OR NOT", "(((", "kite)",
                      "col:kite", "^kite", "-", "--", "-kite", "kite*", "\u00e9t\u00e9",
                      "\U0001F431 cat", "\u732b", "\uace0\uc591\uc774", "a" * 5000, "''",
                      "kite\x01\x02", "   "]:
            # "--" ends the options, so a query may start with "-"
            proc = run(["search", "--json", "--", query], self.db, check=False)
            self.assertEqual(proc.returncode, 0, f"{query!r}: {proc.stderr!r}")
        # Invalid UTF-8 on the command line.
        proc = subprocess.run([os.environ["CAPSEARCH_BIN"], "--db", self.db, "search",
                               b"kite\xff\xfe", "--json"], capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_prefix_and_exclusion(self):
        self.assertTrue(search_paths(self.db, "motorcyc*")[0].split("/")[-1].startswith("motorcycle"))
        paths = search_paths(self.db, "motorcycle -left")
        self.assertTrue(paths)
        self.assertTrue(all("motorcycle_left" not in p for p in paths))

    def test_paging(self):
        all_ = search_paths(self.db, "png", k=20)
        page2 = run_json(["search", "png", "-k", "5", "--offset", "5"], self.db)["results"]
        self.assertEqual([r["path"] for r in page2], all_[5:10])

    def test_filters(self):
        everything = run_json(["search", "blue", "-k", "100"], self.db)["results"]
        self.assertTrue(any(r["path"].endswith(".png") for r in everything))
        pngs = run_json(["search", "blue", "-k", "100", "--type", "png"], self.db)["results"]
        self.assertTrue(pngs)
        self.assertTrue(all(r["path"].endswith(".png") for r in pngs))
        # same order as unfiltered (scores differ: ranks are within the filtered list)
        self.assertEqual([r["path"] for r in everything if r["path"].endswith(".png")],
                         [r["path"] for r in pngs])
        photos = os.path.join(self.samples, "photos")
        inside = run_json(["search", "gray", "-k", "100", "--folder", photos], self.db)["results"]
        self.assertTrue(inside)
        self.assertTrue(all(r["path"].startswith(photos + "/") for r in inside))
        # Kite.jpg was taken on 21 July 2015 (its EXIF says so)
        july = run_json(["search", "landscape", "-k", "100", "--from", "2015-07-21",
                         "--to", "2015-07-21"], self.db)["results"]
        self.assertIn("Kite.jpg", [os.path.basename(r["path"]) for r in july])
        self.assertTrue(all(r["taken_at"].startswith("2015-07-21") for r in july))
        self.assertEqual(run_json(["search", "kite", "--from", "2015-07-22"], self.db)["results"], [])
        for bad in (["--from", "2015-02-30"], ["--to", "yesterday"]):
            self.assertEqual(run(["search", "kite"] + bad, self.db, check=False).returncode, 2)
        proc = run(["search", "kite", "--from", "2016-01-01", "--to", "2015-01-01"], self.db, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"date range", proc.stderr)
        # the vector ranking is filtered too, and still fills the page
        kite = run_json(["search", "kite", "-k", "1"], self.db)["results"][0]["id"]
        similar = run_json(["similar", str(kite), "-k", "5", "--type", "png"], self.db)["results"]
        self.assertEqual(len(similar), 5)
        self.assertTrue(all(r["path"].endswith(".png") for r in similar))

    def test_listing_without_words(self):
        """A blank query lists the library newest first; exclusions alone
        list the pictures without those words. The expected order is the
        catalog's rows sorted here, the excluded pictures SQLite's own FTS5
        matches."""
        con = sqlite3.connect(os.path.join(self.db, "catalog.db"))
        try:
            rows = con.execute("SELECT id, coalesce(taken_at, 0), format, folder FROM images"
                               " ORDER BY coalesce(taken_at, 0) DESC, id DESC").fetchall()
            kites = {r[0] for r in con.execute(
                "SELECT rowid FROM captions_fts WHERE captions_fts MATCH '\"kite\" OR \"blue\"'")}
        finally:
            con.close()
        rows.sort(key=lambda r: (r[1], r[0]), reverse=True)   # not trusting SQL's order
        newest = [r[0] for r in rows]
        self.assertTrue(kites and len(kites) < len(rows))
        self.assertTrue(any(r[1] for r in rows))   # some dates, so order is tested

        def found(query, *options):
            # --json before "--": a query may start with "-"
            args = ["search", "--json", "-k", "1000"] + list(options) + ["--", query]
            return json.loads(run(args, self.db).stdout)

        def listed(query, *options):
            return [r["id"] for r in found(query, *options)["results"]]

        self.assertEqual(listed(""), newest)
        self.assertEqual(listed("   "), newest)
        self.assertEqual(listed("-kite -blue"), [i for i in newest if i not in kites])
        self.assertEqual(listed("-kite -blue", "--alpha", "1"),
                         [i for i in newest if i not in kites])
        # each filter, through each way of reading the rows (folder, dates, others)
        photos = os.path.join(self.samples, "photos")
        day = calendar.timegm((2015, 7, 21, 0, 0, 0))   # Kite.jpg's
        kept = {
            ("--type", "png"): lambda r: r[2] == "png",
            ("--folder", photos): lambda r: r[3] == photos or r[3].startswith(photos + "/"),
            # the folder holding the whole library: no filter at all
            ("--folder", self.samples + "/"): lambda r: True,
            ("--from", "2015-07-21", "--to", "2015-07-21"): lambda r: day <= r[1] < day + 86400,
            ("--from", "2015-07-21"): lambda r: r[1] >= day,
        }
        for options, keeps in kept.items():
            want = [r[0] for r in rows if keeps(r)]
            self.assertTrue(want, options)
            self.assertEqual(listed("", *options), want, options)
            self.assertEqual(listed("-kite -blue", *options),
                             [i for i in want if i not in kites], options)
        for query in ("kite", "blue sky"):
            self.assertEqual(listed(query, "--folder", self.samples), listed(query))
            self.assertNotEqual(listed(query, "--folder", photos), listed(query))
        # paging, and what explain says
        page = found("-kite -blue", "-k", "4", "--offset", "3", "--explain")
        self.assertEqual([r["id"] for r in page["results"]],
                         [i for i in newest if i not in kites][3:7])
        self.assertEqual(page["fts_query"], 'NOT ("kite" OR "blue")')
        self.assertTrue(all(list(r["explain"]) == ["date"] for r in page["results"]))
        # punctuation is not blank: nothing to search, nothing found
        self.assertEqual(listed("!!!"), [])

    def test_similar_images(self):
        doc = run_json(["search", "kite", "-k", "1"], self.db)
        kite = doc["results"][0]["id"]
        similar = run_json(["similar", str(kite), "-k", "5"], self.db)["results"]
        self.assertEqual(len(similar), 5)
        self.assertNotIn(kite, [r["id"] for r in similar])
        scores = [r["score"] for r in similar]
        self.assertEqual(scores, sorted(scores, reverse=True))
        proc = run(["similar", "999999999"], self.db, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"999999999", proc.stderr)

    def test_doctor(self):
        doc = run_json(["doctor"], self.db)
        self.assertTrue(doc["fts5"])
        self.assertIn("sqlite", doc["dependencies"])
        self.assertEqual(doc["library"]["images"], run_json(["stats"], self.db)["images"])

    def test_blas_kernels_fit_the_cpu(self):
        """OpenBLAS's SSE3 fallback for a CPU it does not know is replaced by
        the kernels the instruction set allows; a user's OPENBLAS_CORETYPE
        stands."""
        def kernels(coretype=None):
            env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
            if coretype:
                env["OPENBLAS_CORETYPE"] = coretype
            doc = run_json(["doctor"], self.db, env=env)
            return doc["dependencies"]["openblas"]["runtime"]
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
        if "avx2" in flags and "fma" in flags:
            self.assertNotEqual(kernels(), "Prescott kernels")
        self.assertEqual(kernels("Haswell"), "Haswell kernels")
        self.assertEqual(kernels("Prescott"), "Prescott kernels")


class ChangesAndBadFiles(TempDirs):

    def test_bad_files_are_recorded_and_do_not_stop_the_run(self):
        photos = self.copy_samples(["wallpapers/Kite.jpg", "photos/chelsea.png"])
        bad = write_bad_files(photos, os.path.join(photos, "Kite.jpg"))
        shutil.copy(os.path.join(samples_dir(), "known-bad", "truncated.jpg"),
                    os.path.join(photos, "skimage-truncated.jpg"))
        proc = run(["index", "--json", photos], self.db)
        events = json_lines(proc)
        done = events[-1]
        self.assertEqual(done["status"], "ok")
        self.assertEqual(done["indexed"] + done["failed"], len(bad) + 3)
        errors = {os.path.basename(e["path"]): e["reason"]
                  for e in run_json(["errors"], self.db)["errors"]}
        for name in ["empty.jpg", "truncated.jpg", "header-only.jpg", "huge.png",
                     "random.jpg", "text.png", "zero-size.png", "wrong-crc.webp"]:
            self.assertIn(name, errors)
            self.assertTrue(errors[name].strip(), name)
        self.assertIn("empty", errors["empty.jpg"])
        self.assertIn("100000", errors["huge.png"])
        # the good photos are there
        self.assertTrue(search_paths(self.db, "kite")[0].endswith("Kite.jpg"))
        self.assertTrue(search_paths(self.db, "chelsea")[0].endswith("chelsea.png"))
        # an unchanged broken file is not retried
        again = json_lines(run(["index", "--json", photos], self.db))[-1]
        self.assertEqual(again["total"], 0)
        # a fixed file is picked up and its error cleared
        shutil.copy(os.path.join(samples_dir(), "photos", "coffee.png"),
                    os.path.join(photos, "text.png"))
        fixed = json_lines(run(["index", "--json", photos], self.db))[-1]
        self.assertEqual(fixed["indexed"], 1)
        errors = [os.path.basename(e["path"]) for e in run_json(["errors"], self.db)["errors"]]
        self.assertNotIn("text.png", errors)

    def test_rename_modify_delete(self):
        photos = self.copy_samples(["wallpapers/Kite.jpg", "photos/chelsea.png",
                                    "photos/coffee.png", "photos/rocket.jpg"])
        first = json_lines(run(["index", "--json", photos], self.db))[-1]
        self.assertEqual(first["indexed"], 4)
        ids = catalog_ids(self.db)

        # rename: reused, not decoded again; found under its new name only
        os.rename(os.path.join(photos, "chelsea.png"), os.path.join(photos, "tabby.png"))
        # modify: different content at the same path
        shutil.copy(os.path.join(samples_dir(), "photos", "astronaut.png"),
                    os.path.join(photos, "coffee.png"))
        # delete
        os.remove(os.path.join(photos, "rocket.jpg"))
        # touch: same content, new mtime
        kite = os.path.join(photos, "Kite.jpg")
        os.utime(kite, (time.time() + 10, time.time() + 10))

        done = json_lines(run(["index", "--json", photos], self.db))[-1]
        self.assertEqual(done["reused"], 2)      # the rename and the touch
        self.assertEqual(done["indexed"], 1)     # the modified file
        self.assertEqual(done["removed"], 2)     # chelsea.png's old entry, rocket.jpg
        self.assertEqual(run_json(["stats"], self.db)["images"], 3)
        self.assertEqual(search_paths(self.db, "chelsea"), [])
        self.assertTrue(search_paths(self.db, "tabby")[0].endswith("tabby.png"))
        self.assertEqual(search_paths(self.db, "rocket"), [])
        # the touched file kept its id; the modified one got a new id
        now = catalog_ids(self.db)
        self.assertEqual(now[kite], ids[kite])
        coffee = os.path.join(photos, "coffee.png")
        self.assertNotEqual(now[coffee], ids[coffee])
        # the modified file describes the new picture: astronaut is square
        doc = run_json(["search", "coffee"], self.db)["results"][0]
        self.assertEqual((doc["width"], doc["height"]), (512, 512))
        # catalog and vector index agree after all that
        stats = run_json(["stats"], self.db)
        self.assertEqual(stats["vectors"], stats["embeddings"])
        self.assertEqual(stats["vectors"], 3)

    def test_copies_reuse_results(self):
        photos = self.copy_samples(["photos/chelsea.png"])
        run(["index", photos], self.db)
        os.makedirs(os.path.join(photos, "backup"))
        shutil.copy(os.path.join(photos, "chelsea.png"), os.path.join(photos, "backup", "cat.png"))
        done = json_lines(run(["index", "--json", photos], self.db))[-1]
        self.assertEqual(done["reused"], 1)
        self.assertEqual(done["indexed"], 0)
        result = run_json(["search", "backup cat"], self.db)["results"][0]
        original = run_json(["search", "chelsea"], self.db)["results"][0]
        self.assertEqual(result["caption"], original["caption"])
        self.assertNotEqual(result["id"], original["id"])

    def test_missing_folder_is_an_error_and_erases_nothing(self):
        photos = self.copy_samples(["photos/coffee.png"])
        run(["index", photos], self.db)
        proc = run(["index", os.path.join(self.tmp, "no-such-folder")], self.db, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"no-such-folder", proc.stderr)
        # an unmounted drive looks like this: the folder is gone
        shutil.rmtree(photos)
        proc = run(["index", photos], self.db, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(run_json(["stats"], self.db)["images"], 1)

    def test_hidden_entries_and_other_files_are_skipped(self):
        photos = self.copy_samples(["photos/coffee.png"])
        os.makedirs(os.path.join(photos, ".thumbnails"))
        shutil.copy(os.path.join(photos, "coffee.png"), os.path.join(photos, ".thumbnails", "x.png"))
        shutil.copy(os.path.join(photos, "coffee.png"), os.path.join(photos, ".hidden.png"))
        with open(os.path.join(photos, "notes.txt"), "w") as f:
            f.write("not an image")
        done = json_lines(run(["index", "--json", photos], self.db))[-1]
        self.assertEqual(done["indexed"], 1)
        self.assertEqual(done["failed"], 0)

    def test_near_duplicates(self):
        photos = self.copy_samples(["photos/chelsea.png", "photos/coffee.png",
                                    "photos/astronaut.png"])
        convert = shutil.which("convert")
        if not convert:
            self.skipTest("ImageMagick convert not installed")
        subprocess.run([convert, os.path.join(photos, "chelsea.png"), "-resize", "50%",
                        "-quality", "70", os.path.join(photos, "chelsea-small.jpg")], check=True)
        run(["index", photos], self.db)
        groups = run_json(["duplicates"], self.db)["groups"]
        self.assertEqual(len(groups), 1)
        names = sorted(os.path.basename(m["path"]) for m in groups[0])
        self.assertEqual(names, ["chelsea-small.jpg", "chelsea.png"])
        self.assertTrue(all(m["distance"] <= 6 for m in groups[0]))

    def test_usage_errors(self):
        for args in (["index"], ["search"], ["search", "a", "b"], ["search", "x", "-k", "0"],
                     ["search", "x", "-k", "abc"], ["bogus"], ["index", "--threads", "0", "x"],
                     ["similar", "abc"], ["duplicates", "--distance", "99"]):
            proc = run(args, self.db, check=False)
            self.assertEqual(proc.returncode, 2, args)
            self.assertTrue(proc.stderr, args)
        for cmd in ("index", "search", "similar", "stats", "errors", "duplicates", "doctor"):
            proc = run([cmd, "--help"], self.db)
            self.assertIn(b"usage: capsearch", proc.stdout)
        # A --db without its folder is named as such, and creates nothing.
        # A query starting with '-' reads as an option: the error shows the way.
        proc = run(["search", "-dog"], self.db, check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"capsearch search -- '-dog'", proc.stderr)
        self.assertEqual(proc.stderr.count(b"option"), 1)
        for args in (["search", "x", "-k"], ["search", "x", "--folder"]):
            proc = run(args, self.db, check=False)
            self.assertIn(f"{args[-1]} needs a value".encode(), proc.stderr)
        before = sorted(os.listdir(self.tmp))
        proc = subprocess.run([CAPSEARCH, "--db"], capture_output=True, cwd=self.tmp)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"--db needs the library folder", proc.stderr)
        self.assertEqual(sorted(os.listdir(self.tmp)), before)

    def test_missing_library_is_not_created_by_readers(self):
        for args in (["search", "kite"], ["stats"], ["errors"], ["duplicates"], ["similar", "1"]):
            proc = run(args, self.db, check=False)
            self.assertEqual(proc.returncode, 1, args)
            self.assertIn(b"index a folder first", proc.stderr)
        self.assertFalse(os.path.exists(self.db))
        self.assertEqual(run_json(["doctor"], self.db)["library"]["exists"], False)

    def test_catalog_is_sqlite_with_fts(self):
        photos = self.copy_samples(["photos/coffee.png"])
        run(["index", photos], self.db)
        con = sqlite3.connect(os.path.join(self.db, "catalog.db"))
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        row = con.execute("SELECT caption, path_words FROM captions").fetchone()
        self.assertIn("coffee", row[1])
        self.assertTrue(row[0].endswith("."))
        con.close()


if __name__ == "__main__":
    unittest.main()
