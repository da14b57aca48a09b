#!/usr/bin/env bash
# Builds and runs every test: once in a normal build, once under AddressSanitizer and
# UndefinedBehaviorSanitizer. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/vendor-web.sh >/dev/null # npm ci (pinned by package-lock.json) and the page's WASM decoder
jobs=$(nproc)
export TOLK_REQUIRE_BROWSER=1 # the browser tests fail, not skip, if Chromium or npm is missing

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTOLK_SANITIZE=ON -DTOLK_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The browser tests drive Chromium against the server; they ran above, and a sanitized server
# adds nothing a browser could see but minutes.
ctest --test-dir build-asan --output-on-failure --label-exclude browser
