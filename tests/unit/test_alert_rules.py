"""`promtool test rules` for every alert of the shipped rules: firing and not firing, `for:`
windows, dual-homed sites and suppression, all expressed through the state engine's series.

Every case runs the real promtool (/usr/bin/promtool) on deploy/prometheus/rules/*.yml.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from support.promtool import (
    Case,
    Expect,
    alert_rules,
    device_state,
    info,
    place,
    run_promtool,
    series,
)

HUB = place("p50-core1", "50", role="core")
D1 = place("d5001-edge1", "5001")
D2 = place("d5002-edge1", "5002")
D3A = place("d5003-edge1", "5003")
D3B = place("d5003-edge2", "5003")
LAMPHUN = place("d5101-edge1", "5101", pc="51")
CORE1 = place("centre-core1", "centre", pc="10", role="core")
CORE2 = place("centre-core2", "centre", pc="10", role="core")
DUAL = place("d5004-edge1", "5004")
TH_HUB, EN_HUB = "ศาลากลางจังหวัดเชียงใหม่", "Chiang Mai Provincial Hall"


def names(where: dict[str, str], en: str, th: str) -> dict[str, str]:
    return {**where, "name_en": en, "name_th": th}


def cause(where: dict[str, str], by: dict[str, str], state: str, values: str) -> dict[str, str]:
    labels = {
        **where,
        "cause_device": by["device"],
        "cause_site": by["site"],
        "cause_province_code": by["province_code"],
        "cause_state": state,
    }
    return series("netmon_device_cause_info", labels, values)


def dark_site(where: dict[str, str], by: dict[str, str]) -> dict[str, str]:
    """SiteUnreachable's labels: the site's topology, not a device's."""
    keep = {k: v for k, v in where.items() if k not in ("device", "role")}
    return {
        **keep,
        "cause_device": by["device"],
        "cause_site": by["site"],
        "cause_province_code": by["province_code"],
    }


def down(where: dict[str, str]) -> dict[str, str]:
    return {**where, "state": "down"}


# Hub p50-core1 up for 5 minutes, then down; its districts 5001/5002 unreachable because of it.
HUB_OUTAGE = [
    *device_state(HUB, [("up", 5), ("down", 30)]),
    *device_state(D1, [("up", 5), ("unreachable", 30)]),
    *device_state(D2, [("up", 5), ("unreachable", 30)]),
    cause(D1, HUB, "down", "_x4 1x30"),
    cause(D2, HUB, "down", "_x4 1x30"),
    info(HUB, EN_HUB, TH_HUB),
    info(D1, "Mueang Chiang Mai", "เมืองเชียงใหม่"),
]


