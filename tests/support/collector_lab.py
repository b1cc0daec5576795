"""Shared builders for the collector/exporter unit tests (targets and fake device data)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from collector.model import Target
from collector.transport import Value
from netmon.inventory.model import CredentialProfile

PROFILE = CredentialProfile.model_validate(
    {
        "name": "lab",
        "snmp": {"version": "2c", "community": "env:NETMON_TEST_COMMUNITY"},
        "snmp_timing": {"timeout": 0.2, "retries": 0},
    }
)


def target(
    name: str = "d1001-edge1",
    *,
    interval: float = 60.0,
    status_interval: float = 10.0,
    platform: str = "cisco_ios",
    uplinks: tuple[str, ...] = (),
    province_code: str = "10",
    probe_interval: float = 0.0,  # 0: no scheduled probes (tests that want them say so)
    probe_only: bool = False,
) -> Target:
    return Target(
        name=name,
        address="127.0.0.1",
        port=161,
        platform=platform,
        role="edge",
        interval=interval,
        status_interval=status_interval,
        profile=PROFILE,
        labels=(
            ("province", "Bangkok"),
            ("province_code", province_code),
            ("district", "Phra Nakhon"),
            ("site", "1001"),
            ("device", name),
            ("role", "edge"),
            ("region", "central"),
        ),
        info=(("platform", platform), ("address", "127.0.0.1"), ("name_th", "พระนคร")),
        uplinks=uplinks,
        links=tuple((u, f"{name}:{u}--up:x") for u in uplinks),
        probe_interval=probe_interval,
        probe_only=probe_only,
    )


def device_data(
    interfaces: dict[int, str],
    *,
    uptime: int = 1000,
    octets: int = 5,
    if_number: int | None = None,
    last_change: int = 0,
) -> dict[str, Value]:
    """A plausible agent: system scalars + IF-MIB rows for ``{ifIndex: ifName}``."""
    data: dict[str, Value] = {
        "1.3.6.1.2.1.1.3.0": uptime,
        "1.3.6.1.2.1.1.5.0": "router",
        "1.3.6.1.2.1.1.1.0": "Cisco IOS",
        "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.9.1.1",
        "1.3.6.1.2.1.2.1.0": if_number if if_number is not None else len(interfaces),
        "1.3.6.1.2.1.31.1.5.0": last_change,
    }
    for i, name in interfaces.items():
        data[f"1.3.6.1.2.1.31.1.1.1.1.{i}"] = name
        data[f"1.3.6.1.2.1.2.2.1.2.{i}"] = f"{name} descr"
        data[f"1.3.6.1.2.1.31.1.1.1.18.{i}"] = f'alias "{name}"'
        data[f"1.3.6.1.2.1.2.2.1.3.{i}"] = 6
        data[f"1.3.6.1.2.1.31.1.1.1.15.{i}"] = 1000
        for col in ("6", "10", "7", "11"):
            data[f"1.3.6.1.2.1.31.1.1.1.{col}.{i}"] = octets * i
        for col in ("14", "20", "13", "19"):
            data[f"1.3.6.1.2.1.2.2.1.{col}.{i}"] = i
        data[f"1.3.6.1.2.1.2.2.1.8.{i}"] = 1
        data[f"1.3.6.1.2.1.2.2.1.7.{i}"] = 1
        data[f"1.3.6.1.2.1.2.2.1.9.{i}"] = 100 + i
    # Cisco CPU (5 min) and a temperature sensor
    data["1.3.6.1.4.1.9.9.109.1.1.1.1.8.1"] = 7
    data["1.3.6.1.4.1.9.9.13.1.3.1.3.1006"] = 41
    return data


# --- integration: real snmpd, real `netmon run` ---------------------------------------------

COMMUNITY = "netmon-lab-public"
V3_USER, V3_AUTH, V3_PRIV = "netmon-lab-v3", "lab-auth-secret", "lab-priv-secret"
LAB_ENV = {
    "NETMON_TEST_COMMUNITY": COMMUNITY,
    "NETMON_TEST_V3_AUTH": V3_AUTH,
    "NETMON_TEST_V3_PRIV": V3_PRIV,
}


def snmpd_argv(tmp: Path, port: int, addresses: list[str]) -> list[str]:
    """A private net-snmp snmpd on ``addresses``: v2c community + one v3 authPriv user."""
    conf = tmp / "snmpd.conf"
    agent = ",".join(f"udp:{a}:{port}" for a in addresses)
    conf.write_text(
        f"agentaddress {agent}\n"
        f"rocommunity {COMMUNITY} 127.0.0.0/8\n"
        f"createUser {V3_USER} SHA-256 {V3_AUTH} AES-256 {V3_PRIV}\n"
        f"rouser {V3_USER} priv\n"
    )
    state = tmp / "snmpd-state"
    state.mkdir(exist_ok=True)
    return [
        "snmpd", "-f", "-Lo", "-C", "-c", str(conf), "--persistentDir=" + str(state),
        "-M", "/nonexistent", "-m", "",
    ]  # fmt: skip


LAB_CREDENTIALS = """\
profiles:
  - name: lab-v2c
    snmp: {version: 2c, community: env:NETMON_TEST_COMMUNITY}
    snmp_timing: {timeout: 0.5, retries: 1}
  - name: lab-v3
    snmp:
      version: '3'
      username: netmon-lab-v3
      auth_protocol: SHA-256
      auth_key: env:NETMON_TEST_V3_AUTH
      priv_protocol: AES-256
      priv_key: env:NETMON_TEST_V3_PRIV
    snmp_timing: {timeout: 0.5, retries: 1}
