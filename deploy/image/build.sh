#!/usr/bin/env bash
# Builds the wharf container image with podman, or docker when podman is not installed.
#
#   deploy/image/build.sh [--base IMAGE] [--tag TAG]
#
# --base  the JRE base image (default docker.io/library/eclipse-temurin:17-jre); CI, which cannot pull public
#         images, passes the one deploy/image/base-debian.sh builds from Debian packages.
# --tag   the image reference to build (default localhost/wharf:<project version>).
# Builds server/target/wharf.jar first when it is missing or older than the sources (as ./wharf does).
# The image reference is the last line of standard output. Progress goes to standard error.
# Environment: WHARF_ENGINE=podman|docker to choose; CONTAINERS_CONF is honoured by podman (see containers.conf).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
log() { printf '[image] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

BASE="docker.io/library/eclipse-temurin:17-jre"
TAG=""
while (( $# > 0 )); do
  case "$1" in
    --base) [[ $# -ge 2 ]] || die "--base needs a value"; BASE="$2"; shift 2 ;;
    --tag) [[ $# -ge 2 ]] || die "--tag needs a value"; TAG="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage; die "unknown argument '$1'" ;;
  esac
done

ENGINE="${WHARF_ENGINE:-}"
if [[ -z "$ENGINE" ]]; then
  if command -v podman >/dev/null 2>&1; then ENGINE=podman
  elif command -v docker >/dev/null 2>&1; then ENGINE=docker
  else die "neither podman nor docker is installed"; fi
fi
command -v "$ENGINE" >/dev/null 2>&1 || die "$ENGINE is not installed"

JAR="$ROOT/server/target/wharf.jar"
stale() {
  [[ ! -f "$JAR" ]] && return 0
  [[ -n "$(find "$ROOT/pom.xml" "$ROOT/storage" "$ROOT/auth" "$ROOT/server" \
      \( -path '*/target' -o -path '*/src/test' \) -prune -o -type f -newer "$JAR" -print -quit 2>/dev/null)" ]]
}
if stale; then
  log "building $JAR (mvn package)"
  (cd "$ROOT" && mvn -B -q -DskipTests package) >&2 || die "mvn package failed"
fi
VERSION="$(unzip -p "$JAR" wharf-version.properties 2>/dev/null | sed -n 's/^version=//p' || true)"
if [[ -z "$VERSION" ]]; then
  VERSION="$(java -jar "$JAR" --version 2>/dev/null | awk '{print $2}' || true)"
fi
[[ -n "$VERSION" ]] || VERSION=unknown
[[ -n "$TAG" ]] || TAG="localhost/wharf:${VERSION,,}"

CTX="$(mktemp -d -t wharf-image.XXXXXX)"
trap 'rm -rf "$CTX"' EXIT
install -m 0444 "$JAR" "$CTX/wharf.jar"
install -m 0555 "$HERE/entrypoint.sh" "$HERE/healthcheck.sh" "$CTX/"
install -m 0444 "$HERE/Containerfile" "$CTX/Containerfile"

args=(build -f "$CTX/Containerfile" --build-arg "BASE=$BASE" --build-arg "VERSION=$VERSION" -t "$TAG")
# podman writes OCI images by default, and the OCI format has no HEALTHCHECK: build the docker format.
# --pull=never for a local base (localhost/...), which is never in a remote registry.
if [[ "$ENGINE" == podman ]]; then
  args+=(--format docker)
  [[ "$BASE" == localhost/* ]] && args+=(--pull=never)
fi
log "$ENGINE ${args[*]} $CTX"
"$ENGINE" "${args[@]}" "$CTX" >&2 || die "$ENGINE build failed"
printf '%s\n' "$TAG"
