"""How a notification mail reads (Go templates inline in each ``email_configs`` entry, so the
generated config needs no template file beside it): a SiteUnreachable summary reads as one
outage, "12 dark sites because p50-core1 is down", with one line per dark site in English and
Thai; other alerts show their summary, place and dashboard link."""

from __future__ import annotations

SUBJECT = (
    '{{ if eq .GroupLabels.alertname "SiteUnreachable" -}}'
    "[{{ .Status | toUpper }}] {{ .Alerts.Firing | len }} dark sites because "
    "{{ .GroupLabels.cause_device }} is down"
    "{{- else -}}"
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .GroupLabels.alertname }}{{ with .CommonLabels.severity }} ({{ . }}){{ end }}"
    "{{ with .CommonLabels.province }} {{ . }}{{ end }}"
    "{{ with .GroupLabels.site }} site {{ . }}{{ end }}"
    "{{- end }}"
)

_SITE = (
    "  - site {{ .Labels.site }} {{ .Annotations.site_name_en }} / "
    "{{ .Annotations.site_name_th }}, {{ .Annotations.province }}"
)
TEXT = (
    """\
{{ if eq .GroupLabels.alertname "SiteUnreachable" -}}
{{ .GroupLabels.cause_device }} is down (it is paged as DeviceDown); dark because of it:
{{ range .Alerts.Firing }}"""
    + _SITE
    + """
{{ end }}{{ with .Alerts.Resolved }}reachable again:
{{ range . }}  - site {{ .Labels.site }} {{ .Annotations.site_name_en }}
{{ end }}{{ end }}
{{- else -}}
{{ range .Alerts }}[{{ .Status }}] {{ .Annotations.summary }}
{{ with .Annotations.description }}  {{ . }}
{{ end }}{{ with .Annotations.site }}  site: {{ . }}
{{ end }}{{ with .Annotations.dashboard }}  dashboard: {{ . }}
{{ end }}
{{ end }}
{{- end }}
"""
)

EMAIL_FIELDS = {"headers": {"Subject": SUBJECT}, "text": TEXT, "html": "<pre>" + TEXT + "</pre>"}
