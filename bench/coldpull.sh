#!/usr/bin/env bash
# One cold pull of a big blob with a warm JVM: wharf vs the peer (docker-registry in proxy mode) vs the upstream
# direct vs the JDK's SHA-256 of the same number of bytes, medians of one run, plus wharf's CPU per thread over
# each of its pulls (from /proc/<pid>/task/*/stat). See bench/README.md, "Cold pull, focused".
#
#   bash bench/coldpull.sh                   # 1 GiB, 3 repetitions (~3 min on 2 cores, 5 GiB of disk)
#   BLOB_MB=256 REPEAT=1 bash bench/coldpull.sh
#   PROFILE=1 bash bench/coldpull.sh         # also a JFR recording of wharf's first measured pull: top frames
#
# wharf and the peer are started once and warmed up with a pull of another blob of the same size, so each measured
# pull is cold for the cache but not for the JIT: every repetition pulls a blob neither has seen. Every process it
# starts is stopped by PID on exit; every client and loop is bounded.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
WORK="$BENCH/work-cold"
BLOB_MB="${BLOB_MB:-1024}"
REPEAT="${REPEAT:-3}"
WARMUP="${WARMUP:-4}"                    # warm-up pulls (each of its own blob of WARMUP_MB) before the measured ones
WARMUP_MB="${WARMUP_MB:-256}"
PROFILE="${PROFILE:-0}"
JAVA_OPTS="${JAVA_OPTS:-}"
JAR="${JAR:-$ROOT/server/target/wharf.jar}"
CURL_MAX=600
BLOB_BYTES=$((BLOB_MB * 1024 * 1024))

BENCH_TAG=cold
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
cleanup() {
  local rc=$?
  set +e
  stop_tracked
  rm -rf "$WORK/upstream-data" "$WORK/wharf-data" "$WORK/peer-data" "$WORK"/blob-*.bin
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_tools docker-registry python3 curl java
[ -f "$JAR" ] || die "no $JAR: build it first (mvn -B -q -DskipTests package)"
case "$WORK" in */bench/work-cold) ;; *) die "unexpected work dir $WORK" ;; esac
rm -rf "$WORK"; mkdir -p "$WORK"/{upstream-data,wharf-data,peer-data,logs}
cp "$JAR" "$WORK/wharf.jar"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

UP_PORT=$(free_port); WHARF_PORT=$(free_port); PEER_PORT=$(free_port)
UP="http://127.0.0.1:$UP_PORT"; WHARF="http://127.0.0.1:$WHARF_PORT"; PEER="http://127.0.0.1:$PEER_PORT"
cat >"$WORK/upstream.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/upstream-data}, cache: {blobdescriptor: inmemory}}
http: {addr: 127.0.0.1:$UP_PORT}
EOF
docker-registry serve "$WORK/upstream.yml" >"$WORK/logs/upstream.log" 2>&1 &
UP_PID=$!; track "$UP_PID"
wait_http "$UP/v2/" "$UP_PID" 30 || die "upstream did not start"

push_blob() {  # FILE DIGEST
  local loc sep code
  loc=$(curl -sS --max-time 30 -o /dev/null -D - -X POST "$UP/v2/test/big/blobs/uploads/" \
        | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  [ -n "$loc" ] || die "upload POST gave no Location"
  case "$loc" in http*) ;; *) loc="$UP$loc" ;; esac
  case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
  code=$(curl -sS --max-time "$CURL_MAX" -o /dev/null -w '%{http_code}' -X PUT \
         -H 'Content-Type: application/octet-stream' -T "$1" "$loc${sep}digest=$2")
  [ "$code" = 201 ] || die "blob PUT gave $code"
}
seed_blob() {  # NAME BYTES: pushes that many random bytes as a blob, prints its digest
  local f="$WORK/blob-$1.bin" d
  head -c "$2" /dev/urandom >"$f"
  d="sha256:$(sha256sum "$f" | cut -d' ' -f1)"
  push_blob "$f" "$d"; rm -f "$f"
  echo "$d"
}
DIGESTS=()
for i in $(seq 0 "$REPEAT"); do DIGESTS+=("$(seed_blob "$i" "$BLOB_BYTES")"); done
WARM_DIGESTS=()
for i in $(seq 1 "$WARMUP"); do WARM_DIGESTS+=("$(seed_blob "w$i" "$((WARMUP_MB * 1024 * 1024))")"); done
log "seeded $((REPEAT + 1)) blobs of $BLOB_MB MiB and $WARMUP of $WARMUP_MB MiB"

cat >"$WORK/wharf.yml" <<EOF
listen: 127.0.0.1:$WHARF_PORT
storage:
  path: $WORK/wharf-data
projects:
  - name: bench
    upstream: $UP
