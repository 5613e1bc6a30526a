#!/usr/bin/env bash
# Builds SeaweedFS's `weed`, the real S3-compatible server that the S3 tests start on loopback
# (dev.wharf.testing.SeaweedS3). Built once per version into ${WHARF_TOOLS_CACHE:-~/.cache/wharf-tools}/weed-<version>/weed;
# prints that path. `go install module@version` refuses SeaweedFS (its go.mod has replace directives), so the module is
# downloaded through the Go module proxy, copied to a writable scratch directory and built there with its own go.mod
# and go.sum (every dependency pinned by them). Nothing of SeaweedFS is kept in this repository.
set -euo pipefail
version="v0.0.0-20261109003541-7506e5f91cd6"
out="${WHARF_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wharf-tools}/weed-$version"
if [[ ! -x "$out/weed" ]]; then
  mkdir -p "$out"
  dir="$(go mod download -json "github.com/seaweedfs/seaweedfs@$version" | awk -F'"' '$2 == "Dir" { print $4; exit }')"
  [[ -d "$dir" ]] || { echo "go mod download gave no directory for seaweedfs@$version" >&2; exit 1; }
  src="$(mktemp -d)"
  trap 'chmod -R u+w "$src" 2>/dev/null; rm -rf "$src"' EXIT
  cp -r "$dir/." "$src/"
  chmod -R u+w "$src"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$out/weed.tmp" ./weed)
  mv -f "$out/weed.tmp" "$out/weed"
fi
echo "$out/weed"
