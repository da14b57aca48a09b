#!/usr/bin/env bash
# Listener load benchmark: builds tolk-server and tolk-loadgen (Release), then for each client
# count starts a fresh tolk-server on a free loopback port (5 channels of tone: sources, 20 ms
# frames, 2 network threads), runs tolk-loadgen against it, stops it, and prints a table.
# A fresh server per run keeps each run's peak RSS (VmHWM) its own.
#
# Usage: bench/run.sh [N ...]            (default: 100 1000 5000)
# Environment:
#   SECONDS_PER_RUN=20   measuring window of each run, s
#   REPEAT=1             runs per N; the table also shows the median per N when REPEAT > 1
#   LG_THREADS=2         tolk-loadgen worker threads
#   SERVER_THREADS=2     [server] threads of the benchmark config
#   TRANSPORT=epoll      tolk-loadgen --transport (epoll or lws)
#   BUILD_DIR=/tmp/build-bench
#   OUT_DIR=             where config, server logs and results.jsonl go (default: a new temp dir)
#   SKIP_BUILD=1         use the binaries already in BUILD_DIR
# Every run is bounded: the generator by `timeout`, the server by a TERM then KILL of its own PID.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
: "${SECONDS_PER_RUN:=20}" "${REPEAT:=1}" "${LG_THREADS:=2}" "${SERVER_THREADS:=2}"
: "${TRANSPORT:=epoll}" "${BUILD_DIR:=/tmp/build-bench}" "${SKIP_BUILD:=0}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000 5000)
out=${OUT_DIR:-$(mktemp -d /tmp/tolk-bench.XXXXXX)}
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
server_pid=

command -v jq > /dev/null || { echo "run.sh: needs jq" >&2; exit 2; }

stop_server() {
    [ -n "$server_pid" ] || return 0
    if kill -0 "$server_pid" 2> /dev/null; then
        kill -TERM "$server_pid" 2> /dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2> /dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2> /dev/null || true
    fi
    wait "$server_pid" 2> /dev/null || true
    server_pid=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

if [ "$SKIP_BUILD" != 1 ]; then
    cmake -S "$src" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTOLK_BUILD_TESTS=OFF > "$out/cmake.log"
    cmake --build "$BUILD_DIR" -j2 --target tolk-server tolk-loadgen >> "$out/cmake.log"
fi
server_bin="$BUILD_DIR/tolk-server"
loadgen_bin="$BUILD_DIR/bench/tolk-loadgen"

free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htln "sport = :$p")" ]; then echo "$p"; return 0; fi
    done
    echo "run.sh: no free port found" >&2
    return 1
}

write_config() { # port max_listeners
    cat > "$out/bench.conf" << EOF
; written by bench/run.sh
[server]
listen = 127.0.0.1:$1
max_listeners = $2
threads = $SERVER_THREADS

[audio]
frame_ms = 20
bitrate = 32000

[channel floor]
source = tone:440

[channel en]
lang = en
source = tone:550

[channel fr]
lang = fr
source = tone:660

[channel es]
lang = es
source = tone:770

[channel ar]
lang = ar
source = tone:880
EOF
}

start_server() { # port log
    "$server_bin" -c "$out/bench.conf" > "$2" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        if curl -fs -o /dev/null "http://127.0.0.1:$1/api/health"; then return 0; fi
        kill -0 "$server_pid" 2> /dev/null || break
        sleep 0.1
    done
    echo "run.sh: tolk-server did not come up; see $2" >&2
    tail -5 "$2" >&2
    return 1
}

run_one() { # clients run_index
    local n=$1 i=$2 port log
    port=$(free_port)
    write_config "$port" $((n + 100))
    log="$out/server-$n-$i.log"
    start_server "$port" "$log"
    echo "run.sh: N=$n run $i: server pid $server_pid on port $port" >&2
    if ! timeout -k 5 $((SECONDS_PER_RUN + 120)) "$loadgen_bin" --url "ws://127.0.0.1:$port/listen" \
        --clients "$n" --seconds "$SECONDS_PER_RUN" --threads "$LG_THREADS" \
        --transport "$TRANSPORT" --server-pid "$server_pid" --json > "$out/run-$n-$i.json"; then
        echo "run.sh: tolk-loadgen failed for N=$n (run $i)" >&2
    fi
    kill -0 "$server_pid" 2> /dev/null || echo "run.sh: tolk-server died during N=$n; see $log" >&2
    stop_server
    jq -c --argjson run "$i" '. + {run: $run}' "$out/run-$n-$i.json" >> "$results" 2> /dev/null || true
}

for n in "${sizes[@]}"; do
    for i in $(seq "$REPEAT"); do run_one "$n" "$i"; done
done

# Table: one row per run, then per N the median of every numeric field when REPEAT > 1.
jq -rs --argjson repeat "$REPEAT" '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def r1: . * 10 | round / 10;
  def row: [ (.clients|tostring), (.run|tostring), "\(.established)/\(.failed)",
             "\(.frames_min)/\(.frames_median)/\(.frames_max) (\(.expected_per_conn))",
             "\(.gaps)/\(.discontinuities)", (.frames / .messages | r1 | tostring),
             "\(.late_p50_ms|r1)/\(.late_p90_ms|r1)/\(.late_p99_ms|r1)/\(.late_max_ms|r1)",
             (.kernel_p99_ms // null | if . then r1 else "-" end | tostring),
             (.server_cpu_pct|round|tostring), (.gen_cpu_pct|round|tostring),
             (.machine_busy_pct|round|tostring),
             "\(.server_hwm_kib/1024|r1) / \((65536 + 16*.clients)/1024|r1)" ];
  def medrow: . as $runs | $runs[0] + (reduce ($runs[0]|keys[]) as $k ({};
      if ($runs[0][$k]|type) == "number" then .[$k] = ([$runs[][$k]]|med) else . end))
      + {run: "med"};
  (["N","run","est/fail","frames/conn min/med/max (exp)","gaps/disc","frames/msg",
    "late ms p50/p90/p99/max","kern p99","srv cpu%","gen cpu%","machine%",
    "srv HWM / target MiB"]),
  (group_by(.clients)[] | (.[] | row), (if $repeat > 1 then (medrow | row) else empty end))
  | @tsv' "$results" | column -t -s $'\t'
echo "results: $results"