CASES: dict[str, list[Case]] = {
    "DeviceDown": [
        Case(
            "a hub down pages once, for the hub, after 1m; its dark districts never",
            HUB_OUTAGE,
            [
                ("5m", "DeviceDown", []),  # pending
                ("6m", "DeviceDown", [Expect(names(down(HUB), EN_HUB, TH_HUB))]),
                ("30m", "DeviceDown", [Expect(names(down(HUB), EN_HUB, TH_HUB))]),
            ],
        ),
        Case(
            "unknown never pages; a device without info series still pages, unnamed",
            [
                *device_state(D1, [("unknown", 30)]),
                *device_state(D2, [("up", 2), ("down", 10)]),
            ],
            [("2m", "DeviceDown", []), ("10m", "DeviceDown", [Expect(down(D2))])],
        ),
        Case(
            "a down blip shorter than for: does not page",
            device_state(D1, [("up", 5), ("down", 1), ("up", 10)]),
            [("6m", "DeviceDown", []), ("7m", "DeviceDown", [])],
        ),
        Case(
            "dual-homed hub with one parent down: the parent pages, the hub (up) does not",
            [
                *device_state(CORE1, [("up", 2), ("down", 10)]),
                *device_state(CORE2, [("up", 12)]),
                *device_state(HUB, [("up", 12)]),
            ],
            [("10m", "DeviceDown", [Expect(down(CORE1))])],
        ),
        Case(
            "dual-homed hub with both parents down: both parents page, the hub (dark) does not",
            [
                *device_state(CORE1, [("up", 2), ("down", 10)]),
                *device_state(CORE2, [("up", 2), ("down", 10)]),
                *device_state(HUB, [("up", 2), ("unreachable", 10)]),
                cause(HUB, CORE1, "down", "_ _ 1x10"),
                cause(HUB, CORE2, "down", "_ _ 1x10"),
            ],
            [("10m", "DeviceDown", [Expect(down(CORE1)), Expect(down(CORE2))])],
        ),
        Case(
            "maintenance never pages",
            device_state(HUB, [("up", 2), ("maintenance", 10)]),
            [("10m", "DeviceDown", [])],
        ),
    ],
    "SiteUnreachable": [
        Case(
            "one info alert per dark site, carrying the cause, after 1m",
            HUB_OUTAGE,
            [
                ("5m", "SiteUnreachable", []),
                (
                    "6m",
                    "SiteUnreachable",
                    [
                        Expect(names(dark_site(D1, HUB), "Mueang Chiang Mai", "เมืองเชียงใหม่")),
                        Expect(dark_site(D2, HUB)),
                    ],
                ),
            ],
        ),
        Case(
            "dark because of maintenance: nothing; a site with a device still up: nothing",
            [
                *device_state(LAMPHUN, [("unreachable", 10)]),
                cause(LAMPHUN, place("p51-core1", "51", pc="51"), "maintenance", "1x10"),
                *device_state(D3A, [("unreachable", 10)]),
                *device_state(D3B, [("up", 10)]),
                cause(D3A, HUB, "down", "1x10"),
            ],
            [("5m", "SiteUnreachable", [])],
        ),
        Case(
            "dual-homed hub with one parent down answers through the other: no dark site",
            [
                *device_state(CORE1, [("down", 10)]),
                *device_state(CORE2, [("up", 10)]),
                *device_state(HUB, [("up", 10)]),
                *device_state(D1, [("up", 10)]),
            ],
            [("5m", "SiteUnreachable", [])],
        ),
        Case(
            "dual-homed site with both parents down: one alert per root cause",
            [
                *device_state(CORE1, [("down", 10)]),
                *device_state(CORE2, [("down", 10)]),
                *device_state(DUAL, [("unreachable", 10)]),
                cause(DUAL, CORE1, "down", "1x10"),
                cause(DUAL, CORE2, "down", "1x10"),
            ],
            [
                (
                    "5m",
                    "SiteUnreachable",
                    [Expect(dark_site(DUAL, CORE1)), Expect(dark_site(DUAL, CORE2))],
                ),
            ],
        ),
    ],
}


def _link(
    where: dict[str, str], link: str, kind: str, peer: str, state: str, values: str
) -> dict[str, str]:
    labels = {**where, "link": link, "kind": kind, "peer_device": peer, "state": state}
    return series("netmon_link_state", labels, values)


def link_states(
    where: dict[str, str], link: str, kind: str, peer: str, segments: list[tuple[str, int]]
) -> list[dict[str, str]]:
    out = []
    for s in ("up", "down", "dark", "admin_down", "unknown"):
        values = " ".join(" ".join(["1" if st == s else "0"] * n) for st, n in segments)
        out.append(_link(where, link, kind, peer, s, values))
    return out


L1 = "d5001-edge1:ether1--p50-core1:GE1/0/0"
L2 = "p50-core1:XGE1/0/1--centre-core2:xe-0/0/1"
L3 = "d5002-edge1:Gi0/0--p50-core1:GE1/0/1"


def link_labels(where: dict[str, str], link: str, kind: str, peer: str) -> dict[str, str]:
    return {**where, "link": link, "kind": kind, "peer_device": peer, "state": "down"}


CASES["UplinkDown"] = [
    Case(
        "an uplink down with both ends up pages (critical), a backup link warns, after 1m",
        [
            *device_state(D1, [("up", 20)]),
            *device_state(HUB, [("up", 20)]),
            *device_state(CORE2, [("up", 20)]),
            *link_states(D1, L1, "uplink", "p50-core1", [("up", 5), ("down", 15)]),
            *link_states(HUB, L2, "backup", "centre-core2", [("up", 5), ("down", 15)]),
        ],
        [
            ("5m", "UplinkDown", []),
            (
                "6m",
                "UplinkDown",
                [
                    Expect(link_labels(D1, L1, "uplink", "p50-core1"), severity="critical"),
                    Expect(link_labels(HUB, L2, "backup", "centre-core2"), severity="warning"),
                ],
            ),
        ],
    ),
    Case(
        "never for a dark link, nor when the far end or the near end is not up",
        [
            *device_state(D1, [("up", 20)]),
            *device_state(D2, [("unreachable", 20)]),
            *device_state(HUB, [("down", 20)]),
            *link_states(D1, L1, "uplink", "p50-core1", [("dark", 20)]),
            # Even if a link said down while its far end (the hub) is down: no page.
            *link_states(D2, L3, "uplink", "p50-core1", [("down", 20)]),
        ],
        [("10m", "UplinkDown", [])],
    ),
]


