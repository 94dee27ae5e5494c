"""The built-in tagger through the capsearch CLI, on real photos from Debian
packages: what `capsearch caption` finds (labels written by a person who
looked at each photo), boxes in the picture's own pixels after EXIF
orientation, searches in plain words, "more like this" on the detector's
features, moving a library from the colour layout to them, and broken or
missing model files."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from harness import TempDirs, json_lines, run, run_json, samples_dir, search_paths
from server import Server

SYSTEM_PYTHON = "/usr/bin/python3"   # Debian's, with python3-pil

# What a person sees in these photos (not what the code found).
EXPECTED = {
    "photos/astronaut.png": "person",
    "photos/chelsea.png": "cat",
    "photos/coffee.png": "cup",
    "photos/motorcycle_left.png": "motorcycle",
    "photos/motorcycle_right.png": "motorcycle",
    "photos/horse.png": "horse",
    "wallpapers/Kite.jpg": "kite",
    "wallpapers/EveningGlow.jpg": "boat",
}
# ... and what is certainly not there.
ABSENT = {
    "photos/chelsea.png": {"dog"},
    "wallpapers/Path.jpg": {"person"},
    "photos/moon.png": {"person", "dog", "cat"},
}


def models_dir():
    """The installed models, or a skip (a failure with CAPSEARCH_REQUIRE_MODELS=1)."""
    root = os.environ.get("CAPSEARCH_MODELS") or os.path.expanduser(
        "~/.local/share/capsearch/models")
    folder = os.path.join(root, "human-models-3.0.4")
    if os.path.exists(os.path.join(folder, "centernet.json")):
        return folder
    if os.environ.get("CAPSEARCH_REQUIRE_MODELS") == "1":
        raise AssertionError(f"the tagger's models are required but not in {folder} "
                             "(tools/fetch-models.sh)")
    raise unittest.SkipTest("the tagger's models are not installed (tools/fetch-models.sh)")


def caption(paths, env=None, check=True):
    proc = subprocess.run([os.environ["CAPSEARCH_BIN"], "caption", "--json"] + paths,
                          capture_output=True, env=env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"caption exited {proc.returncode}: {proc.stderr.decode()}")
    return proc


def caption_doc(paths):
    return json.loads(caption(paths).stdout)


def labels(image):
    return {o["label"] for o in image["objects"]}


def iou(a, b):
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class Caption(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        models_dir()
        cls.samples = samples_dir()
        names = sorted(set(EXPECTED) | set(ABSENT))
        doc = caption_doc([os.path.join(cls.samples, n) for n in names])
        cls.found = dict(zip(names, doc["images"]))
        cls.models = doc["models"]

    def test_models_loaded(self):
        self.assertEqual(self.models.split(), ["centernet", "blazeface", "emotion"])

    def test_what_a_person_sees_is_found(self):
        for name, label in EXPECTED.items():
            image = self.found[name]
            self.assertIn(label, labels(image), f"{name}: {image['objects']}")
            tags = {t["name"]: t for t in image["tags"]}
            self.assertEqual(tags[label]["kind"], "object")

    def test_what_is_not_there_is_not_found(self):
        for name, absent in ABSENT.items():
            self.assertFalse(labels(self.found[name]) & absent,
                             f"{name}: {self.found[name]['objects']}")

    def test_captions_say_it(self):
        self.assertTrue(self.found["photos/chelsea.png"]["caption"].startswith("A cat."))
        self.assertIn("motorcycle", self.found["photos/motorcycle_left.png"]["caption"].lower())
        self.assertIn("boats", self.found["wallpapers/EveningGlow.jpg"]["caption"])

    def test_faces(self):
        astronaut = self.found["photos/astronaut.png"]
        self.assertEqual(len(astronaut["faces"]), 1, astronaut["faces"])
        face = astronaut["faces"][0]
        # she smiles; the face lies inside the person found
        self.assertEqual(face["expression"], "happy")
        person = next(o for o in astronaut["objects"] if o["label"] == "person")
        cx, cy = (face["box"][0] + face["box"][2]) / 2, (face["box"][1] + face["box"][3]) / 2
        self.assertTrue(person["box"][0] <= cx <= person["box"][2])
        self.assertTrue(person["box"][1] <= cy <= person["box"][3])
        self.assertIn("smiling", astronaut["caption"])
        # a cat's face is not a person's
        self.assertEqual(self.found["photos/chelsea.png"]["faces"], [])

    def test_boxes_inside_the_picture(self):
        for name, image in self.found.items():
            for thing in image["objects"] + image["faces"]:
                x1, y1, x2, y2 = thing["box"]
                self.assertTrue(-1 <= x1 < x2 <= image["width"] + 1, f"{name}: {thing}")
                self.assertTrue(-1 <= y1 < y2 <= image["height"] + 1, f"{name}: {thing}")
                self.assertTrue(0 < thing["score"] <= 1)


class Orientation(unittest.TestCase):

    def test_boxes_follow_exif_orientation(self):
        models_dir()
        if not os.path.exists(SYSTEM_PYTHON):
            raise unittest.SkipTest("Debian's python3 with python3-pil is needed")
        source = os.path.join(samples_dir(), "photos/motorcycle_left.png")
        with tempfile.TemporaryDirectory() as tmp:
            upright, turned = os.path.join(tmp, "upright.jpg"), os.path.join(tmp, "turned.jpg")
            # stored sideways with orientation 6 ("rotate 90 clockwise to view")
            subprocess.run([SYSTEM_PYTHON, "-c", f"""
