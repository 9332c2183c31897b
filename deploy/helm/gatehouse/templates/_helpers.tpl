{{/* Names: <release>-gatehouse-<component>, or the release name when it already says gatehouse. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
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

{{/* Name of one component's objects: (dict "root" $ "component" "auth-service") */}}
{{- define "gatehouse.componentName" -}}
{{- printf "%s-%s" (include "gatehouse.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: gatehouse
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "gatehouse.selectorLabels" . }}
{{- end -}}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
<registry>/<repository>:<tag>[@<digest>] for a component: (dict "root" $ "image" .Values.authService.image).
The digest (pinned by the release workflow, deploy/pin-images.ts) is what the node pulls;
the tag stays for people reading it.
*/}}
{{- define "gatehouse.image" -}}
{{- $registry := .root.Values.image.registry -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- $ref := printf "%s:%s" .image.repository $tag -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- with .image.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .values.serviceAccount.create -}}
{{- default (include "gatehouse.componentName" .) .values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The auth-service Secret, required whenever something runs with it. */}}
{{- define "gatehouse.authSecret" -}}
{{- required "authService.existingSecret: name an existing Secret with DATABASE_URL, REDIS_URL, SIGNING_KEY_KEK, WEBHOOK_SECRET and ADMIN_API_TOKEN (deploy/README.md \"Secrets\")" .Values.authService.existingSecret -}}
{{- end -}}

{{/* env entry read from a Secret: (dict "name" "DATABASE_URL" "secret" "x") */}}
{{- define "gatehouse.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .name }}
{{- end -}}

{{/*
Where Redis is (values `redis`, deploy/README.md "Redis: Sentinel and Cluster"), as the
apps read it (@gatehouse/redis): REDIS_URL from the Secret for one server; the sentinels
or the cluster's nodes as plain values, and the passwords from the Secret (optional keys).
(dict "root" $ "secret" "<Secret name>"); an empty secret: standalone renders nothing.
*/}}
{{- define "gatehouse.redisEnv" -}}
{{- $r := .root.Values.redis -}}
{{- if eq $r.mode "standalone" -}}
{{- with .secret }}
{{ include "gatehouse.secretEnv" (dict "name" "REDIS_URL" "secret" .) }}
{{- end }}
{{- else if or (eq $r.mode "sentinel") (eq $r.mode "cluster") -}}
{{- if eq $r.mode "sentinel" }}
- name: REDIS_SENTINELS
  value: {{ required "redis.sentinel.nodes: the sentinels' host:port (redis.mode sentinel)" (join "," $r.sentinel.nodes) | quote }}
- name: REDIS_SENTINEL_NAME
  value: {{ required "redis.sentinel.masterName: the primary's name in Sentinel's configuration (redis.mode sentinel)" $r.sentinel.masterName | quote }}
{{- else }}
- name: REDIS_CLUSTER_NODES
  value: {{ required "redis.cluster.nodes: host:port of some or all of the cluster's nodes (redis.mode cluster)" (join "," $r.cluster.nodes) | quote }}
{{- end }}
{{- with $r.username }}
- name: REDIS_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- with .secret }}
{{ include "gatehouse.optionalSecretEnv" (dict "name" "REDIS_PASSWORD" "secret" .) }}
{{- if eq $r.mode "sentinel" }}
{{ include "gatehouse.optionalSecretEnv" (dict "name" "REDIS_SENTINEL_PASSWORD" "secret" .) }}
{{- end }}
{{- end }}
{{- else -}}
{{- fail (printf "redis.mode: standalone, sentinel or cluster (got %q)" $r.mode) -}}
{{- end -}}
{{- end -}}

{{/* Egress to Redis: its data port(s), and with Sentinel the sentinels' port too. */}}
{{- define "gatehouse.redisEgress" -}}
{{- $np := .Values.networkPolicy.redis -}}
{{- $ports := $np.ports -}}
{{- if eq .Values.redis.mode "sentinel" }}{{ $ports = concat $ports $np.sentinelPorts | uniq }}{{ end -}}
{{ include "gatehouse.egressTo" (dict "ports" $ports "to" $np.to) }}
{{- end -}}