def flaps(where: dict[str, str], link: str, values: str) -> dict[str, str]:
    labels = {**where, "link": link, "kind": "uplink", "peer_device": "p50-core1"}
    return series("netmon_link_flaps_total", labels, values)


CASES["InterfaceFlapping"] = [
    Case(
        "6 status changes in 3 minutes: one alert; 2 changes (one outage): none; resolves",
        [
            *device_state(D1, [("up", 30)]),
            *device_state(D2, [("up", 30)]),
            flaps(D1, L1, "0 0 0 0 0 2 4 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6"),
            flaps(D2, L3, "0 0 0 0 0 1 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2"),
        ],
        [
            ("4m", "InterfaceFlapping", []),
            (
                "8m",
                "InterfaceFlapping",
                [Expect({**D1, "link": L1, "kind": "uplink", "peer_device": "p50-core1"}, 6)],
            ),
            ("18m", "InterfaceFlapping", []),
        ],
    ),
    Case(
        "the flaps of a device that is not up are its cause's business",
        [
            *device_state(D1, [("unreachable", 30)]),
            flaps(D1, L1, "0 0 0 0 0 2 4 6 8 10 12 14 16 18 20 20 20 20 20 20"),
        ],
        [("10m", "InterfaceFlapping", [])],
    ),
]


def iface(
    where: dict[str, str], link: str, ifindex: str = "1", ifname: str = "ether1"
) -> dict[str, str]:
    return {**where, "ifIndex": ifindex, "ifName": ifname, "link": link}


def util_inputs(rx: str, tx: str, device: list[tuple[str, int]]) -> list[dict[str, str]]:
    """d5001-edge1's uplink (100M circuit on a 1G port) and the hub's end of it."""
    near, far = iface(D1, L1), iface(HUB, L1, "7", "GE1/0/0")
    return [
        *device_state(D1, device),
        *device_state(HUB, [("up", 40)]),
        *link_states(D1, L1, "uplink", "p50-core1", [("up", 40)]),
        series(
            "netmon_link_speed_bits_per_second",
            {**D1, "link": L1, "kind": "uplink", "peer_device": "p50-core1"},
            "100000000x40",
        ),
        series("ifHighSpeed", near, "1000x40"),
        series("ifHighSpeed", far, "1000x40"),
        series("netmon_interface_receive_bits_per_second", near, rx),
        series("netmon_interface_transmit_bits_per_second", near, tx),
        # The hub's end sees the same traffic: it must not make a second alert.
        series("netmon_interface_receive_bits_per_second", far, tx),
        series("netmon_interface_transmit_bits_per_second", far, rx),
    ]


def util(direction: str, ratio: float, severity: str) -> Expect:
    return Expect({**iface(D1, L1), "direction": direction}, ratio, severity)


CASES["HighUtilization"] = [
    Case(
        "receive at 85% warns after 15m; transmit at 97% is critical after 5m",
        util_inputs("85000000x40", "97000000x40", [("up", 40)]),
        [
            ("4m", "HighUtilization", []),
            ("5m", "HighUtilization", [util("transmit", 0.97, "critical")]),
            ("14m", "HighUtilization", [util("transmit", 0.97, "critical")]),
            (
                "15m",
                "HighUtilization",
                [
                    util("receive", 0.85, "warning"),
                    util("transmit", 0.97, "warning"),
                    util("transmit", 0.97, "critical"),
                ],
            ),
        ],
    ),
    Case(
        "a dip below 80% restarts the 15m; a device not up never warns",
        util_inputs(
            " ".join(["85000000"] * 10 + ["50000000"] + ["85000000"] * 29),
            "10000000x40",
            [("up", 40)],
        ),
        [
            ("25m", "HighUtilization", []),
            ("26m", "HighUtilization", [util("receive", 0.85, "warning")]),
        ],
    ),
    Case(
        "a device in maintenance at 99% does not page",
        util_inputs("99000000x40", "99000000x40", [("maintenance", 40)]),
        [("30m", "HighUtilization", [])],
    ),
]