from PIL import Image
im = Image.open({source!r}).convert("RGB")
im.save({upright!r}, quality=95)
exif = Image.Exif()
exif[274] = 6
im.transpose(Image.Transpose.ROTATE_90).save({turned!r}, quality=95, exif=exif)
"""], check=True)
            a, b = caption_doc([upright, turned])["images"]
        self.assertEqual((a["width"], a["height"]), (b["width"], b["height"]))
        moto_a = next(o for o in a["objects"] if o["label"] == "motorcycle")
        moto_b = next(o for o in b["objects"] if o["label"] == "motorcycle")
        self.assertGreater(iou(moto_a["box"], moto_b["box"]), 0.9, (moto_a, moto_b))


class Library(TempDirs):

    def index_samples(self, env=None):
        proc = run(["index", "--json", self.photos], self.db, env=env)
        return json_lines(proc)

    def setUp(self):
        models_dir()
        super().setUp()
        for sub in ("photos", "wallpapers"):
            src = os.path.join(samples_dir(), sub)
            for name in sorted(os.listdir(src)):
                shutil.copy(os.path.join(src, name), os.path.join(self.photos, name))

    def test_plain_words_find_what_photos_show(self):
        self.index_samples()
        for query, expected in [("cat", "chelsea.png"), ("kitty", "chelsea.png"),
                                ("animal", "chelsea.png"), ("motorbike", "motorcycle_left.png"),
                                ("boats", "EveningGlow.jpg"), ("coffee cup", "coffee.png"),
                                ("kite", "Kite.jpg"), ("smiling", "astronaut.png")]:
            paths = [os.path.basename(p) for p in search_paths(self.db, query)]
            self.assertTrue(paths, f"nothing found for {query!r}")
            if query == "motorbike":   # two photos of the same motorcycle
                self.assertIn(paths[0], {"motorcycle_left.png", "motorcycle_right.png"})
            else:
                self.assertEqual(paths[0], expected, f"{query!r}: {paths}")
        self.assertEqual(search_paths(self.db, "dog"), [])

    def test_more_like_this_uses_the_detector_features(self):
        self.index_samples()
        stats = run_json(["stats"], self.db)
        self.assertEqual(stats["embedding_model"], "human-models-3.0.4/centernet-backbone-mean")
        self.assertEqual(stats["vectors"], stats["images"])
        hits = run_json(["search", "motorcycle_left"], self.db)["results"]
        left = next(r for r in hits if r["path"].endswith("motorcycle_left.png"))
        similar = [os.path.basename(r["path"])
                   for r in run_json(["similar", str(left["id"]), "-k", "3"], self.db)["results"]]
        self.assertEqual(similar[0], "motorcycle_right.png", similar)
        # search by picture: the server runs the detector on the upload
        server = Server(self.db)
        try:
            with open(os.path.join(samples_dir(), "photos/motorcycle_right.png"), "rb") as f:
                doc = server.json("/api/search/image?k=2", "POST", f.read())
        finally:
            server.stop()
        self.assertEqual([os.path.basename(r["path"]) for r in doc["results"]],
                         ["motorcycle_right.png", "motorcycle_left.png"])

    def test_installing_the_models_later_moves_the_library_to_them(self):
        without = dict(os.environ, CAPSEARCH_MODELS=os.path.join(self.tmp, "no-models"))
        events = self.index_samples(env=without)
        self.assertTrue(any("fetch-models.sh" in e.get("message", "") for e in events
                            if e.get("event") == "warning"))
        stats = run_json(["stats"], self.db)
        self.assertEqual(stats["embedding_model"], "capsearch/color-layout-v1")
        self.assertEqual(search_paths(self.db, "kitty"), [])
        # with the models: every picture is looked at again, once
        done = self.index_samples()[-1]
        self.assertEqual(done["indexed"], stats["images"])
        self.assertEqual(done["reused"], 0)
        stats = run_json(["stats"], self.db)
        self.assertEqual(stats["embedding_model"], "human-models-3.0.4/centernet-backbone-mean")
        self.assertEqual(stats["vectors"], stats["images"])
        self.assertEqual(os.path.basename(search_paths(self.db, "kitty")[0]), "chelsea.png")
        again = self.index_samples()[-1]
        self.assertEqual(again["indexed"], 0)
        self.assertEqual(again["unchanged"], stats["images"])


    def test_related_words_filled_in_while_pictures_wait_for_the_detector(self):
        """Pictures indexed before the detector was installed, outside the
        folder indexed now, still get their related words filled in."""
        without = dict(os.environ, CAPSEARCH_MODELS=os.path.join(self.tmp, "no-models"))
        self.index_samples(env=without)
        catalog = os.path.join(self.db, "catalog.db")

        def related():
            con = sqlite3.connect(catalog)
            try:
                return dict(con.execute("SELECT image_id, related FROM captions"))
            finally:
                con.close()

        before = related()
        self.assertTrue(any(before.values()))
        con = sqlite3.connect(catalog)
        with con:
            con.execute("UPDATE captions SET related = ''")
            con.execute("UPDATE meta SET value = '' WHERE key = 'related_words'")
        con.close()
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere)
        run(["index", elsewhere], self.db)
        self.assertEqual(related(), before)


class BrokenModels(TempDirs):

    def broken_copy(self, damage):
        source = models_dir()
        root = os.path.join(self.tmp, "models")
        folder = os.path.join(root, "human-models-3.0.4")
        shutil.copytree(source, folder)
        damage(folder)
        return dict(os.environ, CAPSEARCH_MODELS=root)

    def test_truncated_shard(self):
        def truncate(folder):
            shard = os.path.join(folder, "centernet.bin")
            with open(shard, "r+b") as f:
                f.truncate(os.path.getsize(shard) // 2)
        env = self.broken_copy(truncate)
        image = os.path.join(samples_dir(), "photos/chelsea.png")
        proc = caption([image], env=env, check=False)
        self.assertEqual(proc.returncode, 1)
        message = json.loads(proc.stdout)["error"]["message"]
        self.assertIn("centernet", message)
        self.assertIn("fetch-models.sh", message)
        # indexing goes on without the tagger, and says so
        shutil.copy(image, self.photos)
        events = json_lines(run(["index", "--json", self.photos], self.db, env=env))
        warnings = [e["message"] for e in events if e.get("event") == "warning"]
        self.assertTrue(any("centernet" in w for w in warnings), warnings)
        self.assertEqual(events[-1]["indexed"], 1)

    def test_cut_model_json(self):
        def cut(folder):
            with open(os.path.join(folder, "blazeface.json"), "w") as f:
                f.write('{"modelTopology": {"node": [{"name": "x", "op": "Conv2D"')
        env = self.broken_copy(cut)
        proc = caption([os.path.join(samples_dir(), "photos/chelsea.png")], env=env, check=False)
        self.assertEqual(proc.returncode, 1)
        message = json.loads(proc.stdout)["error"]["message"]
        self.assertIn("blazeface.json", message)

    def test_unknown_op(self):
        def unknown_op(folder):
            path = os.path.join(folder, "emotion.json")
            with open(path) as f:
                model = json.load(f)
            node = next(n for n in model["modelTopology"]["node"]
                        if n["op"] not in ("Placeholder", "Const"))
            node["op"] = "NoSuchOp"
            with open(path, "w") as f:
                json.dump(model, f)
            self.renamed = node["name"]
        env = self.broken_copy(unknown_op)
        proc = caption([os.path.join(samples_dir(), "photos/chelsea.png")], env=env, check=False)
        self.assertEqual(proc.returncode, 1)
        message = json.loads(proc.stdout)["error"]["message"]
        self.assertIn("NoSuchOp", message)
        self.assertIn(self.renamed, message)

    def test_missing_models_caption_from_metadata(self):
        env = dict(os.environ, CAPSEARCH_MODELS=os.path.join(self.tmp, "none"))
        doc = json.loads(caption([os.path.join(samples_dir(), "photos/chelsea.png")],
                                 env=env).stdout)
        self.assertEqual(doc["models"], "")
        self.assertTrue(any("fetch-models.sh" in w for w in doc["warnings"]))
        image = doc["images"][0]
        self.assertEqual(image["objects"], [])
        self.assertTrue(image["caption"].startswith("A landscape image"))


if __name__ == "__main__":
    unittest.main()
