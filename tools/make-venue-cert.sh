#!/usr/bin/env bash
# make-venue-cert.sh: a local certificate authority and a server certificate for rehearsals of
# tolk over https, with openssl. The CA lives in DIR/ca and is reused on the next run (trust it
# once per device); each run issues a fresh key and certificate for NAME in DIR/NAME.
# For the event itself use a real certificate for a domain the organiser controls (docs/venue.md).
set -euo pipefail

usage() {
  cat <<EOF
Usage: $0 [--dir DIR] [--days N] NAME [IP...]

Makes (once) a local certificate authority in DIR/ca, then a server certificate for the host
name NAME and the given IP addresses (IPv4 or IPv6), signed by it, in DIR/NAME.

  --dir DIR   where the CA and certificates are kept (default: ./tolk-certs)
  --days N    validity of the server certificate in days, 1..825 (default 397; Apple devices
              refuse server certificates valid for longer than 825 days)
  NAME        the name phones will open, e.g. tolk.venue.example.org or tolk.lan

Example: $0 tolk.lan 192.168.10.2
EOF
}

dir=./tolk-certs
days=397
while [ $# -gt 0 ]; do
  case $1 in
    --dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; dir=$2; shift 2 ;;
    --days) [ $# -ge 2 ] || { usage >&2; exit 2; }; days=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) echo "$0: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
name=$1; shift

die() { echo "$0: $*" >&2; exit 2; }
quiet() { local out; out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }; } # openssl chatter
command -v openssl >/dev/null || die "openssl is not installed (Debian package openssl)"
[[ $days =~ ^[0-9]+$ ]] && [ "$days" -ge 1 ] && [ "$days" -le 825 ] || die "--days: 1..825"
# A DNS name: labels of letters, digits and '-', dot-separated; no IP address here.
[[ ${#name} -le 253 && $name =~ ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$ ]] ||
  die "NAME '$name' is not a host name (give IP addresses after it)"
[[ $name =~ ^[0-9.]+$ ]] && die "NAME '$name' looks like an IP address: give a host name, then the IPs"
sans="DNS:$name"
for ip in "$@"; do
  [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || ($ip =~ ^[0-9A-Fa-f:.]+$ && $ip == *:*) ]] ||
    die "'$ip' is not an IPv4 or IPv6 address"
  sans+=",IP:$ip"
done
# Let openssl judge the addresses (e.g. 300.1.2.3, 1::2::3) before anything is written.
probe=$(mktemp -d)
if ! err=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
             -subj "/CN=probe" -addext "subjectAltName=$sans" -keyout "$probe/k" -out "$probe/c" 2>&1); then
  rm -rf "$probe"
  die "openssl refuses the names ($sans): $(grep -m1 -iE 'error|bad|invalid' <<<"$err" || echo "$err")"
fi
rm -rf "$probe"

umask 077
mkdir -p "$dir/ca" "$dir/$name"
ca_key=$dir/ca/ca.key
ca_crt=$dir/ca/ca.crt
if [ -f "$ca_key" ] && [ -f "$ca_crt" ]; then
  echo "Reusing the certificate authority in $dir/ca"
else
  echo "Creating a certificate authority in $dir/ca"
  quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca_key"
  quiet openssl req -x509 -new -sha256 -key "$ca_key" -days 3650 \
    -subj "/O=tolk rehearsal/CN=tolk rehearsal CA $(hostname -s 2>/dev/null || echo local) $(date +%Y-%m-%d)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$ca_crt"
  chmod 644 "$ca_crt"
fi
quiet openssl x509 -in "$ca_crt" -outform DER -out "$dir/ca/ca.der"
chmod 644 "$dir/ca/ca.der"

out=$dir/$name
quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/key.pem"
quiet openssl req -new -sha256 -key "$out/key.pem" -subj "/CN=$name" -out "$out/req.csr"
cat >"$out/ext.cnf" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$sans
EOF
quiet openssl x509 -req -sha256 -in "$out/req.csr" -CA "$ca_crt" -CAkey "$ca_key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$out/ext.cnf" \
  -out "$out/cert.pem"
cat "$out/cert.pem" "$ca_crt" >"$out/fullchain.pem"
rm -f "$out/req.csr" "$out/ext.cnf"
chmod 644 "$out/cert.pem" "$out/fullchain.pem"
quiet openssl verify -CAfile "$ca_crt" -purpose sslserver "$out/cert.pem"

abs() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
cat <<EOF

Server certificate for $name (${sans//,/, }), valid $days days:
  certificate + CA chain  $(abs "$out/fullchain.pem")
  private key             $(abs "$out/key.pem")   (keep it secret: mode 600)
  certificate alone       $(abs "$out/cert.pem")
Certificate authority (reused next time; keep ca.key secret, never copy it to a phone):
  CA certificate          $(abs "$ca_crt")   (DER: ca.der)
  CA fingerprint          $(openssl x509 -in "$ca_crt" -noout -fingerprint -sha256 | cut -d= -f2)

In tolk.conf ([server], HTTPS is issue 7, in progress):
  tls_cert = $(abs "$out/fullchain.pem")
  tls_key = $(abs "$out/key.pem")
  public_url = https://$name:PORT
and a DNS entry on the venue network pointing $name at the server.

Trust the CA on each rehearsal device (send ca.crt by e-mail, AirDrop, USB or a file share;
compare the fingerprint above), and remove it after the rehearsal:
  iOS/iPadOS  open ca.crt, Settings > General > VPN & Device Management > install the profile;
              then Settings > General > About > Certificate Trust Settings > enable full trust.
  Android     Settings > Security > Encryption & credentials > Install a certificate >
              CA certificate > ca.crt (wording varies by maker). Chrome trusts user CAs.
  Linux       sudo cp ca.crt /usr/local/share/ca-certificates/tolk-rehearsal.crt &&
              sudo update-ca-certificates; Chromium also reads ~/.pki/nssdb:
              certutil -d sql:\$HOME/.pki/nssdb -A -t C,, -n tolk-rehearsal -i ca.crt
  macOS       sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ca.crt
  Windows     certutil -addstore -f Root ca.crt   (as administrator)
  Firefox     Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import
  tolk-receiver  TOLK_INSECURE_TLS=1 skips the check (rehearsals only)
EOF
