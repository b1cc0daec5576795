"""Run a dashboard's queries against a real Prometheus, as Grafana would, and say what is wrong.

Every panel target and template variable is run with the variables substituted. A query
fails when it returns nothing, names a metric Prometheus does not have, or names a label
(matcher, ``by``/``on``/``group_left`` clause, ``{{legend}}``, data-link field) that none of
its metrics' series carry. Queries that name a metric from ``pending`` (series that other
work will export) are reported as pending instead, but only while Prometheus lacks that
metric: once it exists the caller must drop it from the list (``stale_pending``). Metrics in
``optional`` may be absent (the 32-bit fallback counters exist only where an agent has no
ifXTable, in ``A or B`` expressions); the query must still return data.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan", "atan2",
}  # fmt: skip
PROMETHEUS_OWN = {"ALERTS", "ALERTS_FOR_STATE", "up", "scrape_duration_seconds"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_FIELD = re.compile(
    r"\$\{__data\.fields\.([a-zA-Z_][a-zA-Z0-9_]*)\}|\$\{__field\.labels\.([a-zA-Z_][a-zA-Z0-9_]*)\}"
)
_LABEL_VALUES = re.compile(r"^label_values\((?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)$")


def parse(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) a PromQL expression refers to."""
    text = _STRING.sub('""', expr)
    labels: set[str] = set()
    for inner in _MATCHERS.findall(text):
        labels.update(_MATCHER_LABEL.findall(inner))
    text = _MATCHERS.sub(" ", text)
    for _, names in _GROUPING.findall(text):
        labels.update(n.strip() for n in names.split(",") if n.strip())
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    metrics = {
        name
        for name, call in _IDENT.findall(text)
        if not call and name.lower() not in KEYWORDS and not re.fullmatch(r"[0-9e]+", name)
    }
    return metrics, labels - {"__name__"}


def substitute(text: str, variables: Mapping[str, str]) -> str:
    for name in sorted(variables, key=len, reverse=True):
        text = text.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    return text


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    checked: int = 0


class PanelChecker:
    def __init__(
        self, base: str, pending: Iterable[str] = (), optional: Iterable[str] = ()
    ) -> None:
        self.base = base.rstrip("/")
        self.pending = set(pending)
        self.optional = set(optional)
        self.metrics = set(self._get("/api/v1/label/__name__/values"))
        self._labels: dict[str, set[str]] = {}

    def _get(self, path: str, **params: str | list[str]) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.base}{path}?{query}", timeout=20) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 400: a query Prometheus cannot parse
            raise AssertionError(exc.read().decode(errors="replace")) from exc
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/query", query=expr)["result"])

    def labels_of(self, metric: str) -> set[str]:
        if metric not in self._labels:
            names = self._get("/api/v1/labels", **{"match[]": [metric]})
            self._labels[metric] = set(names)
        return self._labels[metric]

    def stale_pending(self) -> list[str]:
        """Pending metrics Prometheus now has: the list must shrink."""
        return sorted(self.pending & self.metrics)

    def check_expr(self, where: str, expr: str, report: Report, *, extra_labels: set[str]) -> None:
        metrics, labels = parse(expr)
        waiting = sorted(m for m in metrics if m in self.pending and m not in self.metrics)
        if waiting:
            report.pending.append(f"{where}: waits for {', '.join(waiting)}")
            return
        report.checked += 1
        unknown = sorted(m for m in metrics if m not in self.metrics and m not in self.optional)
        if unknown:
            report.failures.append(f"{where}: no such metric {unknown} in {expr!r}")
            return
        present = [m for m in metrics if m in self.metrics]
        known = set().union(*(self.labels_of(m) for m in present)) if present else set()
        missing = sorted(lab for lab in labels if lab not in known)
        if missing:
            report.failures.append(f"{where}: label(s) {missing} not on {sorted(metrics)}")
            return
        try:
            result = self.query(expr)
        except AssertionError as exc:
            report.failures.append(f"{where}: Prometheus refused {expr!r}: {exc}")
            return
        if not result:
            report.failures.append(f"{where}: no data for {expr!r}")
            return
        have = set().union(*(set(r["metric"]) for r in result))
        absent = sorted(lab for lab in extra_labels if lab not in have)
        if absent:
            report.failures.append(f"{where}: result has no label(s) {absent} (legend/links)")

    def check_dashboard(self, dashboard: Mapping[str, Any], variables: Mapping[str, str]) -> Report:
        report = Report()
        for var in dashboard.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            where = f"{dashboard['uid']} variable {var['name']}"
            m = _LABEL_VALUES.match(substitute(str(var["query"]), variables).strip())
            if m is None:
                report.failures.append(f"{where}: not a label_values() query: {var['query']!r}")
                continue
            selector, label = m.group(1), m.group(2)
            self.check_expr(where, selector or "up", report, extra_labels={label})
            values = self._get(f"/api/v1/label/{label}/values", **{"match[]": [selector or "up"]})
            if variables.get(var["name"]) not in values:
                report.failures.append(
                    f"{where}: {variables.get(var['name'])!r} is not among its values {values}"
                )
        for panel in dashboard.get("panels", []):
            field_labels: set[str] = set()
            for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
                for a, b in _FIELD.findall(link["url"]):
                    field_labels.add(a or b)
            targets = panel.get("targets", [])
            results_labels: set[str] = set()
            for t in targets:
                where = f"{dashboard['uid']} / {panel['title']} / {t['refId']}"
                expr = substitute(t["expr"], variables)
                legend = set(_LEGEND.findall(t.get("legendFormat", "")))
                before = len(report.failures) + len(report.pending)
                self.check_expr(where, expr, report, extra_labels=legend)
                if len(report.failures) + len(report.pending) == before:
                    for r in self.query(expr):
                        results_labels.update(r["metric"])
            # a data link's field must come from some query of the panel (when all ran)
            ran_all = not any(
                p.startswith(f"{dashboard['uid']} / {panel['title']} /") for p in report.pending
            )
            missing = sorted(f for f in field_labels - results_labels if f != "Value")
            if ran_all and targets and missing and results_labels:
                report.failures.append(
                    f"{dashboard['uid']} / {panel['title']}: data link field(s) {missing} "
                    "are in no query's result"
                )
        return report
