#!/usr/bin/env bash
# Builds a JRE base image from Debian packages (openjdk-17-jre-headless, ca-certificates) with mmdebstrap and
# imports it into podman, for machines that cannot pull public images (CI). Prints the image reference last.
#
#   deploy/image/base-debian.sh [--tag REF] [--rebuild]
#
# --tag      default localhost/wharf-base-debian:17-<codename>
# --rebuild  build even when the image already exists (otherwise an existing image is reused)
# The package sources are this machine's own apt sources (WHARF_BASE_SOURCES=FILE to use another file in
# sources.list or deb822 format); the suite is this machine's release (WHARF_BASE_SUITE to override).
# Needs root (mmdebstrap's root mode), mmdebstrap and podman. Takes about 1-2 minutes.
set -euo pipefail
log() { printf '[base-debian] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

TAG=""
REBUILD=0
while (( $# > 0 )); do
  case "$1" in
    --tag) [[ $# -ge 2 ]] || die "--tag needs a value"; TAG="$2"; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
done

for tool in mmdebstrap podman; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (Debian package $tool)"
done

SUITE="${WHARF_BASE_SUITE:-$( . /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")}"
[[ -n "$SUITE" ]] || SUITE=bookworm
[[ -n "$TAG" ]] || TAG="localhost/wharf-base-debian:17-$SUITE"

if (( REBUILD == 0 )) && podman image exists "$TAG"; then
  log "reusing $TAG (--rebuild to build it again)"
  printf '%s\n' "$TAG"
  exit 0
fi

SOURCES="${WHARF_BASE_SOURCES:-}"
if [[ -z "$SOURCES" ]]; then
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [[ -s "$f" ]]; then SOURCES="$f"; break; fi
  done
fi
mirror_args=()
[[ -n "$SOURCES" ]] && mirror_args=("$SOURCES")

TMP="$(mktemp -d -t wharf-base.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
log "mmdebstrap $SUITE (essential + openjdk-17-jre-headless) from ${SOURCES:-the default mirror}"
# Check-Valid-Until off: a pinned snapshot's Release file may be past its Valid-Until date.
# Docs and locales are not unpacked; man pages are removed after the install (update-alternatives needs the
# man directories while it runs).
if ! mmdebstrap --variant=essential --include=openjdk-17-jre-headless,ca-certificates \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/usr/share/man/* "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$TMP/rootfs.tar" "${mirror_args[@]}" >"$TMP/mmdebstrap.log" 2>&1; then
  tail -n 40 "$TMP/mmdebstrap.log" >&2
  die "mmdebstrap failed"
fi
log "importing $(du -h "$TMP/rootfs.tar" | cut -f1) into podman as $TAG"
podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  "$TMP/rootfs.tar" "$TAG" >&2 || die "podman import failed"
printf '%s\n' "$TAG"