def counter(
    metric: str, labels: dict[str, str], start: int, step: int, n: int = 40
) -> dict[str, str]:
    return series(metric, labels, f"{start}+{step}x{n}")


IF1 = {**D1, "ifIndex": "1", "ifName": "ether1"}
IF2 = {**D2, "ifIndex": "1", "ifName": "Gi0/0"}

CASES["ErrorRate"] = [
    Case(
        "2% of received packets in error for 10m warns; a clean interface and a dark device do not",
        [
            *device_state(D1, [("up", 40)]),
            *device_state(D2, [("unreachable", 40)]),
            # per minute: 120 errors, 5880 good packets -> 2 % of 6000
            counter("ifInErrors", IF1, 0, 120),
            counter("ifHCInUcastPkts", IF1, 0, 5880),
            counter("ifOutErrors", IF1, 0, 0),
            counter("ifHCOutUcastPkts", IF1, 0, 6000),
            counter("ifInErrors", IF2, 0, 600),
            counter("ifHCInUcastPkts", IF2, 0, 600),
        ],
        [
            ("10m", "ErrorRate", []),  # the ratio exists from 1m on; pending for 10m
            ("16m", "ErrorRate", [Expect({**IF1, "direction": "receive"}, 0.02)]),
        ],
    ),
]


def reboots(where: dict[str, str], values: str) -> dict[str, str]:
    return series("netmon_device_reboots_total", where, values)


CASES["DeviceRebooted"] = [
    Case(
        "a reboot of a device that was up warns at once, for 15m; one after an outage does not",
        [
            *device_state(D1, [("up", 40)]),
            reboots(D1, "0x9 1x30"),
            *device_state(D2, [("up", 3), ("down", 5), ("up", 32)]),
            reboots(D2, "0x8 1x31"),
        ],
        [
            ("9m", "DeviceRebooted", []),
            ("10m", "DeviceRebooted", [Expect(D1, 1.0714285714285714)]),
            ("26m", "DeviceRebooted", []),
        ],
    ),
]


def vendor_case(
    alert: str, metric: str, high: float, low: float, for_min: int, extra: dict[str, str]
) -> Case:
    return Case(
        f"{alert}: above its threshold for {for_min}m warns; below, or a device not up: nothing",
        [
            *device_state(D1, [("up", 40)]),
            *device_state(D2, [("up", 40)]),
            *device_state(HUB, [("unreachable", 40)]),
            series(metric, {**D1, **extra}, f"{high}x40"),
            series(metric, {**D2, **extra}, f"{low}x40"),
            series(metric, {**HUB, **extra}, f"{high}x40"),
        ],
        [
            (f"{for_min - 1}m", alert, []),
            (f"{for_min}m", alert, [Expect({**D1, **extra}, high)]),
        ],
    )


CASES["HighCPU"] = [vendor_case("HighCPU", "netmon_cpu_usage_ratio", 0.95, 0.5, 15, {"cpu": "1"})]
CASES["HighTemperature"] = [
    vendor_case("HighTemperature", "netmon_temperature_celsius", 80, 45, 10, {"sensor": "1"})
]
CASES["HighMemory"] = [
    vendor_case("HighMemory", "netmon_memory_usage_ratio", 0.93, 0.4, 15, {"entity": "1"}),
    Case(
        "memory from used and free bytes (Cisco)",
        [
            *device_state(D1, [("up", 40)]),
            series("netmon_memory_used_bytes", {**D1, "pool": "1"}, "950x40"),
            series("netmon_memory_free_bytes", {**D1, "pool": "1"}, "50x40"),
        ],
        [("14m", "HighMemory", []), ("15m", "HighMemory", [Expect({**D1, "pool": "1"}, 0.95)])],
    ),
]


def problem(name: str) -> dict[str, str]:
    return {"problem": name}


JOB = {"job": "netmon"}