{{/* A Secret key that may be absent (the variable is then unset), e.g. SIGNING_KEY_KEK_PREVIOUS. */}}
{{- define "gatehouse.optionalSecretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .name }}
      optional: true
{{- end -}}

{{- define "gatehouse.authServiceUrl" -}}
{{- if .Values.gateway.authServiceUrl -}}
{{- .Values.gateway.authServiceUrl -}}
{{- else if not .Values.authService.enabled -}}
{{- fail "gateway.authServiceUrl is required when authService.enabled is false" -}}
{{- else -}}
{{- printf "http://%s.%s.svc.cluster.local:%v" (include "gatehouse.componentName" (dict "root" . "component" "auth-service")) .Release.Namespace .Values.authService.ports.public -}}
{{- end -}}
{{- end -}}

{{/* The auth-service's admin URL, where the gateway reports account locks (gateway.lockoutReports). */}}
{{- define "gatehouse.authAdminUrl" -}}
{{- if .Values.gateway.lockoutReports.authAdminUrl -}}
{{- .Values.gateway.lockoutReports.authAdminUrl -}}
{{- else if not .Values.authService.enabled -}}
{{- fail "gateway.lockoutReports.authAdminUrl is required when authService.enabled is false (or set gateway.lockoutReports.enabled to false)" -}}
{{- else -}}
{{- printf "http://%s.%s.svc.cluster.local:%v" (include "gatehouse.componentName" (dict "root" . "component" "auth-service")) .Release.Namespace .Values.authService.ports.admin -}}
{{- end -}}
{{- end -}}

{{/* The gateway's in-cluster URL (its Service): what the web app's server calls. */}}
{{- define "gatehouse.gatewayServiceUrl" -}}
{{- printf "http://%s.%s.svc.cluster.local:%v" (include "gatehouse.componentName" (dict "root" . "component" "gateway")) .Release.Namespace .Values.gateway.service.port -}}
{{- end -}}

{{/* Where the web app's objects live: web.namespace, or the release's. */}}
{{- define "gatehouse.webNamespace" -}}
{{- .Values.web.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* Pod-level scheduling and security shared by every pod of a component: (dict "root" $ "component" "gateway" "values" .Values.gateway) */}}
{{- define "gatehouse.podSpecCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
affinity:
{{- if .values.affinity }}
  {{- toYaml .values.affinity | nindent 2 }}
{{- else }}
  # Scores a node that already runs a replica lower, also past the point where the spread
  # below allows two on one node (more replicas than nodes).
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "gatehouse.selectorLabels" . | nindent 14 }}
{{- end }}
topologySpreadConstraints:
{{- if .values.topologySpreadConstraints }}
  {{- toYaml .values.topologySpreadConstraints | nindent 2 }}
{{- else }}
  # Nodes, hard: never two replicas on one node while an eligible node has fewer (a node
  # failure or drain takes one). Nodes whose taints the pods do not tolerate do not count.
  # pod-template-hash: during a rollout the new ReplicaSet spreads on its own.
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: DoNotSchedule
    nodeTaintsPolicy: Honor
    matchLabelKeys: [pod-template-hash]
    labelSelector:
      matchLabels:
        {{- include "gatehouse.selectorLabels" . | nindent 8 }}
  # Zones, soft: a single-zone cluster, or nodes without the zone label, still schedule.
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    matchLabelKeys: [pod-template-hash]
    labelSelector:
      matchLabels:
        {{- include "gatehouse.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/*
A component's PodDisruptionBudget: (dict "root" $ "component" "gateway" "values" .Values.gateway).
AlwaysAllow: a pod that is not Ready (crash-looping, stuck) can always be evicted, so it
never blocks a node drain; only Ready pods count against maxUnavailable.
*/}}
{{- define "gatehouse.pdb" -}}
{{- if .values.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "gatehouse.componentName" . }}
  namespace: {{ .namespace | default .root.Release.Namespace }}
  labels:
    {{- include "gatehouse.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .values.podDisruptionBudget.maxUnavailable }}
  unhealthyPodEvictionPolicy: {{ .values.podDisruptionBudget.unhealthyPodEvictionPolicy }}
  selector:
    matchLabels:
      {{- include "gatehouse.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* A component's HorizontalPodAutoscaler on CPU: (dict "root" $ "component" "gateway" "values" .Values.gateway) */}}
{{- define "gatehouse.hpa" -}}
{{- if .values.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "gatehouse.componentName" . }}
  namespace: {{ .namespace | default .root.Release.Namespace }}
  labels:
    {{- include "gatehouse.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "gatehouse.componentName" . }}
  minReplicas: {{ .values.autoscaling.minReplicas }}
  maxReplicas: {{ .values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}

{{/*
A ServiceMonitor for one component's Service port, only when the cluster serves
prometheus-operator's API (a cluster without it would refuse the whole release):
(dict "root" $ "component" "gateway" "port" "metrics")
*/}}
{{- define "gatehouse.serviceMonitor" -}}
{{- $sm := .root.Values.serviceMonitor }}
{{- if and $sm.enabled (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "gatehouse.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "gatehouse.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "gatehouse.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ .port }}
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rules every Gatehouse pod needs: DNS. */}}
{{- define "gatehouse.egressDns" -}}
- to:
    {{- toYaml .Values.networkPolicy.dns | nindent 4 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/* Egress to a dependency ({to, ports}) on TCP. */}}
{{- define "gatehouse.egressTo" -}}
- ports:
    {{- range .ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* The `kratos serve` pods of the official chart's release (not its courier, jobs or test pod). */}}
{{- define "gatehouse.kratosPodLabels" -}}
{{- toYaml .Values.kratos.podLabels }}
app.kubernetes.io/instance: {{ required "kratos.release: the Kratos chart's release name" .Values.kratos.release }}
{{- end -}}

{{/* A peer: Kratos' serve pods, in their namespace (the same as this release's or another). */}}
{{- define "gatehouse.kratosPeer" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.kratos.namespace }}
  podSelector:
    matchLabels:
      {{- include "gatehouse.kratosPodLabels" . | nindent 6 }}
{{- end -}}

{{/* A peer: one component's pods of this release, named by namespace so that the rule also
     holds in a policy that lives in another namespace (Kratos', the web app's).
     (dict "root" $ "component" "gateway"), with "namespace" when not the release's. */}}
{{- define "gatehouse.componentPeer" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .namespace | default .root.Release.Namespace }}
  podSelector:
    matchLabels:
      {{- include "gatehouse.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* Egress to Kratos' serve pods on some of its ports: (dict "root" $ "ports" (list 4433)) */}}
{{- define "gatehouse.egressKratos" -}}
- to:
    {{- include "gatehouse.kratosPeer" .root | nindent 4 }}
  ports:
    {{- range .ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end -}}

{{/*
A component's shutdown (deploy/README.md "Shutdown"): the container's preStop sleep,
checked against the pod's terminationGracePeriodSeconds, which must cover the sleep and
the app's own grace period (SHUTDOWN_GRACE_SECONDS) with a second to spare:
(dict "component" "gateway" "values" .Values.gateway)
*/}}
{{- define "gatehouse.lifecycle" -}}
{{- $s := .values.shutdown -}}
{{- $need := add (int $s.preStopSleepSeconds) (int $s.graceSeconds) 1 -}}
{{- if lt (int .values.terminationGracePeriodSeconds) (int $need) -}}
{{- fail (printf "%s: terminationGracePeriodSeconds (%v) must be at least shutdown.preStopSleepSeconds + shutdown.graceSeconds + 1 (%v), or Kubernetes kills the pod before it has drained" .component .values.terminationGracePeriodSeconds $need) -}}
{{- end -}}
{{- if gt (int $s.preStopSleepSeconds) 0 -}}
lifecycle:
  preStop:
    sleep:
      seconds: {{ int $s.preStopSleepSeconds }}
{{- end -}}
{{- end -}}

{{/*
OpenTelemetry for one component, when tracing.enabled (deploy/README.md "Traces"): the
standard OTEL_* variables, which the services parse with the rest of their configuration.
(dict "root" $ "service" "gateway")
*/}}
{{- define "gatehouse.tracingEnv" -}}
{{- $t := .root.Values.tracing -}}
{{- if $t.enabled -}}
{{- $ratio := float64 $t.samplerRatio -}}
{{- if or (lt $ratio 0.0) (gt $ratio 1.0) -}}
{{- fail (printf "tracing.samplerRatio must be between 0 and 1, got %v" $t.samplerRatio) -}}
{{- end -}}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ required "tracing.otlpEndpoint: the collector's OTLP/HTTP URL, e.g. http://otel-collector.observability.svc.cluster.local:4318" $t.otlpEndpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $t.samplerRatio | toString | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=gatehouse,k8s.namespace.name=%s" .root.Release.Namespace | quote }}
{{- end -}}
{{- end -}}

{{/* NetworkPolicy egress to the trace collector, when tracing.enabled. */}}
{{- define "gatehouse.egressTracing" -}}
{{- if .Values.tracing.enabled -}}
{{- include "gatehouse.egressTo" .Values.tracing.networkPolicy -}}
{{- end -}}
{{- end -}}
