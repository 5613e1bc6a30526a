#!/usr/bin/env bash
# The VM service unit and the compose file:
#   - systemd-analyze verify accepts deploy/systemd/wharf.service with no warning at all (and, as a self-check,
#     does warn on a copy with a misspelt key); systemd-analyze security --offline rates it at most 2.5;
#   - the unit has the promised settings (DynamicUser, ProtectSystem=strict, StateDirectory, NoNewPrivileges,
#     RestartPreventExitStatus=2, no capabilities, no MemoryDenyWriteExecute, SIGTERM with a grace period);
#   - wharf exits 2 on a config error (what RestartPreventExitStatus=2 relies on), and the unit's ExecStart line,
#     run as written (JAVA_OPTS and STATE_DIRECTORY as systemd sets them), serves /readyz and exits 0 on SIGTERM;
#   - deploy/compose.yaml has the image's hardening (user 10000, read-only, cap_drop ALL, no-new-privileges,
#     tmpfs /tmp, /data volume, config at /etc/wharf/wharf.yaml, healthcheck), and its example config loads.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
UNIT="$ROOT/deploy/systemd/wharf.service"
COMPOSE="$ROOT/deploy/compose.yaml"
log() { printf '[units-test] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
STARTED=$(date +%s)
for tool in systemd-analyze java python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (run .ci/run)"
done
python3 -c 'import yaml' 2>/dev/null || die "python3-yaml is not installed (run .ci/run)"
TMP="$(mktemp -d -t wharf-units.XXXXXX)"
PID=""
cleanup() {
  local rc=$?
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
  (( rc == 0 )) && log "passed in $(( $(date +%s) - STARTED ))s"
  exit "$rc"
}
trap cleanup EXIT
PASSED=0

# ---- systemd-analyze
cp "$UNIT" "$TMP/wharf.service"
systemd-analyze verify "$TMP/wharf.service" >"$TMP/verify.log" 2>&1 || { cat "$TMP/verify.log" >&2; die "systemd-analyze verify failed"; }
[[ ! -s "$TMP/verify.log" ]] || { cat "$TMP/verify.log" >&2; die "systemd-analyze verify warned"; }
mkdir -p "$TMP/typo"
sed 's/^ProtectSystem=/ProtectSystm=/' "$UNIT" >"$TMP/typo/wharf.service"
systemd-analyze verify "$TMP/typo/wharf.service" >"$TMP/verify-typo.log" 2>&1 || true
grep -q "ProtectSystm" "$TMP/verify-typo.log" || die "self-check: systemd-analyze verify did not flag a misspelt key"
EXPOSURE="$(systemd-analyze security --offline=yes "$TMP/wharf.service" 2>/dev/null \
  | grep -o 'Overall exposure level for wharf.service: [0-9.]*' | grep -o '[0-9.]*$' || true)"
[[ -n "$EXPOSURE" ]] || die "systemd-analyze security --offline gave no exposure level"
python3 -c "import sys; sys.exit(0 if float('$EXPOSURE') <= 2.5 else 1)" || die "exposure level $EXPOSURE > 2.5"
PASSED=$((PASSED + 1)); log "systemd-analyze verify: clean; security exposure $EXPOSURE"

# ---- the promised settings
for line in DynamicUser=yes StateDirectory=wharf ProtectSystem=strict NoNewPrivileges=yes RestartPreventExitStatus=2 \
    Restart=on-failure KillSignal=SIGTERM ProtectHome=yes PrivateTmp=yes PrivateDevices=yes CapabilityBoundingSet= \
    RestrictSUIDSGID=yes SystemCallFilter=@system-service; do
  grep -qx "$line" "$UNIT" || die "the unit lacks '$line'"
done
grep -q '^MemoryDenyWriteExecute=yes' "$UNIT" && die "MemoryDenyWriteExecute=yes breaks the JVM's JIT"
grep -q '^ExecStart=.* serve --config /etc/wharf/wharf.yaml --storage \${STATE_DIRECTORY}$' "$UNIT" \
  || die "ExecStart does not run serve --config /etc/wharf/wharf.yaml --storage \${STATE_DIRECTORY}"
STOP="$(sed -n 's/^TimeoutStopSec=//p' "$UNIT")"
(( STOP > 30 )) || die "TimeoutStopSec=$STOP leaves no room for the 30 s drain"
PASSED=$((PASSED + 1)); log "unit settings present"

# ---- exit codes and the ExecStart line for real
JAR="$ROOT/server/target/wharf.jar"
if [[ ! -f "$JAR" ]]; then (cd "$ROOT" && mvn -B -q -DskipTests package) >&2 || die "mvn package failed"; fi
printf 'listen: 127.0.0.1:5000\nstorage:\n  path: %s\nbogusKey: 1\n' "$TMP/data" >"$TMP/bad.yaml"
rc=0; java -jar "$JAR" serve --config "$TMP/bad.yaml" >"$TMP/bad.log" 2>&1 || rc=$?
(( rc == 2 )) || { cat "$TMP/bad.log" >&2; die "wharf exited $rc on an unknown config key, not 2"; }
rc=0; java -jar "$JAR" serve --config "$TMP/missing.yaml" >"$TMP/bad.log" 2>&1 || rc=$?
(( rc == 2 )) || { cat "$TMP/bad.log" >&2; die "wharf exited $rc on a missing config file, not 2"; }
PASSED=$((PASSED + 1)); log "config errors exit 2 (RestartPreventExitStatus=2 stops the restart loop)"

PORT=""
for _ in $(seq 1 200); do
  p=$(( 20000 + RANDOM % 40000 ))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[[ -n "$PORT" ]] || die "no free port"
mkdir -p "$TMP/state" "$TMP/etc"
printf 'listen: 127.0.0.1:%s\nstorage:\n  path: /nonexistent-overridden\nprojects:\n  - name: up\n    upstream: http://127.0.0.1:9\n' "$PORT" \
  >"$TMP/etc/wharf.yaml"
# The ExecStart line with the unit's Environment= JAVA_OPTS, /etc/wharf -> $TMP/etc, the jar -> $JAR.
EXEC="$(sed -n 's/^ExecStart=//p' "$UNIT")"
JAVA_OPTS="$(sed -n 's/^Environment="JAVA_OPTS=\(.*\)"$/\1/p' "$UNIT")"
[[ -n "$JAVA_OPTS" ]] || die "no Environment=\"JAVA_OPTS=...\" in the unit"
EXEC="${EXEC//\/etc\/wharf\//$TMP/etc/}"; EXEC="${EXEC//\/opt\/wharf\/wharf.jar/$JAR}"
EXEC="${EXEC//\$\{STATE_DIRECTORY\}/$TMP/state}"; EXEC="${EXEC//\$JAVA_OPTS/$JAVA_OPTS}"
# shellcheck disable=SC2086
$EXEC >"$TMP/serve.log" 2>&1 &
PID=$!
ok=0
for _ in $(seq 1 150); do
  [[ "$(curl -s -m 2 "http://127.0.0.1:$PORT/readyz" || true)" == ready* ]] && { ok=1; break; }
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.2
done
(( ok == 1 )) || { tail -n 20 "$TMP/serve.log" >&2; die "the unit's ExecStart did not serve /readyz within 30 s"; }
[[ -d "$TMP/state/blobs" ]] || die "storage is not under \${STATE_DIRECTORY} (--storage did not win over the config)"
kill -TERM "$PID"
rc=0
for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$PID" 2>/dev/null && die "wharf did not stop within 30 s of SIGTERM"
wait "$PID" || rc=$?
PID=""
(( rc == 0 )) || die "wharf exited $rc on SIGTERM (systemd would count that as a failure)"
PASSED=$((PASSED + 1)); log "the unit's ExecStart serves from \${STATE_DIRECTORY} and exits 0 on SIGTERM"

# ---- compose
python3 - "$COMPOSE" <<'PY' || die "deploy/compose.yaml does not have the promised settings"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
s = doc["services"]["wharf"]
problems = []
def want(cond, what):
    if not cond: problems.append(what)
allowed = {"image", "command", "user", "read_only", "tmpfs", "cap_drop", "security_opt", "environment", "ports",
           "volumes", "mem_limit", "stop_signal", "stop_grace_period", "restart", "healthcheck"}
want(set(s) <= allowed, f"unexpected service keys {set(s) - allowed}")
want(s.get("user") == "10000:10000", "user 10000:10000")
want(s.get("read_only") is True, "read_only: true")
want(s.get("cap_drop") == ["ALL"], "cap_drop: [ALL]")
want("no-new-privileges:true" in s.get("security_opt", []), "no-new-privileges")
want(any(t.startswith("/tmp") for t in s.get("tmpfs", [])), "tmpfs /tmp")
vols = s.get("volumes", [])
want(any(v.split(":")[1] == "/data" for v in vols), "a volume at /data")
want(any(v.split(":")[1] == "/etc/wharf/wharf.yaml" and v.endswith(":ro") for v in vols), "config at /etc/wharf/wharf.yaml (ro)")
want(s.get("command") == ["serve", "--config", "/etc/wharf/wharf.yaml"], "command serve --config /etc/wharf/wharf.yaml")
want(s.get("stop_signal") == "SIGTERM", "stop_signal SIGTERM")
want("/opt/wharf/healthcheck.sh" in s.get("healthcheck", {}).get("test", []), "healthcheck")
want("wharf-data" in (doc.get("volumes") or {}), "named volume wharf-data")
for p in problems: print("compose: missing or wrong:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
mkdir -p "$TMP/compose-data/blobs"
sed "s#path: /data#path: $TMP/compose-data#" "$ROOT/deploy/compose-wharf.example.yaml" >"$TMP/compose-wharf.yaml"
java -jar "$JAR" du --config "$TMP/compose-wharf.yaml" >"$TMP/du.log" 2>&1 \
  || { cat "$TMP/du.log" >&2; die "deploy/compose-wharf.example.yaml does not load"; }
PASSED=$((PASSED + 1)); log "compose.yaml hardening present; its example config loads"
echo "units-test: $PASSED passed, 0 failed"
