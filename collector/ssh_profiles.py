"""SSH command profiles as data: ``collector/ssh_commands.yaml`` loaded strictly, templates
compiled once. A mistake (unknown key, a template that does not exist or does not compile,
a field the template lacks) is a ConfigError naming the file."""

from __future__ import annotations

import io
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import textfsm
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from collector.profiles import _line_of
from netmon.errors import ConfigError
from netmon.inventory.model import Platform

DEFAULT_COMMANDS = Path(__file__).with_name("ssh_commands.yaml")
OWN_TEMPLATES = Path(__file__).with_name("ssh_templates")
Kind = Literal["optics", "bgp", "ospf", "lldp", "interfaces"]
KINDS: tuple[Kind, ...] = ("optics", "bgp", "ospf", "lldp", "interfaces")
_FIELDS: dict[str, set[str]] = {
    "optics": {"interface", "rx", "tx", "temperature", "bias", "measure", "value"}
    | {f"{m}_{lv}" for m in ("rx", "tx") for lv in ("low_alarm", "low_warning")}
    | {f"{m}_{lv}" for m in ("rx", "tx") for lv in ("high_warning", "high_alarm")}
    | {"high_alarm", "high_warning", "low_warning", "low_alarm"},
    "bgp": {"neighbor", "remote_as", "uptime", "state", "prefixes"},
    "ospf": {"neighbor_id", "interface", "state"},
    "lldp": {"interface", "system_name", "port"},
    "interfaces": {"name", "admin", "link", "protocol", "flags", "description"}
    | {"bandwidth_kbps", "speed_mbps", "speed"}
    | {f"{d}_{c}" for d in ("in", "out") for c in ("octets", "packets", "errors")},
}
_REQUIRED = {"optics": {"interface"}, "bgp": {"neighbor", "state"}, "ospf": {"neighbor_id"}}
_REQUIRED["lldp"] = {"interface", "system_name", "port"}
_REQUIRED["interfaces"] = {"name"}


def _ntc_dir() -> Path:
    import ntc_templates

    return Path(ntc_templates.__file__).parent / "templates"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandSpec(_Strict):
    command: Annotated[str, Field(min_length=1)]
    template: Annotated[str, Field(pattern=r"^(ntc|own):[a-z0-9_\-]+$")]
    fields: dict[str, str]
    empty: tuple[str, ...] = ()
    long: bool = False

    @property
    def per_interface(self) -> bool:
        return "{interface}" in self.command

    def template_path(self) -> Path:
        source, name = self.template.split(":", 1)
        base = _ntc_dir() if source == "ntc" else OWN_TEMPLATES
        return base / f"{name}.textfsm"

    @cached_property
    def template_text(self) -> str:
        return self.template_path().read_text(encoding="utf-8")

    def fsm(self) -> textfsm.TextFSM:
        """A fresh parser (TextFSM objects keep state between parses)."""
        return textfsm.TextFSM(io.StringIO(self.template_text))

    @cached_property
    def empty_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.empty)


class PlatformSpec(_Strict):
    device_type: Annotated[str, Field(min_length=1)]
    # netmiko finds the prompt again before each command (an extra Enter): only where its
    # driver needs it (RouterOS: the prompt it keeps from login does not match the line end)
    find_prompt: bool = False
    commands: dict[Kind, CommandSpec]


class SshProfiles(_Strict):
    platforms: dict[str, PlatformSpec]

    @model_validator(mode="after")
    def _known(self) -> SshProfiles:
        known = {p.value for p in Platform}
        for name, spec in self.platforms.items():
            if name not in known:
                raise ValueError(f"platforms: unknown platform {name!r}")
            for kind, cmd in spec.commands.items():
                _check_command(f"platforms.{name}.commands.{kind}", kind, cmd)
        return self

    def platform(self, name: str) -> PlatformSpec | None:
        return self.platforms.get(name)


def _check_command(where: str, kind: str, cmd: CommandSpec) -> None:
    unknown = set(cmd.fields) - _FIELDS[kind]
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    missing = _REQUIRED[kind] - set(cmd.fields)
    if missing:
        raise ValueError(f"{where}: needs fields {sorted(missing)}")
    path = cmd.template_path()
    if not path.is_file():
        raise ValueError(f"{where}: no template {cmd.template} ({path})")
    try:
        values = set(cmd.fsm().header)
    except textfsm.TextFSMTemplateError as exc:
        raise ValueError(f"{where}: template {cmd.template} does not compile: {exc}") from exc
    lacking = set(cmd.fields.values()) - values
    if lacking:
        raise ValueError(f"{where}: template {cmd.template} has no Value {sorted(lacking)}")
    for p in cmd.empty:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"{where}: empty pattern {p!r}: {exc}") from exc


def load_ssh_profiles(path: Path = DEFAULT_COMMANDS) -> SshProfiles:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        doc: Any = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return SshProfiles.model_validate(doc)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            line, col = _line_of(doc, loc)
            lines.append(f"{path}:{line}:{col}: {'.'.join(map(str, loc))}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from exc
