#!/bin/sh
# The whole test suite: sets the machine up (tools/setup.sh), runs every test
# on the release build (unit, integration, browser, a bounded libFuzzer run),
# then the unit and integration tests again on a debug build with
# AddressSanitizer and UndefinedBehaviorSanitizer (the fuzzer has its own
# sanitizers; the browser test exercises the same server code).
set -eu
cd "$(dirname "$0")/.."
tools/setup.sh
CAPSEARCH_SAMPLES=$(tools/fetch-samples.sh)
export CAPSEARCH_SAMPLES
CAPSEARCH_REQUIRE_SAMPLES=1
CAPSEARCH_REQUIRE_BROWSER=1
CAPSEARCH_REQUIRE_MODELS=1
export CAPSEARCH_REQUIRE_SAMPLES CAPSEARCH_REQUIRE_BROWSER CAPSEARCH_REQUIRE_MODELS

meson test -C build --print-errorlogs

if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
fi
meson compile -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs --timeout-multiplier 4 \
        --no-suite browser --no-suite fuzz
echo "test: all suites passed (release and sanitizer builds)"
