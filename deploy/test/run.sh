#!/usr/bin/env bash
# Runs the deploy tests: units-test.sh (systemd unit, compose), tarball-test.sh (the VM tarball, unpacked and run),
# helm-test.sh (chart, strict k8s types) and
# image-test.sh (image built and run with podman against a real registry, skopeo and containerd). Each runs even
# if an earlier one failed; the exit code is non-zero if any failed. Needs what .ci/run installs.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
passed=0
failed=0
failures=()
for t in units-test tarball-test helm-test image-test; do
  start=$(date +%s)
  printf '[deploy] %s ...\n' "$t" >&2
  if timeout 1800 bash "$HERE/$t.sh"; then
    passed=$((passed + 1))
    printf '[deploy] %s passed in %ss\n' "$t" "$(( $(date +%s) - start ))" >&2
  else
    failed=$((failed + 1)); failures+=("$t")
    printf '[deploy] %s FAILED after %ss\n' "$t" "$(( $(date +%s) - start ))" >&2
  fi
done
(( failed == 0 )) || printf '[deploy] failed: %s\n' "${failures[*]}" >&2
echo "deploy: $passed passed, $failed failed"
(( failed == 0 ))
