#!/usr/bin/env bash
# The container image tested with a real engine (podman), a real upstream registry and real clients:
#   1. base-debian.sh builds a JRE base from Debian packages (mmdebstrap), build.sh builds the image on it;
#      the image's config is checked: user 10000:10000, /data volume, entrypoint, HEALTHCHECK, JAVA_OPTS.
#   2. `podman run IMAGE --version` prints "wharf <version>".
#   3. docker-registry (CNCF distribution) starts on a free 127.0.0.1 port; skopeo seeds two images into it
#      from OCI layouts made here: a small one and one with a 128 MiB random layer.
#   4. The image runs --read-only --user 10000:10000 --network host, config mounted at /etc/wharf/wharf.yaml,
#      a volume at /data; /healthz, /readyz and the image's HEALTHCHECK answer.
#   5. skopeo copies the small image through wharf (http); the manifest digest and every blob match the seed.
#   6. A private containerd pulls the small image through wharf as a mirror (hosts.toml, ?ns= routing).
#   7. curl pulls the 128 MiB blob through wharf at a limited rate; `podman stop -t 30` (SIGTERM) is sent
#      mid-pull; the client must get the whole blob with the right sha256 and wharf must exit 0 (drained).
# Fails (never skips) when a tool is missing. Stops only what it started (container by id, processes by PID).
# Environment: KEEP_TMP=1 keeps the temp dir; WHARF_IMAGE_BASE=REF skips base-debian.sh and builds on REF.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
log() { printf '[image-test] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
STARTED=$(date +%s)

export PATH="$PATH:/usr/sbin:/sbin"
for tool in podman mmdebstrap skopeo docker-registry containerd ctr curl sha256sum tar gzip; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (run .ci/run)"
done
# This sandbox forbids containers to change rlimits: podman must not apply default ulimits.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/deploy/image/containers.conf}"

TMP="$(mktemp -d /tmp/wharf-it.XXXXXX)"
chmod 0755 "$TMP"
REGISTRY_PID=""
CURL_PID=""
CTD_PID=""
CID=""
VOLUME=""
IMAGE=""
BUILT_BASE=""

stop_pid() {
  local pid="$1" name="$2"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
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
  if [[ -n "$CID" ]]; then
    if (( rc != 0 )); then podman logs "$CID" 2>&1 | tail -n 30 >&2 || true; fi
    timeout 60 podman rm -f -t 5 "$CID" >/dev/null 2>&1 || true
  fi
  [[ -n "$VOLUME" ]] && { timeout 30 podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true; }
  # The images this run built (not a base given in WHARF_IMAGE_BASE), so runs do not pile up image layers.
  [[ -n "$IMAGE" ]] && { timeout 60 podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; }
  [[ -n "$BUILT_BASE" ]] && { timeout 60 podman rmi -f "$BUILT_BASE" >/dev/null 2>&1 || true; }
  stop_pid "$CURL_PID" curl
  stop_pid "$CTD_PID" containerd
  stop_pid "$REGISTRY_PID" docker-registry
  # containerd's native snapshots and podman's files may be read-only; make them removable.
  if [[ "${KEEP_TMP:-0}" == "1" ]]; then log "kept $TMP"; else chmod -R u+w "$TMP" 2>/dev/null || true; rm -rf "$TMP"; fi
  if (( rc == 0 )); then log "passed in $(( $(date +%s) - STARTED ))s"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then printf '%s\n' "$port"; return 0; fi
  done
  die "no free port found on 127.0.0.1"
}
# wait_url URL SECONDS CHECK: until URL answers 200, or CHECK (a command) fails, or time runs out.
wait_url() {
  local url="$1" seconds="$2" check="$3" deadline
  deadline=$(( $(date +%s) + seconds ))
  while true; do
    [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" == "200" ]] && return 0
    eval "$check" || return 1
    (( $(date +%s) <= deadline )) || return 1
    sleep 0.3
  done
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# make_layout DIR TAG LAYER_TAR COMPRESS(yes|no): an OCI image layout with one layer, config for linux/amd64.
make_layout() {
  local dir="$1" tag="$2" layer="$3" compress="$4" blobs diff_id ldigest lsize ltype cdigest csize mdigest msize
  blobs="$dir/blobs/sha256"
  mkdir -p "$blobs"
  diff_id="sha256:$(sha "$layer")"
  if [[ "$compress" == yes ]]; then
    gzip -n -c "$layer" > "$dir/layer.tmp"; ltype="application/vnd.oci.image.layer.v1.tar+gzip"
  else
    cp "$layer" "$dir/layer.tmp"; ltype="application/vnd.oci.image.layer.v1.tar"
  fi
  ldigest="$(sha "$dir/layer.tmp")"; lsize="$(stat -c %s "$dir/layer.tmp")"
  mv "$dir/layer.tmp" "$blobs/$ldigest"
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$diff_id" > "$dir/config.tmp"
  cdigest="$(sha "$dir/config.tmp")"; csize="$(stat -c %s "$dir/config.tmp")"
  mv "$dir/config.tmp" "$blobs/$cdigest"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
    "$cdigest" "$csize" "$ltype" "$ldigest" "$lsize" > "$dir/manifest.tmp"
  mdigest="$(sha "$dir/manifest.tmp")"; msize="$(stat -c %s "$dir/manifest.tmp")"
  mv "$dir/manifest.tmp" "$blobs/$mdigest"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$mdigest" "$msize" "$tag" > "$dir/index.json"
  printf 'sha256:%s sha256:%s sha256:%s\n' "$mdigest" "$cdigest" "$ldigest"
}

# ------------------------------------------------------------------------------------ 1. base and image
if [[ -n "${WHARF_IMAGE_BASE:-}" ]]; then
  BASE="$WHARF_IMAGE_BASE"
else
  t0=$(date +%s)
  # Always a fresh mmdebstrap build (the test is of that path too), under a tag of its own removed at the end.
  BUILT_BASE="localhost/wharf-base-debian:image-test"
  BASE="$(bash "$ROOT/deploy/image/base-debian.sh" --rebuild --tag "$BUILT_BASE" 2>"$TMP/base.log" | tail -n 1)" \
    || { tail -n 30 "$TMP/base.log" >&2; die "base-debian.sh failed"; }
  log "base $BASE ready in $(( $(date +%s) - t0 ))s"
fi
t0=$(date +%s)
IMAGE="$(bash "$ROOT/deploy/image/build.sh" --base "$BASE" --tag localhost/wharf:image-test 2>"$TMP/build.log" \
  | tail -n 1)" || { tail -n 30 "$TMP/build.log" >&2; die "build.sh failed"; }
[[ "$IMAGE" == localhost/wharf:image-test ]] || die "build.sh's last line is '$IMAGE', not the image reference"
log "image $IMAGE built in $(( $(date +%s) - t0 ))s"

inspect() { podman image inspect --format "$1" "$IMAGE"; }
[[ "$(inspect '{{.Config.User}}')" == "10000:10000" ]] || die "image user is '$(inspect '{{.Config.User}}')'"
[[ "$(inspect '{{json .Config.Volumes}}')" == *'"/data"'* ]] || die "/data is not a volume"
[[ "$(inspect '{{json .Config.Entrypoint}}')" == '["/opt/wharf/entrypoint.sh"]' ]] || die "unexpected entrypoint"
[[ "$(inspect '{{json .Config.Cmd}}')" == '["serve","--storage","/data"]' ]] || die "unexpected default command"
[[ "$(inspect '{{json .Config.Env}}')" == *MaxRAMPercentage* ]] || die "JAVA_OPTS has no MaxRAMPercentage"
[[ "$(inspect '{{json .Config.Healthcheck}}')" == *healthcheck.sh* ]] || die "the image has no HEALTHCHECK"

# ------------------------------------------------------------------------------------ 2. --version
VERSION_OUT="$(timeout 60 podman run --rm --read-only --user 10000:10000 --no-healthcheck "$IMAGE" \
  --version 2>"$TMP/version.err")" || die "podman run IMAGE --version failed: $(cat "$TMP/version.err")"
[[ "$VERSION_OUT" =~ ^wharf\ [0-9]+\.[0-9]+ ]] || die "--version printed '$VERSION_OUT'"
log "--version: $VERSION_OUT"
# The class-data-sharing archive made at build time belongs to the image's jar: -Xshare:on fails unless it maps.
timeout 60 podman run --rm --read-only --user 10000:10000 --no-healthcheck --entrypoint java "$IMAGE" \
  -XX:SharedArchiveFile=/opt/wharf/wharf.jsa -Xshare:on -jar /opt/wharf/wharf.jar --version \
  >"$TMP/cds.out" 2>&1 || die "the image's CDS archive does not map with its jar: $(tail -n 5 "$TMP/cds.out")"
log "CDS archive /opt/wharf/wharf.jsa maps with the image's jar"

# ------------------------------------------------------------------------------------ 3. upstream registry
REGISTRY_PORT="$(free_port)"
cat > "$TMP/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: "$TMP/registry-storage"
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  secret: wharf-image-test
YAML
docker-registry serve "$TMP/registry.yml" >"$TMP/registry.log" 2>&1 &
REGISTRY_PID=$!
wait_url "http://127.0.0.1:$REGISTRY_PORT/v2/" 30 'kill -0 $REGISTRY_PID 2>/dev/null' \
  || { tail -n 20 "$TMP/registry.log" >&2; die "docker-registry did not start"; }

mkdir -p "$TMP/small/etc" "$TMP/big"
printf 'wharf image test\n' > "$TMP/small/etc/wharf-release"
head -c 65536 /dev/urandom > "$TMP/small/etc/random.bin"
tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner -C "$TMP/small" -cf "$TMP/small.tar" .
head -c $(( 128 * 1024 * 1024 )) /dev/urandom > "$TMP/big/random.bin"
tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner -C "$TMP/big" -cf "$TMP/big.tar" .
rm -rf "$TMP/big"
read -r SMALL_MANIFEST SMALL_CONFIG SMALL_LAYER < <(make_layout "$TMP/oci-small" v1 "$TMP/small.tar" yes)
make_layout "$TMP/oci-big" v1 "$TMP/big.tar" no >/dev/null
rm -f "$TMP/big.tar"
for name in small big; do
  timeout 300 skopeo copy --quiet --dest-tls-verify=false "oci:$TMP/oci-$name:v1" \
    "docker://127.0.0.1:$REGISTRY_PORT/seed/$name:v1" || die "skopeo could not seed seed/$name:v1"
done
rm -rf "$TMP/oci-big"
# skopeo compresses an uncompressed layer on its way to a registry: take the big layer as the registry has it.
BIG_JSON="$(timeout 60 skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$REGISTRY_PORT/seed/big:v1")"
BIG_LAYER="$(printf '%s' "$BIG_JSON" | grep -o '"digest": *"sha256:[0-9a-f]\{64\}"' | tail -n 1 | grep -o 'sha256:[0-9a-f]*')"
BIG_SIZE="$(printf '%s' "$BIG_JSON" | grep -o '"size": *[0-9]*' | tail -n 1 | grep -o '[0-9]*$')"
[[ "$BIG_LAYER" == sha256:* ]] && (( BIG_SIZE > 100 * 1024 * 1024 )) || die "could not read the big layer: $BIG_JSON"
log "seeded 127.0.0.1:$REGISTRY_PORT seed/small:v1 ($SMALL_MANIFEST) and seed/big:v1 (layer $BIG_SIZE bytes)"

# ------------------------------------------------------------------------------------ 4. wharf in the image
WHARF_PORT="$(free_port)"
mkdir -p "$TMP/etc-wharf"
cat > "$TMP/etc-wharf/wharf.yaml" <<YAML
listen: 127.0.0.1:$WHARF_PORT
storage:
  path: /data
projects:
  - name: up
    upstream: http://127.0.0.1:$REGISTRY_PORT
    aliases: [wharf-image-test.invalid]
YAML
chmod -R a+rX "$TMP/etc-wharf"
VOLUME="wharf-image-test-$$"
podman volume create "$VOLUME" >/dev/null || die "podman volume create failed"
# The podman volume is root-owned when created; the image's /data (10000:10000) is copied onto it at the
# first mount, as with Docker. --no-healthcheck: podman schedules checks with systemd timers, and there is no
# systemd here; the image's check script is run by hand with podman exec instead.
CID="$(podman run -d --read-only --user 10000:10000 --network host --memory 512m \
  --no-healthcheck -e WHARF_HEALTH_PORT="$WHARF_PORT" \
  -v "$TMP/etc-wharf:/etc/wharf:ro" -v "$VOLUME:/data" \
  "$IMAGE" serve --config /etc/wharf/wharf.yaml)" || die "podman run (serve) failed"
running() { [[ "$(podman inspect --format '{{.State.Running}}' "$CID" 2>/dev/null)" == true ]]; }
wait_url "http://127.0.0.1:$WHARF_PORT/readyz" 90 running || die "wharf in the container did not become ready"
[[ "$(curl -s -m 5 "http://127.0.0.1:$WHARF_PORT/healthz")" == ok ]] || die "/healthz did not answer ok"
HC="$(inspect '{{json .Config.Healthcheck.Test}}')"
[[ "$HC" == '["CMD","/opt/wharf/healthcheck.sh"]' ]] || die "unexpected HEALTHCHECK $HC"
timeout 30 podman exec "$CID" /opt/wharf/healthcheck.sh || die "the image's HEALTHCHECK command reports unhealthy"
timeout 30 podman exec -e WHARF_HEALTH_PORT=9 "$CID" /opt/wharf/healthcheck.sh 2>/dev/null \
  && die "the HEALTHCHECK command reports healthy on a port nothing listens on"
log "wharf container ${CID:0:12} ready on 127.0.0.1:$WHARF_PORT (read-only root, user 10000, 512 MiB limit)"

# ------------------------------------------------------------------------------------ 5. skopeo through wharf
timeout 300 skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$WHARF_PORT/up/seed/small:v1" \
  "oci:$TMP/pulled:v1" || die "skopeo copy through wharf failed"
GOT="$(timeout 60 skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$WHARF_PORT/up/seed/small:v1" \
  | sha256sum | cut -d' ' -f1)"
[[ "sha256:$GOT" == "$SMALL_MANIFEST" ]] || die "manifest through wharf is sha256:$GOT, expected $SMALL_MANIFEST"
for d in "$SMALL_MANIFEST" "$SMALL_CONFIG" "$SMALL_LAYER"; do
  f="$TMP/pulled/blobs/sha256/${d#sha256:}"
  [[ -f "$f" && "sha256:$(sha "$f")" == "$d" ]] || die "blob $d missing or corrupt in the copy through wharf"
done
log "skopeo through wharf: manifest $SMALL_MANIFEST and its blobs match the seed"

# ------------------------------------------------------------------------------------ 6. containerd mirror
CTD="$TMP/ctd"
mkdir -p "$CTD/hosts/wharf-image-test.invalid"
# The mirror is wharf; the registry's own 'server' is a closed loopback port, so nothing can fall back to it.
cat > "$CTD/hosts/wharf-image-test.invalid/hosts.toml" <<TOML
server = "http://127.0.0.1:9"

[host."http://127.0.0.1:$WHARF_PORT"]
  capabilities = ["pull", "resolve"]
TOML
cat > "$CTD/config.toml" <<TOML
version = 2
root = "$CTD/root"
state = "$CTD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$CTD/c.sock"
[ttrpc]
  address = "$CTD/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CTD/opt"
TOML
containerd --config "$CTD/config.toml" --log-level warn >"$TMP/containerd.log" 2>&1 &
CTD_PID=$!
ctr_() { timeout 120 ctr --address "$CTD/c.sock" --namespace wharf-image-test "$@"; }
for _ in $(seq 1 100); do
  [[ -S "$CTD/c.sock" ]] && ctr_ version >/dev/null 2>&1 && break
  kill -0 "$CTD_PID" 2>/dev/null || { tail -n 20 "$TMP/containerd.log" >&2; die "containerd exited"; }
  sleep 0.3
done
ctr_ version >/dev/null 2>&1 || die "the private containerd did not answer within 30 s"
ctr_ images pull --snapshotter native --hosts-dir "$CTD/hosts" "wharf-image-test.invalid/seed/small:v1" \
  >"$TMP/ctr-pull.log" 2>&1 || { tail -n 20 "$TMP/ctr-pull.log" >&2; die "containerd pull through wharf failed"; }
CTR_DIGEST="$(ctr_ images ls | awk '$1 == "wharf-image-test.invalid/seed/small:v1" {print $3}')"
[[ "$CTR_DIGEST" == "$SMALL_MANIFEST" ]] || die "containerd pulled '$CTR_DIGEST', expected $SMALL_MANIFEST"
stop_pid "$CTD_PID" containerd; CTD_PID=""
log "containerd (hosts.toml mirror, ?ns=) pulled $CTR_DIGEST through wharf"

# ------------------------------------------------------------------------------------ 7. SIGTERM mid-pull
BLOB_URL="http://127.0.0.1:$WHARF_PORT/v2/up/seed/big/blobs/$BIG_LAYER"
# 16 MiB/s: the 128 MiB blob takes about 8 s, so the stop lands in the middle of it.
curl -sS -f --limit-rate 16M -m 120 -o "$TMP/big.out" -w '%{http_code} %{size_download}\n' "$BLOB_URL" \
  >"$TMP/curl.out" 2>"$TMP/curl.err" &
CURL_PID=$!
for _ in $(seq 1 300); do
  (( $(stat -c %s "$TMP/big.out" 2>/dev/null || echo 0) >= 16 * 1024 * 1024 )) && break
  kill -0 "$CURL_PID" 2>/dev/null || break
  sleep 0.1
done
AT_STOP="$(stat -c %s "$TMP/big.out" 2>/dev/null || echo 0)"
(( AT_STOP > 0 && AT_STOP < BIG_SIZE )) || die "not mid-pull when stopping: $AT_STOP of $BIG_SIZE bytes received"
kill -0 "$CURL_PID" 2>/dev/null || die "curl ended before the stop: $(cat "$TMP/curl.err")"
t0=$(date +%s)
timeout 60 podman stop -t 30 "$CID" >/dev/null || die "podman stop failed"
STOP_SECS=$(( $(date +%s) - t0 ))
CURL_RC=0
wait "$CURL_PID" || CURL_RC=$?
CURL_PID=""
EXIT_CODE="$(podman inspect --format '{{.State.ExitCode}}' "$CID")"
(( CURL_RC == 0 )) || die "curl failed ($CURL_RC) after SIGTERM mid-pull: $(cat "$TMP/curl.err")"
GOT_SIZE="$(stat -c %s "$TMP/big.out")"
(( GOT_SIZE == BIG_SIZE )) || die "the client got $GOT_SIZE of $BIG_SIZE bytes"
[[ "sha256:$(sha "$TMP/big.out")" == "$BIG_LAYER" ]] || die "the blob received across SIGTERM is corrupt"
[[ "$EXIT_CODE" == 0 ]] || die "wharf exited $EXIT_CODE on SIGTERM (0 expected after draining)"
log "SIGTERM at $AT_STOP of $BIG_SIZE bytes: the client got the whole blob ($BIG_LAYER), wharf drained" \
    "and exited 0 in ${STOP_SECS}s"
echo "image-test: 7 passed, 0 failed"