"""


def lab_device(name: str, address: str, *, credentials: str = "lab-v2c") -> str:
    return (
        f"      - name: {name}\n        address: {address}\n        platform: cisco_iosxe\n"
        f"        role: core\n        credentials: {credentials}\n"
        f"        interfaces:\n          - {{name: lo}}\n"
    )


def write_lab_inventory(
    root: Path,
    centre: list[str],
    province: list[str],
    *,
    poll_interval: float = 1.0,
    status_interval: float = 1.0,
) -> None:
    """A two-site inventory: the centre and province 12's hall; devices from ``lab_device``.
    The first device of each site is linked to the first of the other (lo -- lo)."""
    (root / "provinces").mkdir(parents=True, exist_ok=True)
    (root / "defaults.yaml").write_text(
        f"defaults:\n  poll_interval: {poll_interval}\n  status_interval: {status_interval}\n"
        "  credentials: lab-v2c\n"
    )
    (root / "credentials.yaml").write_text(LAB_CREDENTIALS)
    (root / "centre.yaml").write_text(
        "site:\n  code: centre\n  kind: centre\n  name_th: ศูนย์ไอซีที\n"
        "  name_en: ICT Centre\n  lat: 13.75\n  lon: 100.5\n  devices:\n" + "".join(centre)
    )
    first_hub = province[0].split("name: ")[1].split("\n")[0]
    first_centre = centre[0].split("name: ")[1].split("\n")[0]
    (root / "provinces" / "12-nonthaburi.yaml").write_text(
        "province: {code: '12', name_th: นนทบุรี, name_en: Nonthaburi, region: central}\n"
        "sites:\n  - code: '12'\n    kind: province\n    name_th: ศาลากลางจังหวัดนนทบุรี\n"
        "    name_en: Nonthaburi Provincial Hall\n    lat: 13.86\n    lon: 100.51\n"
        "    devices:\n" + "".join(province) + "    links:\n"
        f"      - from: {{device: {first_hub}, interface: lo}}\n"
        f"        to: {{device: {first_centre}, interface: lo}}\n        speed: 10G\n"
    )


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$")  # value [timestamp]
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"not an exposition line: {line!r}")
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def value_of(text: str, name: str, **labels: str) -> float | None:
    for n, lab, v in parse_metrics(text):
        if n == name and all(lab.get(k) == want for k, want in labels.items()):
            return v
    return None
