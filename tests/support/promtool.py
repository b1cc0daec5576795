"""Build ``promtool test rules`` files from Python and run them against the shipped rules.

promtool compares each firing alert's labels AND annotations exactly, so the expected
annotations are rendered here from the rule's own templates (the few template forms the
rules use; anything else fails loudly), with the alert's labels and value.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules"
PROMTOOL = "/usr/bin/promtool"
STATES = ("up", "down", "unreachable", "maintenance", "unknown")

PROVINCES = {
    "50": ("Chiang Mai", "north"),
    "51": ("Lamphun", "north"),
    "10": ("Bangkok", "central"),
}


def place(device: str, site: str, pc: str = "50", role: str = "edge") -> dict[str, str]:
    province, region = PROVINCES[pc]
    return {
        "province": province,
        "province_code": pc,
        "site": site,
        "device": device,
        "role": role,
        "region": region,
    }


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{metric}{{{inner}}}", "values": values}


def timeline(segments: list[tuple[str, int]]) -> dict[str, str]:
    """[("up", 5), ("down", 20)] -> per state, one sample a minute (1 in that state, else 0)."""
    out = {}
    for s in STATES:
        out[s] = " ".join(" ".join(["1" if st == s else "0"] * n) for st, n in segments)
    return out


def device_state(where: dict[str, str], segments: list[tuple[str, int]]) -> list[dict[str, str]]:
    return [
        series("netmon_device_state", {**where, "state": s}, v)
        for s, v in timeline(segments).items()
    ]


def info(where: dict[str, str], name_en: str, name_th: str, minutes: int = 60) -> dict[str, str]:
    labels = {**where, "name_en": name_en, "name_th": name_th, "platform": "cisco_ios"}
    return series("netmon_device_info", labels, f"1x{minutes}")


# --- expected annotations -----------------------------------------------------------------------

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _go_float(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e21 else repr(float(v))


def render(template: str, labels: dict[str, str], value: float) -> str:
    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("$labels."):
            return labels.get(expr[len("$labels.") :], "")
        if expr == "$value":
            return _go_float(value)
        if expr == "$value | humanizePercentage":
            return _go_g4(value * 100) + "%"
        if expr == '$value | printf "%.0f"':
            return f"{value:.0f}"
        if expr == "$value | humanizeDuration":
            return f"{value:g}s"
        raise AssertionError(f"the test renderer does not know {{{{ {expr} }}}}")

    return _TEMPLATE.sub(one, template)


def _go_g4(v: float) -> str:
    """Go's %.4g (what humanizePercentage uses)."""
    text = f"{v:.4g}"
    return text


def alert_rules() -> list[tuple[str, dict[str, Any]]]:
    """(alertname, rule) of every shipped alerting rule."""
    doc = yaml.safe_load((RULES / "netmon-alerts.yml").read_text(encoding="utf-8"))
    return [(r["alert"], r) for g in doc["groups"] for r in g["rules"]]


@dataclass
class Expect:
    """One alert expected to fire: its input labels (the rule adds severity and its own)."""

    labels: dict[str, str]
    value: float = 1.0
    severity: str = ""  # default: the only severity the alert has


@dataclass
class Case:
    name: str
    input_series: list[dict[str, str]]
    checks: list[tuple[str, str, list[Expect]]]  # (eval_time, alertname, firing)
    exprs: list[dict[str, Any]] = field(default_factory=list)  # promql_expr_test entries


def _exp_alert(alertname: str, e: Expect) -> dict[str, Any]:
    def fits(rule: dict[str, Any]) -> bool:
        own = {k: v for k, v in rule["labels"].items() if k != "severity"}
        sev = rule["labels"]["severity"]
        return sev == (e.severity or sev) and own.items() <= e.labels.items()

    matches = [r for n, r in alert_rules() if n == alertname and fits(r)]
    assert len(matches) == 1, f"{alertname}: give the severity (or labels) of the alert"
    rule = matches[0]
    labels = {**e.labels, **rule["labels"]}
    full = {**labels, "alertname": alertname}
    annotations = {k: render(v, full, e.value) for k, v in rule["annotations"].items()}
    return {"exp_labels": labels, "exp_annotations": annotations}


def group_names() -> list[str]:
    """Recording groups first: promtool's order of groups is otherwise not fixed, and a rule
    reading a recorded series would see it one evaluation later at random."""
    out = []
    for f in ("netmon-recording.yml", "netmon-alerts.yml"):
        doc = yaml.safe_load((RULES / f).read_text(encoding="utf-8"))
        out += [g["name"] for g in doc["groups"]]
    return out


def test_file(cases: list[Case]) -> dict[str, Any]:
    return {
        "rule_files": [str(RULES / "netmon-recording.yml"), str(RULES / "netmon-alerts.yml")],
        "evaluation_interval": "1m",
        "group_eval_order": group_names(),
        "tests": [
            {
                "interval": "1m",
                "input_series": c.input_series,
                "alert_rule_test": [
                    {
                        "eval_time": t,
                        "alertname": name,
                        "exp_alerts": [_exp_alert(name, e) for e in firing],
                    }
                    for t, name, firing in c.checks
                ],
                **({"promql_expr_test": c.exprs} if c.exprs else {}),
            }
            for c in cases
        ],
    }


def run_promtool(tmp: Path, name: str, cases: list[Case]) -> subprocess.CompletedProcess[str]:
    path = tmp / f"{name}.test.yml"
    path.write_text(yaml.safe_dump(test_file(cases), allow_unicode=True, sort_keys=False))
    return subprocess.run(
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
