#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite (pull workflow) against wharf.
#
#   conformance/run.sh                   wharf proxying a local docker-registry (the default)
#   TARGET=registry conformance/run.sh   the bare docker-registry, no wharf: checks the seeding and this script
#
# Steps: build the suite once (cached in conformance/build/), start docker-registry on a free 127.0.0.1
# port, seed an OCI image with crane, start `./wharf serve` with a project `conformance` whose upstream is
# that registry, run the suite, stop both by PID. Reports: conformance/results/{junit.xml,report.html,*.log}.
# Exits non-zero unless the JUnit report has tests, no failures and no errors.
#
# Environment: TARGET (wharf|registry), CONFORMANCE_VERSION (module version or commit to build),
# CONFORMANCE_ALLOWED (space-separated commit prefixes or versions; the suite built or cached must match one, else
# the run fails), CONFORMANCE_MIN_PASSED (fewer passing specs fail the run; default 1),
# WHARF_START_TIMEOUT (seconds, default 300: the launcher may build the jar first), KEEP_TMP=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$HERE/build"
RESULTS="$HERE/results"
BIN="$BUILD/conformance.test"
TARGET="${TARGET:-wharf}"
MODULE="github.com/opencontainers/distribution-spec/conformance"
# The commit of the distribution-spec v1.1.1 tag.
SPEC_COMMIT="a139cc423184af6078077b9b7ee336eddbd03f8f"
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-$SPEC_COMMIT}"
# If the module proxy this machine reaches cannot serve the pinned commit, the newest version it is known to
# serve (2023-11-01, between v1.1.0-rc3 and v1.1.0). The build records which one it used in build/VERSION.
FALLBACK_VERSION="v0.0.0-20231101194043-f2182352d4cc"
WHARF_START_TIMEOUT="${WHARF_START_TIMEOUT:-300}"
CONFORMANCE_ALLOWED="${CONFORMANCE_ALLOWED:-}"
CONFORMANCE_MIN_PASSED="${CONFORMANCE_MIN_PASSED:-1}"
[[ "$CONFORMANCE_MIN_PASSED" =~ ^[0-9]+$ ]] || { printf '[conformance] FAIL: CONFORMANCE_MIN_PASSED=%s is not a number\n' \
  "$CONFORMANCE_MIN_PASSED" >&2; exit 1; }
REPO_NAME="conformance/test"
TAG="latest"

log() { printf '[conformance] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

require() {
  local tool="$1" found
  found="$(command -v "$tool" 2>/dev/null || true)"
  if [[ -z "$found" ]]; then
    for dir in /usr/sbin /sbin "${GOBIN:-}" "$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin" "$HOME/go/bin"; do
      if [[ -n "$dir" && -x "$dir/$tool" ]]; then found="$dir/$tool"; break; fi
    done
  fi
  [[ -n "$found" ]] || die "required tool '$tool' is not installed: run .ci/run"
  printf '%s\n' "$found"
}

case "$TARGET" in
  wharf|registry) ;;
  *) die "TARGET must be 'wharf' or 'registry', not '$TARGET'" ;;
esac

REGISTRY_BIN="$(require docker-registry)"
CRANE="$(require crane)"
CURL="$(require curl)"

TMP="$(mktemp -d -t wharf-conformance.XXXXXX)"
REGISTRY_PID=""
WHARF_PID=""

