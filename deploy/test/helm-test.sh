#!/usr/bin/env bash
# The Helm chart deploy/helm/wharf, without a cluster:
#   - helm lint with the default values and with ci/all-on-values.yaml (every option on);
#   - helm template of both, plus a third variant (TLS from an existing secret, webhook caBundle as a value);
#     every rendered object is decoded STRICTLY into the official Kubernetes Go types (deploy/helm/check:
#     unknown fields, duplicate keys and wrong types fail; the CRDs against minimal documented structs), and
#     the checker asserts the pod security settings, probes, PVC, and the webhook's path /admission/rewrite,
#     CA (caBundle or cert-manager injection), failurePolicy Ignore, reinvocationPolicy IfNeeded and the
#     namespaceSelector excluding the release's namespace;
#   - the checker itself rejects an object with an unknown field (so it cannot pass by accident);
#   - S3 storage (s3:): the storage.s3 block, the secret key mounted as secretKeyFile, the access key from the
#     Secret (env) or a value, none of it with the SDK's default chain, the hot tier's maxSize;
#   - invalid combinations fail to render (webhook without TLS, TLS without a source, node config without url,
#     S3 without a bucket or with half its credentials);
#   - the rendered wharf.yaml (and the DaemonSet's containerd-config.yaml) load in wharf itself (`wharf du --config`;
#     with S3, the loader must accept the config and du then fails only on reaching the bucket, a closed port).
# Needs helm (go install helm.sh/helm/v3/cmd/helm, see .ci/run), go and java.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHART="$ROOT/deploy/helm/wharf"
log() { printf '[helm-test] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
STARTED=$(date +%s)
export PATH="$PATH:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
for tool in helm go java; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed (run .ci/run)"
done
TMP="$(mktemp -d -t wharf-helm.XXXXXX)"
trap 'rc=$?; rm -rf "$TMP"; (( rc == 0 )) && log "passed in $(( $(date +%s) - STARTED ))s"; exit $rc' EXIT
KUBE=(--kube-version 1.30.0)
PASSED=0

log "building the checker (deploy/helm/check)"
(cd "$ROOT/deploy/helm/check" && go build -mod=readonly -o "$TMP/check" .) || die "could not build the checker"

helm lint --strict "$CHART" >"$TMP/lint.log" 2>&1 || { cat "$TMP/lint.log" >&2; die "helm lint (defaults)"; }
helm lint --strict "$CHART" -f "$CHART/ci/all-on-values.yaml" >"$TMP/lint.log" 2>&1 \
  || { cat "$TMP/lint.log" >&2; die "helm lint (all on)"; }
PASSED=$((PASSED + 1)); log "helm lint: defaults and all-on pass"

# render NAME NAMESPACE CHECK-ARGS -- HELM-ARGS...: helm template, then the strict checker.
render() {
  local name="$1" ns="$2" checkargs="$3"; shift 4
  helm template wharf "$CHART" -n "$ns" "${KUBE[@]}" "$@" >"$TMP/$name.yaml" 2>"$TMP/$name.err" \
    || { cat "$TMP/$name.err" >&2; die "helm template ($name) failed"; }
  # shellcheck disable=SC2086
  "$TMP/check" -namespace "$ns" $checkargs <"$TMP/$name.yaml" >"$TMP/$name.check" 2>&1 \
    || { cat "$TMP/$name.check" >&2; die "rendered objects ($name) do not check"; }
  log "$name: $(tail -n 1 "$TMP/$name.check")"
  PASSED=$((PASSED + 1))
}
render defaults default \
  "-expect StatefulSet,Service,ConfigMap,PodDisruptionBudget -forbid MutatingWebhookConfiguration,DaemonSet,Ingress,ServiceMonitor,Certificate,Secret" --
render all-on wharf-system \
  "-expect StatefulSet,Service,ConfigMap,Secret,PodDisruptionBudget,Ingress,ServiceMonitor,Certificate,Issuer,MutatingWebhookConfiguration,DaemonSet" \
  -- -f "$CHART/ci/all-on-values.yaml"
CA_B64="$(printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' | base64 -w0)"
render existing-secret registry \
  "-expect MutatingWebhookConfiguration,DaemonSet -forbid Certificate,Issuer" \
  -- -f "$CHART/ci/all-on-values.yaml" --set tls.certManager.enabled=false --set tls.existingSecret=wharf-tls \
     --set webhook.caBundle="$CA_B64"

# The webhook and the config in the rendered text, as a second look beside the checker.
grep -q 'path: /admission/rewrite' "$TMP/all-on.yaml" || die "all-on: webhook path /admission/rewrite missing"
grep -q 'cert-manager.io/inject-ca-from: wharf-system/wharf' "$TMP/all-on.yaml" || die "all-on: no CA injection annotation"
grep -q "caBundle: $CA_B64" "$TMP/existing-secret.yaml" || die "existing-secret: caBundle not rendered"
grep -q 'secretName: wharf-tls' "$TMP/existing-secret.yaml" || die "existing-secret: the TLS secret is not mounted"
grep -q 'passwordFile: /etc/wharf/credentials/docker.io' "$TMP/all-on.yaml" || die "all-on: no passwordFile"
if grep -q 'dckr_pat_example' <(sed -n '/kind: ConfigMap/,/^---/p' "$TMP/all-on.yaml"); then
  die "all-on: an upstream password landed in the ConfigMap"
fi
PASSED=$((PASSED + 1)); log "webhook path, CA, TLS secret and passwordFile rendered as expected"

# Scale-out (cluster:): the internal port on the headless Service and the pod, the advertise address from the pod
# IP (downward API), the secrets mounted as files, anti-affinity; none of it without cluster.enabled.
headless() { sed -n '/name: wharf-headless/,/^---/p' "$1"; }
headless "$TMP/all-on.yaml" | grep -q 'name: cluster' || die "all-on: the headless Service has no cluster port"
grep -q 'advertise: http://${POD_IP}:5002' "$TMP/all-on.yaml" || die "all-on: cluster.advertise is not the pod IP"
grep -q 'fieldPath: status.podIP' "$TMP/all-on.yaml" || die "all-on: POD_IP does not come from the downward API"
grep -q 'containerPort: 5002' "$TMP/all-on.yaml" || die "all-on: the pod does not expose the cluster port"
grep -q 'secretFile: /etc/wharf/cluster/secret' "$TMP/all-on.yaml" || die "all-on: no cluster.secretFile"
grep -q 'passwordFile: /etc/wharf/cluster/redis-password' "$TMP/all-on.yaml" || die "all-on: no Redis passwordFile"
grep -q 'caFile: /etc/wharf/cluster/redis-ca/ca.crt' "$TMP/all-on.yaml" || die "all-on: no Redis caFile"
grep -q 'name: wharf-cluster$' "$TMP/all-on.yaml" || die "all-on: the chart made no cluster Secret"
if grep -q 'requiredDuringSchedulingIgnoredDuringExecution' "$TMP/all-on.yaml"; then
  die "all-on: cluster.antiAffinity replaced the values' own affinity"
fi
if grep -q 'cluster:\|podAntiAffinity\|POD_IP' "$TMP/defaults.yaml"; then
  die "defaults: cluster settings rendered without cluster.enabled"
fi
render cluster-soft default "-expect StatefulSet,Service,ConfigMap,PodDisruptionBudget -forbid Secret" \
  -- --set replicas=3 --set cluster.enabled=true --set cluster.redis.address=redis:6379 \
     --set cluster.existingSecret=my-cluster-secret
grep -q 'preferredDuringSchedulingIgnoredDuringExecution' "$TMP/cluster-soft.yaml" || die "cluster-soft: no soft anti-affinity"
grep -q 'name: my-cluster-secret' "$TMP/cluster-soft.yaml" || die "cluster-soft: the existing secret is not mounted"
if grep -q 'name: wharf-cluster$' "$TMP/cluster-soft.yaml"; then die "cluster-soft: made a Secret beside an existing one"; fi
render cluster-hard default "-expect StatefulSet,Service,ConfigMap,Secret,PodDisruptionBudget" \
  -- --set replicas=3 --set cluster.enabled=true --set cluster.redis.address=redis:6379 --set cluster.antiAffinity=hard
grep -q 'requiredDuringSchedulingIgnoredDuringExecution' "$TMP/cluster-hard.yaml" || die "cluster-hard: no hard anti-affinity"
PASSED=$((PASSED + 1)); log "cluster: headless port, pod-IP advertise, secrets as files, anti-affinity rendered as expected"

# S3 storage (s3:): storage.s3 as the config loader reads it, the secret key as a file, the access key from the
# Secret through an env variable or as a value, nothing of it with the SDK's default chain (IRSA).
cm() { sed -n '/^kind: ConfigMap/,/^---/p' "$1"; }
cm "$TMP/all-on.yaml" >"$TMP/all-on.cm"
for want in 'bucket: wharf-cache' 'endpoint: https://s3.example.com' 'region: eu-west-1' 'pathStyle: true' \
            'prefix: prod/' 'redirect: true' 'secretKeyFile: /etc/wharf/s3/secret-key' \
            'accessKey: ${WHARF_S3_ACCESS_KEY}' 'maxSize: 45GiB'; do
  grep -qF "$want" "$TMP/all-on.cm" || die "all-on: the ConfigMap lacks '$want'"
done
grep -q 'mountPath: /etc/wharf/s3$' "$TMP/all-on.yaml" || die "all-on: the S3 secret key is not mounted"
grep -q 'secretName: wharf-s3$' "$TMP/all-on.yaml" || die "all-on: the S3 volume is not the existing Secret"
grep -A4 'name: WHARF_S3_ACCESS_KEY' "$TMP/all-on.yaml" | grep -q 'key: "access-key"' \
  || die "all-on: WHARF_S3_ACCESS_KEY does not come from the Secret's access-key"
render s3-irsa default "-expect StatefulSet,Service,ConfigMap,PodDisruptionBudget -forbid Secret" \
  -- --set s3.enabled=true --set s3.bucket=wharf --set s3.region=eu-central-1 --set persistence.size=100Gi
cm "$TMP/s3-irsa.yaml" >"$TMP/s3-irsa.cm"
grep -qF 'maxSize: 81920MiB' "$TMP/s3-irsa.cm" || die "s3-irsa: the hot tier is not 0.8 of the 100Gi volume"
grep -qF 'region: eu-central-1' "$TMP/s3-irsa.cm" || die "s3-irsa: no region"
if grep -q 'accessKey\|secretKeyFile\|endpoint\|pathStyle\|redirect\|prefix' "$TMP/s3-irsa.cm"; then
  die "s3-irsa: keys beyond bucket and region rendered (the loader's defaults must apply)"
fi
if grep -q 'WHARF_S3_ACCESS_KEY\|/etc/wharf/s3' "$TMP/s3-irsa.yaml"; then die "s3-irsa: credentials mounted for the default chain"; fi
render s3-value default "-expect StatefulSet,Service,ConfigMap,PodDisruptionBudget -forbid Secret" \
  -- --set s3.enabled=true --set s3.bucket=wharf --set s3.endpoint=http://seaweed:8333 --set s3.pathStyle=true \
     --set s3.credentials.existingSecret=seaweed --set s3.credentials.accessKey=wharf-bot \
     --set config.storage.maxSize=20GiB
cm "$TMP/s3-value.yaml" >"$TMP/s3-value.cm"
grep -qF 'accessKey: wharf-bot' "$TMP/s3-value.cm" || die "s3-value: the access key value is not in the config"
grep -qF 'maxSize: 20GiB' "$TMP/s3-value.cm" || die "s3-value: config.storage.maxSize did not win"
grep -q 'key: "secretKey"' "$TMP/s3-value.yaml" || die "s3-value: the default secretKeyKey is not mounted"
if grep -q 'WHARF_S3_ACCESS_KEY' "$TMP/s3-value.yaml"; then die "s3-value: an env variable beside an access key value"; fi
if grep -q 's3:\|/etc/wharf/s3' "$TMP/defaults.yaml"; then die "defaults: S3 settings rendered without s3.enabled"; fi
PASSED=$((PASSED + 1)); log "S3: storage.s3 keys, secret key file, access key from Secret or value, hot tier size as expected"

# The checker must reject what the API server would: an unknown field, a misplaced one, a wrong type.
bad() {
  local what="$1" file="$2"
  if "$TMP/check" -namespace default <"$file" >"$TMP/bad.log" 2>&1; then die "the checker accepted $what"; fi
  grep -q 'strict decoding failed\|FAIL' "$TMP/bad.log" || die "the checker failed $what without saying why"
}
sed '0,/^  replicas:/s//  replicaz:/' "$TMP/defaults.yaml" >"$TMP/bad1.yaml"
bad "an unknown field (spec.replicaz)" "$TMP/bad1.yaml"
sed '0,/terminationGracePeriodSeconds: 45/s//terminationGracePeriodSeconds: "45s"/' "$TMP/defaults.yaml" >"$TMP/bad2.yaml"
bad "a string where an integer belongs" "$TMP/bad2.yaml"
sed '0,/readOnlyRootFilesystem: true/s//readOnlyRootFilesystem: false/' "$TMP/defaults.yaml" >"$TMP/bad3.yaml"
bad "a writable root filesystem" "$TMP/bad3.yaml"
PASSED=$((PASSED + 1)); log "the checker rejects an unknown field, a wrong type and a writable root filesystem"

# Invalid combinations must not render.
must_fail() {
  local what="$1"; shift
  if helm template wharf "$CHART" "${KUBE[@]}" "$@" >/dev/null 2>"$TMP/fail.err"; then die "rendered although $what"; fi
  log "refused ($what): $(grep -o 'error calling fail: .*\|execution error.*' "$TMP/fail.err" | head -n 1 | cut -c1-110)"
}
must_fail "the webhook is on without TLS" --set webhook.enabled=true
must_fail "TLS is on without a certificate source" --set tls.enabled=true
must_fail "the node config has no url" --set nodeConfig.enabled=true
must_fail "the cluster has no Redis address" --set cluster.enabled=true
must_fail "the anti-affinity is neither soft nor hard" --set cluster.antiAffinity=maybe
must_fail "S3 has no bucket" --set s3.enabled=true
must_fail "S3 has a secret but no access key" --set s3.enabled=true --set s3.bucket=wharf --set s3.credentials.existingSecret=x
must_fail "S3 has an access key but no secret" --set s3.enabled=true --set s3.bucket=wharf --set s3.credentials.accessKey=a
must_fail "S3 has both an access key value and key" --set s3.enabled=true --set s3.bucket=wharf \
  --set s3.credentials.existingSecret=x --set s3.credentials.accessKey=a --set s3.credentials.accessKeyKey=b
must_fail "the hot tier cannot be sized from persistence.size 50G" --set s3.enabled=true --set s3.bucket=wharf \
  --set persistence.size=50G
PASSED=$((PASSED + 1))

# wharf's own loader on the rendered wharf.yaml: `du` loads the config (exit 2 on a config error) and reads only.
JAR="$ROOT/server/target/wharf.jar"
if [[ ! -f "$JAR" ]]; then
  log "building $JAR"; (cd "$ROOT" && mvn -B -q -DskipTests package) >&2 || die "mvn package failed"
fi
mkdir -p "$TMP/etc/credentials" "$TMP/data/blobs"
printf 'pw\n' >"$TMP/etc/credentials/docker.io"; printf 'pw\n' >"$TMP/etc/credentials/ghcr.io"
# The cluster's mounted files (all-on) and the pod IP its advertise address expands.
mkdir -p "$TMP/etc/cluster/redis-ca"
printf 'a-shared-secret-of-enough-length\n' >"$TMP/etc/cluster/secret"; printf 'pw\n' >"$TMP/etc/cluster/redis-password"
printf 'x\n' >"$TMP/etc/cluster/redis-ca/ca.crt"
export POD_IP=10.1.2.3
# S3 (all-on, s3-value, s3-irsa): the secret key file, the access key env variable, and for the default chain its
# environment variables (so the SDK never asks an instance metadata service). The endpoints become a closed
# loopback port: the loader must accept the config; du then fails only when it reaches for the bucket.
mkdir -p "$TMP/etc/s3"; printf 's3-secret\n' >"$TMP/etc/s3/secret-key"
export WHARF_S3_ACCESS_KEY=wharf-bot AWS_ACCESS_KEY_ID=wharf-bot AWS_SECRET_ACCESS_KEY=s3-secret AWS_EC2_METADATA_DISABLED=true
CLOSED_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The chart mounts the serving pair at /etc/wharf/tls: a real one here, so the loader's file checks see a pair.
java -jar "$JAR" tls init --dir "$TMP/etc/tls" --host wharf.wharf-system.svc >"$TMP/tls-init.log" 2>&1 \
  || { cat "$TMP/tls-init.log" >&2; die "wharf tls init failed"; }
for variant in defaults:default all-on:wharf-system s3-value:default s3-irsa:default; do
  ns="${variant#*:}"; variant="${variant%%:*}"
  mkdir -p "$TMP/cm-$variant"
  "$TMP/check" -namespace "$ns" -dump-configmaps "$TMP/cm-$variant" <"$TMP/$variant.yaml" >/dev/null \
    || die "$variant: could not extract the ConfigMaps"
  cfg="$TMP/cm-$variant/wharf.yaml"
  [[ -s "$cfg" ]] || die "$variant: the ConfigMap has no wharf.yaml"
  # Point the pod's mounted paths at files here: the credentials and TLS files, the storage.
  sed -i "s#/etc/wharf/#$TMP/etc/#g; s#path: /data\$#path: $TMP/data#" "$cfg"
  rc=0
  if grep -q '^  s3:' "$cfg"; then
    # No endpoint (AWS itself, s3-irsa) or another one: the closed port, so nothing leaves loopback.
    if grep -q '^    endpoint:' "$cfg"; then
      sed -i "s#^    endpoint: .*#    endpoint: http://127.0.0.1:$CLOSED_PORT#" "$cfg"
    else
      sed -i "s#^  s3:\$#  s3:\n    endpoint: http://127.0.0.1:$CLOSED_PORT#" "$cfg"
    fi
    timeout 120 java -jar "$JAR" du --config "$cfg" >"$TMP/du.log" 2>&1 || rc=$?
    # Exit 2 is a config error; the hot tier's table is printed after the config loaded, before the bucket.
    if (( rc == 0 || rc == 2 || rc == 124 )) || ! grep -q "^storage $TMP/data" "$TMP/du.log"; then
      cat "$cfg" "$TMP/du.log" >&2; die "$variant: wharf du --config on the rendered S3 config exited $rc"
    fi
    log "$variant: the loader accepts storage.s3; du stopped at the bucket (exit $rc): $(grep -v '^\(storage \|PROJECT\|all \|[a-z0-9.-]* *[0-9]\)' "$TMP/du.log" | head -n 1 | cut -c1-100)"
  else
    java -jar "$JAR" du --config "$cfg" >"$TMP/du.log" 2>&1 || rc=$?
    if (( rc != 0 )); then cat "$cfg" "$TMP/du.log" >&2; die "$variant: wharf du --config on the rendered config exited $rc"; fi
  fi
  if [[ -s "$TMP/cm-$variant/containerd-config.yaml" ]]; then
    sed -i "s#path: /data\$#path: $TMP/data#" "$TMP/cm-$variant/containerd-config.yaml"
    java -jar "$JAR" du --config "$TMP/cm-$variant/containerd-config.yaml" >"$TMP/du.log" 2>&1 \
      || { cat "$TMP/du.log" >&2; die "$variant: wharf rejects the node DaemonSet's containerd-config.yaml"; }
  fi
done
PASSED=$((PASSED + 1)); log "wharf's config loader accepts the rendered wharf.yaml (defaults, all-on, s3-value, s3-irsa)"
echo "helm-test: $PASSED passed, 0 failed"
