"""Maintenance windows (``inventory/maintenance.yaml``): planned work that must never page.

A window covers devices, sites or provinces (``scope``), says who does the work and why, and is
either one absolute span (``start``/``end``, ISO 8601; a time without an offset is in the
window's ``timezone``, Asia/Bangkok by default) or a weekly schedule (``weekly: {days, start,
duration}``; an occurrence may cross midnight). Loaded strictly, like the inventory: every
mistake comes back as ``file:line:column`` in one ``InventoryError``. A missing file is no
windows. Pure: no clocks read here; callers pass ``now`` (unix seconds).

The state engine shows a device in an active window as ``maintenance`` and everything dark
behind it as unreachable *because of* it (``cause_state="maintenance"``): none of them pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from netmon.errors import InventoryError, Problem
from netmon.inventory.model import Inventory, SiteKind
from netmon.inventory.strict import validate
from netmon.inventory.yamlpos import Parsed, Path_, parse

MAINTENANCE_FILE = "maintenance.yaml"  # in the inventory directory
DEFAULT_TZ = "Asia/Bangkok"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WEEK = 7 * 86400


@dataclass(frozen=True, slots=True)
class Weekly:
    days: tuple[int, ...]  # 0 = Monday ... 6 = Sunday
    start: time  # local wall-clock time the work begins
    duration: float  # seconds


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    scope: str  # device | site | province
    targets: tuple[str, ...]  # device names, site codes or province codes
    who: str
    why: str
    start: float | None = None  # unix seconds (absolute windows)
    end: float | None = None
    weekly: Weekly | None = None
    timezone: str = DEFAULT_TZ

    def _occurrences(self, around: float) -> list[tuple[float, float]]:
        """[start, end) spans that may contain or follow ``around`` (weekly: the ones
        beginning from a week before to a week after)."""
        if self.weekly is None:
            assert self.start is not None and self.end is not None
            return [(self.start, self.end)]
        tz = ZoneInfo(self.timezone)
        today = datetime.fromtimestamp(around, tz).date()
        back = int(self.weekly.duration // 86400) + 8  # far enough for any occurrence
        out = []
        for offset in range(-back, 9):
            day = today + timedelta(days=offset)
            if day.weekday() in self.weekly.days:
                begin = _local(day, self.weekly.start, tz)
                out.append((begin, begin + self.weekly.duration))
        return out

    def is_active(self, now: float) -> bool:
        return any(a <= now < b for a, b in self._occurrences(now))

    def next_change(self, now: float) -> float | None:
        """The first moment after ``now`` at which this window begins or ends."""
        edges = [t for span in self._occurrences(now) for t in span if t > now]
        return min(edges) if edges else None


def _local(day: date, at: time, tz: ZoneInfo) -> float:
    return datetime.combine(day, at, tzinfo=tz).timestamp()


@dataclass(frozen=True, slots=True)
class MaintenancePlan:
    windows: tuple[Window, ...] = ()

    def active(self, now: float) -> list[Window]:
        return [w for w in self.windows if w.is_active(now)]

    def next_change(self, now: float) -> float | None:
        """When the set of active windows changes next (None: never again)."""
        edges = [t for w in self.windows if (t := w.next_change(now)) is not None]
        return min(edges) if edges else None


def devices_in_maintenance(
    plan: MaintenancePlan, inventory: Inventory, now: float
) -> dict[str, str]:
    """Device name -> the name of the (first, in file order) active window covering it. A
    province window covers its hub and districts, not the ICT centre (name it as a site)."""
    out: dict[str, str] = {}
    for w in plan.active(now):
        targets = set(w.targets)
        for ps, dev in inventory.devices():
            if w.scope == "device":
                hit = dev.name in targets
            elif w.scope == "site":
                hit = ps.site.code in targets
            else:
                hit = ps.province.code in targets and ps.site.kind is not SiteKind.centre
            if hit:
                out.setdefault(dev.name, w.name)
    return out


# --- the file ----------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _WeeklyModel(_Strict):
    days: Annotated[tuple[str, ...], Field(min_length=1)]
    start: str
    duration: str


class _WindowModel(_Strict):
    # weekly is checked on its own (``_Checker.weekly``), so its mistakes are reported even
    # when another field of the window is wrong.
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    scope: Literal["device", "site", "province"]
    targets: Annotated[tuple[str, ...], Field(min_length=1)]
    who: Annotated[str, Field(min_length=1)]
    why: Annotated[str, Field(min_length=1)]
    start: str | None = None
    end: str | None = None
    weekly: dict[str, Any] | None = None
    timezone: str = DEFAULT_TZ


class _FileModel(_Strict):
    windows: tuple[Any, ...] = ()


def _duration(text: str) -> float | None:
    m = _DURATION_RE.match(text.strip())
    if not m or not any(m.groups()):
        return None
    d, h, mins = (int(g) if g else 0 for g in m.groups())
    return float(d * 86400 + h * 3600 + mins * 60)


def _instant(text: object, tz: ZoneInfo) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC).timestamp()


class _Checker:
    """Checks each window as far as it can: one bad field does not hide another's mistake."""

    def __init__(self, doc: Parsed, inventory: Inventory) -> None:
        self.doc = doc
        self.known = {
            "device": {d.name for _, d in inventory.devices()},
            "site": {ps.site.code for ps in inventory.sites},
            "province": {ps.province.code for ps in inventory.sites},
        }

    def problem(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.doc.problems.append(self.doc.at(path, message, key=key))

    def window(self, i: int, raw: Any, seen: dict[str, int]) -> Window | None:
        path: Path_ = ("windows", i)
        before = len(self.doc.problems)
        m = validate(_WindowModel, raw, self.doc, path)
        if not isinstance(raw, dict):
            return None
        name = raw.get("name")
        if isinstance(name, str):
            if name in seen:
                self.problem(
                    (*path, "name"),
                    f"window '{name}' is declared twice (first at line {seen[name]})",
                )
            seen.setdefault(name, self.doc.where((*path, "name"))[0])
        scope, targets = raw.get("scope"), raw.get("targets")
        if scope in self.known and isinstance(targets, list):
            for j, target in enumerate(targets):
                if isinstance(target, str) and target.strip() not in self.known[scope]:
                    self.problem((*path, "targets", j), f"unknown {scope} {target.strip()!r}")
        tz_name = raw.get("timezone", DEFAULT_TZ)
        tz = ZoneInfo(DEFAULT_TZ)
        if isinstance(tz_name, str):
            try:
                tz = ZoneInfo(tz_name.strip())
            except (ZoneInfoNotFoundError, ValueError):
                self.problem((*path, "timezone"), f"timezone: unknown time zone {tz_name!r}")
        absolute = "start" in raw or "end" in raw
        weekly: Weekly | None = None
        start = end = None
        if absolute == ("weekly" in raw):
            self.problem(path, "a window needs either start and end, or weekly (not both)")
        elif absolute:
            start, end = self.span(path, raw, tz)
        else:
            weekly = self.weekly((*path, "weekly"), raw["weekly"])
        if m is None or len(self.doc.problems) > before:
            return None
        return Window(m.name, m.scope, m.targets, m.who, m.why, start, end, weekly, m.timezone)

    def span(
        self, path: Path_, raw: dict[str, Any], tz: ZoneInfo
    ) -> tuple[float | None, float | None]:
        values: dict[str, float | None] = {}
        for key in ("start", "end"):
            text = raw.get(key)
            values[key] = _instant(text, tz)
            if key not in raw:
                self.problem(path, f"missing key '{key}'")
            elif values[key] is None:
                self.problem(
                    (*path, key),
                    f"{key}: {text!r} is not a time (write e.g. 2026-12-05T22:00:00+07:00)",
                )
        start, end = values["start"], values["end"]
        if start is not None and end is not None and end <= start:
            self.problem((*path, "end"), f"end: {raw['end']} is not after start {raw['start']}")
        return start, end

    def weekly(self, wpath: Path_, raw: Any) -> Weekly | None:
        before = len(self.doc.problems)
        w = validate(_WeeklyModel, raw, self.doc, wpath)
        if not isinstance(raw, dict):
            return None
        days: list[int] = []
        raw_days = raw.get("days")
        for j, day in enumerate(raw_days if isinstance(raw_days, list) else []):
            if isinstance(day, str) and day.strip().lower() not in DAYS:
                self.problem((*wpath, "days", j), f"days: {day!r} is not a day (write e.g. sunday)")
            elif isinstance(day, str):
                days.append(DAYS.index(day.strip().lower()))
        at = raw.get("start")
        hm = _HHMM_RE.match(at.strip()) if isinstance(at, str) else None
        if isinstance(at, str) and hm is None:
            self.problem(
                (*wpath, "start"), f'start: {at!r} is not a time of day (write e.g. "23:00")'
            )
        text = raw.get("duration")
        duration = _duration(text) if isinstance(text, str) else None
        if isinstance(text, str) and (duration is None or not 0 < duration <= _WEEK):
            self.problem(
                (*wpath, "duration"),
                f"duration: {text!r} is not a duration of at most 7d (write e.g. 3h, 90m, 1h30m)",
            )
        if w is None or hm is None or duration is None or len(self.doc.problems) > before:
            return None
        return Weekly(tuple(sorted(set(days))), time(int(hm[1]), int(hm[2])), duration)


def check_maintenance_text(
    file: str, text: str, inventory: Inventory
) -> tuple[MaintenancePlan, list[Problem]]:
    """Parse and check one file's text; the plan holds the windows that are valid."""
    doc = parse(file, text)
    if doc.data is None:
        if [p.message for p in doc.problems] == ["the file is empty"]:
            return MaintenancePlan(), []  # only comments: no windows
        return MaintenancePlan(), doc.problems
    if not isinstance(doc.data, dict):
        return MaintenancePlan(), [*doc.problems, doc.at((), "expected keys and values (windows:)")]
    checker = _Checker(doc, inventory)
    top = validate(_FileModel, doc.data, doc, ())
    windows: list[Window] = []
    if top is not None:
        raw = doc.data.get("windows")
        seen: dict[str, int] = {}
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            w = checker.window(i, item, seen)
            if w is not None:
                windows.append(w)
    return MaintenancePlan(tuple(windows)), doc.problems


def load_maintenance(path: str | Path, inventory: Inventory) -> MaintenancePlan:
    """Read ``path`` (a missing file: no windows); raise InventoryError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MaintenancePlan()
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError([Problem(str(p), 1, 1, f"cannot read the file: {exc}")]) from exc
    plan, problems = check_maintenance_text(str(p), text, inventory)
    if problems:
        raise InventoryError(problems)
    return plan