stop_pid() {
  # Stops one process this script started, by PID: SIGTERM, then SIGKILL after 15 s.
  local pid="$1" name="$2"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_pid "$WHARF_PID" wharf
  stop_pid "$REGISTRY_PID" docker-registry
  if [[ "${KEEP_TMP:-0}" == "1" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  # A port nothing listens on, from a random start; bash's /dev/tcp connect fails fast on a closed port.
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  die "no free port found on 127.0.0.1"
}

wait_http() {
  # wait_http URL PID NAME SECONDS LOGFILE: until URL answers 200, the process dies, or time runs out.
  local url="$1" pid="$2" name="$3" seconds="$4" logfile="$5" deadline
  deadline=$(( $(date +%s) + seconds ))
  while true; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$logfile" >&2 || true
      die "$name exited before it answered $url"
    fi
    if [[ "$("$CURL" -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" == "200" ]]; then
      return 0
    fi
    if (( $(date +%s) > deadline )); then
      tail -n 40 "$logfile" >&2 || true
      die "$name did not answer 200 on $url within ${seconds}s"
    fi
    sleep 0.2
  done
}

# ------------------------------------------------------------------------------------------- build the suite
build_suite() {
  if [[ -x "$BIN" ]]; then
    log "using cached suite $BIN ($(cat "$BUILD/VERSION" 2>/dev/null || echo 'unknown version'))"
    return 0
  fi
  local go mod dir version
  go="$(require go)"
  mkdir -p "$BUILD"
  mod="$TMP/gomod"
  mkdir -p "$mod"
  (cd "$mod" && "$go" mod init wharf.dev/conformance-build >/dev/null 2>&1)
  log "fetching $MODULE@$CONFORMANCE_VERSION"
  if ! (cd "$mod" && "$go" get "$MODULE@$CONFORMANCE_VERSION") >"$TMP/go-get.log" 2>&1; then
    cat "$TMP/go-get.log" >&2
    if [[ "$CONFORMANCE_VERSION" != "$SPEC_COMMIT" ]]; then
      die "could not fetch $MODULE@$CONFORMANCE_VERSION"
    fi
    log "WARNING: the module proxy cannot serve the v1.1.1 commit $SPEC_COMMIT;"
    log "WARNING: building the newest version it serves instead: $FALLBACK_VERSION"
    # That version has no checksum database entry here; skip the lookup for this one module only.
    (cd "$mod" && GONOSUMDB="$MODULE" GONOSUMCHECK=1 "$go" get "$MODULE@$FALLBACK_VERSION") \
      || die "could not fetch $MODULE@$FALLBACK_VERSION either"
  fi
  version="$(cd "$mod" && "$go" list -m -f '{{.Version}}' "$MODULE")"
  dir="$(cd "$mod" && "$go" list -m -f '{{.Dir}}' "$MODULE")"
  [[ -d "$dir" ]] || die "module directory of $MODULE@$version not found"
  log "building $MODULE@$version (go test -c in $dir)"
  (cd "$dir" && GOFLAGS=-mod=mod GONOSUMDB="$MODULE" "$go" test -c -o "$BIN.tmp" .) || die "go test -c failed"
  mv "$BIN.tmp" "$BIN"
  printf '%s\n' "$version" > "$BUILD/VERSION"
  cp "$dir/README.md" "$BUILD/README.md" 2>/dev/null || true
  chmod u+w "$BUILD/README.md" 2>/dev/null || true
}
build_suite

# The suite that runs must be the one the caller pinned: a cached build of another version is no pass.
SUITE_VERSION="$(cat "$BUILD/VERSION" 2>/dev/null || echo unknown)"
if [[ -n "$CONFORMANCE_ALLOWED" ]]; then
  allowed=0
  for want in $CONFORMANCE_ALLOWED; do
    [[ "$SUITE_VERSION" == *"$want"* ]] && allowed=1
  done
  (( allowed == 1 )) || die "suite version $SUITE_VERSION is none of CONFORMANCE_ALLOWED ($CONFORMANCE_ALLOWED);" \
    "remove $BUILD to rebuild it"
fi

# ------------------------------------------------------------------------------------------- the registry
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
REGISTRY_PORT="$(free_port)"
cat > "$TMP/registry.yml" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: "$TMP/registry-storage"
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  secret: wharf-conformance
YAML
"$REGISTRY_BIN" serve "$TMP/registry.yml" >"$RESULTS/registry.log" 2>&1 &
REGISTRY_PID=$!
wait_http "http://127.0.0.1:$REGISTRY_PORT/v2/" "$REGISTRY_PID" docker-registry 30 "$RESULTS/registry.log"
log "docker-registry pid $REGISTRY_PID on 127.0.0.1:$REGISTRY_PORT"

# ------------------------------------------------------------------------------------------- seed content
mkdir -p "$TMP/layer/etc" "$TMP/layer/data"
printf 'wharf conformance image\n' > "$TMP/layer/etc/wharf-release"
head -c 65536 /dev/urandom > "$TMP/layer/data/random.bin"
tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner \
  -C "$TMP/layer" -cf "$TMP/layer.tar" .
SEED_REF="127.0.0.1:$REGISTRY_PORT/$REPO_NAME:$TAG"
"$CRANE" append --oci-empty-base --insecure -f "$TMP/layer.tar" -t "$SEED_REF" >"$TMP/crane.log" 2>&1 \
  || { cat "$TMP/crane.log" >&2; die "crane append failed"; }
MANIFEST_DIGEST="$("$CRANE" digest --insecure "$SEED_REF")"
MANIFEST_JSON="$("$CRANE" manifest --insecure "$SEED_REF")"
printf '%s\n' "$MANIFEST_JSON" > "$RESULTS/seed-manifest.json"
# The layer: the last digest in the manifest (config comes first, then the single layer).
BLOB_DIGEST="$(printf '%s' "$MANIFEST_JSON" | grep -o '"digest": *"sha256:[0-9a-f]\{64\}"' | tail -n 1 \
  | grep -o 'sha256:[0-9a-f]\{64\}')"
[[ "$MANIFEST_DIGEST" == sha256:* && "$BLOB_DIGEST" == sha256:* ]] || die "could not read the seeded digests"
case "$MANIFEST_JSON" in
  *application/vnd.oci.image.manifest.v1+json*) ;;
  *) die "crane did not push an OCI manifest: $MANIFEST_JSON" ;;
esac
log "seeded $SEED_REF manifest $MANIFEST_DIGEST layer $BLOB_DIGEST"

