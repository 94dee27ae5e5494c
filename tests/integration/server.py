"""Running `capsearch serve` for tests: start it on a free port, talk to it
with urllib or raw sockets, stop it with a signal."""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from harness import CAPSEARCH


class Server:
    def __init__(self, db, *args, env=None):
        self.proc = subprocess.Popen([CAPSEARCH, "--db", db, "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env)
        line = self.proc.stdout.readline().decode()
        match = re.search(r"at (http://\S+)", line)
        if not match:
            err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise AssertionError(f"server did not start: {line!r} {err}")
        self.url = match.group(1).rstrip("/")
        host_port = self.url.split("//")[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)

    def request(self, path, method="GET", body=None, headers=None, timeout=30):
        """(status, headers, body bytes); never raises for HTTP errors."""
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path, method="GET", body=None, headers=None, expect=200):
        status, _, data = self.request(path, method, body, headers)
        if status != expect:
            raise AssertionError(f"{method} {path}: {status} (expected {expect}): {data[:300]!r}")
        return json.loads(data)

    def raw(self, data, timeout=10, read_until_close=True):
        """Sends raw bytes on a new connection; returns what came back."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if not read_until_close:
                        break
            except socket.timeout:
                pass
            return b"".join(chunks)

    def wait_for(self, predicate, timeout=30, interval=0.2):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError("server did not stop in time")
        return self.proc.returncode, err.decode(errors="replace")


def status_codes(response_bytes):
    """The status codes of every HTTP response in a byte stream, in order."""
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3})", response_bytes)]
