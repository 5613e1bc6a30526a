#!/usr/bin/env bash
# Three wharf replicas in a cluster (one Redis) beside one replica alone, on this machine. See bench/README.md.
#
#   bash bench/cluster.sh                     # 256 MiB blob, 8 and 32 concurrent cold clients, warm 8 streams
#   BLOB_MB=64 bash bench/cluster.sh          # smoke run
#   STORAGE=s3 bash bench/cluster.sh          # every wharf on one SeaweedFS bucket (storage.s3), disk as hot tier
#
# Starts on free 127.0.0.1 ports under bench/work/cluster/: the upstream (docker-registry), redis-server (its own
# config, no persistence), one wharf alone and three wharfs with `cluster:`. For each of CLIENTS (8 32): a cold
# pull of the blob by that many concurrent clients, spread round-robin over the replicas (or all on the one
# replica), with every wharf stopped, its storage emptied, Redis flushed and everything started again before it.
# Reports upstream bytes (wharf_upstream_bytes_total summed over the replicas), wall time until the last client is
# done, and warm throughput (8 streams at once), as ratios cluster / alone. Every process it starts is stopped by
# PID on exit; every client is bounded in time.
# STORAGE=s3 also starts SeaweedFS (`weed server -s3`, the binary server/src/test/seaweedfs/build.sh caches under
# ~/.cache/wharf-tools/weed-<version>/) with one bucket; every wharf gets `storage.s3` (alone and the cluster each
# under a fresh key prefix per cold run, so a run starts with nothing in the bucket), and the warm phase measures
# throughput twice: from the hot tier (as above) and from S3, on a replica restarted with an empty hot tier (its
# clients' blob streams from the bucket; its upstream bytes must stay 0). Both are reported, and S3 / hot tier.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work/cluster"
BLOB_MB="${BLOB_MB:-256}"
CLIENTS_LIST="${CLIENTS_LIST:-8 32}"
WARM_STREAMS="${WARM_STREAMS:-8}"
JAVA_OPTS="${JAVA_OPTS:--Xmx512m}"
CURL_MAX=900
STORAGE="${STORAGE:-disk}"
RESULTS_FILE="${RESULTS_FILE:-$WORK/RESULTS-cluster.md}"
export PATH="$PATH:/usr/sbin:/sbin"

BENCH_TAG=cluster-bench
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
require_tools docker-registry redis-server curl java python3 sha256sum
case "$STORAGE" in
  disk) ;;
  s3)
    # The version the tests pin (server/src/test/seaweedfs/build.sh builds and caches it).
    WEED_VERSION=$(sed -n 's/^version="\(.*\)"$/\1/p' "$ROOT/server/src/test/seaweedfs/build.sh")
    WEED="${WHARF_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wharf-tools}/weed-$WEED_VERSION/weed"
    [ -x "$WEED" ] || die "required tool 'weed' (SeaweedFS $WEED_VERSION) is not built at $WEED: run .ci/run or bash server/src/test/seaweedfs/build.sh"
    ;;
  *) die "STORAGE must be disk or s3, not '$STORAGE'" ;;
esac

cleanup() {
  local rc=$?
  set +e
  stop_tracked
  rm -rf "$WORK/blob.bin" "$WORK"/wharf-*/data "$WORK/seaweed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
docker-registry serve "$WORK/upstream.yml" >"$WORK/logs/upstream.log" 2>&1 & UP_PID=$!; track "$UP_PID"
wait_http "$UP/v2/" "$UP_PID" || die "the upstream did not start"
REDIS_PORT=$(free_port)
printf 'bind 127.0.0.1\nport %s\ndir %s\nsave ""\nappendonly no\n' "$REDIS_PORT" "$WORK" >"$WORK/redis.conf"
redis-server "$WORK/redis.conf" >"$WORK/logs/redis.log" 2>&1 & REDIS_PID=$!; track "$REDIS_PID"
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $REDIS_PORT), 1)" 2>/dev/null && break; sleep 0.1; done
flush_redis() { python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $REDIS_PORT), 5)
s.sendall(b'*1\r\n\$8\r\nFLUSHALL\r\n'); assert s.recv(16).startswith(b'+OK')"; }

