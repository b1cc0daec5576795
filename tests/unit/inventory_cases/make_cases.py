"""Rebuild the broken inventories from ``_valid/``: each case is the valid fixture plus one
mistake (or a few, for the all-at-once case). Run from the repo root:

    .venv/bin/python tests/unit/inventory_cases/make_cases.py

It never writes ``expected.txt``: those hold the messages a person checked by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent
P50 = "provinces/50-chiang-mai.yaml"
P51 = "provinces/51-lamphun.yaml"

# case -> list of (file, old text, new text); new None with old None deletes the file;
# ("rename", old path, new path) renames.
CASES: dict[str, list[tuple[str, str | None, str | None]]] = {
    "wrong-type": [(P50, "lat: 18.42", "lat: north")],
    "unquoted-code": [(P50, 'code: "5002"', "code: 5002")],
    "unknown-key": [(P50, "address: 127.2.50.2", "adress: 127.2.50.2")],
    "duplicate-key": [
        (P50, "    name_en: Chom Thong\n", "    name_en: Chom Thong\n    name_en: Chomthong\n")
    ],
    "tab-indentation": [(P51, "        role: edge\n", "\t\trole: edge\n")],
    "yaml-syntax": [(P51, "interface: GigabitEthernet0/0/0}", "interface: GigabitEthernet0/0/0")],
    "unknown-province": [
        ("rename", P51, "provinces/99-nowhere.yaml"),
        ("provinces/99-nowhere.yaml", 'code: "51"\n  name_th', 'code: "99"\n  name_th'),
    ],
    "province-name-mismatch": [
        (P50, "name_en: Chiang Mai\n  region", "name_en: Chiangmai\n  region")
    ],
    "district-wrong-province": [(P51, 'code: "5101"', 'code: "5003"')],
    "district-not-in-province": [(P50, 'code: "5002"', 'code: "5099"')],
    "duplicate-site-code": [(P50, 'code: "5002"', 'code: "5001"')],
    "duplicate-device-name": [
        (P51, "name: d5101-edge1", "name: d5001-edge1"),
        (P51, "device: d5101-edge1", "device: d5001-edge1"),
    ],
    "duplicate-address": [(P51, "address: 127.2.51.1", "address: 127.2.50.1")],
    "unknown-credential-profile": [(P51, "credentials: core-v3", "credentials: core-v2")],
    "uplink-unknown-device": [
        (
            P50,
            "to: {device: p50-core1, interface: GE1/0/1}",
            "to: {device: p50-core2, interface: GE1/0/1}",
        )
    ],
    "uplink-unknown-interface": [(P51, "interface: GigabitEthernet1/0/1}", "interface: Gi1/0/1}")],
    "cycle": [
        (
            P50,
            "to: {device: centre-core2, interface: TenGigabitEthernet1/0/1}",
            "to: {device: d5001-edge1, interface: ether2}",
        ),
        (
            P50,
            "- {name: ether1, speed: 1G}\n",
            "- {name: ether1, speed: 1G}\n          - {name: ether2, speed: 1G}\n",
        ),
    ],
    "no-path-to-centre": [
        (
            P50,
            "    links:\n"
            "      - from: {device: d5002-edge1, interface: GigabitEthernet0/0}\n"
            "        to: {device: p50-core1, interface: GE1/0/1}\n"
            "        speed: 1G\n",
            "",
        ),
    ],
    "inline-secret": [
        ("credentials.yaml", "community: env:NETMON_SIM_COMMUNITY", "community: public")
    ],
    "outside-thailand": [
        (
            P51,
            "lat: 18.58\n    lon: 99.01\n    devices:\n      - name: d5101",
            "lat: 38.58\n    lon: 99.01\n    devices:\n      - name: d5101",
        )
    ],
    "two-hubs": [(P51, '- code: "5101"\n    kind: district', '- code: "51"\n    kind: province')],
    "file-name-mismatch": [("rename", P51, "provinces/52-lampang.yaml")],
    "not-a-list": [(P50, "methods: [snmp, ssh]", "methods: snmp")],
    "centre-unreadable": [
        ("centre.yaml", "    - name: centre-core2\n", "    - name: centre-core2\n  - oops\n")
    ],
    "credentials-unreadable": [("credentials.yaml", "profiles:\n", "profiles:\n  name: [\n")],
    "duplicate-province-file": [
        ("rename", P51, "provinces/50-chiang-mai-copy.yaml"),
        (
            "provinces/50-chiang-mai-copy.yaml",
            'code: "51"\n  name_th: ลำพูน\n  name_en: Lamphun',
            'code: "50"\n  name_th: เชียงใหม่\n  name_en: Chiang Mai',
        ),
    ],
    "yml-extension": [("rename", P51, "provinces/51-lamphun.yml")],
    "ssh-without-credentials": [
        (P51, "        role: edge\n", "        role: edge\n        methods: [snmp, ssh]\n")
    ],
    "many-at-once": [
        ("defaults.yaml", "poll_interval: 60", "poll_interval: -5"),
        ("credentials.yaml", "auth_protocol: SHA-256", "auth_protocol: MD5"),
        (P50, "platform: cisco_ios\n", "platform: cisco\n"),
        (
            P51,
            "to: {device: centre-core1, interface: xe-0/0/1}",
            "to: {device: centre-core9, interface: xe-0/0/1}",
        ),
    ],
}


def build(case: str, edits: list[tuple[str, str | None, str | None]]) -> None:
    target = HERE / case
    for child in target.glob("*"):
        if child.name != "expected.txt":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.copytree(HERE / "_valid", target, dirs_exist_ok=True)
    for file, old, new in edits:
        if file == "rename":
            assert old and new
            (target / old).rename(target / new)
            continue
        path = target / file
        text = path.read_text(encoding="utf-8")
        assert old is not None and old in text, (case, file, old)
        path.write_text(text.replace(old, new or "", 1), encoding="utf-8")


if __name__ == "__main__":
    for name, edits in CASES.items():
        build(name, edits)
