#!/usr/bin/env bash
# 2,000 concurrent clients against wharf for 60 s, under -Xmx256m, in front of a real docker-registry (issue 8,
# "Load"). See bench/README.md.
#
#   bash bench/load.sh                               # the full run: 2000 clients, 60 s (~2.5 min in all)
#   CLIENTS=200 SECONDS_=10 COLD=300 bash bench/load.sh   # a short one
#
# Asserts, and exits 1 when one fails: no errors but the documented limits (a 503 with Retry-After, counted apart);
# wharf's peak RSS (VmHWM) under RSS_LIMIT_MIB; afterwards wharf_fills_inflight back to 0 and wharf's open file
# descriptors back to the baseline (within FD_SLACK) within SETTLE_SECONDS. Everything runs on 127.0.0.1 under
# bench/work/load/; every process started here is stopped by PID on exit.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/load"

CLIENTS="${CLIENTS:-2000}"          # concurrent clients, one keep-alive connection each
SECONDS_="${SECONDS_:-60}"          # how long the load runs (after a 2 s ramp)
COLD="${COLD:-3000}"                # cold blobs seeded; each is asked for once, while the pool lasts
COLD_SIZE="${COLD_SIZE:-65536}"     # bytes per cold blob
WARM_SIZE="${WARM_SIZE:-4194304}"   # bytes of the warm blob
HEAP="${HEAP:-256m}"                # wharf's -Xmx
RSS_LIMIT_MIB="${RSS_LIMIT_MIB:-512}"
FD_SLACK="${FD_SLACK:-0}"           # open fds allowed above the baseline once settled
SETTLE_SECONDS="${SETTLE_SECONDS:-60}"
UPSTREAM_IDLE=5s                    # wharf's limits.upstreamIdle here, so its upstream pool drains within the settle

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    [ -n "$p" ] && { timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true; }
  done
  return 0
}
trap cleanup EXIT

command -v docker-registry >/dev/null || die "docker-registry not found (apt-get install docker-registry)"
command -v go >/dev/null || die "go not found (needed to build bench/loadgen)"
command -v java >/dev/null || die "java not found"
command -v curl >/dev/null || die "curl not found"
[ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le 10000 ] && [ "$SECONDS_" -ge 1 ] && [ "$SECONDS_" -le 600 ] \
  || die "CLIENTS must be 1..10000 and SECONDS_ 1..600"

# The clients hold one socket each, plus the Go runtime's own: raise the soft limit (never above the hard one).
NEED_FDS=$((CLIENTS + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED_FDS" ]; then
  ulimit -n "$NEED_FDS" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$NEED_FDS" ] \
  || die "open-file limit $(ulimit -n) < $NEED_FDS for $CLIENTS clients (hard limit $(ulimit -Hn))"

case "$WORK" in */bench/work/load) ;; *) die "unexpected work dir $WORK" ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"/{upstream-data,wharf-data,logs}

log "building bench/loadgen (Go, standard library only)"
(cd "$BENCH/loadgen" && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off go build -o "$WORK/loadgen" .) \
  || die "go build of bench/loadgen failed"
log "building wharf if needed (./wharf --help)"
(cd "$ROOT" && ./wharf --help >/dev/null 2>"$WORK/logs/wharf-build.log") \
  || { tail -30 "$WORK/logs/wharf-build.log" >&2; die "./wharf could not build or start"; }
cp "$ROOT/server/target/wharf.jar" "$WORK/wharf.jar"

free_port() { "$WORK/loadgen" freeport; }
wait_http() {  # wait_http URL PID SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    kill -0 "$2" 2>/dev/null || return 1
    curl -s -o /dev/null --max-time 2 "$1" && return 0
    sleep 0.1
  done
  return 1
}
UP_PORT=$(free_port); WHARF_PORT=$(free_port)
while [ "$WHARF_PORT" = "$UP_PORT" ]; do WHARF_PORT=$(free_port); done
UP="http://127.0.0.1:$UP_PORT"; WHARF="http://127.0.0.1:$WHARF_PORT"

cat >"$WORK/upstream.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/upstream-data
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$UP_PORT
YAML
docker-registry serve "$WORK/upstream.yml" >"$WORK/logs/upstream.log" 2>&1 &
UP_PID=$!; PIDS+=("$UP_PID")
wait_http "$UP/v2/" "$UP_PID" 30 || { tail -20 "$WORK/logs/upstream.log" >&2; die "docker-registry did not start"; }

log "seeding the upstream: a ${WARM_SIZE}-byte warm blob, a small image, $COLD cold blobs of $COLD_SIZE bytes"
timeout 600 "$WORK/loadgen" seed -upstream "$UP" -state "$WORK/state.txt" -cold "$COLD" -cold-size "$COLD_SIZE" \
  -warm-size "$WARM_SIZE" >&2 || die "seeding failed"

cat >"$WORK/wharf.yml" <<YAML
listen: 127.0.0.1:$WHARF_PORT
storage:
  path: $WORK/wharf-data
limits:
  upstreamIdle: $UPSTREAM_IDLE
projects:
  - name: load
    upstream: $UP
    tagTtl: 1h
YAML
java -Xmx"$HEAP" -jar "$WORK/wharf.jar" serve --config "$WORK/wharf.yml" >"$WORK/logs/wharf.log" 2>&1 &
WHARF_PID=$!; PIDS+=("$WHARF_PID")
wait_http "$WHARF/v2/" "$WHARF_PID" 60 || { tail -30 "$WORK/logs/wharf.log" >&2; die "wharf did not start"; }