# ---- SeaweedFS (STORAGE=s3): one bucket, no identities ----------------------------------------------------------
if [ "$STORAGE" = s3 ]; then
  # The gateway runs without identities (-s3.config), so it checks no signatures: curl can make the bucket and probe
  # it unsigned, and wharf's signed requests (a throwaway key below) pass too. Loopback only.
  S3_PORT=$(free_port); S3="http://127.0.0.1:$S3_PORT"
  mkdir -p "$WORK/seaweed/data"
  printf 'bench-unused-secret\n' >"$WORK/seaweed/secret"
  wp=(); for _ in 1 2 3 4 5 6 7; do wp+=("$(free_port)"); done
  (cd "$WORK/seaweed" && exec "$WEED" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$WORK/seaweed/data" \
    -master.port="${wp[0]}" -master.port.grpc="${wp[1]}" -master.telemetry=false -master.volumeSizeLimitMB=256 \
    -volume.max=0 -volume.port="${wp[2]}" -volume.port.grpc="${wp[3]}" \
    -filer -filer.port="${wp[4]}" -filer.port.grpc="${wp[5]}" -filer.localSocket="$WORK/seaweed/filer.sock" \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc="${wp[6]}" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.localSocket="$WORK/seaweed/s3.sock") >"$WORK/logs/seaweed.log" 2>&1 &
  S3_PID=$!; track "$S3_PID"; disown "$S3_PID"  # stopped by PID on exit; no job notice when it needs SIGKILL
  # Ready when the bucket exists and an object can be written and read back: the gateway answers bucket calls
  # before its volume server has registered, and object writes wait meanwhile.
  ready=""; last=""
  for _ in $(seq 1 240); do
    kill -0 "$S3_PID" 2>/dev/null || { tail -n 20 "$WORK/logs/seaweed.log" >&2; die "SeaweedFS exited"; }
    curl -s -o /dev/null --max-time 5 -X PUT "$S3/bench" || true
    last=$(printf ready | curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT --data-binary @- \
             -H 'Content-Type: application/octet-stream' "$S3/bench/_ready/probe" || true)
    if [ "$last" = 200 ] && [ "$(curl -s --max-time 5 "$S3/bench/_ready/probe" || true)" = ready ]; then
      curl -s -o /dev/null --max-time 5 -X DELETE "$S3/bench/_ready/probe" || true; ready=1; break
    fi
    sleep 0.5
  done
  [ -n "$ready" ] || { tail -n 20 "$WORK/logs/seaweed.log" >&2; die "SeaweedFS's S3 gateway on $S3 took no object in 120 s (last PUT: '$last')"; }
  log "SeaweedFS S3 on $S3, bucket bench"
fi
declare -A PREFIX=([alone]=none [cluster]=none)
RUN=0
new_prefix() { RUN=$((RUN + 1)); PREFIX[$1]="run$RUN-$1/"; }  # new_prefix MODE: an empty part of the bucket

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
  printf 'listen: 127.0.0.1:%s\nstorage:\n  path: %s\n' "${PORT[$w]}" "$WORK/wharf-$w/data" >"$f"
  if [ "$STORAGE" = s3 ]; then
    local mode=cluster; [ "$w" = alone ] && mode=alone
    printf '  s3:\n    endpoint: %s\n    bucket: bench\n    region: us-east-1\n    pathStyle: true\n    prefix: %s\n    accessKey: bench\n    secretKeyFile: %s\n' \
      "$S3" "${PREFIX[$mode]}" "$WORK/seaweed/secret" >>"$f"
  fi
  printf 'projects:\n  - name: bench\n    upstream: %s\n' "$UP" >>"$f"
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
    WPID[$w]=$!; track "${WPID[$w]}"
  done
  for w in "$@"; do
    wait_http "http://127.0.0.1:${PORT[$w]}/v2/" "${WPID[$w]}" \
      || { tail -n 20 "$WORK/logs/wharf-$w.log" >&2; die "wharf $w did not start"; }
  done
  for w in "$@"; do  # a cluster replica must reach Redis before a measurement starts
    [ "$w" = alone ] && continue
    for _ in $(seq 1 100); do
      curl -s --max-time 2 "http://127.0.0.1:${PORT[$w]}/metrics" | grep -q '^wharf_cluster_redis_up 1' && break
      sleep 0.1
    done
  done
  [ "$STORAGE" = s3 ] || return 0
  for w in "$@"; do  # and the bucket
    for _ in $(seq 1 100); do
      curl -s --max-time 2 "http://127.0.0.1:${PORT[$w]}/metrics" | grep -q '^wharf_s3_up 1' && break
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

cpu_ticks() {  # cpu_ticks NAME...: user + system clock ticks of those wharfs so far, summed
  local w sum=0
  for w in "$@"; do sum=$((sum + $(awk '{ s = $0; b = index(s, ")"); split(substr(s, b + 2), r, " "); print r[12] + r[13] }' \
                                  "/proc/${WPID[$w]}/stat"))); done
  echo "$sum"
}
declare -A WALL UPB WARM WARMS3 S3UPB CPU
for n in $CLIENTS_LIST; do
  for mode in alone cluster; do
    if [ "$mode" = alone ]; then set -- alone; else set -- c1 c2 c3; fi
    new_prefix "$mode"; flush_redis; start_fresh "$@"
    log "$mode: $n concurrent cold clients"
    c0=$(cpu_ticks "$@")
    WALL[$mode-$n]=$(pull_all "$n" "$@")
    sleep 1  # the commits (fsync, rename) follow the last byte: count them too
    CPU[$mode-$n]=$(awk -v t="$(( $(cpu_ticks "$@") - c0 ))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
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
  if [ "$STORAGE" = s3 ]; then  # warm from S3: the first replica restarted with an empty hot tier, same prefix
    start_fresh "$1"
    secs=$(pull_all "$WARM_STREAMS" "$1")
    WARMS3[$mode]=$(awk -v b="$BLOB_BYTES" -v n="$WARM_STREAMS" -v s="$secs" 'BEGIN { printf "%.1f", b * n / s / 1e6 }')
    S3UPB[$mode]=$(upstream_bytes "$1")
    log "$mode warm from S3 ($1, empty hot tier): ${WARMS3[$mode]} MB/s over $WARM_STREAMS streams, upstream ${S3UPB[$mode]} bytes"
  fi
done

FAILS=$( [ -f "$WORK/logs/failed" ] && wc -l <"$WORK/logs/failed" || echo 0)
{
  echo "# Cluster benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "One $BLOB_MB MiB blob; 3 replicas with one Redis (clients round-robin over them) against 1 replica alone;"
  echo "all on this machine, so the 3 replicas share its cores and disk. Storage: $STORAGE$([ "$STORAGE" = s3 ] && echo \
    " (one SeaweedFS bucket on this machine too; the disk is the hot tier)"). Failed clients: $FAILS."
  echo
  echo "| measure | alone | cluster (3) | cluster / alone |"
  echo "|---|---|---|---|"
  for n in $CLIENTS_LIST; do
    echo "| upstream bytes, $n cold clients | ${UPB[alone-$n]} | ${UPB[cluster-$n]} | $(ratio "${UPB[cluster-$n]}" "${UPB[alone-$n]}") |"
    echo "| wall time (s), $n cold clients | ${WALL[alone-$n]} | ${WALL[cluster-$n]} | $(ratio "${WALL[cluster-$n]}" "${WALL[alone-$n]}") |"
    echo "| wharf CPU (s, all replicas), $n cold clients | ${CPU[alone-$n]} | ${CPU[cluster-$n]} | $(ratio "${CPU[cluster-$n]}" "${CPU[alone-$n]}") |"
  done
  echo "| warm throughput (MB/s), $WARM_STREAMS streams | ${WARM[alone]} | ${WARM[cluster]} | $(ratio "${WARM[cluster]}" "${WARM[alone]}") |"
  if [ "$STORAGE" = s3 ]; then
    echo "| warm throughput from S3 (MB/s), $WARM_STREAMS streams, empty hot tier | ${WARMS3[alone]} | ${WARMS3[cluster]} | $(ratio "${WARMS3[cluster]}" "${WARMS3[alone]}") |"
    echo "| warm from S3 / warm from the hot tier | $(ratio "${WARMS3[alone]}" "${WARM[alone]}") | $(ratio "${WARMS3[cluster]}" "${WARM[cluster]}") | |"
    echo "| upstream bytes of the empty-hot-tier replica | ${S3UPB[alone]} | ${S3UPB[cluster]} | |"
  fi
} >"$RESULTS_FILE"
cat "$RESULTS_FILE"
[ "$FAILS" -eq 0 ] || die "$FAILS clients failed"
if [ "$STORAGE" = s3 ]; then
  for mode in alone cluster; do
    [ "${S3UPB[$mode]}" = 0 ] || die "$mode: the replica with an empty hot tier fetched ${S3UPB[$mode]} bytes upstream, not from S3"
  done
fi
