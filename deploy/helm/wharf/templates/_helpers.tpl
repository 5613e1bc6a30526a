{{- define "wharf.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wharf.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wharf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wharf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "wharf.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "wharf.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "wharf.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "wharf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wharf.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The TLS secret's name: the existing one, or the cert-manager Certificate's. Empty without TLS. */}}
{{- define "wharf.tlsSecret" -}}
{{- if .Values.tls.enabled -}}
{{- if .Values.tls.existingSecret -}}
{{- .Values.tls.existingSecret -}}
{{- else if .Values.tls.certManager.enabled -}}
{{- printf "%s-tls" (include "wharf.fullname" .) -}}
{{- else -}}
{{- fail "tls.enabled needs tls.existingSecret or tls.certManager.enabled" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wharf.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/* Projects that carry credentials, as a list of {project, secret, key}. */}}
{{- define "wharf.credentialSources" -}}
{{- $out := list -}}
{{- range .Values.config.projects -}}
{{- if .credentials -}}
{{- if .credentials.existingSecret -}}
{{- $out = append $out (dict "project" .name "secret" .credentials.existingSecret "key" (default "password" .credentials.existingSecretKey)) -}}
{{- else if .credentials.password -}}
{{- $out = append $out (dict "project" .name "secret" (printf "%s-upstream" (include "wharf.fullname" $)) "key" .name) -}}
{{- else -}}
{{- fail (printf "project %s: credentials need password or existingSecret" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* wharf.yaml as a dict. */}}
{{- define "wharf.config" -}}
{{- $projects := list -}}
{{- range .Values.config.projects -}}
{{- $p := omit . "credentials" -}}
{{- if .credentials -}}
{{- if .credentials.username -}}{{- $_ := set $p "username" .credentials.username -}}{{- end -}}
{{- $_ := set $p "passwordFile" (printf "/etc/wharf/credentials/%s" .name) -}}
{{- end -}}
{{- $projects = append $projects $p -}}
{{- end -}}
{{- $storage := merge (dict "path" "/data") .Values.config.storage -}}
{{- if .Values.s3.enabled -}}
{{- $_ := set $storage "s3" (include "wharf.s3" . | fromYaml) -}}
{{- if not (hasKey $storage "maxSize") -}}{{- $_ := set $storage "maxSize" (include "wharf.hotTierSize" .) -}}{{- end -}}
{{- end -}}
{{- $cfg := dict "listen" (printf "0.0.0.0:%d" (int .Values.port)) "storage" $storage "projects" $projects -}}
{{- if .Values.config.defaultProject -}}{{- $_ := set $cfg "defaultProject" .Values.config.defaultProject -}}{{- end -}}
{{- if .Values.tls.enabled -}}
{{- $_ := set $cfg "tls" (dict "cert" "/etc/wharf/tls/tls.crt" "key" "/etc/wharf/tls/tls.key") -}}
{{- end -}}
{{- if and .Values.webhook.enabled .Values.webhook.rules -}}
{{- $_ := set $cfg "rewrite" (dict "rules" .Values.webhook.rules) -}}
{{- end -}}
{{- if .Values.adminPort -}}
{{- $_ := set $cfg "admin" (dict "listen" (printf "0.0.0.0:%d" (int .Values.adminPort))) -}}
{{- end -}}
{{- if .Values.cluster.enabled -}}
{{- $redis := dict "address" .Values.cluster.redis.address -}}
{{- if .Values.cluster.redis.passwordSecret -}}{{- $_ := set $redis "passwordFile" "/etc/wharf/cluster/redis-password" -}}{{- end -}}
{{- if .Values.cluster.redis.tls -}}{{- $_ := set $redis "tls" true -}}{{- end -}}
{{- if and .Values.cluster.redis.tls .Values.cluster.redis.caSecret -}}{{- $_ := set $redis "caFile" "/etc/wharf/cluster/redis-ca/ca.crt" -}}{{- end -}}
{{- $_ := set $cfg "cluster" (dict "redis" $redis "listen" (printf "0.0.0.0:%d" (int .Values.cluster.port)) "advertise" (printf "http://${POD_IP}:%d" (int .Values.cluster.port)) "secretFile" "/etc/wharf/cluster/secret") -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $cfg .Values.config.extra) -}}
{{- end -}}

{{/* The config the node DaemonSet's containerd-config reads: projects only, no credentials or TLS. */}}
{{- define "wharf.nodeConfig" -}}
{{- $projects := list -}}
{{- range .Values.config.projects -}}
{{- $projects = append $projects (pick . "name" "upstream" "aliases" "dockerHub") -}}
{{- end -}}
{{- $cfg := dict "listen" (printf "0.0.0.0:%d" (int .Values.port)) "storage" (dict "path" "/data") "projects" $projects -}}
{{- if .Values.config.defaultProject -}}{{- $_ := set $cfg "defaultProject" .Values.config.defaultProject -}}{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The Secret holding the replicas' shared secret for the internal port. */}}
{{- define "wharf.clusterSecret" -}}
{{- .Values.cluster.existingSecret | default (printf "%s-cluster" (include "wharf.fullname" .)) -}}
{{- end -}}

{{/* storage.s3 of wharf.yaml, as the config loader reads it (OperationsReader: endpoint, bucket, region,
     pathStyle, prefix, accessKey, secretKeyFile, redirect). Absent keys take the loader's defaults. */}}
{{- define "wharf.s3" -}}
{{- $s := .Values.s3 -}}
{{- if not $s.bucket -}}{{- fail "s3.enabled needs s3.bucket" -}}{{- end -}}
{{- $out := dict "bucket" $s.bucket -}}
{{- with $s.endpoint -}}{{- $_ := set $out "endpoint" . -}}{{- end -}}
{{- with $s.region -}}{{- $_ := set $out "region" . -}}{{- end -}}
{{- with $s.prefix -}}{{- $_ := set $out "prefix" . -}}{{- end -}}
{{- if $s.pathStyle -}}{{- $_ := set $out "pathStyle" true -}}{{- end -}}
{{- if $s.redirect -}}{{- $_ := set $out "redirect" true -}}{{- end -}}
{{- $c := $s.credentials -}}
{{- if $c.existingSecret -}}
{{- if and $c.accessKey $c.accessKeyKey -}}{{- fail "s3.credentials: accessKey or accessKeyKey, not both" -}}{{- end -}}
{{- if $c.accessKey -}}{{- $_ := set $out "accessKey" $c.accessKey -}}
{{- else if $c.accessKeyKey -}}{{- $_ := set $out "accessKey" "${WHARF_S3_ACCESS_KEY}" -}}
{{- else -}}{{- fail "s3.credentials.existingSecret needs s3.credentials.accessKey or .accessKeyKey" -}}{{- end -}}
{{- $_ := set $out "secretKeyFile" "/etc/wharf/s3/secret-key" -}}
{{- else if or $c.accessKey $c.accessKeyKey -}}
{{- fail "s3.credentials.accessKey/accessKeyKey need s3.credentials.existingSecret (the secret key); leave all empty for the SDK's default chain" -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The hot tier's maxSize with S3: s3.hotTierFraction of persistence.size, in wharf's units (GiB...). */}}
{{- define "wharf.hotTierSize" -}}
{{- $m := regexFind "^[0-9]+(Mi|Gi|Ti)$" (toString .Values.persistence.size) -}}
{{- if not $m -}}
{{- fail (printf "s3.enabled: set config.storage.maxSize (persistence.size %v is not N Mi, Gi or Ti)" .Values.persistence.size) -}}
{{- end -}}
{{- $unit := regexFind "(Mi|Gi|Ti)$" $m -}}
{{- $mib := mul (int (trimSuffix $unit $m)) (get (dict "Mi" 1 "Gi" 1024 "Ti" 1048576) $unit) -}}
{{- printf "%dMiB" (int (mulf $mib (float64 .Values.s3.hotTierFraction))) -}}
{{- end -}}
