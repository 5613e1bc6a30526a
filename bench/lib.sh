# Shared by the bench scripts (sourced, never run): logging, timing, ports, and the processes a script starts.
#
#   BENCH_TAG=cold; source "$BENCH/lib.sh"
#   docker-registry serve ... & track $!            # stopped by PID on exit (stop_tracked), never by name
#   wait_http "$URL" "$PID" 60 || die "... did not start"
#
# A script sets its own EXIT trap and calls stop_tracked from it, then removes its own files.

log() { printf '[%s %s] %s\n' "${BENCH_TAG:-bench}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
median() {
  printf '%s\n' "$@" | sort -g \
    | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
require_tools() {  # require_tools TOOL...: each on PATH, or die naming it
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (run .ci/run)"
  done
}

# The processes this script started, by PID.
PIDS=()
track() { PIDS+=("$1"); }
stop_pid() {  # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL; forgets it
  local pid="$1" i
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$pid" ] && PIDS[i]=""; done
  return 0
}
stop_tracked() {  # every tracked process: SIGTERM to all, up to 5 s each, then SIGKILL
  local pid
  for pid in "${PIDS[@]}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  PIDS=()
  return 0
}
wait_http() {  # wait_http URL PID [SECONDS=60]: until URL answers 200; 1 if PID exits or time runs out
  local code
  for _ in $(seq 1 $(( ${3:-60} * 10 ))); do
    kill -0 "$2" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
