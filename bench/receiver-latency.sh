#!/usr/bin/env bash
# Mouth-to-ear latency through tolk-receiver (see bench/receiver-latency.c): builds Release in
# BUILD_DIR (default /tmp/build-bench), then measures at 20 ms and 10 ms frames.
#   bench/receiver-latency.sh                 # 60 s per frame size, 20 s warm-up each
#   SECONDS_PER_RUN=600 FRAMES="20" bench/receiver-latency.sh   # the 10-minute underrun run
# Other settings: WARMUP (s), LATENCY (the receiver's --latency), PORT_BASE, SKIP_BUILD=1,
# REALTIME=1 (jackd and its clients SCHED_FIFO; needs the right to, e.g. root),
# APPLICATION=voip|lowdelay|audio (the server's Opus mode; default voip),
# TRANSPORT=ws|rtp (the receiver listens over WebSocket, or plays the server's RTP stream).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-/tmp/build-bench}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOLK_BUILD_TESTS=ON >/dev/null
  cmake --build "$build" -j2 --target receiver-latency tolk-server tolk-receiver >/dev/null
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
port=${PORT_BASE:-0}
for f in ${FRAMES:-20 10}; do
  "$build/bench/receiver-latency" "$build/tolk-server" "$build/client/receiver/tolk-receiver" \
    --frame-ms "$f" --seconds "${SECONDS_PER_RUN:-60}" --warmup "${WARMUP:-20}" \
    --latency "${LATENCY:-0}" --port-base "$port" ${REALTIME:+--realtime} \
    --application "${APPLICATION:-voip}" --transport "${TRANSPORT:-ws}" | grep '^frame_ms='
  [ "$port" = 0 ] || port=$((port + 2))
done
