"""A loopback imitation of the Hugging Face Hub for test_models: the tree API,
resolve URLs with Range requests, LFS files redirected to a second server on
another port (as the Hub sends them to its CDN), the Hub's error answers, and
faults chosen per test. Every request is logged, with what was sent."""
import hashlib
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse

LFS_FILES = {"model.safetensors", "pytorch_model.bin"}


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Repo:
    """One model repository: revision -> {path: bytes}."""

    def __init__(self, files, revisions=None):
        self.revisions = {"main": dict(files)}
        self.revisions.update(revisions or {})

    def tree(self, revision):
        files = self.revisions[revision]
        entries = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": "onnx"}]
        for path, data in sorted(files.items()):
            entry = {"type": "file", "size": len(data), "path": path}
            if path in LFS_FILES:
                pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256(data)}\n"
                           f"size {len(data)}\n").encode()
                entry["oid"] = git_blob_sha1(pointer)
                entry["lfs"] = {"oid": sha256(data), "size": len(data), "pointerSize": len(pointer)}
            else:
                entry["oid"] = git_blob_sha1(data)
            entries.append(entry)
        return entries


class Faults:
    """What goes wrong, per file name; each set by a test."""

    def __init__(self):
        self.drop = {}            # path -> bytes sent before the connection is closed (once)
        self.corrupt = set()      # paths served with a byte changed
        self.ignore_range = set() # paths answered 200 with the whole file to a Range
        self.refuse_range = set() # paths answered 416 to any Range
        self.stall = {}           # path -> bytes sent before going silent
        self.status = {}          # path -> an HTTP error status


class QuietServer(http.server.ThreadingHTTPServer):
    """Clients that give up (timeouts, Ctrl-C) are part of the tests."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HubServer:
    def __init__(self, repos):
        self.repos = repos        # name -> Repo
        self.faults = Faults()
        self.log = []             # {"server", "path", "range", "auth", "status", "sent"}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.main = self._start("main")
        self.cdn = self._start("cdn")
        self.url = f"http://127.0.0.1:{self.main.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self.cdn.server_address[1]}"

    def _start(self, role):
        hub = self

        class Handler(HubHandler):
            server_role = role
            owner = hub

        server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def stop(self):
        self.stopping.set()
        for server in (self.main, self.cdn):
            server.shutdown()
            server.server_close()

    def record(self, entry):
        with self.lock:
            self.log.append(entry)

    def requests(self, server=None, path_part=None):
        with self.lock:
            return [e for e in self.log if (server is None or e["server"] == server) and
                    (path_part is None or path_part in e["path"])]

    def clear_log(self):
        with self.lock:
            self.log.clear()

    def blob(self, digest):
        for repo in self.repos.values():
            for files in repo.revisions.values():
                for path, data in files.items():
                    if path in LFS_FILES and sha256(data) == digest:
                        return path, data
        return None, None


class HubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_role = "main"
    owner = None

    def log_message(self, *args):
        pass

    def _entry(self, status, sent):
        self.owner.record({"server": self.server_role, "path": self.path,
                           "range": self.headers.get("Range"),
                           "auth": self.headers.get("Authorization"),
                           "status": status, "sent": sent})

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._entry(status, len(body))

    def _error(self, status, code, message):
        self._send(status, json.dumps({"error": message}).encode(),
                   {"Content-Type": "application/json", "X-Error-Code": code,
                    "X-Error-Message": message})

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if self.server_role == "cdn":
            match = re.fullmatch(r"/blobs/([0-9a-f]{64})", path)
            name, data = self.owner.blob(match.group(1)) if match else (None, None)
            if data is None:
                return self._send(404, b"no such blob")
            return self._content(name, data)
        match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)", path)
        if match:
            repo = self.owner.repos.get(match.group(1))
            if repo is None:
                # what the Hub answers without a token
                return self._error(401, "RepoNotFound", "Repository not found")
            if match.group(2) not in repo.revisions:
                return self._error(404, "RevisionNotFound", "Invalid rev id: " + match.group(2))
            return self._send(200, json.dumps(repo.tree(match.group(2))).encode(),
                              {"Content-Type": "application/json"})
        match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if not match:
            return self._send(404, b"not found")
        repo = self.owner.repos.get(match.group(1))
        if repo is None:
            return self._error(401, "RepoNotFound", "Repository not found")
        files = repo.revisions.get(match.group(2))
        if files is None:
            return self._error(404, "RevisionNotFound", "Invalid rev id")
        name = match.group(3)
        if name not in files:
            return self._error(404, "EntryNotFound", "Entry not found")
        if name in LFS_FILES:
            target = f"{self.owner.cdn_url}/blobs/{sha256(files[name])}?Expires=1&Signature=abc"
            return self._send(302, b"", {"Location": target})
        return self._content(name, files[name])

    def _content(self, name, data):
        faults = self.owner.faults
        if name in faults.status:
            return self._error(faults.status[name], "", "Internal Error")
        if name in faults.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if wanted and name not in faults.ignore_range:
            match = re.fullmatch(r"bytes=(\d+)-", wanted)
            if name in faults.refuse_range or not match or int(match.group(1)) >= len(data):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            start, status = int(match.group(1)), 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        cut = faults.drop.pop(name, None)
        stall = faults.stall.get(name)
        if cut is not None or stall is not None:
            sent = max(0, (cut if cut is not None else stall) - start)
            self.wfile.write(body[:sent])
            self.wfile.flush()
            self._entry(status, sent)
            if stall is not None:
                # silent until the test ends, or 20 s pass
                self.owner.stopping.wait(20)
            self.close_connection = True
            return
        self.wfile.write(body)
        self._entry(status, len(body))
