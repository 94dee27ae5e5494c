#!/bin/sh
# Builds the HTTP request fuzzer (tests/fuzz/fuzz_http_request.c) with clang,
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer straight from the
# sources (the main build uses gcc), then runs it for a bounded time.
#
#   tools/fuzz.sh [SECONDS] [WORKDIR]     default: 60 s, $TMPDIR/capsearch-fuzz-http
#
# The corpus grows in WORKDIR/corpus (seeded from tests/fuzz/corpus); a crash
# leaves its input in WORKDIR as crash-*, and the script fails. Exits 77
# (meson's "skipped") when clang or libFuzzer is not installed.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
work=${2:-${TMPDIR:-/tmp}/capsearch-fuzz-http}

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
cp "$root"/tests/fuzz/corpus/* "$work/corpus/"
binary="$work/fuzz_http_request"

# Only the files of the request path: assembly, decoding, responses, and the
# common helpers they use. libuv and jansson come from pkg-config (jansson is
# called; uv.h is only included by http.h).
# shellcheck disable=SC2046
if ! "$clang" -std=c11 -D_GNU_SOURCE -g -O1 \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Wall -Wextra -Werror \
        -I"$root/include" -I"$root/src" \
        $(pkg-config --cflags libuv jansson) \
        "$root/tests/fuzz/fuzz_http_request.c" \
        "$root/src/server/http_parse.c" \
        "$root/src/server/http_util.c" \
        "$root/src/server/http_response.c" \
        "$root/src/common/strbuf.c" \
        "$root/src/common/error.c" \
        "$root/src/common/utf8.c" \
        "$root/src/common/array.c" \
        -lhttp_parser $(pkg-config --libs jansson) \
        -o "$binary" 2>"$work/build.log"; then
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
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="$root/tests/fuzz/http.dict" -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus"
