#!/usr/bin/env bash
# Three wharf replicas in a cluster (one Redis) beside one replica alone, on this machine. See bench/README.md.
#
#   bash bench/cluster.sh                     # 256 MiB blob, 8 and 32 concurrent cold clients, warm 8 streams
#   BLOB_MB=64 bash bench/cluster.sh          # smoke run
#
# Starts on free 127.0.0.1 ports under bench/work/cluster/: the upstream (docker-registry), redis-server (its own
# config, no persistence), one wharf alone and three wharfs with `cluster:`. For each of CLIENTS (8 32): a cold
# pull of the blob by that many concurrent clients, spread round-robin over the replicas (or all on the one
# replica), with every wharf stopped, its storage emptied, Redis flushed and everything started again before it.
# Reports upstream bytes (wharf_upstream_bytes_total summed over the replicas), wall time until the last client is
# done, and warm throughput (8 streams at once), as ratios cluster / alone. Every process it starts is stopped by
# PID on exit; every client is bounded in time.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/cluster"
BLOB_MB="${BLOB_MB:-256}"
CLIENTS_LIST="${CLIENTS_LIST:-8 32}"
WARM_STREAMS="${WARM_STREAMS:-8}"
JAVA_OPTS="${JAVA_OPTS:--Xmx512m}"
CURL_MAX=900
RESULTS_FILE="${RESULTS_FILE:-$WORK/RESULTS-cluster.md}"
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[cluster-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for tool in docker-registry redis-server curl java python3 sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (run .ci/run)"
done

PIDS=()
cleanup() {
  local rc=$? pid
  set +e
  for pid in "${PIDS[@]}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$WORK/blob.bin" "$WORK"/wharf-*/data
  exit "$rc"
}
trap cleanup EXIT
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$pid" ] && PIDS[$i]=""; done
  return 0
}
wait_http() {  # wait_http URL PID: until URL answers 200 (at most 60 s)
  for _ in $(seq 1 600); do
    kill -0 "$2" 2>/dev/null || die "process $2 for $1 exited"
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ] && return 0
    sleep 0.1
  done
  die "$1 did not answer in 60 s"
}

rm -rf "$WORK"; mkdir -p "$WORK/logs"
JAR="$ROOT/server/target/wharf.jar"
if [ ! -f "$JAR" ]; then log "building $JAR"; (cd "$ROOT" && mvn -B -q -DskipTests package) >&2; fi
cp "$JAR" "$WORK/wharf.jar"

# ---- upstream and Redis ----------------------------------------------------------------------------------------
UP_PORT=$(free_port); UP="http://127.0.0.1:$UP_PORT"
cat >"$WORK/upstream.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $WORK/upstream-data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$UP_PORT}
log: {level: error}
YML
docker-registry serve "$WORK/upstream.yml" >"$WORK/logs/upstream.log" 2>&1 & PIDS+=($!); UP_PID=$!
wait_http "$UP/v2/" "$UP_PID"
REDIS_PORT=$(free_port)
printf 'bind 127.0.0.1\nport %s\ndir %s\nsave ""\nappendonly no\n' "$REDIS_PORT" "$WORK" >"$WORK/redis.conf"
redis-server "$WORK/redis.conf" >"$WORK/logs/redis.log" 2>&1 & PIDS+=($!); REDIS_PID=$!
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $REDIS_PORT), 1)" 2>/dev/null && break; sleep 0.1; done
flush_redis() { python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $REDIS_PORT), 5)
s.sendall(b'*1\r\n\$8\r\nFLUSHALL\r\n'); assert s.recv(16).startswith(b'+OK')"; }

log "seeding a $BLOB_MB MiB blob"
head -c "$((BLOB_MB << 20))" /dev/urandom >"$WORK/blob.bin"
DIGEST="sha256:$(sha256sum "$WORK/blob.bin" | cut -d' ' -f1)"
loc=$(curl -sS --max-time 30 -o /dev/null -D - -X POST "$UP/v2/test/big/blobs/uploads/" | tr -d '\r' \
      | awk 'tolower($1) == "location:" { print $2 }')
case "$loc" in http*) ;; *) loc="$UP$loc" ;; esac
case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
code=$(curl -sS --max-time "$CURL_MAX" -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
       -T "$WORK/blob.bin" "$loc${sep}digest=$DIGEST")
[ "$code" = 201 ] || die "blob PUT gave $code"
BLOB_BYTES=$((BLOB_MB << 20))