# ------------------------------------------------------------------------------------------- the target
if [[ "$TARGET" == "wharf" ]]; then
  [[ -x "$ROOT/wharf" ]] || die "the ./wharf launcher is missing at $ROOT/wharf"
  WHARF_PORT="$(free_port)"
  cat > "$TMP/wharf.yaml" <<YAML
listen: 127.0.0.1:$WHARF_PORT
storage:
  path: "$TMP/wharf-storage"
projects:
  - name: conformance
    upstream: "http://127.0.0.1:$REGISTRY_PORT"
YAML
  cp "$TMP/wharf.yaml" "$RESULTS/wharf.yaml"
  (cd "$ROOT" && exec ./wharf serve --config "$TMP/wharf.yaml") >"$RESULTS/wharf.log" 2>&1 &
  WHARF_PID=$!
  wait_http "http://127.0.0.1:$WHARF_PORT/v2/" "$WHARF_PID" wharf "$WHARF_START_TIMEOUT" "$RESULTS/wharf.log"
  log "wharf pid $WHARF_PID on 127.0.0.1:$WHARF_PORT"
  ROOT_URL="http://127.0.0.1:$WHARF_PORT"
  NAMESPACE="conformance/$REPO_NAME"
else
  ROOT_URL="http://127.0.0.1:$REGISTRY_PORT"
  NAMESPACE="$REPO_NAME"
fi

# ------------------------------------------------------------------------------------------- the suite
log "running $(cat "$BUILD/VERSION" 2>/dev/null || echo suite) against $ROOT_URL, namespace $NAMESPACE"
set +e
(
  cd "$RESULTS" &&
  env OCI_ROOT_URL="$ROOT_URL" \
      OCI_NAMESPACE="$NAMESPACE" \
      OCI_TEST_PULL=1 \
      OCI_TEST_PUSH=0 \
      OCI_TEST_CONTENT_DISCOVERY=0 \
      OCI_TEST_CONTENT_MANAGEMENT=0 \
      OCI_TAG_NAME="$TAG" \
      OCI_MANIFEST_DIGEST="$MANIFEST_DIGEST" \
      OCI_BLOB_DIGEST="$BLOB_DIGEST" \
      OCI_HIDE_SKIPPED_WORKFLOWS=0 \
      OCI_DEBUG=0 \
      OCI_REPORT_DIR="$RESULTS" \
      timeout 600 "$BIN" -test.v -ginkgo.no-color
) >"$RESULTS/suite.log" 2>&1
SUITE_RC=$?
set -e
tail -n 15 "$RESULTS/suite.log" >&2

JUNIT="$RESULTS/junit.xml"
[[ -s "$JUNIT" ]] || die "no JUnit report at $JUNIT (suite exit code $SUITE_RC)"
# Count the specs ("[It] ..." test cases) by status; ginkgo's report also lists suite-level nodes.
count_status() { grep -o '<testcase name="\[It\][^"]*" classname="[^"]*" status="[^"]*"' "$JUNIT" \
  | grep -c "status=\"$1\"" || true; }
PASSED="$(count_status passed)"
SKIPPED="$(count_status skipped)"
SPECS="$(grep -c '<testcase name="\[It\]' "$JUNIT" || true)"
FAILED=$(( SPECS - PASSED - SKIPPED ))
# The suite-wide totals on <testsuite ...>: failures and errors over every node, suite-level ones included.
HEADER="$(grep -o -m 1 '<testsuite [^>]*>' "$JUNIT" || true)"
attr() { printf '%s' "$HEADER" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9][0-9]*' || echo 0; }
FAILURES="$(attr failures)"; ERRORS="$(attr errors)"
log "target=$TARGET suite=$(cat "$BUILD/VERSION" 2>/dev/null || echo '?') specs=$SPECS passed=$PASSED" \
    "failed=$FAILED skipped=$SKIPPED junit-failures=$FAILURES junit-errors=$ERRORS suite-exit=$SUITE_RC"
log "reports: $RESULTS/junit.xml $RESULTS/report.html $RESULTS/suite.log"
grep -o '<testcase name="[^"]*" classname="[^"]*" status="\(failed\|panicked\|interrupted\|aborted\|timedout\)"' \
  "$JUNIT" | sed 's/^<testcase name="\([^"]*\)".*status="\([^"]*\)"/  \2: \1/' >&2 || true
echo "conformance ($TARGET): $PASSED passed, $(( FAILED > FAILURES + ERRORS ? FAILED : FAILURES + ERRORS )) failed, $SKIPPED skipped"
if (( PASSED > 0 && FAILED == 0 && FAILURES == 0 && ERRORS == 0 )); then
  [[ "$SUITE_RC" == 0 ]] || die "the suite exited $SUITE_RC although its report shows no failures"
  (( PASSED >= CONFORMANCE_MIN_PASSED )) || die "only $PASSED specs passed, fewer than the $CONFORMANCE_MIN_PASSED" \
    "expected (CONFORMANCE_MIN_PASSED): specs were skipped that should run"
  exit 0
fi
die "conformance failures against $TARGET (see $RESULTS/suite.log)"
