#!/usr/bin/env bash
# Builds Ory Hydra, the OIDC provider that the OIDC tests start on loopback (dev.wharf.testing.OidcProvider), from
# this tools module (go.mod and go.sum only: the version and every dependency pinned, nothing copied). Built once per
# Hydra version into ${WHARF_TOOLS_CACHE:-~/.cache/wharf-tools}/hydra-<version>/hydra; prints that path.
# The replace line in go.mod is Hydra's own (its go.mod replaces pop with Ory's fork; a replace does not carry over
# to a module that requires it). Tags: Hydra's own build tags for its SQLite driver, which DSN=memory needs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(awk '$1 == "github.com/ory/hydra/v2" { print $2; exit }' "$here/go.mod")"
out="${WHARF_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wharf-tools}/hydra-$version"
if [[ ! -x "$out/hydra" ]]; then
  mkdir -p "$out"
  (cd "$here" && go build -trimpath -tags sqlite,sqlite_omit_load_extension -o "$out/hydra.tmp" github.com/ory/hydra/v2)
  mv -f "$out/hydra.tmp" "$out/hydra"
fi
echo "$out/hydra"
