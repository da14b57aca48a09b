#!/usr/bin/env bash
# install.install: `cmake --install` of a built tree into a temporary DESTDIR (nothing outside
# it is written, whatever the configured prefix), then checks what landed there: binaries, every
# page of client/web, sample configs, man pages (rendered by groff and man with no warning), the
# systemd unit with this prefix's paths, the sysusers.d entry, the config's mode; the installed
# tolk-server runs --version and --check-config, and serves the installed pages on loopback.
#
# Usage: test_install.sh BUILD SOURCE PREFIX BINDIR DATADIR MANDIR DOCDIR CONFIG HAS_RECEIVER
#   BINDIR..DOCDIR relative to PREFIX (GNUInstallDirs), CONFIG the absolute path of the installed
#   config (TOLK_INSTALLED_CONFIG), HAS_RECEIVER 1 when the tolk-receiver target exists.
set -euo pipefail
[ $# -eq 9 ] || { echo "usage: $0 BUILD SOURCE PREFIX BINDIR DATADIR MANDIR DOCDIR CONFIG HAS_RECEIVER" >&2; exit 2; }
build=$1 src=$2 prefix=$3 bindir=$4 datadir=$5 mandir=$6 docdir=$7 config=$8 has_receiver=$9

tmp=$(mktemp -d /tmp/tolk-install-test.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

dest=$tmp/root
root=$dest$prefix
export DESTDIR=$dest
echo "== cmake --install $build (DESTDIR=$dest, prefix $prefix)"
cmake --install "$build" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install"; exit 1; }
for component in config systemd; do
  cmake --install "$build" --component "$component" >>"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install --component $component"; exit 1; }
done
unset DESTDIR
# Anything written outside DESTDIR would be a rule with a hard-coded path.
if grep -E '^-- (Installing|Up-to-date): ' "$tmp/install.log" | grep -v -- ": $dest/" | grep -q .; then
  grep -E '^-- (Installing|Up-to-date): ' "$tmp/install.log" | grep -v -- ": $dest/"
  fail "files installed outside DESTDIR"
fi

expect_file() { # PATH [MODE]
  if [ ! -f "$1" ]; then fail "missing $1"; return; fi
  if [ $# -gt 1 ]; then
    local mode; mode=$(stat -c %a "$1")
    [ "$mode" = "$2" ] || fail "$1 has mode $mode, expected $2"
  fi
}

echo "== files"
expect_file "$root/$bindir/tolk-server" 755
[ "$has_receiver" = 1 ] && expect_file "$root/$bindir/tolk-receiver" 755
web=$root/$datadir/tolk/web
# Every page, script, icon and vendored decoder of the source tree, byte for byte; no build helper.
while IFS= read -r -d '' f; do
  rel=${f#"$src/client/web/"}
  case $rel in *.py) [ -e "$web/$rel" ] && fail "build helper $rel installed"; continue ;; esac
  if [ ! -f "$web/$rel" ]; then fail "page file $rel not installed"
  elif ! cmp -s "$f" "$web/$rel"; then fail "installed $rel differs from the source"; fi
done < <(find "$src/client/web" -type f -print0)
for f in index.html booth.html manifest.json js/app.js tech/index.html tech/sheet.html; do
  expect_file "$web/$f"
done
if [ -d "$src/client/web/vendor/opus-decoder" ]; then
  expect_file "$web/vendor/opus-decoder/opus-decoder.min.js"
else
  echo "note: client/web/vendor/ absent in the source (tools/vendor-web.sh not run): not checked"
fi
expect_file "$root/$docdir/examples/tolk.conf" 644
expect_file "$root/$docdir/examples/venue-example.conf" 644
expect_file "$dest$config" 640
expect_file "$root/$mandir/man1/tolk-server.1"
[ "$has_receiver" = 1 ] && expect_file "$root/$mandir/man1/tolk-receiver.1"
unit=$root/lib/systemd/system/tolk-server.service
expect_file "$unit" 644
expect_file "$root/lib/sysusers.d/tolk.conf" 644
if [ -f "$unit" ]; then
  grep -qxF "ExecStart=$prefix/$bindir/tolk-server -c $config" "$unit" ||
    fail "unit's ExecStart is not '$prefix/$bindir/tolk-server -c $config': $(grep ExecStart= "$unit")"
fi
if [ "$has_receiver" = 1 ]; then
  runit=$root/lib/systemd/system/tolk-receiver@.service
  expect_file "$runit" 644
  [ -f "$runit" ] && { grep -qxF "ExecStart=$prefix/$bindir/tolk-receiver \$ARGS" "$runit" ||
    fail "receiver unit's ExecStart is not '$prefix/$bindir/tolk-receiver \$ARGS'"; }
fi
[ "$failures" -eq 0 ] && ok "installed files"

echo "== man pages"
for page in "$root/$mandir"/man1/tolk-*.1; do
  [ -f "$page" ] || continue
  out=$(groff -man -Tutf8 -ww "$page" 2>&1 >/dev/null) || fail "groff failed on $page"
  [ -z "$out" ] || fail "groff warnings in $page: $out"
  if command -v man >/dev/null; then
    out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$tmp/page.txt") || fail "man -l failed on $page"
    [ -z "$out" ] || fail "man -l warnings in $page: $out"
    grep -q "SEE ALSO" "$tmp/page.txt" || fail "$page rendered without SEE ALSO"
  else
    fail "man is not installed (package man-db)"
  fi
  # Every option the binary's --help lists has its own entry (a .TP tag) in the page.
  name=$(basename "$page" .1)
  tags=$(awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' "$page")
  if [ -x "$root/$bindir/$name" ]; then
    for opt in $("$root/$bindir/$name" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
      grep -qE -- "${opt//-/\\\\-}([^a-z-]|\$)" <<<"$tags" || fail "$name.1 has no entry for $opt"
    done
  fi
done
ok "man pages checked"

echo "== installed binaries"
out=$("$root/$bindir/tolk-server" --version) || fail "tolk-server --version exited $?"
[ "$out" = "tolk-server $(sed -n 's/^project(tolk VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")" ] ||
  fail "tolk-server --version printed '$out'"
if [ "$has_receiver" = 1 ]; then
  out=$("$root/$bindir/tolk-receiver" --version) || fail "tolk-receiver --version exited $?"
  case $out in "tolk-receiver "*) ;; *) fail "tolk-receiver --version printed '$out'" ;; esac
fi
for conf in "$root/$docdir/examples/tolk.conf" "$root/$docdir/examples/venue-example.conf" "$dest$config"; do
  "$root/$bindir/tolk-server" -c "$conf" --check-config >/dev/null || fail "--check-config $conf"
done
ok "binaries run"

echo "== the installed server serves the installed pages"
export JACK_NO_START_SERVER=1
port=""
for _ in 1 2 3 4 5 6 7 8; do
  try=$((18900 + RANDOM % 100))
  sed -e "s|^listen = .*|listen = 127.0.0.1:$try|" -e "s|^web_root =.*|web_root = $web|" \
    "$root/$docdir/examples/tolk.conf" >"$tmp/run.conf"
  "$root/$bindir/tolk-server" -c "$tmp/run.conf" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    if curl -fsS "http://127.0.0.1:$try/api/health" >/dev/null 2>&1; then port=$try; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] && break
  kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""
done
if [ -z "$port" ]; then
  cat "$tmp/server.log"; fail "installed tolk-server did not start on a port in 18900-18999"
else
  for path in index.html js/app.js manifest.json; do
    curl -fsS "http://127.0.0.1:$port/$path" -o "$tmp/got" || { fail "GET /$path"; continue; }
    cmp -s "$tmp/got" "$web/$path" || fail "GET /$path is not the installed file"
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/tech/sheet.html")
  [ "$code" = 401 ] || fail "GET /tech/sheet.html without the token: $code, expected 401"
  token=$(sed -n 's/^tech_token = //p' "$tmp/run.conf")
  curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/tech/sheet.html" -o "$tmp/got" &&
    cmp -s "$tmp/got" "$web/tech/sheet.html" || fail "GET /tech/sheet.html with the token"
  kill -TERM "$server_pid"
  rc=0; wait "$server_pid" || rc=$?
  server_pid=""
  [ "$rc" -eq 0 ] || { cat "$tmp/server.log"; fail "tolk-server exited $rc after SIGTERM"; }
  ok "pages served from $web on port $port"
fi

if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "all install checks passed"
