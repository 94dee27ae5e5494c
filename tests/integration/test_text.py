"""Text enrichments through the capsearch CLI: words read in pictures (OCR)
and WordNet's related words (a file named dog.jpg is found by "puppy" and
"animal"), ranking below pictures whose own words match, renamed files,
and indexing without WordNet or Tesseract data (a warning, then the words
filled in once WordNet is back)."""
import os
import shutil
import subprocess
import unittest

from harness import TempDirs, json_lines, run, run_json, samples_dir, search_paths

CONVERT = shutil.which("convert")
NOWHERE = "/nonexistent/capsearch-test"


def require(what, ok):
    """Skips without `what` unless CAPSEARCH_REQUIRE_MODELS=1."""
    if ok:
        return
    if os.environ.get("CAPSEARCH_REQUIRE_MODELS") == "1":
        raise AssertionError(f"{what} is required (CAPSEARCH_REQUIRE_MODELS=1)")
    raise unittest.SkipTest(f"{what} is not installed")


def extras(db):
    doc = run_json(["doctor"], db)
    return doc["wordnet"], doc["ocr"]


def render(path, text, size="800x200", pointsize=48):
    if not CONVERT:
        raise unittest.SkipTest("ImageMagick's convert is needed to render text")
    subprocess.run([CONVERT, "-size", size, "xc:white", "-font", "DejaVu-Sans", "-pointsize",
                    str(pointsize), "-fill", "black", "-annotate", "+20+100", text, path],
                   check=True, capture_output=True)


def base(paths):
    return [os.path.basename(p) for p in paths]


class TextInPictures(TempDirs):

    def test_receipt_is_found_by_its_text(self):
        wordnet, ocr = extras(self.db)
        require("Tesseract's English data", ocr["available"])
        # a name that says nothing: only the text in the picture can find it
        render(os.path.join(self.photos, "IMG_0042.png"), "Hardware store receipt 42.99")
        self.copy_samples(["photos/astronaut.png", "photos/chelsea.png", "photos/coffee.png",
                           "photos/rocket.jpg", "wallpapers/Kite.jpg"])
        run(["index", self.photos], self.db)
        for query in ("receipt", "hardware store", "Receipt from the hardware store", "42.99"):
            paths = search_paths(self.db, query)
            self.assertTrue(paths, f"nothing found for {query!r}")
            self.assertEqual(os.path.basename(paths[0]), "IMG_0042.png", f"{query!r}: {paths}")
        # photos without text get no OCR words
        self.assertEqual(search_paths(self.db, "receipt"),
                         [os.path.join(self.photos, "IMG_0042.png")])
        info = run_json(["search", "receipt", "--explain"], self.db)
        self.assertEqual(len(info["results"]), 1)