CASES["CollectorUnhealthy"] = [
    Case(
        "an up device without a full poll for 3 intervals: stale_polls after 5m",
        [
            *device_state(D1, [("up", 40)]),
            *device_state(D2, [("up", 40)]),
            *device_state(HUB, [("down", 40)]),
            series("netmon_last_success_timestamp_seconds", D1, "0+60x40"),  # fresh
            series("netmon_last_success_timestamp_seconds", D2, "60x40"),  # stuck at 1m
            series("netmon_last_success_timestamp_seconds", HUB, "60x40"),  # down: expected
        ],
        # stale once time() - 60 > 180, i.e. from 5m; firing 5m later
        [
            ("9m", "CollectorUnhealthy", []),
            ("10m", "CollectorUnhealthy", [Expect(problem("stale_polls"), 1)]),
        ],
    ),
    Case(
        "skipped polls over 1% of polls; a failed inventory reload; a slow or failing scrape",
        [
            counter("netmon_poll_skipped_total", D1, 0, 1),
            counter("netmon_device_polls_total", D1, 0, 10),
            counter("netmon_poll_skipped_total", D2, 0, 0),
            counter("netmon_device_polls_total", D2, 0, 10),
            series("netmon_inventory_reload_success", {"instance": "a"}, "1x4 0x30"),
            series("scrape_duration_seconds", {**JOB, "instance": "a"}, "22x40"),
            series("up", {**JOB, "instance": "a"}, "1x40"),
            series("up", {**JOB, "instance": "b"}, "1x2 0x40"),
        ],
        [
            ("4m", "CollectorUnhealthy", []),
            (
                "6m",
                "CollectorUnhealthy",
                [Expect(problem("skipped_polls"), 0.05), Expect(problem("reload_failed"), 1)],
            ),
            (
                "12m",
                "CollectorUnhealthy",
                [
                    Expect(problem("skipped_polls"), 0.05),
                    Expect(problem("reload_failed"), 1),
                    Expect({**problem("scrape_slow"), **JOB}, 22),
                    Expect({**problem("scrape_failed"), **JOB}, 1),
                ],
            ),
        ],
    ),
]

CASES["CollectorDown"] = [
    Case(
        "every netmon target down for 2m is critical; one slice down is not",
        [
            series("up", {**JOB, "instance": "a"}, "1x2 0x20"),
            series("up", {**JOB, "instance": "b"}, "1x2 0x5 1x20"),
        ],
        [
            ("4m", "CollectorDown", []),
            ("5m", "CollectorDown", [Expect(JOB, 0)]),
            ("9m", "CollectorDown", []),
        ],
    ),
    Case(
        "no netmon target at all (the job is gone) is critical too",
        [series("up", {"job": "other", "instance": "x"}, "1x10")],
        [("1m", "CollectorDown", []), ("3m", "CollectorDown", [Expect(JOB, 1)])],
    ),
]


@pytest.mark.parametrize("alertname", sorted(CASES))
def test_alert(alertname: str, tmp_path: Path) -> None:
    result = run_promtool(tmp_path, alertname, CASES[alertname])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_firing_and_quiet_cases() -> None:
    shipped = {name for name, _ in alert_rules()}
    assert shipped == set(CASES)
    for name, cases in CASES.items():
        checks = [(n, firing) for c in cases for _, n, firing in c.checks]
        assert all(n == name for n, _ in checks), name
        assert any(firing for _, firing in checks) and any(not f for _, f in checks), name
    severities = {(n, r["labels"]["severity"]) for n, r in alert_rules()}
    assert ("UplinkDown", "critical") in severities and ("UplinkDown", "warning") in severities


