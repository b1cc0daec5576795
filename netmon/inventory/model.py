"""The inventory data model: frozen, strict pydantic values that validate themselves.

The YAML files under ``inventory/`` are the source of truth; the loader turns them into these
objects and maps every validation error back to ``file:line:column``. Unknown keys are errors
everywhere (``extra="forbid"``), so a typo never silently drops a setting.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Platform(StrEnum):
    cisco_ios = "cisco_ios"
    cisco_iosxe = "cisco_iosxe"
    huawei_vrp = "huawei_vrp"
    juniper_junos = "juniper_junos"
    mikrotik_routeros = "mikrotik_routeros"


class Role(StrEnum):
    core = "core"
    distribution = "distribution"
    edge = "edge"


class SiteKind(StrEnum):
    centre = "centre"
    province = "province"  # a provincial hall: the hub of its province's districts
    district = "district"


class Method(StrEnum):
    snmp = "snmp"
    ssh = "ssh"


class LinkKind(StrEnum):
    uplink = "uplink"  # the primary path towards the centre
    backup = "backup"  # a second path (a dual-homed site)


class Region(StrEnum):
    """Thailand's six geographic regions (the National Geographical Committee's system)."""

    central = "central"
    east = "east"
    north = "north"
    northeast = "northeast"
    south = "south"
    west = "west"


_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:bps|b/s)?\s*$", re.IGNORECASE)
_SPEED_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def parse_speed(value: object) -> object:
    """Accept ``1G``, ``100M``, ``2.5G``, ``10Gbps`` or a plain number of bits per second."""
    if isinstance(value, str):
        m = _SPEED_RE.match(value)
        if not m:
            raise ValueError(f"not a speed: {value!r} (write e.g. 100M, 1G, 10G)")
        return int(float(m.group(1)) * _SPEED_UNITS[m.group(2).upper()])
    return value


BitsPerSecond = Annotated[int, BeforeValidator(parse_speed), Field(gt=0)]
Seconds = Annotated[float, Field(gt=0, le=86400)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]

_SECRET_RE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/\S+)$")


def _check_secret_ref(value: object) -> object:
    if isinstance(value, str) and not _SECRET_RE.match(value):
        raise ValueError(
            "secrets must be references, never the secret itself: "
            "write env:VARIABLE_NAME or file:/absolute/path"
        )
    return value


SecretRef = Annotated[str, BeforeValidator(_check_secret_ref)]


# --- credentials -----------------------------------------------------------------------------


class SnmpV2c(Frozen):
    version: Literal["2c"]
    community: SecretRef


class SnmpV3(Frozen):
    """SNMPv3 USM, always authPriv: a NOC backbone never sends management data in clear."""

    version: Literal["3"]
    username: Annotated[str, Field(min_length=1, max_length=32)]
    auth_protocol: Literal["SHA", "SHA-256", "SHA-512"]
    auth_key: SecretRef
    priv_protocol: Literal["AES-128", "AES-256"]
    priv_key: SecretRef


class SnmpTiming(Frozen):
    timeout: Annotated[float, Field(gt=0, le=60)] = 2.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    max_repetitions: Annotated[int, Field(ge=1, le=200)] = 25


class SshCredentials(Frozen):
    username: Annotated[str, Field(min_length=1)]
    password: SecretRef | None = None
    key_file: SecretRef | None = None
    enable_secret: SecretRef | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    timeout: Annotated[float, Field(gt=0, le=300)] = 20.0


class CredentialProfile(Frozen):
    name: Name
    snmp: Annotated[SnmpV2c | SnmpV3, Field(discriminator="version")] | None = None
    snmp_timing: SnmpTiming = SnmpTiming()
    ssh: SshCredentials | None = None

    @model_validator(mode="after")
    def _has_something(self) -> CredentialProfile:
        if self.snmp is None and self.ssh is None:
            raise ValueError("a credential profile needs snmp, ssh or both")
        return self


# --- devices, links, sites -------------------------------------------------------------------


class Interface(Frozen):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    speed: BitsPerSecond | None = None
    description: str = ""


class Device(Frozen):
    name: Name
    address: str
    platform: Platform
    role: Role
    methods: Annotated[tuple[Method, ...], Field(min_length=1)] = (Method.snmp,)
    credentials: Name | None = None  # None: the inventory default profile
    poll_interval: Seconds | None = None  # None: the inventory default
    snmp_port: Annotated[int, Field(ge=1, le=65535)] | None = None  # None: the default (161)
    interfaces: tuple[Interface, ...] = ()

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"not an IP address: {value!r}") from None
        return value

    @field_validator("methods")
    @classmethod
    def _unique_methods(cls, value: tuple[Method, ...]) -> tuple[Method, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a collection method is listed twice")
        return value

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)


class Endpoint(Frozen):
    device: Name
    interface: Annotated[str, Field(min_length=1)]


class Link(Frozen):
    """A link from a device of this site (``from``) to its upstream (``to``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    a: Endpoint = Field(alias="from")
    b: Endpoint = Field(alias="to")
    speed: BitsPerSecond
    kind: LinkKind = LinkKind.uplink

    @property
    def name(self) -> str:
        return f"{self.a.device}:{self.a.interface}--{self.b.device}:{self.b.interface}"


class Site(Frozen):
    code: Annotated[str, Field(pattern=r"^(centre|\d{2}|\d{4})$")]
    kind: SiteKind
    name_th: Annotated[str, Field(min_length=1)]
    name_en: Annotated[str, Field(min_length=1)]
    lat: Annotated[float, Field(ge=5.0, le=21.0)]  # Thailand's bounding box, with a margin
    lon: Annotated[float, Field(ge=97.0, le=106.0)]
    devices: tuple[Device, ...] = ()
    links: tuple[Link, ...] = ()

    @model_validator(mode="after")
    def _code_matches_kind(self) -> Site:
        want = {SiteKind.centre: "centre", SiteKind.province: "NN", SiteKind.district: "NNNN"}
        ok = (
            (self.kind is SiteKind.centre and self.code == "centre")
            or (self.kind is SiteKind.province and len(self.code) == 2)
            or (self.kind is SiteKind.district and len(self.code) == 4)
        )
        if not ok:
            raise ValueError(f"a {self.kind.value} site's code is {want[self.kind]!r}")
        return self


class ProvinceInfo(Frozen):
    code: Annotated[str, Field(pattern=r"^\d{2}$")]
    name_th: Annotated[str, Field(min_length=1)]
    name_en: Annotated[str, Field(min_length=1)]
    region: Region


class ProvinceFile(Frozen):
    """One ``inventory/provinces/*.yaml`` file: a province, its hub and its districts."""

    province: ProvinceInfo
    sites: tuple[Site, ...]


class CentreFile(Frozen):
    """``inventory/centre.yaml``: the ICT centre in Bangkok."""

    site: Site


class Defaults(Frozen):
    poll_interval: Seconds = 60.0
    status_interval: Seconds = 10.0  # fast ifOperStatus poll of uplink interfaces
    probe_interval: Seconds = 5.0  # reachability probe (a GET of sysUpTime) of every device
    snmp_port: Annotated[int, Field(ge=1, le=65535)] = 161
    credentials: Name | None = None  # the profile a device gets when it names none


class DefaultsFile(Frozen):
    defaults: Defaults = Defaults()


# --- the loaded whole --------------------------------------------------------------------------


class PlacedSite(Frozen):
    """A site with the province it belongs to (the centre belongs to Bangkok, code 10)."""

    site: Site
    province: ProvinceInfo


class Inventory(Frozen):
    """Everything the loader read, cross-checked. Look-ups are built once, on first use."""

    defaults: Defaults
    profiles: tuple[CredentialProfile, ...]
    provinces: tuple[ProvinceInfo, ...]
    sites: tuple[PlacedSite, ...]

    def devices(self) -> list[tuple[PlacedSite, Device]]:
        return [(ps, d) for ps in self.sites for d in ps.site.devices]

    def links(self) -> list[tuple[PlacedSite, Link]]:
        return [(ps, link) for ps in self.sites for link in ps.site.links]

    def profile(self, name: str) -> CredentialProfile | None:
        return next((p for p in self.profiles if p.name == name), None)

    # Effective per-device settings: the device's own value, else the inventory default.

    def port_of(self, device: Device) -> int:
        return device.snmp_port if device.snmp_port is not None else self.defaults.snmp_port

    def interval_of(self, device: Device) -> float:
        if device.poll_interval is not None:
            return device.poll_interval
        return self.defaults.poll_interval

    def profile_of(self, device: Device) -> CredentialProfile:
        """The credential profile the device uses (the loader guarantees it exists)."""
        name = device.credentials or self.defaults.credentials
        profile = self.profile(name) if name is not None else None
        if profile is None:
            raise LookupError(f"device {device.name}: no credential profile {name!r}")
        return profile

    @cached_property
    def _device_index(self) -> dict[str, tuple[PlacedSite, Device]]:
        return {d.name: (ps, d) for ps, d in self.devices()}

    def device(self, name: str) -> Device | None:
        """The device called ``name`` (built once, on first use)."""
        found = self._device_index.get(name)
        return found[1] if found else None

    def site(self, code: str) -> PlacedSite | None:
        return next((ps for ps in self.sites if ps.site.code == code), None)
