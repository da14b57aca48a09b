#!/usr/bin/env bash
# install.systemd: dist/tolk-server.service passes `systemd-analyze verify` with no diagnostic
# at all (verify exits 0 on unknown keys and bad values: its output is what counts), its
# sandbox scores at most 3.0 on `systemd-analyze security --offline`, it keeps the settings the
# server needs, and dist/tolk.sysusers.conf parses (`systemd-sysusers --dry-run`).
#
# The unit's ExecStart names /usr/bin/tolk-server, which verify requires to exist: the copy under
# test names the built binary instead, and MANPATH points at docs/man for Documentation=man:.
# Exit 77 (skipped) only when systemd-analyze is missing or cannot verify even a minimal valid
# unit on this machine (its output says why); with TOLK_REQUIRE_BROWSER=1 that is a failure.
#
# dist/tolk-receiver@.service is checked the same way when a tolk-receiver binary is given.
#
# Usage: test_systemd.sh SOURCE TOLK_SERVER_BINARY [TOLK_RECEIVER_BINARY]
set -euo pipefail
[ $# -eq 2 ] || [ $# -eq 3 ] ||
  { echo "usage: $0 SOURCE TOLK_SERVER_BINARY [TOLK_RECEIVER_BINARY]" >&2; exit 2; }
src=$1 binary=$2 receiver=${3:-}
tmp=$(mktemp -d /tmp/tolk-systemd-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

cannot_run() {
  if [ "${TOLK_REQUIRE_BROWSER:-0}" = 1 ]; then
    echo "FAIL: $* (TOLK_REQUIRE_BROWSER=1: not skipping)"; exit 1
  fi
  echo "SKIP: $*"; exit 77
}

command -v systemd-analyze >/dev/null ||
  cannot_run "systemd-analyze is not installed (Debian package systemd; tools/install-deps.sh)"

# Can verify run here at all? A minimal valid unit must give no output.
printf '[Unit]\nDescription=canary\n[Service]\nExecStart=/bin/true\n' >"$tmp/canary.service"
if ! out=$(systemd-analyze verify "$tmp/canary.service" 2>&1) || [ -n "$out" ]; then
  cannot_run "systemd-analyze verify cannot check even a minimal unit on this machine: $out"
fi

# The copy under test: only the binary's path differs from dist/.
mkdir -p "$tmp/man/man1"
cp "$src"/docs/man/*.1 "$tmp/man/man1/"
sed "s|^ExecStart=/usr/bin/tolk-server |ExecStart=$binary |" "$src/dist/tolk-server.service" \
  >"$tmp/tolk-server.service"
grep -q "^ExecStart=$binary -c /etc/tolk/tolk.conf\$" "$tmp/tolk-server.service" ||
  fail "dist unit's ExecStart is not '/usr/bin/tolk-server -c /etc/tolk/tolk.conf'"

verify() { MANPATH=$tmp/man systemd-analyze verify "$1" 2>&1; }

# The check can fail: a misspelt key and a bad value must be reported.
sed -e 's/^ProtectSystem=/ProtectSytem=/' -e 's/^LimitRTPRIO=.*/LimitRTPRIO=forty/' \
  "$tmp/tolk-server.service" >"$tmp/broken.service"
out=$(verify "$tmp/broken.service" || true)
case $out in *ProtectSytem*forty*|*forty*ProtectSytem*) ;;
  *) fail "verify did not report a misspelt key and a bad value in a broken copy: $out" ;; esac

# UNIT_FILE (as loaded) NAME: no diagnostic from verify, exposure at most 3.0.
verify_and_score() {
  local out
  if out=$(verify "$1") && [ -z "$out" ]; then
    echo "ok: systemd-analyze verify $2: no diagnostic"
  else
    fail "systemd-analyze verify $2: ${out:-exit status non-zero}"
  fi
  if out=$(systemd-analyze security --offline=yes --threshold=30 "$1" 2>&1); then
    echo "ok: $(grep -o 'Overall exposure level.*' <<<"$out")"
  else
    fail "$2: security exposure above 3.0: $(grep -o 'Overall exposure level.*' <<<"$out" || echo "$out" | tail -3)"
  fi
}
# UNIT_FILE LINE...: each line is in the unit, word for word.
expect_lines() {
  local unit=$1 line; shift
  for line in "$@"; do grep -qxF "$line" "$unit" || fail "$(basename "$unit") lacks '$line'"; done
}
# UNIT_FILE LINE...: none of these lines is in the unit (they break real-time audio or the card).
refuse_lines() {
  local unit=$1 line; shift
  for line in "$@"; do
    grep -qxF "$line" "$unit" && fail "$(basename "$unit") has '$line', which breaks real-time audio or the sound card"
  done
  return 0
}

verify_and_score "$tmp/tolk-server.service" dist/tolk-server.service

# What the server needs, and what would break it.
unit=$src/dist/tolk-server.service
expect_lines "$unit" Type=simple User=tolk Group=tolk SupplementaryGroups=audio Restart=on-failure \
  LimitRTPRIO=40 LimitNOFILE=20000 NoNewPrivileges=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes LockPersonality=yes MemoryDenyWriteExecute=yes \
  "DeviceAllow=char-alsa rw" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK"
grep -qE '^RestartSec=[1-5]$' "$unit" || fail "unit lacks a RestartSec of 1 to 5 s"
refuse_lines "$unit" RestrictRealtime=yes PrivateDevices=yes PrivateUsers=yes ProcSubset=pid DynamicUser=yes

# dist/tolk-receiver@.service, as an instance (fr): the same verify, exposure and must-haves.
# Without a built tolk-receiver (no PortAudio/speexdsp at configure time) it is not checked.
if [ -n "$receiver" ]; then
  sed "s|^ExecStart=/usr/bin/tolk-receiver |ExecStart=$receiver |" \
    "$src/dist/tolk-receiver@.service" >"$tmp/tolk-receiver@.service"
  grep -q "^ExecStart=$receiver \$ARGS\$" "$tmp/tolk-receiver@.service" ||
    fail "receiver unit's ExecStart is not '/usr/bin/tolk-receiver \$ARGS'"
  verify_and_score "$tmp/tolk-receiver@fr.service" "dist/tolk-receiver@.service (instance fr)"
  unit=$src/dist/tolk-receiver@.service
  expect_lines "$unit" Restart=always RestartPreventExitStatus=2 StartLimitIntervalSec=0 User=tolk \
    SupplementaryGroups=audio "DeviceAllow=char-alsa rw" NoNewPrivileges=yes ProtectSystem=strict \
    "EnvironmentFile=/etc/default/tolk-receiver-%i"
  grep -qE '^LimitRTPRIO=([5-9]|[1-9][0-9])$' "$unit" || fail "receiver unit allows no rtprio 5"
  refuse_lines "$unit" RestrictRealtime=yes PrivateDevices=yes PrivateUsers=yes ProcSubset=pid
else
  echo "note: no tolk-receiver built: dist/tolk-receiver@.service not checked"
fi

if command -v systemd-sysusers >/dev/null; then
  out=$(systemd-sysusers --dry-run "$src/dist/tolk.sysusers.conf" 2>&1) ||
    fail "systemd-sysusers --dry-run dist/tolk.sysusers.conf: $out"
  grep -qiE 'warn|ignor|fail' <<<"$out" && fail "systemd-sysusers: $out"
  echo "ok: sysusers.d entry parses"
fi

if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "systemd unit checks passed"
