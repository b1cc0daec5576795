"""Load and cross-check the inventory directory; every mistake comes back with file:line:column.

Layout: ``defaults.yaml``, ``credentials.yaml``, ``centre.yaml``, ``provinces/*.yaml`` (one file
per province). ``examples/`` is never read. ``load_inventory`` raises one ``InventoryError``
listing EVERY problem, not just the first, so an admin fixes a whole batch in one go.

Validation is per item (a profile, a province header, a site): one broken site does not hide
the mistakes of the others. A reference into an item that failed validation is given the
benefit of the doubt (no cascade of "unknown device" errors from one typo).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from netmon.errors import InventoryError, Problem
from netmon.inventory.model import (
    CredentialProfile,
    Defaults,
    DefaultsFile,
    Device,
    Inventory,
    Method,
    PlacedSite,
    ProvinceInfo,
    Region,
    Site,
    SiteKind,
)
from netmon.inventory.regions import REGION_OF
from netmon.inventory.yamlpos import MAX_FILE_BYTES, Parsed, Path_, parse, too_big

M = TypeVar("M", bound=BaseModel)


def _all_keys() -> set[str]:
    from netmon.inventory import model

    keys: set[str] = set()
    for obj in vars(model).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for name, f in obj.model_fields.items():
                keys.add(f.alias or name)
    return keys


_KNOWN_KEYS = _all_keys()


def default_inventory_path() -> Path:
    """``$NETMON_INVENTORY`` if set, else the repository's ``inventory/`` directory."""
    env = os.environ.get("NETMON_INVENTORY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "inventory"


# --- pydantic errors in plain words ----------------------------------------------------------


def _field(loc: tuple[Any, ...]) -> str:
    return next((str(x) for x in reversed(loc) if isinstance(x, str) and x != "3"), "value")


def _plain(err: Any) -> str:
    """Turn one pydantic error into a sentence a network admin reads without a manual."""
    kind, loc, msg, value = err["type"], tuple(err["loc"]), err["msg"], err.get("input")
    name = _field(loc)
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _KNOWN_KEYS, n=1, cutoff=0.75)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{loc[-1]}'{hint}"
    if kind == "missing":
        return f"missing key '{loc[-1]}'"
    if kind == "union_tag_invalid":
        return f'version: should be "2c" or "3" (in quotes), got {value!r}'
    if kind == "union_tag_not_found":
        return 'version: missing (write version: "2c" or version: "3")'
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f'{name}: expected text, got the number {value}: write it in quotes: "{value}"'
    if kind == "string_pattern_mismatch":
        if name == "code":
            return (
                f"code: {value!r} is not a site code "
                '(write "centre", a 2-digit province or a 4-digit district code)'
            )
        return (
            f"{name}: {value!r} is not a valid name "
            "(lowercase letters, digits, '.', '_' and '-'; at most 63)"
        )
    if name in ("lat", "lon") and kind in ("greater_than_equal", "less_than_equal"):
        span = "5 to 21" if name == "lat" else "97 to 106"
        return f"{name}: {value} is outside Thailand ({name} must be {span})"
    if kind in ("tuple_type", "list_type"):
        return f"{name}: should be a list, got {_describe(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{name}: should be keys and values, got {_describe(value)}"
    if kind == "string_type":
        return f"{name}: should be text, got {_describe(value)}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Input should be"):
        msg = "should be" + msg[len("Input should be") :] + f", got {_describe(value)}"
    return f"{name}: {msg}"


