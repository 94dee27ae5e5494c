#!/bin/sh
# Builds a fuzzer with clang, libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer straight from the sources (the main build may
# use gcc), then runs it for a bounded time. Targets:
#   http         the HTTP request path (tests/fuzz/fuzz_http_request.c)
#   safetensors  the safetensors header parser (tests/fuzz/fuzz_safetensors.c)
#
#   tools/fuzz.sh [--target NAME] [SECONDS] [WORKDIR]
#       default: http, 60 s, $TMPDIR/capsearch-fuzz-NAME
#
# The corpus grows in WORKDIR/corpus (seeded from tests/fuzz/corpus for
# http, tests/fuzz/corpus-NAME for the others); a crash leaves its input in
# WORKDIR as crash-*, and the script fails. Exits 77 (meson's "skipped")
# when clang or libFuzzer is not installed.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=http
if [ "${1:-}" = "--target" ]; then
    target=${2:?--target needs a name}
    shift 2
fi
seconds=${1:-60}
work=${2:-${TMPDIR:-/tmp}/capsearch-fuzz-$target}
case $target in
    http)
        corpus="$root/tests/fuzz/corpus"
        # Only the files of the request path: assembly, decoding, responses,
        # and the common helpers they use. libuv and jansson come from
        # pkg-config (jansson is called; uv.h is only included by http.h).
        sources="tests/fuzz/fuzz_http_request.c src/server/http_parse.c src/server/http_util.c
                 src/server/http_response.c src/common/strbuf.c src/common/error.c
                 src/common/utf8.c src/common/array.c"
        packages="libuv jansson"
        libs="-lhttp_parser"
        dict="-dict=$root/tests/fuzz/http.dict" ;;
    safetensors)
        corpus="$root/tests/fuzz/corpus-safetensors"
        sources="tests/fuzz/fuzz_safetensors.c src/models/clip/safetensors.c src/common/error.c"
        packages="jansson"
        libs=""
        dict="" ;;
    *)
        echo "fuzz: unknown target '$target' (http, safetensors)" >&2
        exit 2 ;;
esac

clang=${CLANG:-}
if [ -z "$clang" ]; then
    for candidate in clang clang-14 clang-15 clang-16; do
        if command -v "$candidate" >/dev/null 2>&1; then
            clang=$candidate
            break
        fi
    done
fi
if [ -z "$clang" ] || ! command -v "$clang" >/dev/null 2>&1; then
    echo "fuzz: skipped: clang is not installed (apt-get install clang)" >&2
    exit 77
fi

mkdir -p "$work/corpus"
cp "$corpus"/* "$work/corpus/"
binary="$work/fuzz_$target"

# shellcheck disable=SC2046,SC2086
if ! (cd "$root" && "$clang" -std=c11 -D_GNU_SOURCE -g -O1 \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Wall -Wextra -Werror \
        -I"$root/include" -I"$root/src" \
        $(pkg-config --cflags $packages) \
        $sources \
        $libs $(pkg-config --libs $packages) \
        -o "$binary") 2>"$work/build.log"; then
    if grep -q -e "libclang_rt.fuzzer" -e "cannot find -l.*fuzzer" "$work/build.log"; then
        echo "fuzz: skipped: libFuzzer is not installed for $clang" >&2
        exit 77
    fi
    cat "$work/build.log" >&2
    echo "fuzz: building the fuzzer failed" >&2
    exit 1
fi

echo "fuzz: running $binary for ${seconds}s (corpus in $work/corpus)"
cd "$work"
# shellcheck disable=SC2086
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    $dict -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus"