fds() { find "/proc/$WHARF_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
fills() {  # the sum of wharf_fills_inflight, or "none" when the scrape has no such line
  curl -s --max-time 10 "$WHARF/metrics" | awk '/^wharf_fills_inflight/ { s += $NF; n++ } END { if (n) printf "%d", s; else print "none" }'
}
hwm_mib() { awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$WHARF_PID/status"; }

# The baseline: after one warm-up request of each warm kind, and after the upstream pool has idled out.
HEAD_ACCEPT="Accept: application/vnd.oci.image.manifest.v1+json"
TAG_PATH=$(awk '$1 == "tag" { print "/v2/load/" $2 "/manifests/" $3 }' "$WORK/state.txt")
WARM_PATH=$(awk '$1 == "warm" { print "/v2/load/" $2 "/blobs/" $3 }' "$WORK/state.txt")
[ "$(curl -s -o /dev/null -w '%{http_code}' -I -H "$HEAD_ACCEPT" "$WHARF$TAG_PATH")" = 200 ] || die "warm-up HEAD failed"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$WHARF$WARM_PATH")" = 200 ] || die "warm-up GET failed"
sleep "$(( ${UPSTREAM_IDLE%s} + 3 ))"
FD_BASE=$(fds)
HWM_BEFORE=$(hwm_mib)
[ "$(fills)" = 0 ] || die "wharf_fills_inflight is $(fills) before the load"
log "wharf pid $WHARF_PID: $FD_BASE open fds, VmHWM $HWM_BEFORE MiB before the load; load average $(cut -d' ' -f1-3 /proc/loadavg)"

log "$CLIENTS clients for ${SECONDS_}s"
LOAD_RC=0
PEAK_FDS=0
( while kill -0 "$WHARF_PID" 2>/dev/null; do f=$(fds); echo "$f"; sleep 1; done ) >"$WORK/fds.txt" &
SAMPLER=$!; PIDS+=("$SAMPLER")
timeout $((SECONDS_ + 240)) "$WORK/loadgen" run -wharf "$WHARF" -project load -state "$WORK/state.txt" \
  -c "$CLIENTS" -d "${SECONDS_}s" >"$WORK/loadgen.txt" 2>&1 || LOAD_RC=$?
LOAD_AVG=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$SAMPLER" 2>/dev/null || true
cat "$WORK/loadgen.txt" >&2
kill -0 "$WHARF_PID" 2>/dev/null || die "wharf died during the load (see $WORK/logs/wharf.log)"
PEAK_FDS=$(sort -n "$WORK/fds.txt" | tail -1)
HWM=$(hwm_mib)

# Settling: every fill finished and the fds back to the baseline, within SETTLE_SECONDS.
settle_start=$(date +%s)
FILLS=$(fills); FD_AFTER=$(fds)
while { [ "$FILLS" != 0 ] || [ "$FD_AFTER" -gt $((FD_BASE + FD_SLACK)) ]; } \
      && [ $(( $(date +%s) - settle_start )) -lt "$SETTLE_SECONDS" ]; do
  sleep 1
  FILLS=$(fills); FD_AFTER=$(fds)
done
SETTLED=$(( $(date +%s) - settle_start ))

FAILS=()
[ "$LOAD_RC" = 0 ] || FAILS+=("the load generator reported errors or failed (exit $LOAD_RC)")
[ "$HWM" -lt "$RSS_LIMIT_MIB" ] || FAILS+=("peak RSS $HWM MiB >= $RSS_LIMIT_MIB MiB")
[ "$FILLS" = 0 ] || FAILS+=("wharf_fills_inflight is $FILLS ${SETTLE_SECONDS}s after the load")
[ "$FD_AFTER" -le $((FD_BASE + FD_SLACK)) ] || FAILS+=("open fds $FD_AFTER > baseline $FD_BASE + $FD_SLACK after ${SETTLE_SECONDS}s")

kv() { awk -v kind="$1" -v key="$2" '$1 == "kind=" kind { for (i = 1; i <= NF; i++) { split($i, p, "="); if (p[1] == key) print p[2] } }' "$WORK/loadgen.txt"; }
{
  echo "### Load: $CLIENTS clients, ${SECONDS_} s, -Xmx$HEAP ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "| kind | ok | limited (503 + Retry-After) | errors | requests/s | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|---|"
  for k in head warm cold; do
    echo "| $k | $(kv $k ok) | $(kv $k limited) | $(kv $k errors) | $(kv $k rps) | $(kv $k p50_ms) | $(kv $k p99_ms) |"
  done
  echo
  grep '^clients=' "$WORK/loadgen.txt" | sed 's/^/- /'
  echo "- wharf VmHWM: $HWM_BEFORE MiB before the load, $HWM MiB after (limit $RSS_LIMIT_MIB MiB)"
  echo "- wharf open fds: baseline $FD_BASE, peak $PEAK_FDS during the load, $FD_AFTER after ${SETTLED} s of settling"
  echo "- wharf_fills_inflight after the load: $FILLS"
  echo "- load average at the end of the load: $LOAD_AVG"
  if [ ${#FAILS[@]} -eq 0 ]; then echo "- all assertions met"; else printf -- '- FAILED: %s\n' "${FAILS[@]}"; fi
} | tee "$WORK/summary.md"
[ ${#FAILS[@]} -eq 0 ] || exit 1
