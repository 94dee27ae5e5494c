#!/bin/sh
# Runs the browser test against the mock server (tests/browser/mock_server.py)
# over a folder of images:  sh run_with_mock.sh [IMAGES_DIR] [extra mock args...]
# Needs: /usr/bin/python3, /usr/bin/chromium, `npm ci` done in this folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
images=${1:-$HOME/.cache/capsearch/samples/wallpapers}
[ $# -gt 0 ] && shift
out=$(mktemp)
/usr/bin/python3 "$here/mock_server.py" --images "$images" --quiet "$@" >"$out" &
mock=$!
trap 'kill $mock 2>/dev/null; rm -f "$out"' EXIT INT TERM
# The mock prints its URL on its first line once it listens.
for _ in $(seq 100); do
  [ -s "$out" ] && break
  kill -0 $mock 2>/dev/null || { echo "mock server did not start" >&2; exit 1; }
  sleep 0.1
done
CAPSEARCH_URL=$(head -n 1 "$out")
export CAPSEARCH_URL
echo "# mock server at $CAPSEARCH_URL over $images"
node "$here/test_page.mjs"
