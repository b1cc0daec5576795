"""Metric families of the SSH/CLI collection: optics, BGP/OSPF neighbours, LLDP, the cabling
check and the SSH polls' own health. Each series carries the device's topology labels (and
``link`` on a link interface, as the IF-MIB families do), so rules and dashboards join them
with the SNMP metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from collector.model import DeviceState
from collector.ssh_collector import SshHealth
from collector.ssh_model import THRESHOLD_NAMES, Optic
from exporters.families import Family, LabelSet

_OPTIC_VALUES = (
    ("netmon_optics_rx_power_dbm", "Received optical power (dBm; -40 means no light).", "rx_dbm"),
    ("netmon_optics_tx_power_dbm", "Transmitted optical power (dBm).", "tx_dbm"),
    ("netmon_optics_temperature_celsius", "Transceiver temperature.", "temperature_celsius"),
    ("netmon_optics_bias_current_amperes", "Transceiver laser bias current.", "bias_amperes"),
)


def _threshold_name(key: str) -> str:
    measure, level = key.split("_", 1)
    return f"netmon_optics_{measure}_power_{level}_threshold_dbm"


def families(
    states: Iterable[DeviceState], health: Mapping[str, SshHealth] | None = None
) -> list[Family]:
    fams: dict[str, Family] = {}

    def fam(name: str, typ: str, help_: str) -> Family:
        f = fams.get(name)
        if f is None:
            f = fams[name] = Family(name, typ, help_)
        return f

    for name, help_, _ in _OPTIC_VALUES:
        fam(name, "gauge", help_)
    for key in THRESHOLD_NAMES:
        measure, level = key.split("_", 1)
        fam(
            _threshold_name(key),
            "gauge",
            f"The transceiver's own {level.replace('_', ' ')} threshold for "
            f"{'received' if measure == 'rx' else 'transmitted'} power (dBm).",
        )
    states = list(states)
    for s in states:
        data = s.last.ssh if s.up and s.last is not None else None
        if data is None:
            continue
        t = s.target
        links = dict(t.links)

        for o in data.optics:
            _optic(fams, o, _if_labels(t.labels, links, o.interface))
        up = fam("netmon_bgp_neighbor_up", "gauge", "1 if the BGP session is Established.")
        upt = fam(
            "netmon_bgp_neighbor_uptime_seconds",
            "gauge",
            "How long the BGP session has been Established.",
        )
        pfx = fam(
            "netmon_bgp_neighbor_prefixes_received", "gauge", "Prefixes received from the peer."
        )
        for p in data.bgp:
            ls = LabelSet((("neighbor", p.neighbor), ("remote_as", p.remote_as), *t.labels))
            up.samples.append((ls, 1 if p.up else 0))
            if p.uptime_seconds is not None:
                upt.samples.append((ls, p.uptime_seconds))
            if p.prefixes is not None:
                pfx.samples.append((ls, p.prefixes))
        ospf = fam(
            "netmon_ospf_neighbor_up",
            "gauge",
            "1 if the OSPF adjacency is Full (or 2-Way); 0 once listed and now gone or stuck.",
        )
        for q in data.ospf:
            ospf.samples.append(
                (
                    _if_labels(t.labels, links, q.interface, (("neighbor_id", q.neighbor_id),)),
                    1 if q.up else 0,
                )
            )
        lldp = fam("netmon_lldp_neighbor_info", "gauge", "An LLDP neighbour seen on the interface.")
        for n in data.lldp:
            seen = (("neighbor_device", n.system_name), ("neighbor_port", n.port))
            lldp.samples.append((_if_labels(t.labels, links, n.interface, seen), 1))
        mm = fam(
            "netmon_cabling_mismatch",
            "gauge",
            "An LLDP neighbour that contradicts the inventory's links (kind: wrong_port, "
            "wrong_device, unknown_neighbor, unlisted_link).",
        )
        for m in data.mismatches:
            extra: tuple[tuple[str, str], ...] = (
                ("kind", m.kind),
                ("expected_device", m.expected_device),
                ("expected_port", m.expected_port),
                ("seen_device", m.seen_device),
                ("seen_port", m.seen_port),
            )
            pairs: tuple[tuple[str, str], ...] = (("interface", m.interface), *extra)
            if m.link:
                pairs += (("link", m.link),)
            mm.samples.append((LabelSet(pairs + t.labels), 1))
        if "lldp" not in data.unparseable:
            base = LabelSet(t.labels)
            fam(
                "netmon_cabling_mismatches",
                "gauge",
                "Cabling mismatches found on the device at its last SSH poll.",
            ).samples.append((base, len(data.mismatches)))
            fam(
                "netmon_cabling_checked_links",
                "gauge",
                "Link interfaces whose LLDP neighbour was compared with the inventory.",
            ).samples.append((base, data.checked_links))
        fam(
            "netmon_ssh_data_timestamp_seconds",
            "gauge",
            "Unix time of the SSH poll the device's optics/neighbour series come from.",
        ).samples.append((LabelSet(t.labels), data.collected_at))
    if health is not None:
        _health(fams, states, health)
    return list(fams.values())


def _if_labels(
    labels: tuple[tuple[str, str], ...],
    links: Mapping[str, str],
    interface: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> LabelSet:
    pairs: tuple[tuple[str, str], ...] = (("interface", interface), *extra)
    link = links.get(interface)
    if link:
        pairs += (("link", link),)
    return LabelSet(pairs + labels)


def _optic(fams: dict[str, Family], o: Optic, ls: LabelSet) -> None:
    for name, _, attr in _OPTIC_VALUES:
        v = getattr(o, attr)
        if v is not None:
            fams[name].samples.append((ls, v))
    for key, value in o.thresholds:
        fams[_threshold_name(key)].samples.append((ls, value))


def _health(
    fams: dict[str, Family], states: list[DeviceState], health: Mapping[str, SshHealth]
) -> None:
    # a device whose first SSH poll has not ended has no health series (not a misleading 0)
    rows = [
        (s.target, h) for s in states if (h := health.get(s.target.name)) is not None and h.polls
    ]
    simple = (
        ("netmon_ssh_up", "gauge", "1 if the device's last SSH poll succeeded.", "up"),
        (
            "netmon_ssh_poll_duration_seconds",
            "gauge",
            "Wall time of the device's last SSH poll.",
            "last_duration",
        ),
        (
            "netmon_ssh_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the device's last successful SSH poll (0: never).",
            "last_success",
        ),
        ("netmon_ssh_polls_total", "counter", "SSH polls of the device.", "polls"),
        ("netmon_ssh_logins_total", "counter", "SSH logins (a new session).", "logins"),
        (
            "netmon_ssh_backoff_skipped_total",
            "counter",
            "SSH polls not tried: backing off after failures.",
            "skipped",
        ),
    )
    for name, typ, help_, attr in simple:
        f = fams.setdefault(name, Family(name, typ, help_))
        for t, h in rows:
            v = getattr(h, attr)
            f.samples.append((LabelSet(t.labels), int(v) if isinstance(v, bool) else v))
    err = fams.setdefault(
        "netmon_ssh_poll_errors_total",
        Family("netmon_ssh_poll_errors_total", "counter", "Failed SSH polls, by kind."),
    )
    bad = fams.setdefault(
        "netmon_ssh_unparseable_total",
        Family(
            "netmon_ssh_unparseable_total",
            "counter",
            "Command outputs no template could read, by kind of command.",
        ),
    )
    for t, h in rows:
        for kind, n in sorted(h.errors.items()):
            err.samples.append((LabelSet((("kind", kind), *t.labels)), n))
        for kind, n in sorted(h.unparseable.items()):
            bad.samples.append((LabelSet((("command", kind), *t.labels)), n))
