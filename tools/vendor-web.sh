#!/usr/bin/env bash
# Makes the listener page's WASM Opus decoder servable: runs `npm ci` at the repository root when
# node_modules lacks the opus-decoder pinned in package-lock.json, then copies its browser build
# (a UMD file that also works as an ES module) to client/web/vendor/opus-decoder/, or to
# DEST/vendor/opus-decoder/ when a web root DEST is given. Idempotent; git ignores the copy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
web_root="${1:-$root/client/web}"
cd "$root"

locked_version() {
  node -e 'const l=require("./package-lock.json");
    const p=(l.packages||{})["node_modules/opus-decoder"]||(l.dependencies||{})["opus-decoder"]||{};
    process.stdout.write(p.version||"")'
}
installed_version() {
  [ -f node_modules/opus-decoder/package.json ] || return 0
  node -e 'process.stdout.write(require("./node_modules/opus-decoder/package.json").version)'
}

want="$(locked_version)"
if [ -z "$want" ]; then
  echo "vendor-web: package-lock.json does not pin opus-decoder" >&2
  exit 1
fi
if [ "$(installed_version)" != "$want" ]; then
  npm ci --no-audit --no-fund
fi

src="node_modules/opus-decoder/dist"
dest="$web_root/vendor/opus-decoder"
mkdir -p "$dest"
for file in opus-decoder.min.js opus-decoder.min.js.map; do
  if ! cmp -s "$src/$file" "$dest/$file"; then cp -f "$src/$file" "$dest/$file"; fi
done
echo "vendor-web: opus-decoder $want in $dest"
