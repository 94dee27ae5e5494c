#!/bin/sh
# Sets up, builds, indexes the sample photos into ./demo-library and runs a
# few searches. The library folder can be changed with CAPSEARCH_DEMO_DB.
set -eu
cd "$(dirname "$0")/.."
tools/setup.sh
samples=$(tools/fetch-samples.sh)
library=${CAPSEARCH_DEMO_DB:-$PWD/demo-library}
build/capsearch --db "$library" index "$samples/photos" "$samples/wallpapers"
for query in "kite" "autumn orange" "portrait"; do
    echo
    echo "\$ capsearch search \"$query\" -k 3"
    build/capsearch --db "$library" search "$query" -k 3
done
