#!/bin/sh
# Sets up a Debian machine for capsearch: installs the packages it builds and
# tests with (apt-get, only what is missing), configures and builds ./build,
# and fetches the sample photos. Safe to run again.
#   tools/setup.sh            everything
#   tools/setup.sh --deps     packages only
set -eu
cd "$(dirname "$0")/.."

PACKAGES="
  meson ninja-build pkg-config gcc g++ cmake
  libsqlite3-dev libuv1-dev libjansson-dev libxxhash-dev
  libfaiss-dev libopenblas-dev liblapack-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libstb-dev libwebp-dev libexif-dev libheif-dev
  libhttp-parser-dev libutf8proc-dev libcurl4-openssl-dev libssl-dev libdnnl-dev
  wordnet-dev wordnet-base libtesseract-dev tesseract-ocr-eng fonts-dejavu-core
  python3 python3-numpy python3-pil python3-regex python3-torch imagemagick sqlite3 dpkg
  clang libclang-rt-14-dev chromium
"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
# The browser test's driver comes from npm, with the machine's Node.js.
if ! command -v npm >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# TF.js (pure JS and wasm backends), the reference of the interpreter's tests.
if [ ! -d tests/tfjs/node_modules/@tensorflow/tfjs-backend-wasm ]; then
    (cd tests/tfjs && npm ci --no-audit --no-fund --loglevel=error)
fi
[ "${1:-}" = "--deps" ] && exit 0

if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release
fi
meson compile -C build
tools/fetch-samples.sh >/dev/null
tools/fetch-models.sh >/dev/null
echo "setup: built build/capsearch; sample photos in $(tools/fetch-samples.sh)"
