{{/*
Names. fullname is "<release>-portcullis", or just the release name when it already contains the
chart name (release "portcullis" -> "portcullis-operator", "portcullis-collector", ...).
*/}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "portcullis.operator.fullname" -}}
{{- printf "%s-operator" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portcullis.collector.fullname" -}}
{{- printf "%s-collector" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod selector of one component ("operator" or "collector"): never changes across upgrades. */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "portcullis.componentLabels" -}}
{{ include "portcullis.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The one Portcullis image: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "portcullis.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "portcullis.imagePullSecrets" -}}
{{- range $i, $name := .Values.imagePullSecrets }}
{{- if $i }}{{ "\n" }}{{ end }}- name: {{ $name }}
{{- end }}
{{- end }}

{{/* The collector's in-cluster address: what sidecars ship to and the serving certificate names. */}}
{{- define "portcullis.collector.host" -}}
{{- printf "%s.%s.svc" (include "portcullis.collector.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "portcullis.collector.url" -}}
{{- printf "https://%s:%d" (include "portcullis.collector.host" .) (int .Values.collector.port) }}
{{- end }}

{{- define "portcullis.collector.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "portcullis.collector.fullname" .)) .Values.collector.tls.existingSecret }}
{{- end }}

{{- define "portcullis.collector.dnsNames" -}}
{{- $name := include "portcullis.collector.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.%s" $name $ns .Values.operator.settings.clusterDomain) | toJson }}
{{- end }}

{{- define "portcullis.collector.tlsMode" -}}
{{- if .Values.collector.tls.existingSecret }}existingSecret
{{- else if .Values.collector.tls.certManager.issuerRef.name }}certManager
{{- else }}generated
{{- end }}
{{- end }}

{{/*
The collector's CA and serving pair, decided once per render (the Secret, the CA ConfigMap and the
operator settings must agree), as JSON {ca, cert, key}. Generated mode: the Secret this release already
has (lookup) is reused, so an upgrade does not change the CA every sidecar trusts; only a first install
(or a deleted Secret) generates a new CA. cert-manager and existingSecret modes: the CA comes from
collector.tls.caBundle (cert and key stay with cert-manager / the Secret's owner).
*/}}
{{- define "portcullis.collector.tls" -}}
{{- if not (hasKey .Values "portcullisRenderCache") }}
{{- $_ := set .Values "portcullisRenderCache" dict }}
{{- end }}
{{- $cache := .Values.portcullisRenderCache }}
{{- if not (hasKey $cache "tls") }}
{{- $mode := include "portcullis.collector.tlsMode" . }}
{{- $tls := dict "ca" .Values.collector.tls.caBundle "cert" "" "key" "" }}
{{- if eq $mode "generated" }}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "portcullis.collector.tlsSecretName" .) }}
{{- if and $secret $secret.data (index $secret.data "ca.crt") (index $secret.data "tls.crt") (index $secret.data "tls.key") }}
{{- $tls = dict "ca" (index $secret.data "ca.crt" | b64dec) "cert" (index $secret.data "tls.crt" | b64dec) "key" (index $secret.data "tls.key" | b64dec) }}
{{- else }}
{{- $days := int .Values.collector.tls.generated.validityDays }}
{{- $ca := genCA (printf "%s-ca" (include "portcullis.collector.fullname" .)) $days }}
{{- /* localhost and 127.0.0.1 too: `kubectl port-forward` users (portcullis audit) reach it there. */}}
{{- $dnsNames := append (include "portcullis.collector.dnsNames" . | fromJsonArray) "localhost" }}
{{- $leaf := genSignedCert (include "portcullis.collector.host" .) (list "127.0.0.1") $dnsNames $days $ca }}
{{- $tls = dict "ca" $ca.Cert "cert" $leaf.Cert "key" $leaf.Key }}
{{- end }}
{{- else if not .Values.collector.tls.caBundle }}
{{- fail (printf "collector.tls.caBundle is required with %s: the PEM CA that signs the collector's certificate, which sidecars and the operator trust" (ternary "collector.tls.existingSecret" "collector.tls.certManager.issuerRef" (eq $mode "existingSecret"))) }}
{{- end }}
{{- $_ := set $cache "tls" $tls }}
{{- end }}
{{- toJson $cache.tls }}
{{- end }}

{{/* Namespaced mode: the operator watches only these namespaces (Roles there, no ClusterRole). */}}
{{- define "portcullis.namespaced" -}}
{{- if .Values.operator.watchNamespaces }}true{{ end }}
{{- end }}

{{/*
What the operator does inside each namespace it watches, derived from the code:
informers (list/watch) on McpServers, ToolPolicies, their Namespace and the children; server-side apply
(create + patch) of the children and of the status subresources; Events; the sidecar reports it reads
from the collector (get mcpservers/audit). It creates Roles granting get/list/watch on configmaps and
mcpservers, so it holds those itself (RBAC escalation prevention), instead of `escalate`/`bind`.
*/}}
{{- define "portcullis.operator.rules" -}}
- apiGroups: [portcullis.dev]
  resources: [mcpservers, toolpolicies]
  verbs: [get, list, watch]
- apiGroups: [portcullis.dev]
  resources: [mcpservers/status, toolpolicies/status]
  verbs: [get, patch]
- apiGroups: [portcullis.dev]
  resources: [mcpservers/audit]
  verbs: [get]
{{- if .Values.collector.enabled }}
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
{{- end }}
- apiGroups: [""]
  resources: [configmaps, serviceaccounts, services]
  verbs: [get, list, watch, create, patch]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{- define "portcullis.securityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/* Preferred anti-affinity: replicas of one component on different nodes when possible. */}}
{{- define "portcullis.affinity" -}}
{{- if .affinity }}
{{- toYaml .affinity }}
{{- else -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "portcullis.selectorLabels" . | nindent 12 }}
{{- end }}
{{- end }}