# ---- wharfs ----------------------------------------------------------------------------------------------------
printf 'bench-cluster-secret-0123456789\n' >"$WORK/secret"
declare -A PORT PEER WPID
for w in alone c1 c2 c3; do PORT[$w]=$(free_port); PEER[$w]=$(free_port); mkdir -p "$WORK/wharf-$w"; done
write_config() {
  local w="$1" f="$WORK/wharf-$1/wharf.yml"
  printf 'listen: 127.0.0.1:%s\nstorage:\n  path: %s\nprojects:\n  - name: bench\n    upstream: %s\n' \
    "${PORT[$w]}" "$WORK/wharf-$w/data" "$UP" >"$f"
  if [ "$w" != alone ]; then
    printf 'cluster:\n  redis:\n    address: 127.0.0.1:%s\n  listen: 127.0.0.1:%s\n  advertise: http://127.0.0.1:%s\n  secretFile: %s\n' \
      "$REDIS_PORT" "${PEER[$w]}" "${PEER[$w]}" "$WORK/secret" >>"$f"
  fi
}
start_fresh() {  # start_fresh NAME...: stop, empty storage, start, wait
  local w
  for w in "$@"; do
    [ -n "${WPID[$w]:-}" ] && stop_pid "${WPID[$w]}"
    rm -rf "$WORK/wharf-$w/data"; write_config "$w"
    # shellcheck disable=SC2086
    java $JAVA_OPTS -jar "$WORK/wharf.jar" serve --config "$WORK/wharf-$w/wharf.yml" >>"$WORK/logs/wharf-$w.log" 2>&1 &
    PIDS+=($!); WPID[$w]=$!
  done
  for w in "$@"; do wait_http "http://127.0.0.1:${PORT[$w]}/v2/" "${WPID[$w]}"; done
  for w in "$@"; do  # a cluster replica must reach Redis before a measurement starts
    [ "$w" = alone ] && continue
    for _ in $(seq 1 100); do
      curl -s --max-time 2 "http://127.0.0.1:${PORT[$w]}/metrics" | grep -q '^wharf_cluster_redis_up 1' && break
      sleep 0.1
    done
  done
}
upstream_bytes() {  # upstream_bytes NAME...: wharf_upstream_bytes_total summed
  local w sum=0 v
  for w in "$@"; do
    v=$(curl -s --max-time 5 "http://127.0.0.1:${PORT[$w]}/metrics" \
        | awk '/^wharf_upstream_bytes_total/ { s += $2 } END { printf "%.0f", s }')
    sum=$((sum + v))
  done
  echo "$sum"
}
pull_all() {  # pull_all N NAME...: N concurrent clients round-robin over NAMEs; prints wall seconds
  local n="$1"; shift; local targets=("$@") i t0 pids=()
  t0=$(now_ns)
  for i in $(seq 0 $((n - 1))); do
    local w="${targets[$((i % ${#targets[@]}))]}"
    curl -s --max-time "$CURL_MAX" -o /dev/null -w '%{http_code} %{size_download}\n' \
      "http://127.0.0.1:${PORT[$w]}/v2/bench/test/big/blobs/$DIGEST" >"$WORK/logs/pull-$i.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  secs_since "$t0"
  for i in $(seq 0 $((n - 1))); do
    # pull_all runs in $(...): a failure is counted in a file, since a variable set here would not reach the caller.
    [ "$(cat "$WORK/logs/pull-$i.out")" = "200 $BLOB_BYTES" ] \
      || { echo "$i" >>"$WORK/logs/failed"; log "client $i: $(cat "$WORK/logs/pull-$i.out")"; }
  done
}

declare -A WALL UPB WARM
for n in $CLIENTS_LIST; do
  for mode in alone cluster; do
    if [ "$mode" = alone ]; then set -- alone; else set -- c1 c2 c3; fi
    flush_redis; start_fresh "$@"
    log "$mode: $n concurrent cold clients"
    WALL[$mode-$n]=$(pull_all "$n" "$@")
    sleep 1
    UPB[$mode-$n]=$(upstream_bytes "$@")
    log "$mode $n: ${WALL[$mode-$n]} s, upstream ${UPB[$mode-$n]} bytes"
  done
done
for mode in alone cluster; do  # warm: the caches are full from the last cold run of each mode
  if [ "$mode" = alone ]; then set -- alone; else set -- c1 c2 c3; fi
  [ "$mode" = alone ] && start_fresh alone && pull_all 1 alone >/dev/null
  secs=$(pull_all "$WARM_STREAMS" "$@")
  WARM[$mode]=$(awk -v b="$BLOB_BYTES" -v n="$WARM_STREAMS" -v s="$secs" 'BEGIN { printf "%.1f", b * n / s / 1e6 }')
  log "$mode warm: ${WARM[$mode]} MB/s over $WARM_STREAMS streams"
done

FAILS=$( [ -f "$WORK/logs/failed" ] && wc -l <"$WORK/logs/failed" || echo 0)
{
  echo "# Cluster benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "One $BLOB_MB MiB blob; 3 replicas with one Redis (clients round-robin over them) against 1 replica alone;"
  echo "all on this machine, so the 3 replicas share its cores and disk. Failed clients: $FAILS."
  echo
  echo "| measure | alone | cluster (3) | cluster / alone |"
  echo "|---|---|---|---|"
  for n in $CLIENTS_LIST; do
    echo "| upstream bytes, $n cold clients | ${UPB[alone-$n]} | ${UPB[cluster-$n]} | $(ratio "${UPB[cluster-$n]}" "${UPB[alone-$n]}") |"
    echo "| wall time (s), $n cold clients | ${WALL[alone-$n]} | ${WALL[cluster-$n]} | $(ratio "${WALL[cluster-$n]}" "${WALL[alone-$n]}") |"
  done
  echo "| warm throughput (MB/s), $WARM_STREAMS streams | ${WARM[alone]} | ${WARM[cluster]} | $(ratio "${WARM[cluster]}" "${WARM[alone]}") |"
} >"$RESULTS_FILE"
cat "$RESULTS_FILE"
[ "$FAILS" -eq 0 ] || die "$FAILS clients failed"
