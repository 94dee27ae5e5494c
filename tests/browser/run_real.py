#!/usr/bin/python3
"""The browser test against a real `capsearch serve`: indexes some sample
photos into a fresh library, starts the server, runs test_page.mjs in Debian's
Chromium (playwright-core from npm), and keeps its screenshot.

usage: run_real.py SCREENSHOT_PATH
Skips (exit 77) when node, chromium or node_modules are missing, unless
CAPSEARCH_REQUIRE_BROWSER=1 (tools/test.sh sets it)."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import run, samples_dir   # noqa: E402
from server import Server              # noqa: E402

PHOTOS = ["wallpapers/Kite.jpg", "wallpapers/EveningGlow.jpg", "wallpapers/Autumn.jpg",
          "wallpapers/ColorfulCups.jpg", "wallpapers/Path.jpg", "wallpapers/Grey.jpg",
          "photos/chelsea.png", "photos/coffee.png", "photos/astronaut.png",
          "photos/rocket.jpg", "photos/motorcycle_left.png", "photos/no_time_for_that_tiny.gif"]


def missing():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.exists("/usr/bin/chromium"):
        return "Debian's chromium is not installed"
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        return "run 'npm ci' in tests/browser"
    return None


def main():
    screenshot = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "browser-test.png")
    why = missing()
    if why:
        print(f"browser test skipped: {why}", file=sys.stderr)
        return 1 if os.environ.get("CAPSEARCH_REQUIRE_BROWSER") == "1" else 77
    samples = samples_dir()
    with tempfile.TemporaryDirectory(prefix="capsearch-browser-") as tmp:
        photos = os.path.join(tmp, "photos")
        later = os.path.join(tmp, "later")
        os.makedirs(photos)
        os.makedirs(later)
        for name in PHOTOS:
            shutil.copy(os.path.join(samples, name), photos)
        shutil.copy(os.path.join(samples, "wallpapers", "BytheWater.jpg"), later)
        db = os.path.join(tmp, "library")
        run(["index", photos], db)
        server = Server(db, "--token", "browser-test-token")
        try:
            env = dict(os.environ, CAPSEARCH_URL=server.url + "/", CAPSEARCH_QUERY="kite",
                       CAPSEARCH_SCREENSHOT=screenshot, CAPSEARCH_TOKEN="browser-test-token",
                       CAPSEARCH_INDEX_DIR=later)
            result = subprocess.run(["node", os.path.join(HERE, "test_page.mjs")], env=env,
                                    timeout=240)
        finally:
            code, err = server.stop()
        if code != 0:
            print(f"server exited {code}: {err}", file=sys.stderr)
            return 1
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