EOF
# shellcheck disable=SC2086
(cd "$WORK" && exec java ${JAVA_OPTS} -jar "$WORK/wharf.jar" serve --config "$WORK/wharf.yml") >"$WORK/logs/wharf.log" 2>&1 &
WHARF_PID=$!; track "$WHARF_PID"
wait_http "$WHARF/readyz" "$WHARF_PID" 120 || { tail -20 "$WORK/logs/wharf.log" >&2; die "wharf did not start"; }
cat >"$WORK/peer.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/peer-data}, cache: {blobdescriptor: inmemory}}
http: {addr: 127.0.0.1:$PEER_PORT}
proxy: {remoteurl: $UP}
EOF
docker-registry serve "$WORK/peer.yml" >"$WORK/logs/peer.log" 2>&1 &
PEER_PID=$!; track "$PEER_PID"
wait_http "$PEER/v2/" "$PEER_PID" 30 || die "peer did not start"

pull() {  # URL [BYTES]: prints wall seconds; fails unless 200 and the whole blob
  local t0 out s want="${2:-$BLOB_BYTES}"
  t0=$(now_ns)
  out=$(curl -s --max-time "$CURL_MAX" -o /dev/null -w '%{http_code} %{size_download}' "$1" || true)
  s=$(secs_since "$t0")
  [ "$out" = "200 $want" ] || die "GET $1 -> '$out'"
  echo "$s"
}
# CPU per thread: "name utime stime" in clock ticks, one line per thread (names can hold spaces: taken in parens)
threads_cpu() {
  local f
  for f in /proc/"$1"/task/*/stat; do
    awk '{ s = $0; a = index(s, "("); b = index(s, ")"); name = substr(s, a + 1, b - a - 1); gsub(/ /, "_", name);
           split(substr(s, b + 2), r, " "); print FILENAME, name, r[12], r[13] }' "$f" 2>/dev/null || true
  done
}
proc_cpu_ms() {  # PID: user+system CPU of the whole process so far, ms
  awk -v t="$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN { print 1000 / hz }')" '{ s = $0; b = index(s, ")");
    split(substr(s, b + 2), r, " "); printf "%d", (r[12] + r[13]) * t }' "/proc/$1/stat"
}
TICK_MS=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN { print 1000 / hz }')
cpu_delta() {  # BEFORE AFTER: per thread name (numbered pools folded), user and sys ms, busiest first
  awk -v t="$TICK_MS" 'NR == FNR { u[$1] = $3; s[$1] = $4; next }
       { n = $2; gsub(/[-#]?[0-9]+$/, "", n); du[n] += ($3 - u[$1]) * t; ds[n] += ($4 - s[$1]) * t }
       END { for (n in du) if (du[n] + ds[n] > 0) printf "%s %d %d\n", n, du[n], ds[n] }' "$1" "$2" \
    | sort -k2,2nr -k3,3nr | awk '{ printf "| %s | %d | %d | %d |\n", $1, $2, $3, $2 + $3 }' | sort -t'|' -k5,5nr
}

# The JIT: C2 keeps compiling through the first several GiB pulled (0.3-0.55 s of a core per 1 GiB pull on 2 cores,
# from -XX:+LogCompilation; 10-70 ms per pull after 9 GiB), which is start-up cost, not the steady state a
# long-running cache is in. So the warm-up is one pull of blob 0 and WARMUP cold pulls of WARMUP_MB blobs (the
# default, 1 GiB in all, leaves some; WARMUP=8 WARMUP_MB=1024 settles it); the C2 row of the CPU tables shows what
# compiling is left during the measured pulls.
log "warm-up: one pull of blob 0 and $WARMUP of $WARMUP_MB MiB through wharf and the peer"
pull "$WHARF/v2/bench/test/big/blobs/${DIGESTS[0]}" >/dev/null
pull "$PEER/v2/test/big/blobs/${DIGESTS[0]}" >/dev/null
pull "$UP/v2/test/big/blobs/${DIGESTS[0]}" >/dev/null
for d in "${WARM_DIGESTS[@]}"; do
  pull "$WHARF/v2/bench/test/big/blobs/$d" "$((WARMUP_MB * 1024 * 1024))" >/dev/null
  pull "$PEER/v2/test/big/blobs/$d" "$((WARMUP_MB * 1024 * 1024))" >/dev/null
done

T_DIRECT=(); T_WHARF=(); T_PEER=(); CPU_TABLES=""; C_WHARF=(); C_PEER=(); C_UP_W=(); C_UP_P=()
for r in $(seq 1 "$REPEAT"); do
  d="${DIGESTS[$r]}"
  sync; sleep 1
  T_DIRECT+=("$(pull "$UP/v2/test/big/blobs/$d")")
  sync; sleep 1
  if [ "$PROFILE" = 1 ] && [ "$r" = "${PROFILE_REP:-1}" ]; then
    jcmd "$WHARF_PID" JFR.start name=cold settings="${JFR_SETTINGS:-profile}" >/dev/null
  fi
  threads_cpu "$WHARF_PID" >"$WORK/cpu-before"
  w0=$(proc_cpu_ms "$WHARF_PID"); u0=$(proc_cpu_ms "$UP_PID")
  T_WHARF+=("$(pull "$WHARF/v2/bench/test/big/blobs/$d")")
  sleep 0.5 # the commit (fsync, rename) follows the last byte: count it too
  threads_cpu "$WHARF_PID" >"$WORK/cpu-after"
  C_WHARF+=("$(( $(proc_cpu_ms "$WHARF_PID") - w0 ))"); C_UP_W+=("$(( $(proc_cpu_ms "$UP_PID") - u0 ))")
  if [ "$PROFILE" = 1 ] && [ "$r" = "${PROFILE_REP:-1}" ]; then
    jcmd "$WHARF_PID" JFR.stop name=cold filename="$WORK/cold.jfr" >/dev/null
  fi
  CPU_TABLES+="
pull $r (${T_WHARF[-1]} s):

| thread | user ms | sys ms | total ms |
|---|---|---|---|
$(cpu_delta "$WORK/cpu-before" "$WORK/cpu-after")
"
  sync; sleep 1
  p0=$(proc_cpu_ms "$PEER_PID"); u0=$(proc_cpu_ms "$UP_PID")
  T_PEER+=("$(pull "$PEER/v2/test/big/blobs/$d")")
  sleep 0.5
  C_PEER+=("$(( $(proc_cpu_ms "$PEER_PID") - p0 ))"); C_UP_P+=("$(( $(proc_cpu_ms "$UP_PID") - u0 ))")
  log "rep $r: direct ${T_DIRECT[-1]} s, wharf ${T_WHARF[-1]} s, peer ${T_PEER[-1]} s"
done
# The hashing limit: the JDK's SHA-256 over a file of the same size from the page cache (bench/Sha256Rate.java, the one
# bench/run.sh uses too).
head -c "$BLOB_BYTES" /dev/urandom >"$WORK/sha.bin"
SHA=$(java "$BENCH/Sha256Rate.java" "$WORK/sha.bin" "$REPEAT" | sed -n 's/^seconds=\([0-9.]*\) .*/\1/p')
rm -f "$WORK/sha.bin"
[ -n "$SHA" ] || die "Sha256Rate printed no seconds"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

D=$(median "${T_DIRECT[@]}"); W=$(median "${T_WHARF[@]}"); P=$(median "${T_PEER[@]}")
LIMIT=$(awk -v a="$D" -v b="$SHA" 'BEGIN { print (a > b ? a : b) }')
{
  echo "One cold pull of $BLOB_MB MiB, warm JVM, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; load average at start $LOAD_START, at end $LOAD_END"
  echo
  echo "| figure | median (s) | all (s) | ratio |"
  echo "|---|---|---|---|"
  echo "| wharf | $W | ${T_WHARF[*]} | wharf/peer $(ratio "$W" "$P"), wharf/max(direct, sha) $(ratio "$W" "$LIMIT") |"
  echo "| peer (docker-registry proxy) | $P | ${T_PEER[*]} | peer/max(direct, sha) $(ratio "$P" "$LIMIT") |"
  echo "| direct (upstream) | $D | ${T_DIRECT[*]} | |"
  echo "| SHA-256 of $BLOB_MB MiB, JDK | $SHA | | |"
  echo
  echo "CPU of the whole process over each pull (user + system ms, 0.5 s after the last byte): wharf ${C_WHARF[*]}" \
       "(upstream meanwhile ${C_UP_W[*]}); peer ${C_PEER[*]} (upstream meanwhile ${C_UP_P[*]})"
  echo
  echo "wharf's CPU per thread over each measured pull:"
  echo "$CPU_TABLES"
} | tee "$WORK/result.md"
if [ "$PROFILE" = 1 ]; then
  # Top frames of JFR's execution samples (Java code running) and native-method samples (threads in syscalls).
  for ev in jdk.ExecutionSample jdk.NativeMethodSample; do
    echo; echo "JFR $ev, top frames (samples):"
    jfr print --events "$ev" --stack-depth 3 "$WORK/cold.jfr" | awk '
      /sampledThread = / { th = $0; sub(/.*sampledThread = "/, "", th); sub(/".*/, "", th); gsub(/-?[0-9]+$/, "", th) }
      /stackTrace = \[/ { getline l; gsub(/^[ \t]+/, "", l); sub(/ *line:.*/, "", l); c[th " | " l]++ }
      END { for (k in c) print c[k], k }' | sort -nr | head -15
  done | tee -a "$WORK/result.md"
fi
