#!/usr/bin/env bash
# Installs the Debian 12 packages tolk needs to build, run and test, if any are missing.
# Idempotent and quick when everything is there. Uses sudo when not run as root.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config
  # libraries (DESIGN.md)
  portaudio19-dev libopus-dev libwebsockets-dev libsrtp2-dev libinih-dev libjansson-dev
  libsndfile1-dev libspeexdsp-dev libogg-dev libcmocka-dev libqrencode-dev
  # tests: JACK's dummy backend drives PortAudio without a sound card; tools to feed it
  jackd2 sndfile-tools sox
  # the receiver's test and latency benchmark have a JACK client of their own (libjack)
  libjack-jackd2-dev
  # QR code tests decode the codes with zbarimg
  zbar-tools
  # RTP/SRTP tests decode the server's streams from their SDP
  ffmpeg
  # browser tests: Debian's Chromium, driven by playwright-core from npm
  chromium
  libnss3-tools # certutil: browser.https trusts its test CA in an NSS database, as Chromium does
  # install tests: systemd-analyze verify of the unit, man pages rendered, certificates, HTTP
  systemd man-db groff-base openssl curl
)
# Node.js and npm: the machine's own when present (they may come from outside Debian's archive),
# else Debian's.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing: ${missing[*]}"
# jackd2 asks whether to enable real-time limits; answer no so the install never waits.
echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
