"""`capsearch serve` against a real library on loopback: every route, hostile
requests, tokens, index jobs while searching, another process indexing, the
folder watcher, and shutdown with requests in flight."""
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from PIL import Image

from harness import TempDirs, run, samples_dir
from server import Server, status_codes

SAMPLE_FILES = ["wallpapers/Kite.jpg", "wallpapers/EveningGlow.jpg", "wallpapers/Autumn.jpg",
                "photos/chelsea.png", "photos/coffee.png", "photos/astronaut.png",
                "photos/rocket.jpg", "photos/no_time_for_that_tiny.gif"]


def quote(text):
    return urllib.parse.quote(text, safe="")


class ServedLibrary(unittest.TestCase):
    """One indexed library and one server for the read-only route tests."""

    @classmethod
    def setUpClass(cls):
        samples = samples_dir()
        cls.tmp = tempfile.mkdtemp(prefix="capsearch-server-")
        cls.db = os.path.join(cls.tmp, "library")
        cls.photos = os.path.join(cls.tmp, "photos")
        os.makedirs(cls.photos)
        for name in SAMPLE_FILES:
            shutil.copy(os.path.join(samples, name), cls.photos)
        run(["index", cls.photos], cls.db)
        cls.server = Server(cls.db)
        cls.kite = cls.server.json("/api/search?q=kite")["results"][0]["id"]

    @classmethod
    def tearDownClass(cls):
        code, err = cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, err

    def test_health_and_stats(self):
        self.assertEqual(self.server.json("/healthz"), {"status": "ok"})
        stats = self.server.json("/api/stats")
        self.assertEqual(stats["images"], len(SAMPLE_FILES))
        self.assertEqual(stats["vectors"], len(SAMPLE_FILES))

    def test_search(self):
        doc = self.server.json("/api/search?q=kite&explain=1")
        first = doc["results"][0]
        self.assertTrue(first["path"].endswith("/Kite.jpg"))
        self.assertEqual(first["thumbnail"], f"/api/images/{first['id']}/thumb?size=256")
        self.assertEqual(first["explain"]["text"]["rank"], 1)
        self.assertIn("took_ms", doc)
        # paging
        all_ = self.server.json("/api/search?q=" + quote("png jpeg gif") + "&k=8")["results"]
        page = self.server.json("/api/search?q=" + quote("png jpeg gif") + "&k=3&offset=3")["results"]
        self.assertEqual([r["id"] for r in page], [r["id"] for r in all_[3:6]])
        # filters
        pngs = self.server.json("/api/search?q=" + quote("png jpeg gif") + "&k=20&type=png")["results"]
        self.assertTrue(pngs and all(r["path"].endswith(".png") for r in pngs))
        dated = self.server.json("/api/search?q=landscape&from=2015-07-21&to=2015-07-21")["results"]
        self.assertEqual([os.path.basename(r["path"]) for r in dated], ["Kite.jpg"])
        inside = self.server.json("/api/search?q=landscape&folder=" + quote(self.photos))["results"]
        self.assertTrue(inside)
        self.assertEqual(self.server.json("/api/search?q=landscape&folder=%2Fnowhere")["results"], [])
        # empty and odd queries are not errors
        for q in ["", "%22", "NEAR%28a%29", "%2A", "%E2%9C%93", "a" * 2000]:
            self.server.json("/api/search?q=" + q)
        # no words: the pictures newest first (Kite.jpg is the one dated),
        # without the excluded ones
        listed = self.server.json("/api/search?k=100")["results"]
        self.assertEqual(len(listed), len(SAMPLE_FILES))
        self.assertTrue(listed[0]["path"].endswith("/Kite.jpg"))
        self.assertEqual(self.server.json("/api/search?q=&k=100")["results"], listed)
        without = self.server.json("/api/search?q=" + quote("-kite") + "&k=100")["results"]
        self.assertEqual([r["id"] for r in without],
                         [r["id"] for r in listed if r["id"] != self.kite])

    def test_bad_parameters(self):
        for query in ["k=0", "k=1001", "k=abc", "offset=-1", "from=2015-02-30", "to=soon",
                      "q=%ZZ", "q=%C3%28", "q=a%00b", "folder=%FF"]:
            status, _, body = self.server.request("/api/search?" + query)
            self.assertEqual(status, 400, query)
            self.assertIn("error", json.loads(body))

    def test_image_routes(self):
        info = self.server.json(f"/api/images/{self.kite}")
        self.assertEqual((info["width"], info["height"]), (2560, 1600))
        self.assertEqual(info["format"], "jpeg")
        self.assertTrue(info["tags"])
        self.assertEqual(info["file"], f"/api/images/{self.kite}/file")
        status, headers, data = self.server.request(f"/api/images/{self.kite}/thumb?size=200")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "image/jpeg")
        self.assertEqual(Image.open(io.BytesIO(data)).size, (200, 125))
        status, headers, data = self.server.request(f"/api/images/{self.kite}/file")
        with open(os.path.join(self.photos, "Kite.jpg"), "rb") as f:
            self.assertEqual(data, f.read())
        similar = self.server.json(f"/api/images/{self.kite}/similar?k=3")["results"]
        self.assertEqual(len(similar), 3)
        self.assertNotIn(self.kite, [r["id"] for r in similar])
        for bad in ["/api/images/999999", "/api/images/999999/thumb", "/api/images/999999/file",
                    "/api/images/999999/similar", "/api/images/abc", "/api/images/0",
                    "/api/images/-1", f"/api/images/{self.kite}/nope"]:
            status, _, body = self.server.request(bad)
            self.assertEqual(status, 404, bad)
            self.assertIn("error", json.loads(body))
        for size in ["0", "15", "1025", "x"]:
            status, _, _ = self.server.request(f"/api/images/{self.kite}/thumb?size={size}")
            self.assertEqual(status, 400, size)

    def test_search_by_image(self):
        with open(os.path.join(self.photos, "Kite.jpg"), "rb") as f:
            doc = self.server.json("/api/search/image?k=2", "POST", f.read())
        self.assertEqual(doc["results"][0]["id"], self.kite)
        status, _, _ = self.server.request("/api/search/image", "POST", b"")
        self.assertEqual(status, 400)
        status, _, body = self.server.request("/api/search/image", "POST", b"not an image" * 10)
        self.assertIn(status, (400, 415))
        self.assertIn("cannot search with this picture: ", json.loads(body)["error"]["message"])

    def test_path_traversal_never_reaches_files(self):
        for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/images/..%2F..%2Fetc%2Fpasswd",
                     "/api/images/1/..%2F..%2F..%2Fetc%2Fpasswd", "/%2Fetc%2Fpasswd", "/etc/passwd",
                     "/api/images/1/file/../../../../etc/passwd", "/app.js/../../etc/passwd"]:
            data = self.server.raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            self.assertNotIn(b"root:", data, path)
            self.assertIn(status_codes(data)[0], (400, 404), path)
        # a folder filter is a catalog filter, not a file access
        doc = self.server.json("/api/search?q=kite&folder=" + quote("/../../etc"))
        self.assertEqual(doc["results"], [])

    def test_methods_and_unknown_routes(self):
        for method, path, allowed in [("POST", "/api/search", 405), ("GET", "/api/search/image", 405),
                                      ("DELETE", "/api/stats", 405), ("PUT", "/", 405),
                                      ("GET", "/api/nothing", 404), ("GET", "/nothing", 404),
                                      ("POST", f"/api/images/{self.kite}", 405)]:
            status, _, _ = self.server.request(path, method, b"" if method != "GET" else None)
            self.assertEqual(status, allowed, (method, path))
        status, headers, body = self.server.request("/api/stats", "HEAD")
        self.assertEqual((status, body), (200, b""))

    def test_static_page_and_openapi(self):
        status, headers, body = self.server.request("/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        for path in ["/app.js", "/style.css", "/openapi.yaml", "/favicon.svg"]:
            status, _, body = self.server.request(path)
            self.assertEqual(status, 200, path)
            self.assertTrue(body)
        status, _, body = self.server.request("/openapi.yaml")
        for route in ["/api/search", "/api/search/image", "/api/images/{id}", "/api/images/{id}/thumb",
                      "/api/images/{id}/file", "/api/images/{id}/similar", "/api/index",
                      "/api/jobs/{id}", "/api/stats", "/healthz", "/metrics"]:
            self.assertIn(route.encode(), body, route)

    def test_metrics(self):
        self.server.json("/api/search?q=kite")
        status, headers, body = self.server.request("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        text = body.decode()
        self.assertIn('capsearch_http_requests_total{route="search",code="2xx"}', text)
        self.assertIn("capsearch_http_request_duration_seconds_bucket", text)
        self.assertIn(f"capsearch_images {len(SAMPLE_FILES)}", text)
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name_labels, value = line.rsplit(" ", 1)
                float(value)   # every sample line ends in a number

    def test_keep_alive_and_pipelining(self):
        requests = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /api/search?q=kite HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /api/images/999999 HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /api/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = self.server.raw(requests)
        self.assertEqual(status_codes(data), [200, 200, 404, 200])

    def test_malformed_requests(self):
        cases = [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"GET /api/search?q=%GG HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n",
                 b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"POST /api/search/image HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n"]
        for data in cases:
            answer = self.server.raw(data)
            codes = status_codes(answer)
            self.assertTrue(codes and 400 <= codes[0] < 600, (data[:40], answer[:200]))
        self.assertEqual(self.server.json("/healthz"), {"status": "ok"})


class ServerLifecycle(TempDirs):

    def start(self, *args):
        self.server = Server(self.db, *args)
        self.addCleanup(lambda: self.server.proc.poll() is None and self.server.stop())
        return self.server

    def many_jpegs(self, folder, count, tag):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(samples_dir(), "wallpapers", "Kite.jpg"), "rb") as f:
            kite = f.read()
        for i in range(count):
            with open(os.path.join(folder, f"{tag}{i:04d}.jpg"), "wb") as f:
                f.write(kite + f"{tag}-{i}".encode())

    def test_token(self):
        self.copy_samples(["wallpapers/Kite.jpg"])
        run(["index", self.photos], self.db)
        server = self.start("--token", "s3cret")
        self.assertEqual(server.request("/api/search?q=kite")[0], 401)
        self.assertEqual(server.request("/metrics")[0], 401)
        self.assertEqual(server.request("/api/search?q=kite", headers={"Authorization": "Bearer nope"})[0], 401)
        self.assertEqual(server.request("/api/search?q=kite", headers={"Authorization": "Bearer s3cret"})[0], 200)
        self.assertEqual(server.request("/api/search?q=kite&token=s3cret")[0], 200)
        self.assertEqual(server.request("/healthz")[0], 200)
        self.assertEqual(server.request("/")[0], 200)

    def test_wide_host_needs_a_token(self):
        proc = run(["serve", "--host", "0.0.0.0", "--port", "0"], self.db, check=False, timeout=10)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"--token", proc.stderr)

    def test_index_job_while_searching(self):
        self.copy_samples(["wallpapers/Kite.jpg"])
        run(["index", self.photos], self.db)
        server = self.start()
        folder = os.path.join(self.tmp, "more")
        self.many_jpegs(folder, 150, "more")
        job = server.json("/api/index", "POST", json.dumps({"path": folder}).encode(),
                          expect=202)["job"]
        self.assertEqual(job["state"], "queued")
        errors = []

        def search_loop():
            for _ in range(40):
                status, _, body = server.request("/api/search?q=kite&k=5")
                if status != 200:
                    errors.append((status, body))
        threads = [threading.Thread(target=search_loop) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertTrue(server.wait_for(
            lambda: server.json(f"/api/jobs/{job['id']}")["job"]["state"] == "done", 120))
        done = server.json(f"/api/jobs/{job['id']}")["job"]
        self.assertEqual(done["indexed"], 150)
        # the searches see the new images (the vector index was swapped too)
        self.assertTrue(server.wait_for(lambda: server.json("/api/stats")["vectors"] == 151, 10))
        self.assertEqual(server.json("/api/search?q=more&k=200")["candidates"], 150)
        self.assertIn(job["id"], [j["id"] for j in server.json("/api/jobs")["jobs"]])
        # bad requests
        self.assertEqual(server.request("/api/index", "POST", b"{nope")[0], 400)
        self.assertEqual(server.request("/api/index", "POST", b'{"path": "/no/such"}')[0], 404)
        self.assertEqual(server.request("/api/jobs/999")[0], 404)

    def test_cancel_job(self):
        server = self.start()
        folder = os.path.join(self.tmp, "many")
        self.many_jpegs(folder, 400, "m")
        job = server.json("/api/index", "POST", json.dumps({"path": folder}).encode(), expect=202)["job"]
        server.wait_for(lambda: server.json(f"/api/jobs/{job['id']}")["job"]["done"] > 0, 60, 0.05)
        server.json(f"/api/jobs/{job['id']}", "DELETE", expect=202)
        self.assertTrue(server.wait_for(
            lambda: server.json(f"/api/jobs/{job['id']}")["job"]["state"] == "cancelled", 60))
        stopped = server.json(f"/api/jobs/{job['id']}")["job"]
        self.assertLess(stopped["done"], 400)
        # what was committed is searchable, and a new job resumes
        job2 = server.json("/api/index", "POST", json.dumps({"path": folder}).encode(), expect=202)["job"]
        self.assertTrue(server.wait_for(
            lambda: server.json(f"/api/jobs/{job2['id']}")["job"]["state"] == "done", 120))
        self.assertEqual(server.json(f"/api/jobs/{job2['id']}")["job"]["unchanged"],
                         server.json("/api/stats")["images"] - server.json(f"/api/jobs/{job2['id']}")["job"]["indexed"])
        self.assertEqual(server.json("/api/stats")["images"], 400)

    def test_other_process_indexing_is_picked_up(self):
        self.copy_samples(["wallpapers/Kite.jpg"])
        run(["index", self.photos], self.db)
        server = self.start()
        self.assertEqual(server.json("/api/search?q=chelsea")["results"], [])
        self.copy_samples(["photos/chelsea.png"])
        run(["index", self.photos], self.db)
        self.assertTrue(server.wait_for(lambda: server.json("/api/search?q=chelsea")["results"] != [], 10))
        self.assertTrue(server.wait_for(lambda: server.json("/api/stats")["vectors"] == 2, 10))
        chelsea = server.json("/api/search?q=chelsea")["results"][0]["id"]
        self.assertEqual(len(server.json(f"/api/images/{chelsea}/similar")["results"]), 1)

    def test_watch(self):
        self.copy_samples(["wallpapers/Kite.jpg"])
        server = self.start("--watch", self.photos)
        self.assertTrue(server.wait_for(lambda: server.json("/api/stats")["images"] == 1, 30))
        os.makedirs(os.path.join(self.photos, "new-folder"))
        time.sleep(0.5)
        shutil.copy(os.path.join(samples_dir(), "photos", "coffee.png"),
                    os.path.join(self.photos, "new-folder", "espresso.png"))
        self.assertTrue(server.wait_for(lambda: server.json("/api/search?q=espresso")["results"] != [], 30))
        # a folder made after the start is watched too
        shutil.copy(os.path.join(samples_dir(), "photos", "rocket.jpg"),
                    os.path.join(self.photos, "new-folder", "launch.jpg"))
        self.assertTrue(server.wait_for(lambda: server.json("/api/search?q=launch")["results"] != [], 30))
        os.remove(os.path.join(self.photos, "Kite.jpg"))
        self.assertTrue(server.wait_for(lambda: server.json("/api/search?q=kite")["results"] == [], 30))
        self.assertGreaterEqual(server.json("/api/stats")["watched_folders"], 2)

    def test_shutdown_finishes_requests_in_flight(self):
        self.copy_samples(["wallpapers/Altai.png", "wallpapers/Kay.png", "wallpapers/Patak.png",
                           "wallpapers/IceCold.png"])
        run(["index", self.photos], self.db)
        server = self.start()
        ids = [r["id"] for r in server.json("/api/search?q=png&k=10")["results"]]
        self.assertEqual(len(ids), 4)
        results = {}

        def fetch(i):
            # thumbnails of 5120x2880 PNGs take a while: they are in flight
            results[i] = server.request(f"/api/images/{i}/thumb?size=1024", timeout=60)[0]
        threads = [threading.Thread(target=fetch, args=(i,)) for i in ids]
        for t in threads:
            t.start()
        time.sleep(0.3)
        code, err = server.stop(signal.SIGTERM)
        for t in threads:
            t.join()
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(results.values()), [200] * 4, err)
        # the catalog is intact and the server starts again
        self.assertEqual(run(["stats", "--json"], self.db).returncode, 0)
        again = Server(self.db)
        self.assertEqual(again.json("/api/stats")["images"], 4)
        self.assertEqual(again.stop()[0], 0)

    def test_shutdown_during_index_job(self):
        server = self.start()
        folder = os.path.join(self.tmp, "many")
        self.many_jpegs(folder, 300, "s")
        server.json("/api/index", "POST", json.dumps({"path": folder}).encode(), expect=202)
        server.wait_for(lambda: server.json("/api/stats")["images"] > 0, 60, 0.05)
        code, err = server.stop(signal.SIGINT)
        self.assertEqual(code, 0, err)
        stats = json.loads(run(["stats", "--json"], self.db).stdout)
        self.assertEqual(stats["vectors"], stats["embeddings"])
        self.assertEqual(stats["embeddings"], stats["images"])
        self.assertGreater(stats["images"], 0)


if __name__ == "__main__":
    unittest.main()
