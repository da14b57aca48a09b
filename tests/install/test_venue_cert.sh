#!/usr/bin/env bash
# install.venue_cert: tools/make-venue-cert.sh into a temporary folder. The server certificate
# chains to the CA (`openssl verify`, strict, purpose sslserver), carries exactly the name and IPs
# asked for (and no other name or IP verifies), is a leaf for serverAuth valid at most 825 days,
# matches its key; keys are private; a second run reuses the CA; bad arguments are refused; and a
# TLS handshake on loopback with the CA as the only trust anchor succeeds for the name.
#
# Usage: test_venue_cert.sh SOURCE
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 SOURCE" >&2; exit 2; }
script=$1/tools/make-venue-cert.sh
tmp=$(mktemp -d /tmp/tolk-cert-test.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
d=$tmp/certs

"$script" --dir "$d" tolk.test 127.0.0.1 ::1 >"$tmp/out1.txt" || { cat "$tmp/out1.txt"; fail "first run"; exit 1; }
ca=$d/ca/ca.crt cert=$d/tolk.test/cert.pem key=$d/tolk.test/key.pem
for f in "$ca" "$d/ca/ca.key" "$d/ca/ca.der" "$cert" "$key" "$d/tolk.test/fullchain.pem"; do
  [ -f "$f" ] || fail "missing $f"
done
grep -qF "$d/tolk.test/fullchain.pem" "$tmp/out1.txt" || fail "output does not say where the certificate is"
grep -q "iOS" "$tmp/out1.txt" && grep -q "Android" "$tmp/out1.txt" || fail "output lacks the trust steps"

v() { openssl verify -x509_strict -purpose sslserver -CAfile "$ca" "$@" "$cert" >/dev/null 2>&1; }
v || fail "openssl verify: $(openssl verify -x509_strict -purpose sslserver -CAfile "$ca" "$cert" 2>&1)"
v -verify_hostname tolk.test || fail "name tolk.test does not verify"
v -verify_ip 127.0.0.1 || fail "IP 127.0.0.1 does not verify"
v -verify_ip ::1 || fail "IP ::1 does not verify"
v -verify_hostname other.test && fail "name other.test verifies, it must not"
v -verify_ip 10.9.9.9 && fail "IP 10.9.9.9 verifies, it must not"
# Another CA must not vouch for it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/other.key" \
  -subj /CN=other -days 2 -out "$tmp/other.crt" >/dev/null 2>&1
openssl verify -CAfile "$tmp/other.crt" "$cert" >/dev/null 2>&1 && fail "verifies against a foreign CA"

sans=$(openssl x509 -in "$cert" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
[ "$sans" = "DNS:tolk.test,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1" ] || fail "SANs are '$sans'"
text=$(openssl x509 -in "$cert" -noout -text)
grep -q "CA:FALSE" <<<"$text" || fail "leaf is not CA:FALSE"
grep -q "TLS Web Server Authentication" <<<"$text" || fail "no serverAuth extended key usage"
openssl x509 -in "$ca" -noout -text | grep -q "CA:TRUE" || fail "CA is not CA:TRUE"
openssl x509 -in "$cert" -noout -checkend $((825 * 86400)) >/dev/null && fail "valid for more than 825 days"
openssl x509 -in "$cert" -noout -checkend $((300 * 86400)) >/dev/null || fail "valid for less than 300 days"
[ "$(openssl x509 -in "$cert" -noout -pubkey)" = "$(openssl pkey -in "$key" -pubout)" ] ||
  fail "key.pem does not match cert.pem"
[ "$(cat "$cert" "$ca")" = "$(cat "$d/tolk.test/fullchain.pem")" ] || fail "fullchain.pem is not cert + CA"
for f in "$key" "$d/ca/ca.key"; do [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not mode 600"; done

# Second run: same CA, a new certificate; the first one still verifies.
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
ca_before=$(fp "$ca")
"$script" --dir "$d" hall.test 192.168.50.2 >"$tmp/out2.txt" || { cat "$tmp/out2.txt"; fail "second run"; }
grep -q "Reusing the certificate authority" "$tmp/out2.txt" || fail "second run did not say it reuses the CA"
[ "$(fp "$ca")" = "$ca_before" ] || fail "second run replaced the CA"
openssl verify -CAfile "$ca" -verify_hostname hall.test -verify_ip 192.168.50.2 "$d/hall.test/cert.pem" >/dev/null 2>&1 ||
  fail "second certificate does not verify"
v -verify_hostname tolk.test || fail "first certificate no longer verifies"

# Refused: no NAME, a bad IP, an IP as NAME, --days beyond 825.
for args in "" "tolk.test 300.1.2.3" "tolk.test not-an-ip" "10.0.0.1" "--days 900 tolk.test" "bad_name!"; do
  # shellcheck disable=SC2086
  if "$script" --dir "$tmp/refused" $args >/dev/null 2>&1; then fail "accepted: '$args'"; fi
done
[ -e "$tmp/refused" ] && fail "a refused run wrote files"

# A real handshake: openssl s_server with the certificate, s_client trusting only the CA.
for _ in 1 2 3 4 5; do
  port=$((18900 + RANDOM % 100))
  openssl s_server -accept "127.0.0.1:$port" -cert "$cert" -key "$key" -naccept 1 -quiet \
    </dev/null >"$tmp/s_server.log" 2>&1 &
  server_pid=$!
  sleep 0.3
  kill -0 "$server_pid" 2>/dev/null && break
  wait "$server_pid" 2>/dev/null || true; server_pid=""
done
if [ -z "$server_pid" ]; then
  fail "openssl s_server could not listen on a port in 18900-18999: $(cat "$tmp/s_server.log")"
else
  out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername tolk.test \
        -CAfile "$ca" -verify_hostname tolk.test -verify_return_error 2>&1) || true
  grep -q "Verify return code: 0 (ok)" <<<"$out" ||
    fail "TLS handshake did not verify: $(grep -iE 'verify|error' <<<"$out" | head -5)"
  timeout 5 tail --pid="$server_pid" -f /dev/null 2>/dev/null || kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true; server_pid=""
fi

if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "venue certificate checks passed"