def test_promtool_check_rules_on_the_shipped_files() -> None:
    import subprocess

    from support.promtool import PROMTOOL, RULES

    files = sorted(RULES.glob("*.yml"))
    assert [f.name for f in files] == ["netmon-alerts.yml", "netmon-recording.yml"]
    result = subprocess.run(
        [PROMTOOL, "check", "rules", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = yaml.safe_load(files[0].read_text(encoding="utf-8"))
    assert all("severity" in r["labels"] for g in doc["groups"] for r in g["rules"])


def _ls(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def test_recording_rules_dashboards_read(tmp_path: Path) -> None:
    near, far = iface(D1, L1), iface(HUB, L1, "7", "GE1/0/0")
    slow = iface(D2, L3, "1", "Gi0/0")  # ifHighSpeed 10 (10M) below its 100M circuit
    nospeed = iface(D1, L1, "9", "ether9")  # ifHighSpeed 0: the circuit speed
    alone = {**iface(LAMPHUN, "x--y", "3", "ge3")}  # no inventory speed: ifHighSpeed
    link_speed = {"kind": "uplink", "peer_device": "p50-core1"}
    inputs = [
        *util_inputs("50000000x40", "25000000x40", [("up", 40)]),
        series("ifHighSpeed", slow, "10x40"),
        series(
            "netmon_link_speed_bits_per_second", {**D2, "link": L3, **link_speed}, "100000000x40"
        ),
        series("ifHighSpeed", nospeed, "0x40"),
        series("ifHighSpeed", alone, "1000x40"),
        *device_state(D2, [("up", 30), ("down", 10)]),
        *device_state(D3A, [("up", 30), ("unreachable", 10)]),
        *device_state(D3B, [("maintenance", 40)]),
    ]
    site = lambda where, state: {  # noqa: E731
        k: v for k, v in {**where, "state": state}.items() if k not in ("device", "role")
    }
    prov = lambda state: {  # noqa: E731
        "province": "Chiang Mai",
        "province_code": "50",
        "region": "north",
        "state": state,
    }
    exprs = [
        {
            "expr": "netmon:link_capacity_bits_per_second",
            "eval_time": "10m",
            "exp_samples": [
                {"labels": _ls("netmon:link_capacity_bits_per_second", near), "value": 1e8},
                {"labels": _ls("netmon:link_capacity_bits_per_second", far), "value": 1e8},
                {"labels": _ls("netmon:link_capacity_bits_per_second", slow), "value": 1e7},
                {"labels": _ls("netmon:link_capacity_bits_per_second", nospeed), "value": 1e8},
                {"labels": _ls("netmon:link_capacity_bits_per_second", alone), "value": 1e9},
            ],
        },
        {
            "expr": 'netmon:link_utilisation:ratio{device="d5001-edge1"}',
            "eval_time": "10m",
            "exp_samples": [
                {
                    "labels": _ls("netmon:link_utilisation:ratio", {**near, "direction": d}),
                    "value": v,
                }
                for d, v in (("receive", 0.5), ("transmit", 0.25))
            ],
        },
        {
            "expr": 'netmon:site_devices:count{site="5003"}',
            "eval_time": "35m",
            "exp_samples": [
                {"labels": _ls("netmon:site_devices:count", site(D3A, s)), "value": v}
                for s, v in (
                    ("up", 0),
                    ("down", 0),
                    ("unreachable", 1),
                    ("maintenance", 1),
                    ("unknown", 0),
                )
            ],
        },
        {
            "expr": "netmon:province_devices:count",
            "eval_time": "35m",
            "exp_samples": [
                {"labels": _ls("netmon:province_devices:count", prov(s)), "value": v}
                for s, v in (
                    ("up", 2),
                    ("down", 1),
                    ("unreachable", 1),
                    ("maintenance", 1),
                    ("unknown", 0),
                )
            ],
        },
        {
            # 30 of the last 40 minutes up (the hour is not full yet); maintenance: no ratio
            "expr": 'netmon:device_availability:ratio_1h{site=~"5002|5003"}',
            "eval_time": "39m",
            "exp_samples": [
                {"labels": _ls("netmon:device_availability:ratio_1h", w), "value": 0.75}
                for w in (D2, D3A)
            ],
        },
        {
            "expr": "netmon:province_availability:ratio_1h",
            "eval_time": "39m",
            "exp_samples": [
                {
                    "labels": _ls(
                        "netmon:province_availability:ratio_1h",
                        {k: v for k, v in prov("").items() if v},
                    ),
                    "value": (1 + 1 + 0.75 + 0.75) / 4,
                }
            ],
        },
    ]
    result = run_promtool(tmp_path, "recording", [Case("recording rules", inputs, [], exprs)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_rules_are_what_the_generator_writes(tmp_path: Path) -> None:
    from support.promtool import RULES

    from netmon.cli import main

    assert main(["alerts", "rules", "--out", str(tmp_path)]) == 0
    for f in RULES.glob("*.yml"):
        assert (tmp_path / f.name).read_text() == f.read_text(), f"regenerate {f.name}"
    # Regeneration is stable, and the time scale shrinks every window and for:.
    assert main(["alerts", "rules", "--out", str(tmp_path)]) == 0
    assert main(["alerts", "rules", "--out", str(tmp_path / "fast"), "--time-scale", "0.01"]) == 0
    fast = (tmp_path / "fast" / "netmon-alerts.yml").read_text()
    assert "for: 9s" in fast and "[6s]" in fast and "for: 15m" not in fast
    check = subprocess.run(
        ["/usr/bin/promtool", "check", "rules", *map(str, (tmp_path / "fast").glob("*.yml"))],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout


def test_grafana_url_goes_into_every_dashboard_link(tmp_path: Path) -> None:
    from netmon.cli import main

    assert (
        main(["alerts", "rules", "--out", str(tmp_path), "--grafana-url", "http://127.0.0.1:3300/"])
        == 0
    )
    doc = yaml.safe_load((tmp_path / "netmon-alerts.yml").read_text())
    urls = [r["annotations"]["dashboard"] for g in doc["groups"] for r in g["rules"]]
    assert urls and all(u.startswith("http://127.0.0.1:3300/d/netmon-") for u in urls)


@pytest.mark.skipif(not Path("/usr/bin/vmalert").exists(), reason="victoria-metrics not installed")
def test_vmalert_accepts_the_shipped_rules() -> None:
    from support.promtool import RULES

    argv = ["/usr/bin/vmalert", "-dryRun", "-rule.validateTemplates"]
    argv += [f"-rule={f}" for f in sorted(RULES.glob("*.yml"))]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_rules_on_the_state_engines_own_series(tmp_path: Path) -> None:
    """The contract end to end: the real StateEngine and its exporter families (hub p2 dead,
    district e3 behind it) as promtool input: one page for p2, one summary line for 5101,
    nothing for e3 or its dark link."""
    from support.backbones import backbone

    from exporters.families import LabelSet
    from exporters.state_families import state_families
    from netmon.state.engine import StateEngine
    from netmon.state.model import Cause

    inv = backbone()
    eng = StateEngine(clock=lambda: 1000.0)
    eng.set_inventory(inv)
    for n in ("c1", "c2", "p1", "s1", "e1", "e2", "p2", "e3"):
        eng.observe(n, True, Cause.POLL)
    eng.observe("p2", False, Cause.PROBE)
    eng.observe("c2", True, Cause.PROBE)
    eng.observe("e3", False, Cause.PROBE)
    topo = {
        d.name: LabelSet(
            (
                ("province", ps.province.name_en),
                ("province_code", ps.province.code),
                ("site", ps.site.code),
                ("device", d.name),
                ("role", d.role.value),
                ("region", ps.province.region.value),
            )
        )
        for ps, d in inv.devices()
    }
    inputs = []
    for fam in state_families(eng, topo):
        for labels, value in fam.all_samples():
            inputs.append(series(fam.name, dict(labels.pairs), f"{value}x10"))
    assert any("netmon_device_cause_info" in s["series"] for s in inputs)
    hub = {**dict(topo["p2"].pairs), "state": "down"}
    dark = {k: v for k, v in dict(topo["e3"].pairs).items() if k not in ("device", "role")}
    dark |= {"cause_device": "p2", "cause_site": "51", "cause_province_code": "50"}
    checks = [
        ("2m", "DeviceDown", [Expect(hub)]),
        ("2m", "SiteUnreachable", [Expect(dark)]),
        ("2m", "UplinkDown", []),
    ]
    result = run_promtool(tmp_path, "engine", [Case("engine series", inputs, checks)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_windows_follow_the_inventory_poll_interval_and_scale() -> None:
    from netmon.alerting.promql import RulesContext
    from netmon.alerting.rules import context
    from netmon.inventory.loader import load_inventory

    inv = load_inventory(Path(__file__).parent / "inventory_cases" / "_valid")
    ctx = context(inv)
    assert (ctx.poll_interval, ctx.d(ctx.rate_window), ctx.stale_after) == (60.0, "5m", 180.0)
    slow = RulesContext(poll_interval=120.0)
    assert slow.d(slow.rate_window) == "10m" and slow.stale_after == 360.0
    fast = RulesContext(time_scale=0.001)
    assert [fast.d(s) for s in (900, 60, 0.5, 0)] == ["900ms", "60ms", "1ms", "0s"]
    # Profiles decide the vendor alerts: without memory metrics there is no HighMemory rule.
    from netmon.alerting.alert_rules import device_rules

    bare = RulesContext(vendor_metrics=frozenset({"netmon_cpu_usage_ratio"}))
    assert [r["alert"] for r in device_rules(bare)] == ["DeviceRebooted", "HighCPU"]


def test_rules_command_refuses_a_broken_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from netmon.cli import main

    broken = Path(__file__).parent / "inventory_cases" / "yaml-syntax"
    assert main(["alerts", "rules", "--inventory", str(broken), "--out", str(tmp_path)]) == 1
    assert "netmon inventory check" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    assert main(["alerts", "rules", "--out", str(tmp_path), "--time-scale", "0"]) == 2
