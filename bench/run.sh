#!/usr/bin/env bash
# wharf beside its peers, in one run. See bench/README.md.
#
#   bash bench/run.sh                        # full run: 1 GiB blob, cold x3, fast x5 (~15-25 min on 2 cores)
#   SHORT=1 bash bench/run.sh                # smoke run: 64 MiB, one repetition, 2 s HEAD runs (~2 min)
#   BLOB_MB=64 REPEAT=1 bash bench/run.sh    # smoke run (writes bench/work/RESULTS-smoke.md)
#
# Starts on free 127.0.0.1 ports, under bench/work/: the upstream (docker-registry, filesystem storage), wharf
# (./wharf serve --config), the peer (a second docker-registry in proxy mode) and nginx serving the same blob as
# a static file. Seeds the upstream, measures, writes the results. Every process it starts is stopped by PID on
# exit; every loop and every client is bounded in count and time.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work"

if [ "${SHORT:-0}" = 1 ]; then          # a quick end-to-end check of the script, not a measurement
  BLOB_MB="${BLOB_MB:-64}"; REPEAT="${REPEAT:-1}"; HEAD_SECONDS="${HEAD_SECONDS:-2}"; HEAD_WARMUP="${HEAD_WARMUP:-3}"
  JIT_WARMUP="${JIT_WARMUP:-1}"
fi
BLOB_MB="${BLOB_MB:-1024}"              # size of the big blob, MiB
REPEAT="${REPEAT:-3}"                   # repetitions of the slow (cold 1 GiB) measurements
if [ -z "${REPEAT_FAST:-}" ]; then      # repetitions of the fast ones (warm throughput, HEAD rates)
  if [ "$REPEAT" -le 1 ]; then REPEAT_FAST=1; elif [ "$REPEAT" -lt 5 ]; then REPEAT_FAST=5; else REPEAT_FAST="$REPEAT"; fi
fi
if [ -z "${REPEAT_WARM:-}" ]; then     # warm throughput: a repetition is short, so more of them (damps noise)
  if [ "$REPEAT_FAST" -ge 5 ]; then REPEAT_WARM=$((2 * REPEAT_FAST - 1)); else REPEAT_WARM="$REPEAT_FAST"; fi