def _describe(value: object) -> str:
    """A value as an admin wrote it, short (a whole site in a message helps nobody)."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "keys and values"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validate(model: type[M], data: Any, doc: Parsed, path: Path_) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _resolve(doc, path, err["loc"])
            key = err["type"] == "extra_forbidden"
            doc.problems.append(doc.at(loc, _plain(err), key=key))
        return None


def _resolve(doc: Parsed, base: Path_, loc: Iterable[Any]) -> Path_:
    """Follow pydantic's ``loc`` through the document, skipping its synthetic steps
    (discriminator tags, validator names) that have no node in the YAML."""
    path = base
    for step in loc:
        cand = (*path, step)
        if cand in doc.values or cand in doc.keys:
            path = cand
    return path


# --- the loader --------------------------------------------------------------------------------


@dataclass
class _Placed:
    doc: Parsed
    path: Path_  # of the site mapping within doc
    site: Site
    province: ProvinceInfo


class _Loader:
    def __init__(self, root: Path, check_secrets: bool = False) -> None:
        self.root = root
        self.check_secrets = check_secrets
        self.docs: list[Parsed] = []
        self.extra: list[Problem] = []
        self.raw_devices: set[str] = set()  # names written anywhere, valid or not
        self.raw_profiles: set[str] = set()
        self.defaults_ok = True
        # A file that could not be read at all hides its devices/profiles: references to
        # them are not reported as unknown (its own error is what needs fixing).
        self.devices_hidden = False
        self.profiles_hidden = False

    def rel(self, doc: Parsed, path: Path_) -> str:
        line, col = doc.where(path)
        try:
            name = str(Path(doc.file).relative_to(self.root))
        except ValueError:
            name = doc.file
        return f"{name}:{line}:{col}"

    def read(self, path: Path) -> Parsed | None:
        try:
            st = path.stat()
            size = st.st_size
            if not stat.S_ISREG(st.st_mode):  # a FIFO would block the reload forever
                self.extra.append(Problem(str(path), 1, 1, "not a regular file"))
                return None
            if size > MAX_FILE_BYTES:  # not even read: a 50 MB file took 62 s to parse
                self.extra.append(too_big(str(path), size))
                return None
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.extra.append(Problem(str(path), 1, 1, "file not found"))
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.extra.append(Problem(str(path), 1, 1, f"cannot read the file: {exc}"))
            return None
        doc = parse(str(path), text)
        self.docs.append(doc)
        if doc.data is not None and not isinstance(doc.data, dict):
            doc.problems.append(doc.at((), "expected keys and values at the top of the file"))
            doc.data = None
        return doc

    def check_secret_refs(self, p: CredentialProfile, doc: Parsed, path: Path_) -> None:
        """Every env:/file: reference of a profile resolves (values are never shown)."""
        from netmon.errors import ConfigError
        from netmon.inventory.secrets import resolve_secret

        for section in ("snmp", "ssh"):
            creds = getattr(p, section)
            if creds is None:
                continue
            for name in (
                "community",
                "auth_key",
                "priv_key",
                "password",
                "key_file",
                "enable_secret",
            ):
                ref = getattr(creds, name, None)
                if ref is None:
                    continue
                try:
                    resolve_secret(ref)
                except ConfigError as exc:
                    doc.problems.append(doc.at((*path, section, name), str(exc)))

    def top(self, doc: Parsed, allowed: tuple[str, ...], required: tuple[str, ...]) -> bool:
        data = doc.data
        assert isinstance(data, dict)
        ok = True
        for key in data:
            if key not in allowed:
                doc.problems.append(doc.at((key,), f"unknown key '{key}'", key=True))
        for key in required:
            if key not in data:
                doc.problems.append(doc.at((), f"missing key '{key}'"))
                ok = False
        return ok

    def collect_raw_devices(self, sites: Any) -> None:
        for site in sites if isinstance(sites, list) else ():
            devices = site.get("devices") if isinstance(site, dict) else None
            for dev in devices if isinstance(devices, list) else ():
                if isinstance(dev, dict) and isinstance(dev.get("name"), str):
                    self.raw_devices.add(dev["name"].strip())

    # -- files --

    def load(self) -> Inventory:
        defaults = Defaults()
        d = self.read(self.root / "defaults.yaml")
        if d is not None and d.data is not None:
            df = _validate(DefaultsFile, d.data, d, ())
            self.defaults_ok = df is not None
            defaults = df.defaults if df is not None else defaults
        else:
            self.defaults_ok = False

        profiles: list[tuple[CredentialProfile, Parsed, Path_]] = []
        c = self.read(self.root / "credentials.yaml")
        if c is None or c.data is None or not self.top(c, ("profiles",), ("profiles",)):
            self.profiles_hidden = True
        else:
            items = c.data["profiles"]
            if not isinstance(items, list):
                self.profiles_hidden = True
                c.problems.append(c.at(("profiles",), "profiles: should be a list of profiles"))
            else:
                for i, item in enumerate(items):
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        self.raw_profiles.add(item["name"].strip())
                    p = _validate(CredentialProfile, item, c, ("profiles", i))
                    if p is not None:
                        profiles.append((p, c, ("profiles", i)))
                        if self.check_secrets:
                            self.check_secret_refs(p, c, ("profiles", i))

        placed: list[_Placed] = []
        bangkok = ProvinceInfo(
            code="10", name_th="กรุงเทพมหานคร", name_en="Bangkok", region=Region.central
        )
        provinces: list[ProvinceInfo] = []
        centre_doc = self.read(self.root / "centre.yaml")
        centre: tuple[Parsed, Site] | None = None
        if (
            centre_doc is None
            or centre_doc.data is None
            or not self.top(centre_doc, ("site",), ("site",))
        ):
            self.devices_hidden = True
        else:
            self.collect_raw_devices([centre_doc.data["site"]])
            s = _validate(Site, centre_doc.data["site"], centre_doc, ("site",))
            if s is not None:
                if s.kind is not SiteKind.centre:
                    centre_doc.problems.append(
                        centre_doc.at(
                            ("site", "kind"),
                            "centre.yaml holds the centre site: write kind: centre",
                        )
                    )
                centre = (centre_doc, s)

        pdir = self.root / "provinces"
        files = sorted(pdir.glob("*.yaml")) if pdir.is_dir() else []
        if not files:
            self.extra.append(Problem(str(pdir), 1, 1, "no province files (provinces/*.yaml)"))
        for f in sorted(pdir.glob("*.yml")) if pdir.is_dir() else []:
            # Only *.yaml is read: a .yml file would be silently ignored, so say so.
            self.extra.append(
                Problem(
                    str(f), 1, 1, f"not read: province files end in .yaml (rename to {f.stem}.yaml)"
                )
            )
        seen_codes: dict[str, Parsed] = {}
        for f in files:
            doc = self.read(f)
            if doc is None or doc.data is None:
                self.devices_hidden = True
                continue
            if not self.top(doc, ("province", "sites"), ("province", "sites")):
                self.devices_hidden = True
                continue
            self.collect_raw_devices(doc.data["sites"])
            info = _validate(ProvinceInfo, doc.data["province"], doc, ("province",))
            official = False
            if info is not None:
                other = seen_codes.setdefault(info.code, doc)
                if other is not doc:
                    doc.problems.append(
                        doc.at(
                            ("province", "code"),
                            f"province {info.code} already has a file: "
                            f"{self.rel(other, ('province', 'code'))}",
                        )
                    )
                official = self.check_province(doc, f, info)
                provinces.append(info)
                if info.code == "10":
                    bangkok = info
            sites = doc.data["sites"]
            if not isinstance(sites, list):
                doc.problems.append(doc.at(("sites",), "sites: should be a list of sites"))
                self.devices_hidden = True
                continue
            hub_at: int | None = None
            for i, raw in enumerate(sites):
                site = _validate(Site, raw, doc, ("sites", i))
                if site is None or info is None:
                    continue
                path: Path_ = ("sites", i)
                if site.kind is SiteKind.province:
                    if hub_at is not None:
                        doc.problems.append(
                            doc.at(
                                (*path, "kind"),
                                "a second province-hub site in this file "
                                f"(the hub is the site at line {doc.where(('sites', hub_at))[0]})",
                            )
                        )
                    else:
                        hub_at = i
                    if site.code != info.code and official:
                        doc.problems.append(
                            doc.at(
                                (*path, "code"),
                                f"the hub site's code must be the province code '{info.code}'",
                            )
                        )
                elif site.kind is SiteKind.centre:
                    doc.problems.append(
                        doc.at((*path, "kind"), "the centre site belongs in centre.yaml")
                    )
                    continue
                elif official:
                    self.check_district(doc, path, site, info)
                placed.append(_Placed(doc, path, site, info))
        if centre is not None:
            placed.insert(0, _Placed(centre[0], ("site",), centre[1], bangkok))

        self.check_unique(placed, profiles)
        self.check_credentials(placed, profiles, defaults, d)
        self.check_links(placed)

        problems = self.extra + [p for doc in self.docs for p in doc.problems]
        if problems:
            raise InventoryError(problems)
        return Inventory(
            defaults=defaults,
            profiles=tuple(p for p, _, _ in profiles),
            provinces=tuple(provinces),
            sites=tuple(PlacedSite(site=p.site, province=p.province) for p in placed),
        )

    # -- checks against the official data --

    def check_province(self, doc: Parsed, file: Path, info: ProvinceInfo) -> bool:
        """Check the header against the official list; False if the code is not official."""
        import geothai

        official = next((p for p in geothai.provinces() if p.code == info.code), None)
        if official is None:
            doc.problems.append(
                doc.at(
                    ("province", "code"),
                    f"unknown province code '{info.code}' (not an official province code)",
                )
            )
            return False
        if not file.name.startswith(f"{info.code}-"):
            doc.problems.append(
                doc.at(
                    ("province", "code"),
                    f"the file name should start with the province code: '{info.code}-…yaml', "
                    f"not '{file.name}'",
                )
            )
        for key, want in (("name_th", official.name_th), ("name_en", official.name_en)):
            got = getattr(info, key)
            if got != want:
                doc.problems.append(
                    doc.at(
                        ("province", key), f"province {info.code} is named '{want}', not '{got}'"
                    )
                )
        region = REGION_OF[info.code]
        if info.region is not region:
            doc.problems.append(
                doc.at(
                    ("province", "region"),
                    f"province {info.code} is in region '{region.value}', "
                    f"not '{info.region.value}'",
                )
            )
        return True

    def check_district(self, doc: Parsed, path: Path_, site: Site, info: ProvinceInfo) -> None:
        import geothai

        where = (*path, "code")
        if site.code[:2] != info.code:
            owner = next((p for p in geothai.provinces() if p.code == site.code[:2]), None)
            whose = f"province {owner.code} ({owner.name_en})" if owner else "no province"
            doc.problems.append(
                doc.at(
                    where,
                    f"district {site.code} belongs to {whose}, "
                    f"not to this file's province {info.code}",
                )
            )
            return
        official = next((d for d in geothai.districts(info.code) if d.code == site.code), None)
        if official is None:
            doc.problems.append(
                doc.at(where, f"no district {site.code} in province {info.code} ({info.name_en})")
            )
            return
        for key, want in (("name_th", official.name_th), ("name_en", official.name_en)):
            got = getattr(site, key)
            if got != want:
                doc.problems.append(
                    doc.at((*path, key), f"district {site.code} is named '{want}', not '{got}'")
                )

    # -- cross-file checks --

    def _dupes(self, kind: str, items: list[tuple[str, Parsed, Path_]]) -> None:
        first: dict[str, tuple[Parsed, Path_]] = {}
        for value, doc, path in items:
            if value in first:
                d0, p0 = first[value]
                d0.problems.append(
                    d0.at(p0, f"{kind} {value!r} is used twice: also at {self.rel(doc, path)}")
                )
                doc.problems.append(
                    doc.at(path, f"{kind} {value!r} is used twice: first at {self.rel(d0, p0)}")
                )
            else:
                first[value] = (doc, path)

    def check_unique(
        self, placed: list[_Placed], profiles: list[tuple[CredentialProfile, Parsed, Path_]]
    ) -> None:
        self._dupes("site code", [(p.site.code, p.doc, (*p.path, "code")) for p in placed])
        devs = [(p, j, dev) for p in placed for j, dev in enumerate(p.site.devices)]
        self._dupes(
            "device name", [(d.name, p.doc, (*p.path, "devices", j, "name")) for p, j, d in devs]
        )
        self._dupes(
            "management address",
            [
                (str(ipaddress.ip_address(d.address)), p.doc, (*p.path, "devices", j, "address"))
                for p, j, d in devs
            ],
        )
        self._dupes(
            "credential profile", [(pr.name, doc, (*path, "name")) for pr, doc, path in profiles]
        )
        for p, j, dev in devs:
            seen: set[str] = set()
            for k, iface in enumerate(dev.interfaces):
                if iface.name in seen:
                    p.doc.problems.append(
                        p.doc.at(
                            (*p.path, "devices", j, "interfaces", k, "name"),
                            f"device {dev.name!r} declares interface {iface.name!r} twice",
                        )
                    )
                seen.add(iface.name)

    def check_credentials(
        self,
        placed: list[_Placed],
        profiles: list[tuple[CredentialProfile, Parsed, Path_]],
        defaults: Defaults,
        ddoc: Parsed | None,
    ) -> None:
        by_name = {p.name: p for p, _, _ in profiles}
        known = ", ".join(sorted(by_name)) or "none"
        if (
            defaults.credentials is not None
            and defaults.credentials not in by_name
            and defaults.credentials not in self.raw_profiles
            and not self.profiles_hidden
            and ddoc
        ):
            ddoc.problems.append(
                ddoc.at(
                    ("defaults", "credentials"),
                    f"unknown credential profile {defaults.credentials!r} (known: {known})",
                )
            )
        for p in placed:
            for j, dev in enumerate(p.site.devices):
                path = (*p.path, "devices", j)
                name = dev.credentials or defaults.credentials
                if name is None:
                    if not self.defaults_ok:  # the defaults file's own error says enough
                        continue
                    p.doc.problems.append(
                        p.doc.at(
                            (*path, "name"),
                            "no credentials: name a profile or set defaults.credentials",
                        )
                    )
                    continue
                profile = by_name.get(name)
                if profile is None:
                    if (
                        dev.credentials is not None
                        and name not in self.raw_profiles
                        and not self.profiles_hidden
                    ):
                        p.doc.problems.append(
                            p.doc.at(
                                (*path, "credentials"),
                                f"unknown credential profile {name!r} (known: {known})",
                            )
                        )
                    continue
                for method, part in ((Method.snmp, profile.snmp), (Method.ssh, profile.ssh)):
                    if method in dev.methods and part is None:
                        p.doc.problems.append(
                            p.doc.at(
                                (*path, "methods"),
                                f"method {method.value} needs {method.value} credentials, "
                                f"but profile {name!r} has none",
                            )
                        )

    def check_links(self, placed: list[_Placed]) -> None:
        devices: dict[str, Device] = {}
        site_of: dict[str, str] = {}
        twice: set[str] = set()  # already reported; their interfaces are ambiguous
        for p in placed:
            for dev in p.site.devices:
                if dev.name in devices:
                    twice.add(dev.name)
                devices.setdefault(dev.name, dev)
                site_of.setdefault(dev.name, p.site.code)
        parents: dict[str, list[tuple[str, Parsed, Path_]]] = {}
        used: dict[tuple[str, str], tuple[Parsed, Path_]] = {}

        def check_end(doc: Parsed, path: Path_, dev_name: str, iface: str) -> None:
            dev = devices.get(dev_name)
            if dev is None or dev_name in twice or dev.interface(iface) is not None:
                return
            declared = ", ".join(i.name for i in dev.interfaces[:6]) or "none"
            more = ", …" if len(dev.interfaces) > 6 else ""
            doc.problems.append(
                doc.at(
                    (*path, "interface"),
                    f"device {dev_name!r} has no interface {iface!r} (declared: {declared}{more})",
                )
            )

        for p in placed:
            mine = {d.name for d in p.site.devices}
            for k, link in enumerate(p.site.links):
                lp = (*p.path, "links", k)
                a, b = link.a, link.b
                if a.device not in mine:
                    p.doc.problems.append(
                        p.doc.at(
                            (*lp, "from", "device"),
                            "'from' must be a device of this site "
                            f"({', '.join(sorted(mine)) or 'none'}), not {a.device!r}",
                        )
                    )
                else:
                    check_end(p.doc, (*lp, "from"), a.device, a.interface)
                if b.device not in devices:
                    if a.device in mine:  # counts as a way up: the link itself is the mistake
                        parents.setdefault(a.device, []).append((b.device, p.doc, lp))
                    if b.device not in self.raw_devices and not self.devices_hidden:
                        close = difflib.get_close_matches(b.device, devices, n=1)
                        hint = f" (did you mean {close[0]!r}?)" if close else ""
                        p.doc.problems.append(
                            p.doc.at(
                                (*lp, "to", "device"), f"link to unknown device {b.device!r}{hint}"
                            )
                        )
                    continue
                if a.device == b.device:
                    p.doc.problems.append(
                        p.doc.at((*lp, "to", "device"), "a link from a device to itself")
                    )
                    continue
                check_end(p.doc, (*lp, "to"), b.device, b.interface)
                for end, dname, iname in (
                    ("from", a.device, a.interface),
                    ("to", b.device, b.interface),
                ):
                    key = (dname, iname)
                    if key in used and devices.get(dname) and devices[dname].interface(iname):
                        d0, p0 = used[key]
                        p.doc.problems.append(
                            p.doc.at(
                                (*lp, end, "interface"),
                                f"interface {iname!r} of {dname!r} is already used by "
                                f"the link at {self.rel(d0, p0)}",
                            )
                        )
                    used.setdefault(key, (p.doc, lp))
                if a.device in mine:
                    parents.setdefault(a.device, []).append((b.device, p.doc, lp))

        in_cycle = self.check_cycles(parents)
        # Reachability of the centre. Devices the loader could not validate, and devices on a
        # loop (already reported), count as reachable so one mistake gives one message.
        state: dict[str, bool] = {}

        def reaches(name: str, stack: set[str]) -> bool:
            if name in state:
                return state[name]
            if name not in devices or name in in_cycle or site_of[name] == "centre":
                return True
            if name in stack:
                return False
            stack.add(name)
            ok = any(reaches(up, stack) for up, _, _ in parents.get(name, ()))
            stack.discard(name)
            state[name] = ok
            return ok

        for p in placed:
            if p.site.kind is SiteKind.centre:
                continue
            for j, dev in enumerate(p.site.devices):
                if not reaches(dev.name, set()):
                    why = (
                        "it has no uplink"
                        if dev.name not in parents
                        else "its uplinks lead nowhere"
                    )
                    p.doc.problems.append(
                        p.doc.at(
                            (*p.path, "devices", j, "name"),
                            f"device {dev.name!r} of site {p.site.code} has no uplink path "
                            f"to the centre ({why})",
                        )
                    )

    def check_cycles(self, parents: dict[str, list[tuple[str, Parsed, Path_]]]) -> set[str]:
        """Report each loop once (at its first link in file order); return the devices on loops."""
        white, grey, black = 0, 1, 2
        color: dict[str, int] = {}
        on_cycle: set[str] = set()
        for start in sorted(parents):
            if color.get(start, white) != white:
                continue
            # Iterative DFS: the backbone is ~3 deep, but a broken file could be anything.
            stack: list[tuple[str, int]] = [(start, 0)]
            color[start] = grey
            while stack:
                node, i = stack[-1]
                ups = parents.get(node, [])
                if i < len(ups):
                    stack[-1] = (node, i + 1)
                    up, doc, lp = ups[i]
                    c = color.get(up, white)
                    if c == white:
                        color[up] = grey
                        stack.append((up, 0))
                    elif c == grey:
                        names = [n for n, _ in stack]
                        loop = names[names.index(up) :]
                        on_cycle.update(loop)
                        seq = " -> ".join([*loop, up])
                        doc.problems.append(doc.at(lp, f"the uplinks form a loop: {seq}"))
                else:
                    color[node] = black
                    stack.pop()
        return on_cycle


def load_inventory(path: str | Path, *, check_secrets: bool = False) -> Inventory:
    """Read, validate and cross-check the inventory in ``path``; raise InventoryError listing
    every problem found. ``check_secrets``: also resolve every env:/file: reference (what
    ``netmon inventory check`` does; the service resolves them when it polls)."""
    root = Path(path)
    if not root.is_dir():
        raise InventoryError([Problem(str(root), 1, 1, "not a directory")])
    return _Loader(root, check_secrets).load()


def iter_files(path: str | Path) -> list[Path]:
    """The files an inventory directory consists of (what ``load_inventory`` reads)."""
    root = Path(path)
    names = [root / "defaults.yaml", root / "credentials.yaml", root / "centre.yaml"]
    return names + sorted((root / "provinces").glob("*.yaml"))