class RelatedWords(TempDirs):

    NAMES = {
        "dog.jpg": "photos/chelsea.png",
        "cat.png": "photos/coffee.png",
        "car.png": "photos/astronaut.png",
        "motorcycle.png": "photos/motorcycle_left.png",
        "boat.png": "wallpapers/BytheWater.jpg",
        "animal.jpg": "photos/rocket.jpg",
    }

    def setUp(self):
        super().setUp()
        wordnet, _ = extras(self.db)
        require("WordNet (wordnet-base)", wordnet["available"])
        src = samples_dir()
        for name, sample in self.NAMES.items():
            shutil.copy(os.path.join(src, sample), os.path.join(self.photos, name))

    def index(self, env=None, check=True):
        return run(["index", "--json", self.photos], self.db, check=check,
                   env=dict(os.environ, **(env or {})))

    def test_kinds_of_things_find_them(self):
        self.index()
        for query, expected in [("puppy", "dog.jpg"), ("hound", "dog.jpg"), ("kitty", "cat.png"),
                                ("automobile", "car.png"), ("motorbike", "motorcycle.png"),
                                ("boats", "boat.png"), ("canine", "dog.jpg"),
                                ("vehicle", None)]:
            paths = base(search_paths(self.db, query))
            self.assertTrue(paths, f"nothing found for {query!r}")
            if expected:
                self.assertEqual(paths[0], expected, f"{query!r}: {paths}")
        # vehicles: the car, the motorcycle and the boat, nothing else
        self.assertEqual(sorted(base(search_paths(self.db, "vehicle"))),
                         ["boat.png", "car.png", "motorcycle.png"])
        # a picture whose own name says "animal" ranks above those found
        # only through their related words
        paths = base(search_paths(self.db, "animal"))
        self.assertEqual(paths[0], "animal.jpg", paths)
        self.assertEqual(sorted(paths[1:]), ["cat.png", "dog.jpg"])
        doc = run_json(["search", "puppy", "--explain"], self.db)
        self.assertIn('related : ("dog")', doc["fts_query"])

    def test_renamed_file_gets_new_related_words(self):
        self.index()
        os.rename(os.path.join(self.photos, "dog.jpg"), os.path.join(self.photos, "kitten.png"))
        done = json_lines(self.index())[-1]
        self.assertEqual(done["reused"], 1)
        self.assertNotIn("kitten.png", base(search_paths(self.db, "puppy")))
        self.assertIn("kitten.png", base(search_paths(self.db, "young mammal")))

    def test_without_wordnet_and_tesseract_then_with(self):
        render(os.path.join(self.photos, "IMG_0001.png"), "Hardware store receipt 42.99")
        proc = self.index(env={"WNSEARCHDIR": NOWHERE, "WNHOME": NOWHERE,
                               "TESSDATA_PREFIX": NOWHERE})
        events = json_lines(proc)
        warnings = [e["message"] for e in events if e.get("event") == "warning"]
        # (the third: this suite runs without the tagger's models)
        self.assertEqual(len(warnings), 3, warnings)
        self.assertTrue(any("fetch-models.sh" in w for w in warnings), warnings)
        self.assertTrue(any("wordnet-base" in w for w in warnings), warnings)
        self.assertTrue(any("tesseract-ocr-eng" in w for w in warnings), warnings)
        self.assertEqual(events[-1]["status"], "ok")
        self.assertEqual(events[-1]["indexed"], len(self.NAMES) + 1)
        # indexed, found by name, not by related words or text
        self.assertEqual(base(search_paths(self.db, "dog")), ["dog.jpg"])
        self.assertEqual(search_paths(self.db, "puppy"), [])
        self.assertEqual(search_paths(self.db, "receipt"), [])
        # WordNet back: the next run fills the related words in, with no
        # file changed and no warning
        events = json_lines(self.index())
        self.assertFalse([e for e in events if e.get("event") == "warning"])
        self.assertEqual(events[-1]["unchanged"], len(self.NAMES) + 1)
        self.assertEqual(base(search_paths(self.db, "puppy")), ["dog.jpg"])
        # searching without WordNet: plain words only, never an error
        proc = run(["search", "puppy", "--json"], self.db,
                   env=dict(os.environ, WNSEARCHDIR=NOWHERE, WNHOME=NOWHERE))
        self.assertEqual(proc.returncode, 0)

    def test_ocr_languages_option(self):
        proc = run(["index", "--ocr-lang", "eng+zzz", self.photos], self.db, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"tesseract-ocr-zzz", proc.stderr)
        proc = run(["index", "--ocr-lang", "eng;x", self.photos], self.db, check=False)
        self.assertNotEqual(proc.returncode, 0)
        run(["index", "--ocr-lang", "none", self.photos], self.db)

    def test_hostile_queries_with_expansion(self):
        self.index()
        for query in ['puppy" OR related:(', 'kitty -"', "((mice", "puppy*", "-puppy",
                      "related : dog", "puppy NEAR(kitty", "boats" * 300, "\u732b puppy"]:
            proc = run(["search", "--json", "--", query], self.db, check=False)
            self.assertEqual(proc.returncode, 0, f"{query!r}: {proc.stderr!r}")


if __name__ == "__main__":
    unittest.main()