fi
PARALLEL="${PARALLEL:-8}"               # concurrent clients / streams
# Cold pulls of other blobs of the big blob's size that each fresh wharf of phases 1 and 3 makes before its measured
# pulls (after the fresh-JVM pull), so that "JVM already warm" means the JIT has settled: the tee's per-block code
# runs about 1,000 times per GiB, so C2 still compiled 0.3-0.6 s of a core during each of the first 2-6 GiB pulled
# (bench/coldpull.sh's C2 row, -XX:+LogCompilation) and 10-70 ms after 8 GiB.
JIT_WARMUP="${JIT_WARMUP:-8}"
HEAD_CONNS="${HEAD_CONNS:-32 256}"      # keep-alive connections of the HEAD load generator, one run per count
HEAD_SECONDS="${HEAD_SECONDS:-5}"       # measured seconds per HEAD run (after 1 s of warm-up)
HEAD_WARMUP="${HEAD_WARMUP:-10}"        # seconds of untimed HEAD load on each wharf target before the HEAD runs
# wharf's JVM options: by default the container image's own (deploy/image/Containerfile) with -XX:MaxRAM=256m, so
# the JVM sizes itself as in a 256 MiB container; set JAVA_OPTS (even empty) to replace them.
IMAGE_JAVA_OPTS="$(sed -n 's/^ENV JAVA_OPTS="\([^"]*\)".*/\1/p' "$ROOT/deploy/image/Containerfile")"
IMAGE_MALLOC_ARENA_MAX="$(sed -n 's/^ *MALLOC_ARENA_MAX=\([0-9]*\).*/\1/p' "$ROOT/deploy/image/Containerfile")"
if [ -z "${JAVA_OPTS+set}" ]; then
  JAVA_OPTS="$IMAGE_JAVA_OPTS -XX:MaxRAM=256m"; JAVA_OPTS_HOW="the image's defaults (and its MALLOC_ARENA_MAX=$IMAGE_MALLOC_ARENA_MAX)"
  WHARF_ENV=(MALLOC_ARENA_MAX="$IMAGE_MALLOC_ARENA_MAX")
else JAVA_OPTS_HOW="JAVA_OPTS from the environment"; WHARF_ENV=(); fi
KEEP_WORK="${KEEP_WORK:-0}"             # 1: keep the blob copies and caches under bench/work/ after the run
if [ -z "${RESULTS_FILE:-}" ]; then
  if [ "$BLOB_MB" -eq 1024 ] && [ "$REPEAT" -ge 3 ]; then RESULTS_FILE="$BENCH/RESULTS.md"
  else RESULTS_FILE="$WORK/RESULTS-smoke.md"; fi
fi
export JAVA_OPTS

BLOB_BYTES=$((BLOB_MB * 1024 * 1024))
REPO_BIG="test/big"
REPO_SMALL="test/small"
PROJECT="bench"
START_EPOCH=$(date +%s)
CURL_MAX=600                            # seconds: no single client runs longer

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# ---------------------------------------------------------------------------------------------------------------
# processes: every PID we start is recorded; the EXIT trap stops exactly those
PIDS=()
cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  if [ "$KEEP_WORK" != 1 ] && [ -d "$WORK" ]; then
    rm -rf "$WORK/upstream-data" "$WORK/wharf-data" "$WORK/peer-data" "$WORK/nginx/www" "$WORK/small" \
      "$WORK/nginx-lock/cache" "$WORK/blob2.bin"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() { local p="$1" i; for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$p" ] && PIDS[$i]=""; done; return 0; }

stop_pid() {  # stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL
  local pid="$1"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

wait_http() {  # wait_http URL PID SECONDS [expected code]: until URL answers (bounded); fails if PID dies
  local url="$1" pid="$2" secs="$3" want="${4:-200}" code i
  for i in $(seq 1 $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    [ "$code" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}

free_port() { "$WORK/headload" -freeport; }

# ---------------------------------------------------------------------------------------------------------------
# statistics
median() {  # median of the arguments (n/a when none)
  [ $# -gt 0 ] || { echo "n/a"; return; }
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.6g", v[(NR + 1) / 2]; else printf "%.6g", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
calc() { awk "BEGIN { x = $1; printf \"${2:-%.3f}\", x }"; }
isnum() { [[ "$1" =~ ^[0-9.eE+-]+$ ]]; }
ratio() { if isnum "$1" && isnum "$2" && [ "$(calc "$2 != 0" %d)" = 1 ]; then calc "$1 / $2" "%.2f"; else echo "n/a"; fi; }
fmt() { if isnum "$1"; then calc "$1" "${2:-%.2f}"; else echo "$1"; fi; }
fmt_int() {  # 173000.4 -> 173,000
  if isnum "$1"; then
    awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'
  else echo "$1"; fi
}
list() { if [ $# -eq 0 ]; then echo "-"; else local IFS=' '; echo "$*"; fi; }

# the machine may be shared: the 1-minute load average is noted at the start of each phase
LOADS=()
note_load() { LOADS+=("$1 $(cut -d' ' -f1 /proc/loadavg)"); }

# failures are appended to a file: measurements run in command substitutions (subshells)
FAIL_FILE="$WORK/logs/failures.txt"
fail_note() { log "FAILED: $*"; printf '%s\n' "$*" >>"$FAIL_FILE"; }

# ---------------------------------------------------------------------------------------------------------------
# set-up
command -v docker-registry >/dev/null || die "docker-registry not found (apt-get install docker-registry)"
command -v nginx >/dev/null || die "nginx not found (apt-get install nginx-light)"
command -v go >/dev/null || die "go not found (needed to build bench/headload)"
command -v java >/dev/null || die "java not found"
[ "$BLOB_MB" -ge 1 ] && [ "$REPEAT" -ge 1 ] && [ "$REPEAT_FAST" -ge 1 ] || die "BLOB_MB, REPEAT, REPEAT_FAST must be >= 1"

case "$WORK" in */bench/work) ;; *) die "unexpected work dir $WORK" ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"/{upstream-data,wharf-data,peer-data,nginx/www,nginx/logs,nginx/tmp,nginx-lock/tmp,small,logs}
: >"$FAIL_FILE"
note_load "start"
log "work dir $WORK; blob ${BLOB_MB} MiB; cold repeats $REPEAT; fast repeats $REPEAT_FAST"

log "building bench/headload (Go, standard library only)"
(cd "$BENCH/headload" && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off go build -o "$WORK/headload" .) \
  || die "go build of bench/headload failed"

log "building wharf if needed (./wharf --help)"
(cd "$ROOT" && ./wharf --help >/dev/null 2>"$WORK/logs/wharf-build.log") \
  || { tail -30 "$WORK/logs/wharf-build.log" >&2; die "./wharf could not build or start"; }
# One build for the whole run: the jar ./wharf just built is copied, and every wharf of the run is started the way
# the launcher starts it (exec java $JAVA_OPTS -jar wharf.jar serve ...), so a source edit during the run cannot
# trigger a rebuild between repetitions. WHARF_LAUNCHER=1 runs ./wharf serve itself every time instead.
cp "$ROOT/server/target/wharf.jar" "$WORK/wharf.jar"
# The class-data-sharing archive of that jar, trained as the launcher trains it (WHARF_CDS=0: none).
CDS_OPTS=""
if [ "${WHARF_CDS:-1}" != 0 ]; then
  log "training the class-data-sharing archive (java -jar wharf.jar cds-training)"
  java -XX:ArchiveClassesAtExit="$WORK/wharf.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off -jar "$WORK/wharf.jar" \
    cds-training >"$WORK/logs/cds-training.log" 2>&1 || { tail -20 "$WORK/logs/cds-training.log" >&2; die "cds-training failed"; }
  CDS_OPTS="-XX:SharedArchiveFile=$WORK/wharf.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
fi

UP_PORT=$(free_port); WHARF_PORT=$(free_port); PEER_PORT=$(free_port); NGINX_PORT=$(free_port)
while [ "$WHARF_PORT" = "$UP_PORT" ] || [ "$PEER_PORT" = "$UP_PORT" ] || [ "$PEER_PORT" = "$WHARF_PORT" ] \
      || [ "$NGINX_PORT" = "$UP_PORT" ] || [ "$NGINX_PORT" = "$WHARF_PORT" ] || [ "$NGINX_PORT" = "$PEER_PORT" ]; do
  WHARF_PORT=$(free_port); PEER_PORT=$(free_port); NGINX_PORT=$(free_port)
done
NGINX_LOCK_PORT=$(free_port)
while [[ " $UP_PORT $WHARF_PORT $PEER_PORT $NGINX_PORT " == *" $NGINX_LOCK_PORT "* ]]; do NGINX_LOCK_PORT=$(free_port); done
NGINX_LOCK="http://127.0.0.1:$NGINX_LOCK_PORT"
UP="http://127.0.0.1:$UP_PORT"; WHARF="http://127.0.0.1:$WHARF_PORT"
PEER="http://127.0.0.1:$PEER_PORT"; NGINX="http://127.0.0.1:$NGINX_PORT"
# HTTPS (phase 2b): a second wharf serving TLS, and nginx serving the same file over TLS, with one certificate
WHARF_TLS_PORT=$(free_port); NGINX_TLS_PORT=$(free_port)
while [[ " $UP_PORT $WHARF_PORT $PEER_PORT $NGINX_PORT $NGINX_LOCK_PORT " == *" $WHARF_TLS_PORT "* ]] \
      || [[ " $UP_PORT $WHARF_PORT $PEER_PORT $NGINX_PORT $NGINX_LOCK_PORT $WHARF_TLS_PORT " == *" $NGINX_TLS_PORT "* ]]; do
  WHARF_TLS_PORT=$(free_port); NGINX_TLS_PORT=$(free_port)
done
log "ports: upstream $UP_PORT, wharf $WHARF_PORT, peer $PEER_PORT, nginx $NGINX_PORT; HTTPS: wharf $WHARF_TLS_PORT, nginx $NGINX_TLS_PORT"
java -jar "$WORK/wharf.jar" tls init --dir "$WORK/tls" --host 127.0.0.1 >"$WORK/logs/tls-init.log" 2>&1 \
  || { cat "$WORK/logs/tls-init.log" >&2; die "wharf tls init failed"; }

# --- the upstream: docker-registry, filesystem storage, apache-style access log on stdout (used to count bytes)
cat >"$WORK/upstream.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $WORK/upstream-data
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$UP_PORT
EOF
UP_LOG="$WORK/logs/upstream.log"
docker-registry serve "$WORK/upstream.yml" >"$UP_LOG" 2>&1 &
UP_PID=$!; PIDS+=("$UP_PID")
wait_http "$UP/v2/" "$UP_PID" 30 || { tail -20 "$UP_LOG" >&2; die "upstream registry did not start"; }

# --- seed: the big blob (random bytes) and a small image tagged latest
BLOB_FILE="$WORK/nginx/www/blob.bin"   # the same file nginx serves
log "generating ${BLOB_MB} MiB of random bytes"
head -c "$BLOB_BYTES" /dev/urandom >"$BLOB_FILE"
BLOB_DIGEST="sha256:$(sha256sum "$BLOB_FILE" | cut -d' ' -f1)"

push_blob() {  # push_blob REPO FILE DIGEST: monolithic upload (POST, then PUT ?digest= streaming the file)
  local repo="$1" file="$2" digest="$3" loc sep code
  loc=$(curl -sS --max-time 30 -o /dev/null -D - -X POST "$UP/v2/$repo/blobs/uploads/" \
        | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  [ -n "$loc" ] || die "upload POST to $UP/v2/$repo/blobs/uploads/ gave no Location"
  case "$loc" in http*) ;; *) loc="$UP$loc" ;; esac
  case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
  code=$(curl -sS --max-time "$CURL_MAX" -o "$WORK/logs/push.out" -w '%{http_code}' -X PUT \
         -H 'Content-Type: application/octet-stream' -T "$file" "$loc${sep}digest=$digest")
  [ "$code" = 201 ] || { cat "$WORK/logs/push.out" >&2; die "blob PUT for $repo $digest gave $code"; }
}
log "pushing the big blob $BLOB_DIGEST to $REPO_BIG"
push_blob "$REPO_BIG" "$BLOB_FILE" "$BLOB_DIGEST"

# the small image: one tiny gzip layer, an image config, an OCI manifest tagged latest
S="$WORK/small"
printf 'wharf bench\n' >"$S/hello.txt"
tar -C "$S" -cf "$S/layer.tar" hello.txt
DIFF_ID="sha256:$(sha256sum "$S/layer.tar" | cut -d' ' -f1)"
gzip -n -c "$S/layer.tar" >"$S/layer.tar.gz"
LAYER_DIGEST="sha256:$(sha256sum "$S/layer.tar.gz" | cut -d' ' -f1)"; LAYER_SIZE=$(stat -c %s "$S/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
  "$DIFF_ID" >"$S/config.json"
CONFIG_DIGEST="sha256:$(sha256sum "$S/config.json" | cut -d' ' -f1)"; CONFIG_SIZE=$(stat -c %s "$S/config.json")
MT_MANIFEST="application/vnd.oci.image.manifest.v1+json"
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
  "$MT_MANIFEST" "$CONFIG_DIGEST" "$CONFIG_SIZE" "$LAYER_DIGEST" "$LAYER_SIZE" >"$S/manifest.json"
MANIFEST_DIGEST="sha256:$(sha256sum "$S/manifest.json" | cut -d' ' -f1)"
push_blob "$REPO_SMALL" "$S/layer.tar.gz" "$LAYER_DIGEST"
push_blob "$REPO_SMALL" "$S/config.json" "$CONFIG_DIGEST"
code=$(curl -sS --max-time 30 -o "$WORK/logs/push.out" -w '%{http_code}' -X PUT -H "Content-Type: $MT_MANIFEST" \
       --data-binary @"$S/manifest.json" "$UP/v2/$REPO_SMALL/manifests/latest")
[ "$code" = 201 ] || { cat "$WORK/logs/push.out" >&2; die "manifest PUT gave $code"; }
cp "$S/manifest.json" "$WORK/nginx/www/manifest.json"   # nginx's small file for the HEAD ceiling
ACCEPT="Accept: $MT_MANIFEST, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
code=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' -I -H "$ACCEPT" "$UP/v2/$REPO_SMALL/manifests/latest" || true)
[ "$code" = 200 ] || die "upstream HEAD of $REPO_SMALL:latest gave $code"
# A second blob of the same size: each fresh wharf of phase 1 pulls it first (the fresh-JVM cold pull), so that the
# cold pull of the big blob after it runs on a warm JVM.
BLOB2_FILE="$WORK/blob2.bin"
head -c "$BLOB_BYTES" /dev/urandom >"$BLOB2_FILE"
BLOB2_DIGEST="sha256:$(sha256sum "$BLOB2_FILE" | cut -d' ' -f1)"
push_blob "$REPO_BIG" "$BLOB2_FILE" "$BLOB2_DIGEST"
# The JIT warm-up blobs: copies of the second blob, each with its first 16 bytes changed (so a digest of its own).
WARM_DIGESTS=()
for i in $(seq 1 "$JIT_WARMUP"); do
  printf 'wharf-jit-%06d' "$i" | dd of="$BLOB2_FILE" bs=16 count=1 conv=notrunc status=none
  d="sha256:$(sha256sum "$BLOB2_FILE" | cut -d' ' -f1)"
  push_blob "$REPO_BIG" "$BLOB2_FILE" "$d"
  WARM_DIGESTS+=("$d")
done
rm -f "$BLOB2_FILE"
log "seeded: blobs $BLOB_DIGEST and $BLOB2_DIGEST ($BLOB_BYTES bytes each), $JIT_WARMUP JIT warm-up blobs of the same size, $REPO_SMALL:latest = $MANIFEST_DIGEST"

# --- the SHA-256 limit of this machine: the JDK's SHA-256 (what a fill uses) over the blob, from the page cache
note_load "0-sha256"
HASH_OUT=$(java "$BENCH/Sha256Rate.java" "$BLOB_FILE" 3 2>"$WORK/logs/sha256.err") || { cat "$WORK/logs/sha256.err" >&2; die "Sha256Rate failed"; }
HASH_S=$(printf '%s\n' "$HASH_OUT" | sed -n 's/^seconds=\([0-9.]*\) .*/\1/p')
[ "$(printf '%s\n' "$HASH_OUT" | sed -n 's/.*digest=//p')" = "$BLOB_DIGEST" ] || die "Sha256Rate hashed the blob to something else: $HASH_OUT"
log "SHA-256 of the blob (JDK): $HASH_S s"

# --- nginx serving the same blob as a static file
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  log_not_found off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 65s;
  types { application/octet-stream bin; application/vnd.oci.image.manifest.v1+json json; }
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/nginx/www;
  }
  server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl;
    ssl_certificate $WORK/tls/tls.crt;
    ssl_certificate_key $WORK/tls/tls.key;
    root $WORK/nginx/www;
  }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/logs/nginx.log" 2>&1 &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
wait_http "$NGINX/manifest.json" "$NGINX_PID" 20 || { cat "$WORK/logs/nginx.log" >&2; die "nginx did not start"; }

# --- the second peer for phase 3: nginx as a caching proxy of the upstream with proxy_cache_lock, so concurrent
# misses of one URL make one upstream request and the others wait for it to be cached (whole) before they are served
cat >"$WORK/nginx-lock/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx-lock/nginx.pid;
error_log $WORK/nginx-lock/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $WORK/nginx-lock/tmp;
  proxy_temp_path $WORK/nginx-lock/tmp;
  fastcgi_temp_path $WORK/nginx-lock/tmp;
  uwsgi_temp_path $WORK/nginx-lock/tmp;
  scgi_temp_path $WORK/nginx-lock/tmp;
  proxy_cache_path $WORK/nginx-lock/cache levels=1:2 keys_zone=blobs:10m max_size=16g inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:$NGINX_LOCK_PORT;
    location / {
      proxy_pass $UP;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache blobs;
      proxy_cache_valid 200 1h;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 600s;
      proxy_cache_lock_age 600s;
      proxy_read_timeout 600s;
    }
  }
}
EOF
NGINX_LOCK_PID=""; NGINX_LOCK_RUNS=0
nginx_lock_stop() { [ -n "$NGINX_LOCK_PID" ] || return 0; stop_pid "$NGINX_LOCK_PID"; NGINX_LOCK_PID=""; }
nginx_lock_start_fresh() {
  nginx_lock_stop
  rm -rf "$WORK/nginx-lock/cache"; mkdir -p "$WORK/nginx-lock/cache"
  NGINX_LOCK_RUNS=$((NGINX_LOCK_RUNS + 1))
  nginx -p "$WORK/nginx-lock" -c "$WORK/nginx-lock/nginx.conf" -g 'daemon off;' \
    >"$WORK/logs/nginx-lock-$NGINX_LOCK_RUNS.log" 2>&1 &
  NGINX_LOCK_PID=$!; PIDS+=("$NGINX_LOCK_PID")
  wait_http "$NGINX_LOCK/v2/" "$NGINX_LOCK_PID" 20 \
    || { cat "$WORK/logs/nginx-lock-$NGINX_LOCK_RUNS.log" "$WORK/nginx-lock/error.log" >&2; die "nginx (proxy_cache_lock) did not start"; }
}

# --- wharf and the peer: (re)started with an emptied storage dir whenever a cold cache is needed
cat >"$WORK/wharf.yml" <<EOF
listen: 127.0.0.1:$WHARF_PORT
storage:
  path: $WORK/wharf-data
projects:
  - name: $PROJECT
    upstream: $UP
    tagTtl: 1h
EOF
cat >"$WORK/peer.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/peer-data
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$PEER_PORT
proxy:
  remoteurl: $UP
EOF

WHARF_PID=""; WHARF_RUNS=0; WHARF_HWM_MAX_KB=0; WHARF_HWM_LAST_KB=0; WHARF_HWMS=(); WHARF_READY_S=""
wharf_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
wharf_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
reset_hwm() {  # PID: VmHWM back to the current RSS (Linux: clear_refs 5), or die: a peak must not be mislabelled
  { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null || die "cannot reset wharf's peak RSS (/proc/$1/clear_refs)"
  local hwm rss; hwm=$(wharf_hwm_kb "$1"); rss=$(wharf_rss_kb "$1")
  [ "$hwm" -le $((rss + 4096)) ] || die "VmHWM ($hwm kB) did not drop to VmRSS ($rss kB) after clear_refs"
}
mib() { calc "${1:-0} / 1024" %.0f; }
wharf_stop() {
  [ -n "$WHARF_PID" ] || return 0
  local hwm; hwm=$(wharf_hwm_kb "$WHARF_PID"); hwm=${hwm:-0}
  WHARF_HWM_LAST_KB=$hwm
  WHARF_HWMS+=("$((hwm / 1024))")
  [ "$hwm" -gt "$WHARF_HWM_MAX_KB" ] && WHARF_HWM_MAX_KB=$hwm
  stop_pid "$WHARF_PID"; WHARF_PID=""
}
wharf_start_fresh() {  # wharf_start_fresh [nocds]: a new JVM on an emptied storage dir; WHARF_READY_S = s to ready
  wharf_stop
  rm -rf "$WORK/wharf-data"; mkdir -p "$WORK/wharf-data"
  WHARF_RUNS=$((WHARF_RUNS + 1))
  local wlog="$WORK/logs/wharf-$WHARF_RUNS.log" cds="$CDS_OPTS" t0
  [ "${1:-}" = nocds ] && cds=""
  t0=$(now_ns)
  if [ "${WHARF_LAUNCHER:-0}" = 1 ]; then
    (cd "$ROOT" && exec ./wharf serve --config "$WORK/wharf.yml") >"$wlog" 2>&1 &
  else
    # shellcheck disable=SC2086
    (cd "$ROOT" && exec env "${WHARF_ENV[@]}" java $cds ${JAVA_OPTS} -jar "$WORK/wharf.jar" serve --config "$WORK/wharf.yml") >"$wlog" 2>&1 &
  fi
  WHARF_PID=$!; PIDS+=("$WHARF_PID")
  local i code=""
  for i in $(seq 1 6000); do  # /readyz every 50 ms for at most 300 s
    kill -0 "$WHARF_PID" 2>/dev/null || break
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$WHARF/readyz" || true)
    [ "$code" = 200 ] && break
    sleep 0.05
  done
  [ "$code" = 200 ] || { tail -30 "$wlog" >&2; die "wharf did not become ready (log: $wlog)"; }
  WHARF_READY_S=$(secs_since "$t0")
}
PEER_PID=""; PEER_RUNS=0
peer_stop() { [ -n "$PEER_PID" ] || return 0; stop_pid "$PEER_PID"; PEER_PID=""; }
peer_start_fresh() {
  peer_stop
  rm -rf "$WORK/peer-data"; mkdir -p "$WORK/peer-data"
  PEER_RUNS=$((PEER_RUNS + 1))
  docker-registry serve "$WORK/peer.yml" >"$WORK/logs/peer-$PEER_RUNS.log" 2>&1 &
  PEER_PID=$!; PIDS+=("$PEER_PID")
  wait_http "$PEER/v2/" "$PEER_PID" 30 || { tail -20 "$WORK/logs/peer-$PEER_RUNS.log" >&2; die "peer did not start"; }
}

# ---------------------------------------------------------------------------------------------------------------
# measuring helpers

# upstream bytes: the sum of the byte counts of the upstream access log's GET lines for the big blob, from a line
# offset on. The log line is written when a response ends (also when it is cut short).
up_lines() { wc -l <"$UP_LOG"; }
up_blob_bytes_since() {
  tail -n +"$(($1 + 1))" "$UP_LOG" | awk -v d="$BLOB_DIGEST" '
    $6 == "\"GET" && index($7, "/blobs/" d) > 0 && $8 ~ /^HTTP/ && $10 ~ /^[0-9]+$/ { s += $10 }
    END { printf "%.0f", s + 0 }'
}
up_io() { awk '/^(rchar|wchar):/ { s += $2 } END { printf "%.0f", s }' "/proc/$UP_PID/io" 2>/dev/null || echo 0; }
wait_upstream_idle() {  # until the upstream has read+written < 1 MiB in a second, 3 times in a row (max 120 s)
  local a b calm=0 i
  a=$(up_io)
  for i in $(seq 1 240); do
    sleep 0.5; b=$(up_io)
    if [ $((b - a)) -lt 524288 ]; then calm=$((calm + 1)); else calm=0; fi
    a=$b
    [ "$calm" -ge 6 ] && return 0
  done
  log "upstream still busy after 120 s"
}

# fetch URL OUT: GET with curl to /dev/null; writes "http_code size_download" to OUT
CURL_EXTRA=()   # phase 2b sets the CA and HTTP/1.1 here
# (a third field: seconds to the first byte of the body, curl's time_starttransfer)
fetch() { curl -s --max-time "$CURL_MAX" "${CURL_EXTRA[@]}" -o /dev/null -w '%{http_code} %{size_download} %{time_starttransfer}\n' "$1" >"$2" 2>&1 || true; }
check_fetch() {  # check_fetch OUT WHAT URL: 200 and the whole blob, or a recorded failure with the response
  local got; got=$(awk '{ print $1, $2 }' "$1" 2>/dev/null || echo "none")
  if [ "$got" = "200 $BLOB_BYTES" ]; then return 0; fi
  [ -n "${4:-}" ] && return 1   # quiet: the caller reports
  local resp; resp=$(curl -s --max-time 10 -D - -r 0-199 "$3" 2>&1 | tr -d '\r' | tr '\n' ' ' | head -c 700 || true)
  fail_note "$2: GET $3 -> '$got' (want '200 $BLOB_BYTES'); a GET of bytes 0-199 now answers: $resp"
  return 1
}

# CPU time of the whole machine so far (every process: the clients, the upstream, the proxy), in clock ticks, from
# /proc/stat's first line: user + nice + system + irq + softirq + steal
machine_ticks() { awk 'NR == 1 { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
TICK_HZ=$(getconf CLK_TCK)
CORES=$(nproc)
cpu_since() {  # TICKS: CPU-seconds of the machine since then -> $WORK/logs/cpu.last
  calc "($(machine_ticks) - $1) / $TICK_HZ" >"$WORK/logs/cpu.last"
}
# CPU of wharf's JIT compiler threads so far, ms
jit_ms() {  # (cat, not awk's file list: a thread that exits meanwhile must not stop the sum)
  cat /proc/"$1"/task/*/stat 2>/dev/null | awk -v hz="$TICK_HZ" '{ s = $0; a = index(s, "("); b = index(s, ")"); name = substr(s, a + 1, b - a - 1);
       if (name ~ /^C[12] Compiler/) { split(substr(s, b + 2), r, " "); t += r[12] + r[13] } }
       END { printf "%d\n", t * 1000 / hz }'
}
warm_jit() {  # JIT_WARMUP cold pulls through the running wharf of blobs it has not seen (see JIT_WARMUP)
  local d
  for d in "${WARM_DIGESTS[@]}"; do
    pull_timed "$WHARF/v2/$PROJECT/$REPO_BIG/blobs/$d" "wharf JIT warm-up pull" >/dev/null || true
  done
  wait_upstream_idle
}

# pull_timed URL WHAT: one GET of the big blob; prints wall seconds; the machine's CPU-seconds meanwhile go to
# $WORK/logs/cpu.last
pull_timed() {
  local t0 s out="$WORK/logs/fetch.out" c0
  c0=$(machine_ticks); t0=$(now_ns); fetch "$1" "$out"; s=$(secs_since "$t0"); cpu_since "$c0"
  check_fetch "$out" "$2" "$1" || return 1
  echo "$s"
}
# pull_parallel URL N WHAT: N GETs at once; prints wall seconds until all N are done; the slowest client's first byte
# (seconds from the start) goes to $WORK/logs/ttfb.last
pull_parallel() {
  local url="$1" n="$2" what="$3" t0 s i pids=() c0
  c0=$(machine_ticks); t0=$(now_ns)
  for i in $(seq 1 "$n"); do fetch "$url" "$WORK/logs/fetch.$i.out" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || true; done
  s=$(secs_since "$t0"); cpu_since "$c0"
  awk 'BEGIN { m = 0 } $3 + 0 > m { m = $3 + 0 } END { printf "%.3f\n", m }' "$WORK"/logs/fetch.[0-9]*.out \
    >"$WORK/logs/ttfb.last" 2>/dev/null || echo n/a >"$WORK/logs/ttfb.last"
  local bad=0 first=0
  for i in $(seq 1 "$n"); do
    if ! check_fetch "$WORK/logs/fetch.$i.out" "" "$url" quiet; then bad=$((bad + 1)); [ "$first" = 0 ] && first=$i; fi
  done
  if [ "$bad" -gt 0 ]; then
    check_fetch "$WORK/logs/fetch.$first.out" "$what: $bad of $n clients failed, e.g. client $first" "$url" || true
    return 1
  fi
  echo "$s"
}
mbps() { isnum "$2" && calc "$1 / $2 / 1e6" "%.1f" || echo "n/a"; }   # MB/s, MB = 10^6 bytes

W_BLOB="$WHARF/v2/$PROJECT/$REPO_BIG/blobs/$BLOB_DIGEST"
P_BLOB="$PEER/v2/$REPO_BIG/blobs/$BLOB_DIGEST"
U_BLOB="$UP/v2/$REPO_BIG/blobs/$BLOB_DIGEST"
W_BLOB2="$WHARF/v2/$PROJECT/$REPO_BIG/blobs/$BLOB2_DIGEST"
L_BLOB="$NGINX_LOCK/v2/$REPO_BIG/blobs/$BLOB_DIGEST"
N_BLOB="$NGINX/blob.bin"

# ---------------------------------------------------------------------------------------------------------------
# 1. one cold pull: wharf, peer, direct. Cold = wharf / the peer restarted on an emptied storage dir before every
#    repetition. Each fresh wharf first pulls the second blob (the fresh-JVM cold pull: the first request after
#    start, with the class-data-sharing archive as the launcher uses it), then the big blob (the cold pull on a warm
#    JVM); then once more without the archive (fresh JVM, no CDS). The upstream's files stay in the page cache
#    throughout, the same for all paths.
COLD_DIRECT=(); COLD_WHARF=(); COLD_PEER=(); UPX1_WHARF=(); UPX1_PEER=()
MCPU1_DIRECT=(); MCPU1_WHARF=(); MCPU1_PEER=(); JIT1_WHARF=(); MCPUF_WHARF=(); JITF_WHARF=()
FRESH_WHARF=(); FRESH_NOCDS=(); READY_CDS=(); READY_NOCDS=()
note_load "1-cold"
log "1. one cold pull x$REPEAT (direct, wharf fresh JVM then warm JVM, wharf without CDS, peer)"
for r in $(seq 1 "$REPEAT"); do
  sync
  if t=$(pull_timed "$U_BLOB" "direct pull"); then COLD_DIRECT+=("$t"); MCPU1_DIRECT+=("$(cat "$WORK/logs/cpu.last")"); fi

  wharf_start_fresh; sync
  [ -z "$CDS_OPTS" ] || READY_CDS+=("$WHARF_READY_S")
  j0=$(jit_ms "$WHARF_PID")
  if t=$(pull_timed "$W_BLOB2" "wharf fresh-JVM cold pull"); then
    FRESH_WHARF+=("$t"); MCPUF_WHARF+=("$(cat "$WORK/logs/cpu.last")"); JITF_WHARF+=("$(( $(jit_ms "$WHARF_PID") - j0 ))")
  fi
  wait_upstream_idle
  warm_jit; sync; sleep 1
  off=$(up_lines); j0=$(jit_ms "$WHARF_PID")
  ok=0; if t=$(pull_timed "$W_BLOB" "wharf cold pull"); then
    COLD_WHARF+=("$t"); ok=1; MCPU1_WHARF+=("$(cat "$WORK/logs/cpu.last")"); JIT1_WHARF+=("$(( $(jit_ms "$WHARF_PID") - j0 ))")
  fi
  wait_upstream_idle; wharf_stop; sleep 0.5
  [ "$ok" = 0 ] || UPX1_WHARF+=("$(calc "$(up_blob_bytes_since "$off") / $BLOB_BYTES")")

  wharf_start_fresh nocds; sync
  READY_NOCDS+=("$WHARF_READY_S")
  if t=$(pull_timed "$W_BLOB2" "wharf fresh-JVM cold pull without CDS"); then FRESH_NOCDS+=("$t"); fi
  wait_upstream_idle; wharf_stop; sleep 0.5

  peer_start_fresh; sync
  off=$(up_lines)
  ok=0; if t=$(pull_timed "$P_BLOB" "peer cold pull"); then COLD_PEER+=("$t"); ok=1; MCPU1_PEER+=("$(cat "$WORK/logs/cpu.last")"); fi
  wait_upstream_idle; peer_stop; sleep 0.5
  [ "$ok" = 0 ] || UPX1_PEER+=("$(calc "$(up_blob_bytes_since "$off") / $BLOB_BYTES")")
  log "  rep $r: direct ${COLD_DIRECT[*]: -1} s, wharf fresh JVM ${FRESH_WHARF[*]: -1} s (no CDS ${FRESH_NOCDS[*]: -1} s), warm JVM ${COLD_WHARF[*]: -1} s (${UPX1_WHARF[*]: -1}x up), peer ${COLD_PEER[*]: -1} s (${UPX1_PEER[*]: -1}x up); ready in ${READY_CDS[*]: -1} s (no CDS ${READY_NOCDS[*]: -1} s)"
done

# ---------------------------------------------------------------------------------------------------------------
# 3. PARALLEL concurrent cold clients of the same blob: wharf, the peer and nginx with proxy_cache_lock, fresh caches
#    each repetition; the slowest client's first byte; wharf's RSS idle (after start), its peak through the JIT
#    warm-up, and its peak during the pulls (VmHWM reset after the warm-up)
CONC_WHARF=(); CONC_PEER=(); CONC_LOCK=(); UPXN_WHARF=(); UPXN_PEER=(); UPXN_LOCK=()
TTFB_WHARF=(); TTFB_PEER=(); TTFB_LOCK=(); RSS_IDLE=(); RSS_COLDN=(); RSS_WARMUP=(); RSS_BEFORE=()
MCPUN_WHARF=(); MCPUN_PEER=(); MCPUN_LOCK=(); JITN_WHARF=()
note_load "3-concurrent-cold"
log "3. $PARALLEL concurrent cold clients x$REPEAT (wharf, peer, nginx proxy_cache_lock)"
for r in $(seq 1 "$REPEAT"); do
  wharf_start_fresh; sync; sleep 1
  RSS_IDLE+=("$(mib "$(wharf_rss_kb "$WHARF_PID")")")
  warm_jit; sync; sleep 1
  # The peak so far (start and JIT warm-up: C2's compiler arenas, freed again) is kept apart; then VmHWM is reset
  # to the current RSS (clear_refs 5), so the VmHWM read after the pulls is the peak during the pulls themselves.
  RSS_WARMUP+=("$(mib "$(wharf_hwm_kb "$WHARF_PID")")")
  reset_hwm "$WHARF_PID"
  RSS_BEFORE+=("$(mib "$(wharf_rss_kb "$WHARF_PID")")")
  off=$(up_lines); j0=$(jit_ms "$WHARF_PID")
  ok=0; if t=$(pull_parallel "$W_BLOB" "$PARALLEL" "wharf $PARALLEL concurrent cold"); then
    CONC_WHARF+=("$t"); ok=1; MCPUN_WHARF+=("$(cat "$WORK/logs/cpu.last")"); JITN_WHARF+=("$(( $(jit_ms "$WHARF_PID") - j0 ))")
  fi
  TTFB_WHARF+=("$(cat "$WORK/logs/ttfb.last")")
  RSS_COLDN+=("$(mib "$(wharf_hwm_kb "$WHARF_PID")")")
  wait_upstream_idle; wharf_stop; sleep 0.5
  [ "$ok" = 0 ] || UPXN_WHARF+=("$(calc "$(up_blob_bytes_since "$off") / $BLOB_BYTES")")

  peer_start_fresh; sync
  off=$(up_lines)
  ok=0; if t=$(pull_parallel "$P_BLOB" "$PARALLEL" "peer $PARALLEL concurrent cold"); then CONC_PEER+=("$t"); ok=1; MCPUN_PEER+=("$(cat "$WORK/logs/cpu.last")"); fi
  TTFB_PEER+=("$(cat "$WORK/logs/ttfb.last")")
  wait_upstream_idle; peer_stop; sleep 0.5
  [ "$ok" = 0 ] || UPXN_PEER+=("$(calc "$(up_blob_bytes_since "$off") / $BLOB_BYTES")")

  nginx_lock_start_fresh; sync
  off=$(up_lines)
  ok=0; if t=$(pull_parallel "$L_BLOB" "$PARALLEL" "nginx proxy_cache_lock $PARALLEL concurrent cold"); then CONC_LOCK+=("$t"); ok=1; MCPUN_LOCK+=("$(cat "$WORK/logs/cpu.last")"); fi
  TTFB_LOCK+=("$(cat "$WORK/logs/ttfb.last")")
  wait_upstream_idle; nginx_lock_stop; sleep 0.5
  [ "$ok" = 0 ] || UPXN_LOCK+=("$(calc "$(up_blob_bytes_since "$off") / $BLOB_BYTES")")
  log "  rep $r: wharf ${CONC_WHARF[*]: -1} s (${UPXN_WHARF[*]: -1}x up, slowest first byte ${TTFB_WHARF[*]: -1} s, RSS idle ${RSS_IDLE[*]: -1} MiB, peak in the warm-up ${RSS_WARMUP[*]: -1} MiB, before the pulls ${RSS_BEFORE[*]: -1} MiB, peak during them ${RSS_COLDN[*]: -1} MiB), peer ${CONC_PEER[*]: -1} s (${UPXN_PEER[*]: -1}x up, ${TTFB_PEER[*]: -1} s), nginx lock ${CONC_LOCK[*]: -1} s (${UPXN_LOCK[*]: -1}x up, ${TTFB_LOCK[*]: -1} s)"
done
rm -rf "$WORK/nginx-lock/cache"

# ---------------------------------------------------------------------------------------------------------------
# warm caches for 2. and 4.: one wharf and one peer, filled once, then kept for the rest of the run
log "warming wharf and the peer (blob, manifest by tag and by digest)"
wharf_start_fresh
peer_start_fresh
W_MAN_TAG="$WHARF/v2/$PROJECT/$REPO_SMALL/manifests/latest"
W_MAN_DIG="$WHARF/v2/$PROJECT/$REPO_SMALL/manifests/$MANIFEST_DIGEST"
P_MAN_TAG="$PEER/v2/$REPO_SMALL/manifests/latest"
P_MAN_DIG="$PEER/v2/$REPO_SMALL/manifests/$MANIFEST_DIGEST"
N_SMALL="$NGINX/manifest.json"
WARM_OK=1
if ! pull_timed "$W_BLOB" "wharf warm-up pull" >/dev/null; then WARM_OK=0; fi
pull_timed "$P_BLOB" "peer warm-up pull" >/dev/null || true
wait_upstream_idle
# content check: what wharf serves warm is the blob (outside any timing)
got=$(curl -s --max-time "$CURL_MAX" "$W_BLOB" | sha256sum | cut -d' ' -f1 || true)
[ "sha256:$got" = "$BLOB_DIGEST" ] || { fail_note "wharf warm blob content: sha256:$got, want $BLOB_DIGEST"; WARM_OK=0; }
for u in "$W_MAN_TAG" "$W_MAN_DIG" "$P_MAN_TAG" "$P_MAN_DIG"; do
  resp=$(curl -s --max-time 30 -H "$ACCEPT" -D - -o "$WORK/logs/manifest.out" "$u" | tr -d '\r' || true)
  code=$(printf '%s\n' "$resp" | head -1 | awk '{ print $2 }')
  dcd=$(printf '%s\n' "$resp" | awk 'tolower($1) == "docker-content-digest:" { print $2 }')
  if [ "$code" != 200 ] || ! cmp -s "$WORK/logs/manifest.out" "$S/manifest.json"; then
    fail_note "manifest GET $u -> $(printf '%s\n' "$resp" | head -1), body $(head -c 300 "$WORK/logs/manifest.out")"
  elif [ "$dcd" != "$MANIFEST_DIGEST" ]; then
    fail_note "manifest GET $u: Docker-Content-Digest '$dcd', want $MANIFEST_DIGEST"
  fi
  hcode=$(curl -s --max-time 30 -I -H "$ACCEPT" -o /dev/null -w '%{http_code}' "$u" || true)
  [ "$hcode" = 200 ] || fail_note "manifest HEAD $u -> $hcode"
done

# ---------------------------------------------------------------------------------------------------------------
# 2. warm throughput: wharf vs nginx static, 1 stream and PARALLEL streams (total bytes / wall time)
WARM1_WHARF=(); WARM1_NGINX=(); WARM1_PEER=(); WARMN_WHARF=(); WARMN_NGINX=()
note_load "2-warm"
log "2. warm throughput x$REPEAT_WARM (1 and $PARALLEL streams, wharf and nginx)"
for r in $(seq 1 "$REPEAT_WARM"); do
  if [ "$WARM_OK" = 1 ] && t=$(pull_timed "$W_BLOB" "wharf warm 1 stream"); then WARM1_WHARF+=("$(mbps "$BLOB_BYTES" "$t")"); fi
  if t=$(pull_timed "$N_BLOB" "nginx 1 stream"); then WARM1_NGINX+=("$(mbps "$BLOB_BYTES" "$t")"); fi
  if t=$(pull_timed "$P_BLOB" "peer warm 1 stream"); then WARM1_PEER+=("$(mbps "$BLOB_BYTES" "$t")"); fi
  if [ "$WARM_OK" = 1 ] && t=$(pull_parallel "$W_BLOB" "$PARALLEL" "wharf warm $PARALLEL streams"); then
    WARMN_WHARF+=("$(mbps "$((BLOB_BYTES * PARALLEL))" "$t")"); fi
  if t=$(pull_parallel "$N_BLOB" "$PARALLEL" "nginx $PARALLEL streams"); then
    WARMN_NGINX+=("$(mbps "$((BLOB_BYTES * PARALLEL))" "$t")"); fi
  log "  rep $r: 1 stream wharf ${WARM1_WHARF[*]: -1} MB/s nginx ${WARM1_NGINX[*]: -1} MB/s peer ${WARM1_PEER[*]: -1} MB/s; $PARALLEL streams wharf ${WARMN_WHARF[*]: -1} MB/s nginx ${WARMN_NGINX[*]: -1} MB/s"
done

# ---------------------------------------------------------------------------------------------------------------
# 2b. warm throughput over HTTPS, 1 stream: a second wharf serving TLS (its own storage, warmed once) against nginx
# serving the same file over TLS with the same certificate; both HTTP/1.1 (curl --http1.1), so the protocols match.
WARM1_WHARF_TLS=(); WARM1_NGINX_TLS=()
note_load "2b-https"
log "2b. warm throughput over HTTPS x$REPEAT_WARM (1 stream, wharf and nginx)"
mkdir -p "$WORK/wharf-tls-data"
cat >"$WORK/wharf-tls.yml" <<EOF
listen: 127.0.0.1:$WHARF_TLS_PORT
storage:
  path: $WORK/wharf-tls-data
tls:
  cert: $WORK/tls/tls.crt
  key: $WORK/tls/tls.key
projects:
  - name: $PROJECT
    upstream: $UP
    tagTtl: 1h
EOF
# shellcheck disable=SC2086
(cd "$ROOT" && exec env "${WHARF_ENV[@]}" java $CDS_OPTS ${JAVA_OPTS} -jar "$WORK/wharf.jar" serve --config "$WORK/wharf-tls.yml") \
  >"$WORK/logs/wharf-tls.log" 2>&1 &
WHARF_TLS_PID=$!; PIDS+=("$WHARF_TLS_PID")
CURL_EXTRA=(--cacert "$WORK/tls/ca.crt" --http1.1)
WT_BLOB="https://127.0.0.1:$WHARF_TLS_PORT/v2/$PROJECT/$REPO_BIG/blobs/$BLOB_DIGEST"
NT_BLOB="https://127.0.0.1:$NGINX_TLS_PORT/blob.bin"
TLS_OK=1
for _ in $(seq 1 300); do
  curl -s --max-time 2 "${CURL_EXTRA[@]}" -o /dev/null "https://127.0.0.1:$WHARF_TLS_PORT/readyz" && break
  kill -0 "$WHARF_TLS_PID" 2>/dev/null || break
  sleep 0.2
done
if ! pull_timed "$WT_BLOB" "wharf over HTTPS warm-up pull" >/dev/null; then TLS_OK=0; fi
wait_upstream_idle
for r in $(seq 1 "$REPEAT_WARM"); do
  if [ "$TLS_OK" = 1 ] && t=$(pull_timed "$WT_BLOB" "wharf warm 1 stream over HTTPS"); then
    WARM1_WHARF_TLS+=("$(mbps "$BLOB_BYTES" "$t")"); fi
  if t=$(pull_timed "$NT_BLOB" "nginx 1 stream over HTTPS"); then WARM1_NGINX_TLS+=("$(mbps "$BLOB_BYTES" "$t")"); fi
  log "  rep $r: HTTPS 1 stream wharf ${WARM1_WHARF_TLS[*]: -1} MB/s nginx ${WARM1_NGINX_TLS[*]: -1} MB/s"
done
CURL_EXTRA=()
stop_pid "$WHARF_TLS_PID"; forget_pid "$WHARF_TLS_PID"

# ---------------------------------------------------------------------------------------------------------------
# 4. manifest HEAD rate on a warm cache: bench/headload, HEAD_CONNS keep-alive connections, HEAD_SECONDS each
note_load "4-head"
log "4. HEAD rates x$REPEAT_FAST (${HEAD_CONNS// /, } connections, ${HEAD_SECONDS} s each)"
# the load generator checked against nginx first: a file that exists is all 2xx, one that does not is all non-2xx
chk_ok=$("$WORK/headload" -url "$N_SMALL" -c 8 -d 1s -warmup 0s)
chk_404=$("$WORK/headload" -url "$NGINX/missing" -c 8 -d 1s -warmup 0s)
kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
if [ "$(kv "$chk_ok" non2xx)" != 0 ] || [ "$(kv "$chk_ok" ok)" -lt 100 ] || [ "$(kv "$chk_404" ok)" != 0 ] \
   || [ "$(kv "$chk_404" non2xx)" -lt 100 ]; then
  die "headload self-check against nginx failed: '$chk_ok' / '$chk_404'"
fi
log "  headload self-check: nginx 200: $chk_ok; nginx 404: $chk_404"
declare -A HEAD_RPS=() HEAD_NON2XX=() HEAD_ERR=()
head_run() {  # head_run KEY URL CONNECTIONS
  local out
  out=$("$WORK/headload" -url "$2" -H "$ACCEPT" -c "$3" -d "${HEAD_SECONDS}s" -warmup 1s) || out="rps=n/a non2xx=n/a errors=n/a"
  printf '%s %s\n' "$1" "$out" >>"$WORK/logs/headload.log"
  HEAD_RPS[$1]+="$(kv "$out" rps) "
  local n e; n=$(kv "$out" non2xx); e=$(kv "$out" errors)
  [[ "$n" =~ ^[0-9]+$ ]] && [[ "$e" =~ ^[0-9]+$ ]] || { fail_note "headload $1 $2: $out"; n=0; e=0; }
  [ "$n" = 0 ] || fail_note "headload $1 $2: $n non-2xx responses ($out)"
  HEAD_NON2XX[$1]=$(( ${HEAD_NON2XX[$1]:-0} + n ))
  HEAD_ERR[$1]=$(( ${HEAD_ERR[$1]:-0} + e ))
}
# An untimed run against each of wharf's targets first: the JIT compiles the HEAD path before the measured runs
# (the peer and nginx have no JIT to warm).
for u in "$W_MAN_TAG" "$W_MAN_DIG"; do
  "$WORK/headload" -url "$u" -H "$ACCEPT" -c 32 -d "${HEAD_WARMUP}s" -warmup 0s >/dev/null || true
done
for r in $(seq 1 "$REPEAT_FAST"); do
  for c in $HEAD_CONNS; do
    head_run "wharf_tag_$c" "$W_MAN_TAG" "$c"
    head_run "wharf_digest_$c" "$W_MAN_DIG" "$c"
    head_run "peer_tag_$c" "$P_MAN_TAG" "$c"
    head_run "peer_digest_$c" "$P_MAN_DIG" "$c"
    head_run "nginx_$c" "$N_SMALL" "$c"
    log "  rep $r, $c connections: $(for k in wharf_tag wharf_digest peer_tag peer_digest nginx; do printf '%s %s/s  ' "$k" "$(echo "${HEAD_RPS[${k}_$c]}" | awk '{ print $NF }')"; done)"
  done
done
# wharf's RSS after the HEAD load (the warm wharf that served phases 2 and 4)
RSS_AFTER_HEAD=$(mib "$(wharf_rss_kb "$WHARF_PID")")

# ---------------------------------------------------------------------------------------------------------------
# 5. peak RSS of wharf: VmHWM of every wharf process, read just before it is stopped
wharf_stop
peer_stop
END_EPOCH=$(date +%s)
note_load "end"

# ---------------------------------------------------------------------------------------------------------------
# results
m() { local name="$1[@]"; local a=("${!name}"); if [ ${#a[@]} -eq 0 ]; then echo "n/a"; else median "${a[@]}"; fi; }
all() { local name="$1[@]"; local a=("${!name}"); list "${a[@]}"; }
hm() { local v; v=$(echo "${HEAD_RPS[$1]:-}" | xargs); if [ -z "$v" ] || [[ "$v" == *n/a* ]]; then echo "n/a"; else median $v; fi; }
met() {  # met EXPR-with-numbers... ; prints met / NOT met / n/a
  local e="$1"; shift
  for v in "$@"; do isnum "$v" || { echo "n/a (not measured)"; return; }; done
  if [ "$(calc "$e" %d)" = 1 ]; then echo "**met**"; else echo "**NOT met**"; fi
}
C_DIRECT=$(m COLD_DIRECT); C_WHARF=$(m COLD_WHARF); C_PEER=$(m COLD_PEER)
F_WHARF=$(m FRESH_WHARF); F_NOCDS=$(m FRESH_NOCDS); R_CDS=$(m READY_CDS); R_NOCDS=$(m READY_NOCDS)
U1_WHARF=$(m UPX1_WHARF); U1_PEER=$(m UPX1_PEER)
N_WHARF=$(m CONC_WHARF); N_PEER=$(m CONC_PEER); N_LOCK=$(m CONC_LOCK)
UN_WHARF=$(m UPXN_WHARF); UN_PEER=$(m UPXN_PEER); UN_LOCK=$(m UPXN_LOCK)
FB_WHARF=$(m TTFB_WHARF); FB_PEER=$(m TTFB_PEER); FB_LOCK=$(m TTFB_LOCK)
W1T_WHARF=$(m WARM1_WHARF_TLS); W1T_NGINX=$(m WARM1_NGINX_TLS)
W1_WHARF=$(m WARM1_WHARF); W1_NGINX=$(m WARM1_NGINX); W1_PEER=$(m WARM1_PEER); WN_WHARF=$(m WARMN_WHARF); WN_NGINX=$(m WARMN_NGINX)
RSS_MAX_MB=$(calc "$WHARF_HWM_MAX_KB / 1024" %.0f); RSS_LAST_MB=$(calc "$WHARF_HWM_LAST_KB / 1024" %.0f)
M_RSS_IDLE=$(m RSS_IDLE); M_RSS_COLDN=$(m RSS_COLDN); M_RSS_WARMUP=$(m RSS_WARMUP); M_RSS_BEFORE=$(m RSS_BEFORE)
MC1_DIRECT=$(m MCPU1_DIRECT); MC1_WHARF=$(m MCPU1_WHARF); MC1_PEER=$(m MCPU1_PEER); J1_WHARF=$(m JIT1_WHARF)
MCF_WHARF=$(m MCPUF_WHARF); JF_WHARF=$(m JITF_WHARF)
MCN_WHARF=$(m MCPUN_WHARF); MCN_PEER=$(m MCPUN_PEER); MCN_LOCK=$(m MCPUN_LOCK); JN_WHARF=$(m JITN_WHARF)
busy() { isnum "$1" && isnum "$2" && calc "100 * $1 / ($2 * $CORES)" %.0f || echo n/a; }  # CPU-s, wall s -> % of all cores
cpu_cell() { echo "$(fmt "$1") CPU-s, $(busy "$1" "$2") % busy"; }
LIMIT_1=$(isnum "$HASH_S" && isnum "$C_DIRECT" && calc "($HASH_S > $C_DIRECT) ? $HASH_S : $C_DIRECT" || echo n/a)

T_C1=$(met "$C_WHARF <= 1.3 * $LIMIT_1 && $C_WHARF < $C_PEER" "$C_WHARF" "$LIMIT_1" "$C_PEER")
T_F1=$(met "$F_WHARF <= 1.2 * $C_WHARF" "$F_WHARF" "$C_WHARF")
T_UP1=$(met "$U1_WHARF <= 1.005" "$U1_WHARF")
T_UPN=$(met "$UN_WHARF <= 1.005" "$UN_WHARF")
T_CN=$(met "$N_WHARF <= 0.5 * $N_PEER" "$N_WHARF" "$N_PEER")
T_W1=$(met "$W1_WHARF >= $W1_NGINX && $W1_WHARF >= 0.9 * $W1_PEER" "$W1_WHARF" "$W1_NGINX" "$W1_PEER")
T_WN=$(met "$WN_WHARF >= $WN_NGINX" "$WN_WHARF" "$WN_NGINX")
T_RSS=$(met "$M_RSS_COLDN <= 128" "$M_RSS_COLDN")
nz() { local k="$1"; local n="${HEAD_NON2XX[$k]:-0}" e="${HEAD_ERR[$k]:-0}"; echo "$n / $e"; }
head_rows() {  # one table row per HEAD kind and connection count
  local c kind label w p n
  for c in $HEAD_CONNS; do
    for kind in tag digest; do
      w=$(hm "wharf_${kind}_$c"); p=$(hm "peer_${kind}_$c"); n=$(hm "nginx_$c")
      echo "| 4 | manifest HEAD by $kind, warm, $c connections (req/s) | $(fmt_int "$w") | $(fmt_int "$p") | nginx static HEAD $(fmt_int "$n") | wharf/nginx $(ratio "$w" "$n"), wharf/peer $(ratio "$w" "$p") | >= 0.6x nginx | $(met "$w >= 0.6 * $n" "$w" "$n") |"
    done
  done
}
head_reps() {
  local c k
  for c in $HEAD_CONNS; do
    for k in wharf_tag wharf_digest peer_tag peer_digest nginx; do
      echo "| HEAD $k, $c connections (req/s) | $(echo "${HEAD_RPS[${k}_$c]:-}" | xargs) |"
    done
  done
}
head_errors() {
  local c k out=""
  for c in $HEAD_CONNS; do for k in wharf_tag wharf_digest peer_tag peer_digest nginx; do out+="${k} at $c: $(nz "${k}_$c"); "; done; done
  echo "${out%; }"
}

MEM_GIB=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
BLOB_DESC="$BLOB_MB MiB ($BLOB_BYTES bytes)"
CMD="bash bench/run.sh"
if [ "$BLOB_MB" -ne 1024 ] || [ "$REPEAT" -ne 3 ]; then CMD="BLOB_MB=$BLOB_MB REPEAT=$REPEAT bash bench/run.sh"; fi

if [ "${WHARF_LAUNCHER:-0}" = 1 ]; then WHARF_HOW='each wharf started with `./wharf serve --config ...`'
else WHARF_HOW='jar built by `./wharf` at the start, each wharf started as the launcher starts it: `java $JAVA_OPTS -jar wharf.jar serve --config ...`'; fi
mkdir -p "$(dirname "$RESULTS_FILE")"
tmp="$RESULTS_FILE.tmp"
{
cat <<EOF
# wharf benchmark results

Produced by \`$CMD\` on $(date -u '+%Y-%m-%d %H:%M UTC') (run took $(( (END_EPOCH - START_EPOCH) / 60 )) min $(( (END_EPOCH - START_EPOCH) % 60 )) s).
Machine: $(nproc) cores ($CPU), $MEM_GIB GiB memory, Linux $(uname -r). Everything ran on this one machine over
127.0.0.1: the upstream, wharf, the peer, nginx and the clients share the $(nproc) cores. 1-minute load average at
the start of each phase: $(printf '%s, ' "${LOADS[@]}" | sed 's/, $//'). A load average well above the benchmark's own
share means other work (builds, test suites) was running on the machine at the same time, which adds noise to
every number below; the medians damp it, the per-repetition values at the end show it.

Software: wharf $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(cd "$ROOT" && git status --porcelain -- storage auth server pom.xml 2>/dev/null | head -1)" ] && echo ' (with uncommitted changes)') ($WHARF_HOW) on $(java -version 2>&1 | head -1)$( [ -n "$JAVA_OPTS" ] && echo ", JAVA_OPTS=\"$JAVA_OPTS\""),
upstream and peer: $(docker-registry --version 2>/dev/null | awk '{ print $2, $3 }'), $(nginx -v 2>&1 | sed 's/.*: //'), $(curl --version | head -1 | awk '{ print $1, $2 }').

Blob: $BLOB_DESC of random bytes. Medians of $REPEAT repetitions for the cold pulls, $REPEAT_WARM for the warm
throughput and $REPEAT_FAST for the HEAD rates. MB = 10^6 bytes.

**Cold** means an empty cache: before every cold repetition wharf (or the peer) is stopped, its storage directory
is emptied and it is started again (1. says which pull is the first of a fresh JVM and which runs on a warm one).
The upstream's copies of the blobs stay in the page cache throughout, the same for all paths.

## Results

Every figure is beside the peers measured in the same run; the ratio column is what the goal is judged on.

| # | measurement | wharf | peer (distribution proxy) | limit / other peer | ratio | goal | |
|---|---|---|---|---|---|---|---|
| 1 | one cold pull, JVM already warm (s) | $(fmt "$C_WHARF") | $(fmt "$C_PEER") | direct $(fmt "$C_DIRECT"); SHA-256 of the blob (JDK) $(fmt "$HASH_S") | wharf/max(direct, hash) $(ratio "$C_WHARF" "$LIMIT_1"), wharf/peer $(ratio "$C_WHARF" "$C_PEER") | <= 1.3x max(direct, hash) and faster than the peer | $T_C1 |
| 1 | one cold pull, fresh JVM: the first request after start (s) | $(fmt "$F_WHARF") | - | without the CDS archive $(fmt "$F_NOCDS") | fresh/warm JVM $(ratio "$F_WHARF" "$C_WHARF"), no CDS/warm $(ratio "$F_NOCDS" "$C_WHARF") | <= 1.2x the warm-JVM pull | $T_F1 |
| 1 | start-up, launch to /readyz 200 (s) | $(fmt "$R_CDS") | - | without the CDS archive $(fmt "$R_NOCDS") | CDS/no CDS $(ratio "$R_CDS" "$R_NOCDS") | - | |
| 1 | the whole machine's CPU during the warm-JVM cold pull (CPU-seconds of all processes; % of the $CORES cores busy) | $(cpu_cell "$MC1_WHARF" "$C_WHARF") | $(cpu_cell "$MC1_PEER" "$C_PEER") | direct $(cpu_cell "$MC1_DIRECT" "$C_DIRECT") | wharf/peer $(ratio "$MC1_WHARF" "$MC1_PEER") | - | |
| 1 | wharf's JIT compiler threads' CPU during the warm-JVM cold pull (ms) | $(fmt "$J1_WHARF" %.0f) | - | - | - | - | |
| 1 | the fresh-JVM cold pull: the whole machine's CPU; wharf's JIT compiler threads' CPU (ms) | $(cpu_cell "$MCF_WHARF" "$F_WHARF"); JIT $(fmt "$JF_WHARF" %.0f) | - | - | fresh/warm machine CPU $(ratio "$MCF_WHARF" "$MC1_WHARF") | - | |
| 1 | upstream bytes for one cold pull (x blob size) | $(fmt "$U1_WHARF") | $(fmt "$U1_PEER") | - | - | 1.0x | $T_UP1 |
| 2 | warm throughput, 1 stream (MB/s) | $(fmt "$W1_WHARF" %.0f) | $(fmt "$W1_PEER" %.0f) | nginx static $(fmt "$W1_NGINX" %.0f) | wharf/nginx $(ratio "$W1_WHARF" "$W1_NGINX"), wharf/peer $(ratio "$W1_WHARF" "$W1_PEER") | >= 1.0x nginx and >= 0.9x the peer | $T_W1 |
| 2 | warm throughput, $PARALLEL streams (MB/s, total) | $(fmt "$WN_WHARF" %.0f) | - | nginx static $(fmt "$WN_NGINX" %.0f) | wharf/nginx $(ratio "$WN_WHARF" "$WN_NGINX") | >= 1.0x nginx | $T_WN |
| 2b | warm throughput over HTTPS, 1 stream, HTTP/1.1 (MB/s) | $(fmt "$W1T_WHARF" %.0f) | - | nginx with TLS $(fmt "$W1T_NGINX" %.0f) | wharf/nginx $(ratio "$W1T_WHARF" "$W1T_NGINX") | - | |
| 3 | $PARALLEL concurrent cold clients, wall time until all done (s) | $(fmt "$N_WHARF") | $(fmt "$N_PEER") | nginx proxy_cache_lock $(fmt "$N_LOCK") | wharf/peer $(ratio "$N_WHARF" "$N_PEER"), wharf/nginx-lock $(ratio "$N_WHARF" "$N_LOCK") | <= 0.5x the peer | $T_CN |
| 3 | the whole machine's CPU during the $PARALLEL concurrent cold pulls (CPU-seconds; % of the $CORES cores busy) | $(cpu_cell "$MCN_WHARF" "$N_WHARF") | $(cpu_cell "$MCN_PEER" "$N_PEER") | nginx proxy_cache_lock $(cpu_cell "$MCN_LOCK" "$N_LOCK") | wharf/peer $(ratio "$MCN_WHARF" "$MCN_PEER") | - | |
| 3 | $PARALLEL concurrent cold clients, slowest client's first byte (s) | $(fmt "$FB_WHARF") | $(fmt "$FB_PEER") | nginx proxy_cache_lock $(fmt "$FB_LOCK") | wharf/nginx-lock $(ratio "$FB_WHARF" "$FB_LOCK") | - | |
| 3 | upstream bytes for $PARALLEL concurrent cold clients (x blob size) | $(fmt "$UN_WHARF") | $(fmt "$UN_PEER") | nginx proxy_cache_lock $(fmt "$UN_LOCK") | - | 1.0x | $T_UPN |
$(head_rows)
| 5 | wharf RSS: idle after start / before the cold pulls / peak during $PARALLEL cold pulls / after the HEAD load (MiB) | $(fmt "$M_RSS_IDLE" %.0f) / $(fmt "$M_RSS_BEFORE" %.0f) / $(fmt "$M_RSS_COLDN" %.0f) / $(fmt "$RSS_AFTER_HEAD" %.0f) | - | - | - | peak during the cold pulls <= 128 MiB | $T_RSS |
| 5 | wharf peak RSS from start through its JIT warm-up ($JIT_WARMUP cold pulls) (MiB) | $(fmt "$M_RSS_WARMUP" %.0f) | - | - | - | - (reported) | |

wharf's JVM: $JAVA_OPTS_HOW (\`$JAVA_OPTS\`)$( [ -n "$CDS_OPTS" ] && echo ", with the class-data-sharing archive trained from the jar (\`java -XX:ArchiveClassesAtExit=... -jar wharf.jar cds-training\`) as \`./wharf\` and the image use it, except in the rows that say without").
The met / NOT met column is computed from the medians above.

## How each number is measured

1. **One cold pull**: \`curl -o /dev/null\` of the blob, wall time, through wharf
   (\`/v2/$PROJECT/$REPO_BIG/blobs/<digest>\`), through the peer and straight from the upstream. Every response
   is checked to be 200 with exactly $BLOB_BYTES bytes. Each repetition starts wharf on an empty storage directory;
   its first request is a pull of a second random blob of the same size (**fresh JVM**); then it makes $JIT_WARMUP
   cold pulls of other blobs of that size, so that its JIT has settled (the tee's per-block code runs about 1,000
   times per GiB, so C2 compiles for the first several GiB; the JIT row shows what is left), and then the big blob
   is pulled (**JVM already warm**, still a cold cache); a second fresh wharf started without the CDS archive pulls
   the second blob too (**without the CDS archive**). **The machine's CPU**: \`/proc/stat\` (user, nice, system,
   irq, softirq, steal) read before and after each timed pull: the CPU-seconds of every process on the machine
   during the pull (the client, the upstream, the proxy), and that as a share of what the $CORES cores could give
   in the pull's wall time. **JIT**: the CPU of wharf's \`C1/C2 CompilerThread\` threads over the pull. **Start-up**: from the launch of the JVM to the first 200 from
   \`/readyz\` (polled every 50 ms). **SHA-256 limit**: \`java bench/Sha256Rate.java\`, the JDK's SHA-256 over
   the blob file read in 1 MiB chunks from the page cache, median of 3 passes after warming up on at least 1 GiB. **Upstream
   bytes**: the upstream registry's access log (\`"GET /v2/.../blobs/<digest> HTTP/1.1" 200 <bytes>\`) summed over
   the lines written during the warm-JVM pull; the proxy is stopped only after the upstream has gone idle.
2. **Warm throughput**: on a wharf that has the blob cached (its content checked once by sha256), wall time of
   one \`curl -o /dev/null\`, and of $PARALLEL started together (total bytes / wall time until the last one ends);
   the same against nginx serving the same file (\`sendfile on\`, \`access_log off\`, \`worker_processes auto\`) and,
   for one stream, the peer with the blob cached.
3. **$PARALLEL concurrent cold clients**: $PARALLEL curls of the blob started together on an empty cache (wharf
   after the same $JIT_WARMUP warm-up pulls as in 1; the JIT's CPU during the $PARALLEL pulls, median: $(fmt "$JN_WHARF" %.0f) ms); wall
   time until the last one ends; the slowest client's first byte (the largest curl \`time_starttransfer\`); upstream
   bytes as in 1 (reported only for repetitions whose pulls all succeeded). The second peer is nginx as a caching
   proxy of the upstream with \`proxy_cache_lock on\`: one upstream request per miss, and the others wait until the
   whole blob is cached (its first bytes reach them only then).
4. **HEAD rate**: \`bench/headload\` (Go, standard library; stock wrk 4.1 cannot complete HEAD requests),
   keep-alive connections ($HEAD_CONNS) each sending one HEAD at a time for $HEAD_SECONDS s after 1 s of warm-up
   (and, before the first run, $HEAD_WARMUP s of untimed load on each wharf target so its JIT has compiled the path),
   with \`$ACCEPT\`. Targets: \`$PROJECT/$REPO_SMALL/manifests/latest\` (tag) and \`.../manifests/<digest>\`
   on wharf (tagTtl 1h, cache filled by one GET of each first), \`$REPO_SMALL/manifests/...\` on the peer, and the
   same manifest as a static file on nginx. Before use, headload is checked against nginx: an existing file gives
   only 2xx, a missing one only non-2xx. Non-2xx / connection errors over all repetitions: $(head_errors).
5. **RSS**: \`VmRSS\` of the wharf of phase 3 one second after it became ready (**idle**); its \`VmHWM\` after its
   JIT warm-up (**peak from start through the warm-up**, which holds the C2 compiler's arenas: native memory that is
   freed again and returned to the system every second); \`VmRSS\` just before its $PARALLEL cold pulls, right after
   \`VmHWM\` was reset to it (\`echo 5 > /proc/PID/clear_refs\`) (**before the cold pulls**); its \`VmHWM\` when
   those pulls have ended (**peak during the cold pulls**); \`VmRSS\` of the warm wharf after the HEAD runs
   (**after the HEAD load**). The peak over all $WHARF_RUNS wharf processes of the run (each from its start) was
   $RSS_MAX_MB MiB.

## Every repetition

| measurement | values |
|---|---|
| one cold pull, direct (s) | $(all COLD_DIRECT) |
| one cold pull, wharf, warm JVM (s) | $(all COLD_WHARF) |
| one cold pull, wharf, fresh JVM (s) | $(all FRESH_WHARF) |
| one cold pull, wharf, fresh JVM without CDS (s) | $(all FRESH_NOCDS) |
| start-up to ready, with / without CDS (s) | $(all READY_CDS) / $(all READY_NOCDS) |
| one cold pull, peer (s) | $(all COLD_PEER) |
| machine CPU-s during one cold pull, direct / wharf / peer | $(all MCPU1_DIRECT) / $(all MCPU1_WHARF) / $(all MCPU1_PEER) |
| wharf JIT CPU during the fresh-JVM cold pull / the warm-JVM cold pull / the $PARALLEL concurrent cold pulls (ms) | $(all JITF_WHARF) / $(all JIT1_WHARF) / $(all JITN_WHARF) |
| upstream bytes x, one cold pull, wharf | $(all UPX1_WHARF) |
| upstream bytes x, one cold pull, peer | $(all UPX1_PEER) |
| $PARALLEL concurrent cold, wharf (s) | $(all CONC_WHARF) |
| $PARALLEL concurrent cold, peer (s) | $(all CONC_PEER) |
| $PARALLEL concurrent cold, nginx proxy_cache_lock (s) | $(all CONC_LOCK) |
| machine CPU-s during $PARALLEL concurrent cold, wharf / peer / nginx lock | $(all MCPUN_WHARF) / $(all MCPUN_PEER) / $(all MCPUN_LOCK) |
| slowest first byte, wharf / peer / nginx lock (s) | $(all TTFB_WHARF) / $(all TTFB_PEER) / $(all TTFB_LOCK) |
| upstream bytes x, $PARALLEL concurrent cold, wharf | $(all UPXN_WHARF) |
| upstream bytes x, $PARALLEL concurrent cold, peer | $(all UPXN_PEER) |
| upstream bytes x, $PARALLEL concurrent cold, nginx lock | $(all UPXN_LOCK) |
| warm 1 stream, wharf (MB/s) | $(all WARM1_WHARF) |
| warm 1 stream, nginx (MB/s) | $(all WARM1_NGINX) |
| warm 1 stream, peer (MB/s) | $(all WARM1_PEER) |
| warm 1 stream over HTTPS, wharf (MB/s) | $(all WARM1_WHARF_TLS) |
| warm 1 stream over HTTPS, nginx (MB/s) | $(all WARM1_NGINX_TLS) |
| warm $PARALLEL streams, wharf (MB/s) | $(all WARMN_WHARF) |
| warm $PARALLEL streams, nginx (MB/s) | $(all WARMN_NGINX) |
$(head_reps)
| wharf RSS idle / peak through the warm-up / before / peak during $PARALLEL cold pulls (MiB) | $(all RSS_IDLE) / $(all RSS_WARMUP) / $(all RSS_BEFORE) / $(all RSS_COLDN) |
| wharf peak RSS per process, in start order (MiB) | $(all WHARF_HWMS) |
EOF
mapfile -t FAILURES <"$FAIL_FILE"
if [ ${#FAILURES[@]} -gt 0 ]; then
  echo
  echo "## Failures"
  echo
  echo "Measurements that failed are left out of the medians above."
  echo
  for f in "${FAILURES[@]}"; do echo "- \`$f\`"; done
fi
echo
echo "Reproduce: \`$CMD\` (from the repository root; see bench/README.md)."
} >"$tmp"
mv "$tmp" "$RESULTS_FILE"
log "results written to $RESULTS_FILE"
cat "$RESULTS_FILE"
mapfile -t FAILURES <"$FAIL_FILE"
[ ${#FAILURES[@]} -eq 0 ] || { log "${#FAILURES[@]} measurement(s) failed (see $RESULTS_FILE)"; exit 1; }
