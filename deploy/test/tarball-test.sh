#!/usr/bin/env bash
# The VM tarball that `mvn package` builds (server/target/wharf-VERSION.tar.gz): it unpacks into wharf-VERSION/ with
# the launcher, lib/wharf.jar, examples/wharf.yaml, deploy/systemd/wharf.service and README.md; the launcher runs
# with no Maven on the PATH, prints --version, and `wharf serve` answers GET /v2/ with 200 on a free port with a temp
# storage directory, then exits on SIGTERM (sent to the launcher's PID, which exec made the JVM's).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
log() { printf '[tarball-test] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
STARTED=$(date +%s)
for tool in java tar curl; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (run .ci/run)"
done
TMP="$(mktemp -d -t wharf-tarball.XXXXXX)"
PID=""
cleanup() {
  local rc=$?
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
  (( rc == 0 )) && log "passed in $(( $(date +%s) - STARTED ))s"
  exit "$rc"
}
trap cleanup EXIT

shopt -s nullglob
tarballs=("$ROOT"/server/target/wharf-*.tar.gz)
if (( ${#tarballs[@]} == 0 )); then
  (cd "$ROOT" && mvn -B -q -DskipTests package) >&2 || die "mvn package failed"
  tarballs=("$ROOT"/server/target/wharf-*.tar.gz)
fi
(( ${#tarballs[@]} == 1 )) || die "expected one server/target/wharf-*.tar.gz after mvn package, found ${#tarballs[@]}"
TARBALL="${tarballs[0]}"
NAME="$(basename "$TARBALL" .tar.gz)"
VERSION="${NAME#wharf-}"

mkdir -p "$TMP/unpack"
tar -xzf "$TARBALL" -C "$TMP/unpack"
DIR="$TMP/unpack/$NAME"
for f in wharf lib/wharf.jar examples/wharf.yaml deploy/systemd/wharf.service README.md; do
  [[ -f "$DIR/$f" ]] || die "$NAME/$f missing from the tarball"
done
[[ -x "$DIR/wharf" ]] || die "$NAME/wharf is not executable"
! grep -q mvn "$DIR/wharf" || die "the tarball's launcher mentions mvn"
log "layout: $(cd "$TMP/unpack" && find "$NAME" -type f | sort | tr '\n' ' ')"

# No Maven on the PATH: a directory holding only java and what the launcher itself uses.
mkdir -p "$TMP/bin"
for tool in java bash dirname readlink; do ln -s "$(readlink -f "$(command -v "$tool")")" "$TMP/bin/$tool"; done
NOMVN_PATH="$TMP/bin"
PATH="$NOMVN_PATH" command -v mvn >/dev/null 2>&1 && die "mvn is still on the test PATH"
out="$(PATH="$NOMVN_PATH" "$DIR/wharf" --version 2>&1)" || die "wharf --version failed: $out"
[[ "$out" == *"$VERSION"* ]] || die "wharf --version says '$out', not $VERSION"
log "--version: $out"

PORT=""
for _ in $(seq 1 200); do
  p=$(( 20000 + RANDOM % 40000 ))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[[ -n "$PORT" ]] || die "no free port"
mkdir -p "$TMP/storage"
printf 'listen: 127.0.0.1:%s\nstorage:\n  path: %s\nprojects:\n  - name: up\n    upstream: http://127.0.0.1:9\n' \
  "$PORT" "$TMP/storage" >"$TMP/wharf.yaml"
PATH="$NOMVN_PATH" JAVA_OPTS="-Xmx256m" "$DIR/wharf" serve --config "$TMP/wharf.yaml" >"$TMP/serve.log" 2>&1 &
PID=$!
code=""
for _ in $(seq 1 150); do
  code="$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$PORT/v2/" || true)"
  [[ "$code" == 200 ]] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.2
done
[[ "$code" == 200 ]] || { tail -n 20 "$TMP/serve.log" >&2; die "GET /v2/ gave '$code', not 200, within 30 s"; }
[[ -d "$TMP/storage/blobs" ]] || die "wharf serve did not use the temp storage directory"
log "wharf serve from the tarball: GET /v2/ -> 200"
kill -TERM "$PID"
for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$PID" 2>/dev/null && die "wharf did not stop within 30 s of SIGTERM"
rc=0; wait "$PID" || rc=$?
PID=""
(( rc == 0 )) || die "wharf exited $rc on SIGTERM"
log "stopped by PID with SIGTERM, exit 0"
