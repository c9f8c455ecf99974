{{/*
Application name: one chart serves several services, so the name defaults to
the release name (password-generator, user-hasher, kv-store), not the chart's.
*/}}
{{- define "service.name" -}}
{{- default .Release.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "service.fullname" -}}
{{- default (include "service.name" .) .Values.fullnameOverride | trunc 56 | trimSuffix "-" }}
{{- end }}

{{- define "service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "service.serviceAccountName" -}}
{{- default (include "service.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/*
The Deployments to render, as {"slots": [...]}. Rolling: one unnamed slot.
Blue/green: one slot per colour, each with its own image and replica count.
A slot that sets neither tag nor digest runs the global image.
*/}}
{{- define "service.slots" -}}
{{- $slots := list }}
{{- if eq .Values.strategy "bluegreen" }}
{{- range $name := list "blue" "green" }}
{{- $values := get $.Values.blueGreen.slots $name }}
{{- $ownImage := or $values.tag $values.digest }}
{{- $tag := ternary $values.tag $.Values.image.tag (not (empty $ownImage)) }}
{{- $digest := ternary $values.digest $.Values.image.digest (not (empty $ownImage)) }}
{{- $slots = append $slots (dict "name" $name "suffix" (printf "-%s" $name) "replicas" $values.replicas "tag" $tag "digest" $digest) }}
{{- end }}
{{- else }}
{{- $slots = append $slots (dict "name" "" "suffix" "" "replicas" .Values.replicaCount "tag" .Values.image.tag "digest" .Values.image.digest) }}
{{- end }}
{{- toYaml (dict "slots" $slots) }}
{{- end }}

{{/* The version a slot runs: its image tag, else the chart's appVersion. Args: ctx, slot. */}}
{{- define "service.version" -}}
{{- default .ctx.Chart.AppVersion .slot.tag | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Image reference of a slot: a digest pins it, else repository:tag. Args: ctx, slot. */}}
{{- define "service.image" -}}
{{- if .slot.digest }}
{{- printf "%s@%s" .ctx.Values.image.repository .slot.digest }}
{{- else }}
{{- printf "%s:%s" .ctx.Values.image.repository (include "service.version" .) }}
{{- end }}
{{- end }}

{{/* Labels that identify the application's pods (all slots). */}}
{{- define "service.appSelectorLabels" -}}
app.kubernetes.io/name: {{ include "service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels that identify one slot's pods: the Deployment, PDB and spread selector. Args: ctx, slot. */}}
{{- define "service.selectorLabels" -}}
{{ include "service.appSelectorLabels" .ctx }}
{{- if .slot.name }}
slot: {{ .slot.name }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "service.labels" -}}
{{ include "service.appSelectorLabels" . }}
helm.sh/chart: {{ include "service.chart" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sre-platform
{{- end }}

{{/*
Seconds the app may take to finish requests in flight after SIGTERM: what the
grace period leaves after the preStop delay, minus 5 s for the process to exit.
*/}}
{{- define "service.drainSeconds" -}}
{{- sub (int .Values.shutdown.terminationGracePeriodSeconds) (add (int .Values.shutdown.preStopSleepSeconds) 5) }}
{{- end }}

{{/*
Refuse values that would render a working-looking but unsafe release: a grace
period that leaves the app no time to drain, an active slot with no pods, or
an Ingress without a host (it would answer for every host name).
*/}}
{{- define "service.validate" -}}
{{- if lt (int (include "service.drainSeconds" .)) 1 }}
{{- fail (printf "shutdown.terminationGracePeriodSeconds (%v) must exceed shutdown.preStopSleepSeconds (%v) by more than 5 s: the kubelet would kill pods before they finish draining" .Values.shutdown.terminationGracePeriodSeconds .Values.shutdown.preStopSleepSeconds) }}
{{- end }}
{{- if eq .Values.strategy "bluegreen" }}
{{- $active := get .Values.blueGreen.slots .Values.blueGreen.activeSlot }}
{{- if lt (int $active.replicas) 1 }}
{{- fail (printf "blueGreen.slots.%s.replicas is 0 but %s is the active slot: the active Service would have no endpoints" .Values.blueGreen.activeSlot .Values.blueGreen.activeSlot) }}
{{- end }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
{{- fail "ingress.enabled is true but ingress.host is empty: an Ingress without a host answers for every host name the controller serves; set ingress.host" }}
{{- end }}
{{- end }}
