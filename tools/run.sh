#!/usr/bin/env bash
# Installs what is missing, builds, and starts tolk-server on config/tolk.conf (or the file given).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/vendor-web.sh >/dev/null # the listener page's WASM Opus decoder, from npm
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target tolk-server
exec build/tolk-server -c "${1:-config/tolk.conf}"
