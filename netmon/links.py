"""Grafana dashboard UIDs and the URL pattern of a drill-down link, in one place.

The dashboards (``dashboards/``), the alert annotations (``deploy/prometheus/``) and the NOC
page all link to the same dashboards; they build every URL here.
"""

from __future__ import annotations

from urllib.parse import urlencode

DEFAULT_GRAFANA_URL = "http://127.0.0.1:3000"

# Stable UIDs: a re-generated or re-pushed dashboard keeps its URL and bookmarks.
NATIONAL = "netmon-national"
PROVINCE = "netmon-province"
SITE = "netmon-site"  # site / device (variables: site, device)
LINK = "netmon-link"
COLLECTOR = "netmon-collector"
SUPPRESSED = "netmon-suppressed"
UIDS = (NATIONAL, PROVINCE, SITE, LINK, COLLECTOR, SUPPRESSED)


def dashboard_url(uid: str, base: str = DEFAULT_GRAFANA_URL, **variables: str) -> str:
    """``base/d/uid?var-name=value...``; Grafana redirects /d/<uid> to the slugged URL."""
    if uid not in UIDS:
        raise ValueError(f"unknown dashboard uid {uid!r}")
    query = urlencode({f"var-{k}": v for k, v in variables.items()})
    return f"{base.rstrip('/')}/d/{uid}" + (f"?{query}" if query else "")


def dashboard_url_template(uid: str, base: str = DEFAULT_GRAFANA_URL, **labels: str) -> str:
    """The same URL with Go-template label references, for Prometheus alert annotations:
    ``dashboard_url_template(SITE, site="site")`` gives
    ``.../d/netmon-site?var-site={{ $labels.site }}``.
    """
    if uid not in UIDS:
        raise ValueError(f"unknown dashboard uid {uid!r}")
    parts = [f"var-{var}={{{{ $labels.{label} }}}}" for var, label in labels.items()]
    return f"{base.rstrip('/')}/d/{uid}" + (f"?{'&'.join(parts)}" if parts else "")
