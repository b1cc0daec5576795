"""The routing file admins edit (``inventory/alerting.yaml``): who gets which alert, when.

Receivers (e-mail addresses, webhooks), teams (a team owns provinces and/or regions and has an
office-hours receiver and an optional after-hours one), the default team, the team that owns
netmon's own alerts, office hours (Asia/Bangkok) and notification timing. Checked strictly,
like the inventory: unknown keys, unknown provinces or regions, a province or region owned by
two teams, an undeclared receiver, a bad time or duration are ``file:line:column`` problems,
all at once, in one ``InventoryError``.

Secrets (the SMTP password, a webhook bearer token) are ``file:`` references: Alertmanager
reads them itself (``*_file`` settings), so they never enter the generated config. An
``env:`` reference cannot reach Alertmanager's process and is refused with that reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from netmon.errors import InventoryError, Problem
from netmon.inventory.model import Inventory, Region
from netmon.inventory.strict import drop_unknown, known_keys, validate
from netmon.inventory.yamlpos import Parsed, Path_, parse

ROUTING_FILE = "alerting.yaml"  # in the inventory directory
_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|[1-9]|1[0-2])"
)
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w))+$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_HHMM = r"(?:[01]\d|2[0-3]):[0-5]\d"


def _file_ref(value: object) -> object:
    if isinstance(value, str) and not re.match(r"^file:/\S+$", value):
        if value.startswith("env:"):
            raise ValueError(
                "Alertmanager reads its secrets from files, not from netmon's environment: "
                "write file:/absolute/path"
            )
        raise ValueError(
            "secrets must be references, never the secret itself: write file:/absolute/path"
        )
    return value


FileRef = Annotated[str, BeforeValidator(_file_ref)]
Duration = Annotated[str, Field(pattern=_DURATION.pattern)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Smtp(_Strict):
    smarthost: Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")]
    from_: Annotated[str, Field(alias="from", pattern=_EMAIL.pattern)]
    username: str | None = None
    password: FileRef | None = None
    require_tls: bool = True


class Webhook(_Strict):
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    bearer_token: FileRef | None = None


def _webhook(value: object) -> object:
    return {"url": value} if isinstance(value, str) else value


class Receiver(_Strict):
    name: Name
    email: tuple[Annotated[str, Field(pattern=_EMAIL.pattern)], ...] = ()
    webhook: tuple[Annotated[Webhook, BeforeValidator(_webhook)], ...] = ()
    send_resolved: bool = True


class Team(_Strict):
    name: Name
    receiver: Name  # office hours (and all hours when after_hours is not given)
    after_hours: Name | None = None  # nights, weekends (outside office_hours)
    provinces: tuple[Annotated[str, Field(pattern=r"^\d{2}$")], ...] = ()
    regions: tuple[Region, ...] = ()


class Interval(_Strict):
    """One Alertmanager time interval (all in ``office_hours.timezone``)."""

    weekdays: tuple[Annotated[str, Field(pattern=rf"^{_DAY}(?::{_DAY})?$")], ...] = ()
    times: tuple[Annotated[str, Field(pattern=rf"^{_HHMM}-(?:{_HHMM}|24:00)$")], ...] = ()
    days_of_month: tuple[Annotated[str, Field(pattern=r"^-?\d{1,2}(?::-?\d{1,2})?$")], ...] = ()
    months: tuple[Annotated[str, Field(pattern=rf"^{_MONTH}(?::{_MONTH})?$")], ...] = ()
    years: tuple[Annotated[str, Field(pattern=r"^\d{4}(?::\d{4})?$")], ...] = ()

    @field_validator("weekdays")
    @classmethod
    def _week_order(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Alertmanager's week starts on Sunday: "monday:sunday" is refused, write two ranges.
        order = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
        for span in value:
            a, _, b = span.partition(":")
            if b and order.index(b) < order.index(a):
                raise ValueError(
                    f"{span!r}: a range runs from Sunday to Saturday "
                    '(write e.g. ["monday:saturday", "sunday"])'
                )
        return value

    @field_validator("times")
    @classmethod
    def _ordered(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for span in value:
            start, end = span.split("-")
            if end <= start:
                raise ValueError(f"{span!r}: the end is not after the start")
        return value


class OfficeHours(_Strict):
    timezone: str = "Asia/Bangkok"
    intervals: tuple[Interval, ...] = ()


class Timing(_Strict):
    group_wait: Duration = "30s"  # first notification of a new group
    group_interval: Duration = "5m"  # a group's changes
    repeat_interval: Duration = "4h"  # resend of a still-firing page
    summary_repeat_interval: Duration = "12h"  # resend of a SiteUnreachable summary

    @classmethod
    def override(cls, base: Timing, **values: str | None) -> Timing:
        """``base`` with the given values (``repeat_interval`` sets both repeats)."""
        changes = {k: v for k, v in values.items() if v is not None}
        if "repeat_interval" in changes:
            changes["summary_repeat_interval"] = changes["repeat_interval"]
        return cls.model_validate({**base.model_dump(), **changes})


class Routing(_Strict):
    smtp: Smtp | None = None
    office_hours: OfficeHours | None = None
    receivers: tuple[Receiver, ...]
    teams: tuple[Team, ...]
    default_team: Name
    collector_team: Name | None = None  # netmon's own alerts (default: the default team)
    timing: Timing = Timing()

    def team(self, name: str) -> Team:
        return next(t for t in self.teams if t.name == name)


HINTS = {
    "smarthost": "host:port",
    "from": "an e-mail address",
    "email": "an e-mail address",
    "url": "an http:// or https:// URL",
    "weekdays": "a day or a range of days (monday, monday:friday)",
    "times": "a span of the day (08:30-16:30)",
    "days_of_month": "a day of the month or a range (1, 1:15, -1)",
    "months": "a month or a range (january, 1:3)",
    "years": "a year or a range (2026, 2026:2027)",
    "group_wait": "a duration (30s, 5m, 4h)",
    "group_interval": "a duration (30s, 5m, 4h)",
    "repeat_interval": "a duration (30s, 5m, 4h)",
    "summary_repeat_interval": "a duration (30s, 5m, 4h)",
    "name": "a name (lowercase letters, digits, '.', '_' and '-')",
    "receiver": "a receiver name",
    "after_hours": "a receiver name",
    "default_team": "a team name",
    "collector_team": "a team name",
    "provinces": "a 2-digit province code",
}


def check_routing_text(
    file: str, text: str, inventory: Inventory
) -> tuple[Routing | None, list[Problem]]:
    """Check each section and item on its own (one mistake hides no other); the Routing only
    when everything is right."""
    doc = parse(file, text)
    if doc.data is None:
        return None, doc.problems
    if not isinstance(doc.data, dict):
        return None, [*doc.problems, doc.at((), "expected keys and values at the top of the file")]
    data = drop_unknown(doc, (), doc.data, known_keys(Routing))
    parts: dict[str, Any] = {}
    sections: tuple[tuple[str, type[BaseModel]], ...] = (
        ("smtp", Smtp),
        ("office_hours", OfficeHours),
        ("timing", Timing),
    )
    for key, model in sections:
        if data.get(key) is not None:
            parts[key] = validate(model, data[key], doc, (key,), HINTS)
    hours = parts.get("office_hours")
    if hours is not None and not hours.intervals:
        doc.problems.append(doc.at(("office_hours", "intervals"), "intervals: list at least one"))
    lists: tuple[tuple[str, type[BaseModel]], ...] = (("receivers", Receiver), ("teams", Team))
    for key, model in lists:
        items = data.get(key)
        if not isinstance(items, list) or not items:
            doc.problems.append(doc.at((key,) if key in data else (), f"{key}: list at least one"))
            items = []
        parts[key] = [validate(model, item, doc, (key, i), HINTS) for i, item in enumerate(items)]
    for key in ("default_team", "collector_team"):
        value = data.get(key)
        if value is None and key == "default_team":
            doc.problems.append(doc.at((), "missing key 'default_team'"))
        elif value is not None and not isinstance(value, str):
            doc.problems.append(doc.at((key,), f"{key}: should be a team name"))
    _cross_check(doc, data, parts, inventory)
    if doc.problems:
        return None, doc.problems
    routing = validate(Routing, data, doc, (), HINTS)
    return routing, doc.problems


def _cross_check(doc: Parsed, data: dict[str, Any], parts: dict[str, Any], inv: Inventory) -> None:
    """References between items, and against the inventory, for the items that are valid."""
    smtp, hours = parts.get("smtp"), parts.get("office_hours")

    def problem(path: Path_, message: str) -> None:
        doc.problems.append(doc.at(path, message))

    def first_seen(kind: str, items: list[tuple[str, Path_]]) -> set[str]:
        seen: dict[str, Path_] = {}
        for name, path in items:
            if name in seen:
                line = doc.where(seen[name])[0]
                problem(path, f"{kind} '{name}' is declared twice (first at line {line})")
            seen.setdefault(name, path)
        return set(seen)

    def names(key: str) -> list[tuple[str, Path_]]:
        raw = data.get(key)
        return [
            (item["name"], (key, i, "name"))
            for i, item in enumerate(raw if isinstance(raw, list) else [])
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        ]

    # Names written count even in an item that failed: no cascade of "unknown receiver".
    receivers = first_seen("receiver", names("receivers"))
    teams = first_seen("team", names("teams"))
    for i, rec in enumerate(parts["receivers"]):
        if rec is None:
            continue
        if not rec.email and not rec.webhook:
            problem(("receivers", i), f"receiver '{rec.name}' has no email and no webhook")
        if rec.email and smtp is None and "smtp" not in data:
            problem(("receivers", i, "email"), "email needs the smtp: section (smarthost, from)")
    provinces = {ps.province.code for ps in inv.sites}
    owner: dict[str, tuple[str, int]] = {}

    def claim(what: str, team: str, path: Path_) -> None:
        if what in owner:
            other, line = owner[what]
            kind, code = ("province", what[1:]) if what[0] == "p" else ("region", what[1:])
            problem(path, f"{kind} {code} is already routed to team '{other}' (line {line})")
        owner.setdefault(what, (team, doc.where(path)[0]))

    for i, t in enumerate(parts["teams"]):
        if t is None:
            continue
        for key in ("receiver", "after_hours"):
            name = getattr(t, key)
            if name is not None and name not in receivers:
                problem(("teams", i, key), f"{key}: unknown receiver '{name}'")
        for j, code in enumerate(t.provinces):
            if code not in provinces:
                problem(("teams", i, "provinces", j), f"provinces: unknown province code '{code}'")
            else:
                claim(f"p{code}", t.name, ("teams", i, "provinces", j))
        for j, region in enumerate(t.regions):
            claim(f"r{region.value}", t.name, ("teams", i, "regions", j))
        if t.after_hours is not None and hours is None and "office_hours" not in data:
            problem(("teams", i, "after_hours"), "after_hours needs the office_hours: section")
    for key in ("default_team", "collector_team"):
        name = data.get(key)
        if isinstance(name, str) and name not in teams:
            problem((key,), f"{key}: unknown team '{name}'")
    if hours is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(hours.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problem(("office_hours", "timezone"), f"timezone: unknown time zone {hours.timezone!r}")


def load_routing(path: str | Path, inventory: Inventory) -> Routing:
    """Read and check ``path``; raise InventoryError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError([Problem(str(p), 1, 1, f"cannot read the file: {exc}")]) from exc
    routing, problems = check_routing_text(str(p), text, inventory)
    if problems or routing is None:
        raise InventoryError(problems)
    return routing
