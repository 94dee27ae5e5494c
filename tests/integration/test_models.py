"""`capsearch models pull` against a loopback imitation of the Hugging Face
Hub (hub_server.py) serving a tiny generated CLIP model, and `capsearch
models list`: downloads checked byte for byte, resuming, checksums, the Hub's
errors, faults of the network, the token kept from other hosts, and the
folder never looking complete before it is."""
import fcntl
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import CAPSEARCH, run
from hub_server import HubServer, Repo

GEN_TEST_CLIP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                             "gen-test-clip")
NAME = "test/tiny-clip"
MODEL = "model.safetensors"


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_folder(folder):
    return {name: read_bytes(os.path.join(folder, name)) for name in os.listdir(folder)}


class ModelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.source = tempfile.mkdtemp(prefix="capsearch-hub-model-")
        subprocess.run([GEN_TEST_CLIP, cls.source, "--size", "tiny"], check=True)
        cls.files = read_folder(cls.source)
        # the optional files real repositories have, and files capsearch leaves out
        cls.files["tokenizer_config.json"] = b'{"model_max_length": 77}\n'
        cls.served = dict(cls.files)
        cls.served["README.md"] = b"# tiny\n"
        cls.served[".gitattributes"] = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.source, ignore_errors=True)

    def setUp(self):
        v2 = dict(self.served)
        v2["config.json"] = self.served["config.json"].replace(b'"projection_dim": 16',
                                                               b'"projection_dim":  16')
        pytorch_only = {k: v for k, v in self.served.items() if k != MODEL}
        pytorch_only["pytorch_model.bin"] = b"\0" * 100
        self.hub = HubServer({NAME: Repo(self.served, {"v2": v2}),
                              "old/pytorch-only": Repo(pytorch_only)})
        self.tmp = tempfile.mkdtemp(prefix="capsearch-models-test-")
        self.models = os.path.join(self.tmp, "models")
        self.folder = os.path.join(self.models, "test", "tiny-clip")
        self.partial = self.folder + ".partial"
        self.env = dict(os.environ, CAPSEARCH_HF_ENDPOINT=self.hub.url,
                        CAPSEARCH_MODELS=self.models, CAPSEARCH_HUB_TIMEOUT="5")
        self.env.pop("HF_TOKEN", None)

    def tearDown(self):
        self.hub.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def models_cmd(self, *args, check=False, env=None, timeout=120):
        return run(["models", *args], os.path.join(self.tmp, "library"), check=check,
                   env=env or self.env, timeout=timeout)

    def pull(self, *args, **kw):
        """Runs `models pull NAME --json`; returns (process, document or None)."""
        proc = self.models_cmd("pull", NAME, "--json", *args, **kw)
        doc = json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc, doc

    def assert_pulled(self):
        """The model folder holds exactly the model's files, as served; no
        unfinished pull is left."""
        self.assertEqual(read_folder(self.folder), self.files)
        self.assertFalse(os.path.exists(self.partial))

    def assert_nothing_complete(self):
        self.assertFalse(os.path.exists(self.folder), "a folder with the model's name exists")

    def statuses(self, doc):
        return {f["path"]: f["status"] for f in doc["files"]}

    def test_pull_then_embed(self):
        env = dict(self.env, HF_TOKEN="hf_secret")
        proc, doc = self.pull(env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()
        self.assertEqual(doc["dir"], self.folder)
        self.assertEqual(sorted(f["path"] for f in doc["files"]), sorted(self.files))
        self.assertEqual({f["path"]: f["size"] for f in doc["files"]},
                         {k: len(v) for k, v in self.files.items()})
        self.assertEqual(doc["downloaded"], len(self.files))
        self.assertEqual(doc["bytes_received"], sum(len(v) for v in self.files.values()))
        self.assertEqual(set(self.statuses(doc).values()), {"downloaded"})
        # files capsearch does not use are not fetched
        self.assertEqual(self.hub.requests(path_part="README"), [])
        # the LFS file came from the other server, through a redirect
        self.assertEqual(len(self.hub.requests("cdn")), 1)
        self.assertEqual(self.hub.requests("main", "resolve/main/" + MODEL)[0]["status"], 302)
        # the token goes to the Hub, never to the host the Hub redirects to
        for entry in self.hub.requests("main"):
            self.assertEqual(entry["auth"], "Bearer hf_secret", entry)
        for entry in self.hub.requests("cdn"):
            self.assertIsNone(entry["auth"], entry)
        # the pulled folder works
        out = run(["embed", "--model", self.folder, "--text", "a photo of a cat"],
                  os.path.join(self.tmp, "library"), env=self.env)
        self.assertEqual(len(out.stdout.split()), 16)

    def test_default_folder_and_human_output(self):
        proc = self.models_cmd("pull", NAME)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()   # $CAPSEARCH_MODELS/test/tiny-clip
        err = proc.stderr.decode()
        self.assertIn(f"{NAME} (main): {len(self.files)} files", err)
        self.assertIn(f"{MODEL}: downloaded", err)
        self.assertIn("checksum verified", err)
        self.assertNotIn("\r", err)   # not a terminal: a line per file, no bar
        self.assertIn(f"{NAME} is in {self.folder}", proc.stdout.decode())
        quiet = self.models_cmd("pull", NAME, "--quiet")
        self.assertEqual(quiet.returncode, 0, quiet.stderr)
        self.assertEqual(quiet.stderr, b"")
        self.assertIn("up to date", quiet.stdout.decode())

    def test_second_pull_keeps_verified_files(self):
        self.assertEqual(self.pull()[0].returncode, 0)
        self.hub.clear_log()
        proc, doc = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(doc["downloaded"], 0)
        self.assertEqual(set(self.statuses(doc).values()), {"present"})
        self.assertEqual(self.hub.requests(path_part="/resolve/"), [])
        self.assertIn("already there", proc.stderr.decode())
        self.assert_pulled()
        # a damaged file is noticed and fetched again, alone
        with open(os.path.join(self.folder, "vocab.json"), "r+b") as f:
            f.write(b"X")
        self.hub.clear_log()
        proc, doc = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(doc["downloaded"], 1)
        self.assertEqual(self.statuses(doc)["vocab.json"], "downloaded")
        self.assertEqual([e["path"].rsplit("/", 1)[1] for e in self.hub.requests(path_part="/resolve/")],
                         ["vocab.json"])
        self.assert_pulled()

    def interrupted_pull(self):
        """A first pull whose connection breaks halfway through the model."""
        half = len(self.files[MODEL]) // 2
        self.hub.faults.drop[MODEL] = half
        proc, doc = self.pull()
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("run the same command again to resume", doc["error"]["message"])
        self.assert_nothing_complete()
        part = os.path.join(self.partial, MODEL + ".part")
        self.assertEqual(os.path.getsize(part), half)
        # the files that did arrive are kept, verified, under their names
        self.assertEqual(read_bytes(os.path.join(self.partial, "config.json")),
                         self.files["config.json"])
        return half

    def test_resume_after_broken_connection(self):
        half = self.interrupted_pull()
        listed = json.loads(self.models_cmd("list", "--json", check=True).stdout)["models"]
        self.assertEqual([(m["name"], m["complete"]) for m in listed], [(NAME, False)])
        self.assertIn("unfinished", listed[0]["problem"])
        self.hub.clear_log()
        proc, doc = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()
        blob = self.hub.requests("cdn")
        self.assertEqual(len(blob), 1)
        self.assertEqual(blob[0]["range"], f"bytes={half}-")
        self.assertEqual(blob[0]["status"], 206)
        self.assertEqual(blob[0]["sent"], len(self.files[MODEL]) - half)   # nothing twice
        self.assertEqual(self.statuses(doc)[MODEL], "resumed")
        self.assertEqual(self.statuses(doc)["config.json"], "present")
        self.assertEqual(doc["bytes_received"], len(self.files[MODEL]) - half)

    def test_server_ignoring_range_starts_over(self):
        self.interrupted_pull()
        self.hub.faults.ignore_range.add(MODEL)
        self.hub.clear_log()
        proc, doc = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()
        blob = self.hub.requests("cdn")
        self.assertEqual([(e["status"], e["sent"]) for e in blob], [(200, len(self.files[MODEL]))])
        self.assertIn("started over", proc.stderr.decode())
        self.assertEqual(self.statuses(doc)[MODEL], "downloaded")

    def test_range_refused_starts_over(self):
        self.interrupted_pull()
        self.hub.faults.refuse_range.add(MODEL)
        self.hub.clear_log()
        proc, _ = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()
        self.assertEqual([e["status"] for e in self.hub.requests("cdn")], [416, 200])
        self.assertIn("HTTP 416", proc.stderr.decode())

    def test_part_larger_than_file_starts_over(self):
        os.makedirs(self.partial)
        with open(os.path.join(self.partial, MODEL + ".part"), "wb") as f:
            f.write(b"\0" * (len(self.files[MODEL]) + 10))
        proc, _ = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()
        self.assertEqual([e["range"] for e in self.hub.requests("cdn")], [None])

    def test_resumed_part_of_other_content_is_fetched_again(self):
        os.makedirs(self.partial)
        with open(os.path.join(self.partial, MODEL + ".part"), "wb") as f:
            f.write(b"\xAA" * 1000)
        proc, _ = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()
        self.assertEqual([e["range"] for e in self.hub.requests("cdn")], ["bytes=1000-", None])

    def test_corrupt_download(self):
        for name, kind in [(MODEL, "SHA-256"), ("merges.txt", "git SHA-1")]:
            with self.subTest(name=name):
                shutil.rmtree(self.partial, ignore_errors=True)
                self.hub.faults.corrupt = {name}
                proc, doc = self.pull()
                self.assertEqual(proc.returncode, 1, proc.stderr)
                message = doc["error"]["message"]
                self.assertIn(f"{name} does not match the Hub's checksum", message)
                data = self.files[name]
                bad = bytes([data[0] ^ 0xFF]) + data[1:]
                if kind == "SHA-256":
                    from hub_server import sha256
                    expected, got = sha256(data), sha256(bad)
                else:
                    from hub_server import git_blob_sha1
                    expected, got = git_blob_sha1(data), git_blob_sha1(bad)
                self.assertIn(f"expected {kind} {expected}, got {got}", message)
                self.assert_nothing_complete()
                self.assertFalse(os.path.exists(os.path.join(self.partial, name + ".part")))
                self.assertFalse(os.path.exists(os.path.join(self.partial, name)))

    def test_stalled_server_times_out(self):
        self.hub.faults.stall[MODEL] = 1000
        env = dict(self.env, CAPSEARCH_HUB_TIMEOUT="1")
        start = time.monotonic()
        proc, doc = self.pull(env=env)
        self.assertLess(time.monotonic() - start, 15)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("no answer or no data for 1 s", doc["error"]["message"])
        self.assertIn("bytes of model.safetensors kept", doc["error"]["message"])
        self.assert_nothing_complete()

    def test_interrupt_keeps_what_arrived(self):
        self.hub.faults.stall[MODEL] = 1000
        proc = subprocess.Popen([CAPSEARCH, "models", "pull", NAME], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not self.hub.requests("cdn") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn(b"interrupted", err)
        self.assertEqual(os.path.getsize(os.path.join(self.partial, MODEL + ".part")), 1000)
        self.assert_nothing_complete()

    def test_hub_errors(self):
        cases = [
            (["pull", "nobody/missing"], "repository nobody/missing not found (HTTP 401"),
            (["pull", NAME, "--revision", "v9"], "revision 'v9' not found in test/tiny-clip"),
            (["pull", "old/pytorch-only"],
             "has no model.safetensors, only pytorch_model.bin: capsearch reads safetensors"),
            (["pull", NAME, "--revision", "../main"], "invalid revision '../main'"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                proc = self.models_cmd(*args)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertIn(message, proc.stderr.decode())
        self.hub.faults.status["vocab.json"] = 500
        proc = self.models_cmd("pull", NAME)
        self.assertIn("the server failed (HTTP 500 from " + self.hub.url + f"/{NAME}/resolve/main/vocab.json",
                      proc.stderr.decode())
        self.assert_nothing_complete()
        self.assertFalse(os.path.exists(os.path.join(self.models, "nobody")))
        self.assertFalse(os.path.exists(os.path.join(self.models, "old")))

    def test_unreachable_hub(self):
        self.hub.stop()
        proc = self.models_cmd("pull", NAME)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"cannot download {self.hub.url}/api/models/{NAME}/tree/main",
                      proc.stderr.decode())
        self.hub = HubServer({})   # for tearDown

    def test_bad_names(self):
        for name in ["../x", "a/b/c", "", "a/..", "a/b c", "/a", "a/", "a", "a/.hidden",
                     "x" * 97 + "/a", "a/b.partial"]:
            with self.subTest(name=name):
                proc = self.models_cmd("pull", name)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("invalid model name", proc.stderr.decode())
        self.assertEqual(self.hub.log, [])
        self.assertFalse(os.path.exists(self.models))
        self.assertEqual(self.models_cmd("pull").returncode, 2)
        self.assertEqual(self.models_cmd("pull", "a/b", "c/d").returncode, 2)
        self.assertEqual(self.models_cmd("fetch", NAME).returncode, 2)
        self.assertEqual(self.models_cmd("list", "--revision", "x").returncode, 2)

    def test_write_error(self):
        def small_files():
            # writes past 100 kB fail with EFBIG instead of killing the process
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))
        proc = subprocess.run([CAPSEARCH, "models", "pull", NAME], env=self.env,
                              capture_output=True, timeout=60, preexec_fn=small_files)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        part = os.path.join(self.partial, MODEL + ".part")
        self.assertIn(f"cannot write '{part}': File too large", proc.stderr.decode())
        self.assertIn("run the same command again to resume", proc.stderr.decode())
        self.assert_nothing_complete()
        proc, _ = self.pull()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_pulled()
        self.assertEqual(self.hub.requests("cdn")[-1]["range"], "bytes=100000-")

    def test_one_pull_at_a_time(self):
        os.makedirs(self.partial)
        fd = os.open(self.partial, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            proc = self.models_cmd("pull", NAME)
            self.assertEqual(proc.returncode, 4, proc.stderr)
            self.assertIn(f"another pull of {NAME} is running", proc.stderr.decode())
        finally:
            os.close(fd)
        self.assertEqual(self.models_cmd("pull", NAME).returncode, 0)
        self.assert_pulled()

    def test_update_keeps_other_files(self):
        self.assertEqual(self.pull()[0].returncode, 0)
        with open(os.path.join(self.folder, "notes.txt"), "w") as f:
            f.write("mine")
        self.hub.clear_log()
        proc, doc = self.pull("--revision", "v2")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.statuses(doc)["config.json"], "downloaded")
        self.assertEqual(self.statuses(doc)[MODEL], "present")
        self.assertEqual(self.hub.requests("cdn"), [])
        after = read_folder(self.folder)
        self.assertEqual(after.pop("notes.txt"), b"mine")
        self.assertEqual(after["config.json"], self.hub.repos[NAME].revisions["v2"]["config.json"])
        self.assertFalse(os.path.exists(self.partial))
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.folder))), ["tiny-clip"])

    def test_list(self):
        self.assertEqual(self.pull("--dir", self.models)[0].returncode, 0)
        tagger = os.path.join(self.models, "human-models-3.0.4")
        os.makedirs(tagger)
        open(os.path.join(tagger, ".complete"), "w").close()
        os.makedirs(os.path.join(self.models, "human-models-9"))
        broken = os.path.join(self.models, "me", "broken")
        os.makedirs(broken)
        shutil.copy(os.path.join(self.source, "config.json"), broken)
        os.makedirs(os.path.join(self.models, "me", "other.partial"))
        os.makedirs(os.path.join(self.models, "empty-owner"))
        doc = json.loads(self.models_cmd("list", "--json", "--dir", self.models, check=True).stdout)
        self.assertEqual(doc["dir"], self.models)
        models = {m["name"]: m for m in doc["models"]}
        self.assertEqual(sorted(models), ["human-models-3.0.4", "human-models-9", "me/broken",
                                          "me/other", NAME])
        clip = models[NAME]
        self.assertEqual((clip["kind"], clip["complete"], clip["dim"], clip["image_size"],
                          clip["problem"], clip["path"]),
                         ("clip", True, 16, 32, None, self.folder))
        self.assertEqual(clip["bytes"], sum(len(v) for v in self.files.values()))
        self.assertEqual((models["human-models-3.0.4"]["kind"], models["human-models-3.0.4"]["complete"]),
                         ("tagger", True))
        self.assertFalse(models["human-models-9"]["complete"])
        self.assertFalse(models["me/broken"]["complete"])
        self.assertIn("missing vocab.json, merges.txt, model.safetensors", models["me/broken"]["problem"])
        self.assertFalse(models["me/other"]["complete"])
        self.assertEqual(models["me/other"]["problem"],
                         "an unfinished pull: 'capsearch models pull me/other' finishes it")
        text = self.models_cmd("list", check=True).stdout.decode()
        self.assertIn(f"models in {self.models}:", text)
        line = [l for l in text.splitlines() if NAME in l][0]
        self.assertRegex(line, r"clip +256\.4 KiB +dim 16, image 32 +complete$")
        self.assertIn("incomplete: missing vocab.json", text)
        # an unfinished pull next to a complete folder: the folder is usable
        os.makedirs(self.partial)
        clip = {m["name"]: m for m in json.loads(
            self.models_cmd("list", "--json", check=True).stdout)["models"]}[NAME]
        self.assertTrue(clip["complete"])
        self.assertEqual(clip["problem"], f"an unfinished pull left {NAME}.partial: "
                                          f"'capsearch models pull {NAME}' finishes it")
        # an empty or missing folder
        empty = self.models_cmd("list", "--dir", os.path.join(self.tmp, "none"), check=True)
        self.assertIn("no models in", empty.stdout.decode())


if __name__ == "__main__":
    unittest.main()
