"""Polling profiles as data: ``collector/profiles.yaml`` loaded strictly into frozen values.

A mistake (unknown key, malformed OID, unknown vendor) is a ConfigError naming file:line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from collector.model import TOPOLOGY_LABELS
from netmon.errors import ConfigError
from netmon.inventory.model import Platform

DEFAULT_PROFILES = Path(__file__).with_name("profiles.yaml")

Oid = Annotated[str, Field(pattern=r"^1(\.(0|[1-9][0-9]{0,9}))+$")]
MetricName = Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]
_SCALAR_RE = re.compile(r"\.0$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemOids(_Strict):
    sysUpTime: Oid  # the MIB's names
    sysName: Oid
    sysDescr: Oid
    sysObjectID: Oid
    ifNumber: Oid
    ifTableLastChange: Oid

    def oids(self) -> list[str]:
        return [
            self.sysUpTime,
            self.sysName,
            self.sysDescr,
            self.sysObjectID,
            self.ifNumber,
            self.ifTableLastChange,
        ]


class ColumnMetric(_Strict):
    name: MetricName
    oid: Oid
    type: Literal["counter", "gauge"]
    help: Annotated[str, Field(min_length=1)]


class FallbackMetric(ColumnMetric):
    """An older column polled for the interfaces where ``replaces`` has no value (an agent
    without ifXTable: 32-bit ifInOctets for ifHCInOctets); exported under its own name."""

    replaces: MetricName
    bits: Literal[32, 64] = 32


class LabelColumn(_Strict):
    name: LabelName
    oid: Oid


class InterfaceProfile(_Strict):
    status_column: Oid
    metrics: tuple[ColumnMetric, ...]
    cached_metrics: tuple[ColumnMetric, ...]
    labels: tuple[LabelColumn, ...]
    fallback_metrics: tuple[FallbackMetric, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> InterfaceProfile:
        names = [m.name for m in (*self.metrics, *self.cached_metrics, *self.fallback_metrics)]
        names += [label.name for label in self.labels]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"names used twice: {sorted(dupes)}")
        if self.status_column not in {m.oid for m in self.metrics}:
            raise ValueError("status_column must be one of the polled metrics")
        polled = {m.name for m in self.metrics}
        for fb in self.fallback_metrics:
            if fb.replaces not in polled:
                raise ValueError(f"{fb.name}: replaces {fb.replaces!r}, not a polled metric")
        return self


class VendorMetric(_Strict):
    name: MetricName
    oid: Oid
    help: Annotated[str, Field(min_length=1)]
    index_label: LabelName = "index"
    scale: float = 1.0
    multiply_by: Oid | None = None  # e.g. hrStorageAllocationUnits, same index
    divide_by: Oid | None = None  # e.g. hrStorageSize: a ratio of two columns
    label_columns: dict[LabelName, Oid] = {}
    # only the rows whose column (same index) has this value, e.g. hrStorageType = hrStorageRam
    where: dict[Oid, str] = {}

    @model_validator(mode="after")
    def _own_labels(self) -> VendorMetric:
        taken = set(TOPOLOGY_LABELS)
        names = [self.index_label, *self.label_columns]
        clash = sorted(n for n in names if n in taken)
        if clash or len(set(names)) != len(names):
            raise ValueError(
                f"label names {clash or names} clash with the topology labels or each other"
            )
        return self

    def columns(self) -> list[str]:
        out = [self.oid]
        out += [c for c in (self.multiply_by, self.divide_by) if c]
        out.extend(self.label_columns.values())
        out.extend(self.where)
        return out


class Profiles(_Strict):
    system: SystemOids
    interfaces: InterfaceProfile
    vendors: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], tuple[VendorMetric, ...]]
    platforms: dict[str, tuple[str, ...]]

    @model_validator(mode="after")
    def _references(self) -> Profiles:
        known = {p.value for p in Platform} | {"default"}
        for platform, vendors in self.platforms.items():
            if platform not in known:
                raise ValueError(f"platforms: unknown platform {platform!r}")
            for v in vendors:
                if v not in self.vendors:
                    raise ValueError(f"platforms.{platform}: unknown vendor table {v!r}")
        if "default" not in self.platforms:
            raise ValueError("platforms: needs a 'default' entry")
        return self

    def vendor_metrics(self, platform: str) -> tuple[VendorMetric, ...]:
        tables = self.platforms.get(platform, self.platforms["default"])
        return tuple(m for t in tables for m in self.vendors[t])

    def vendor_columns(self, platform: str) -> list[str]:
        seen: dict[str, None] = {}
        for m in self.vendor_metrics(platform):
            for c in m.columns():
                seen[c] = None
        return list(seen)


def _line_of(doc: Any, loc: Sequence[int | str]) -> tuple[int, int]:
    """1-based line/column of the deepest node of ``loc`` that the YAML document knows."""
    line, col = 1, 1
    node = doc
    for key in loc:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None:
                if isinstance(key, int) and isinstance(node, list):
                    line, col = lc.item(key)[0] + 1, lc.item(key)[1] + 1
                elif isinstance(node, dict) and key in node:
                    line, col = lc.key(key)[0] + 1, lc.key(key)[1] + 1
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line, col


def load_profiles(path: Path = DEFAULT_PROFILES) -> Profiles:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    try:
        return Profiles.model_validate(doc)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            line, col = _line_of(doc, loc)
            dotted = ".".join(str(p) for p in loc)
            lines.append(f"{path}:{line}:{col}: {dotted}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from exc
