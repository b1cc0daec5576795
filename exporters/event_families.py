"""Self-metrics of the event path: the trap receiver's counters and the MQTT publisher's."""

from __future__ import annotations

from collector.traps import DROP_REASONS, TrapStats
from exporters.families import Family, LabelSet
from exporters.ha_pair import HA_DROP_REASONS, ROLES, Pair
from exporters.mqtt import DELIVERY_BUCKETS, MqttPublisher

_NONE = LabelSet(())


def _one(name: str, kind: str, help_: str, value: float) -> Family:
    return Family(name, kind, help_, [(_NONE, value)])


def _by(name: str, help_: str, label: str, values: dict[str, int], keys: tuple[str, ...]) -> Family:
    fam = Family(name, "counter", help_)
    for key in sorted(set(keys) | set(values)):
        fam.samples.append((LabelSet(((label, key),)), values.get(key, 0)))
    return fam


def trap_families(stats: TrapStats) -> list[Family]:
    return [
        _by(
            "netmon_traps_received_total",
            "Notifications received, by SNMP version.",
            "version",
            dict(stats.received),
            ("1", "2c", "3"),
        ),
        _by(
            "netmon_traps_accepted_total",
            "Notifications acted on, by kind.",
            "kind",
            dict(stats.accepted),
            ("link_down", "link_up", "cold_start", "warm_start", "authentication_failure"),
        ),
        _by(
            "netmon_traps_dropped_total",
            "Notifications dropped, by reason.",
            "reason",
            dict(stats.dropped),
            DROP_REASONS,
        ),
        _one(
            "netmon_traps_informs_acknowledged_total",
            "counter",
            "InformRequests answered with a Response.",
            stats.informs_acked,
        ),
        _one(
            "netmon_traps_inform_duplicates_total",
            "counter",
            "Resent informs acknowledged again but acted on once.",
            stats.inform_duplicates,
        ),
        _one(
            "netmon_traps_reports_total",
            "counter",
            "SNMPv3 Reports sent (inform discovery, clock sync, refusals).",
            stats.reports,
        ),
        _one("netmon_traps_usm_users", "gauge", "SNMPv3 users the receiver holds.", stats.users),
    ]


def mqtt_families(pub: MqttPublisher) -> list[Family]:
    q, s = pub.queue, pub.stats
    return [
        _one(
            "netmon_mqtt_connected", "gauge", "1 while connected to the broker.", int(s.connected)
        ),
        _one(
            "netmon_mqtt_outbox_events",
            "gauge",
            "Events in the durable outbox, not yet acknowledged by the broker.",
            len(q),
        ),
        _one(
            "netmon_mqtt_outbox_retained_pending",
            "gauge",
            "Retained state topics whose new state the broker has not acknowledged yet.",
            q.retained_pending_count(),
        ),
        _one(
            "netmon_mqtt_events_queued_total",
            "counter",
            "Events written to the outbox.",
            q.enqueued,
        ),
        _one(
            "netmon_mqtt_events_delivered_total",
            "counter",
            "Events acknowledged by the broker (QoS 1) and removed from the outbox.",
            q.delivered,
        ),
        _by(
            "netmon_mqtt_events_dropped_total",
            "Events lost: the outbox's size bound, or the bus queue overflowing before it.",
            "reason",
            {"bound": q.dropped, "bus": s.bus_dropped},
            ("bound", "bus"),
        ),
        _one(
            "netmon_mqtt_messages_published_total",
            "counter",
            "MQTT messages acknowledged (events per topic, retained states, status).",
            s.published,
        ),
        _delivery(pub),
        _one(
            "netmon_mqtt_event_delivery_max_seconds",
            "gauge",
            "The longest an event waited in the outbox for the broker's acknowledgement.",
            s.delivery_max,
        ),
        _one("netmon_mqtt_connects_total", "counter", "Connections made.", s.connects),
        _one(
            "netmon_mqtt_connect_failures_total",
            "counter",
            "Connection attempts that failed.",
            s.connect_failures,
        ),
    ]


def _delivery(pub: MqttPublisher) -> Family:
    """Events acknowledged within each bound of seconds from entering the outbox (cumulative,
    as a histogram's buckets; outages included)."""
    s = pub.stats
    fam = Family(
        "netmon_mqtt_events_delivered_within_seconds_total",
        "counter",
        "Events the broker acknowledged within le seconds of entering the outbox.",
    )
    for bound, count in zip(DELIVERY_BUCKETS, s.delivery_buckets, strict=True):
        fam.samples.append((LabelSet((("le", f"{bound:g}"),)), count))
    fam.samples.append((LabelSet((("le", "+Inf"),)), s.delivery_count))
    return fam


def ha_families(pair: Pair) -> list[Family]:
    """An HA replica's (``--replica``): its role and what became of its own events."""
    role = Family(
        "netmon_mqtt_ha_role",
        "gauge",
        "1 for this replica's role in its HA pair (active publishes the events), 0 otherwise.",
    )
    for name in ROLES:
        role.samples.append((LabelSet((("role", name),)), int(pair.role == name)))
    st = pair.stats
    return [
        role,
        _by(
            "netmon_mqtt_ha_events_dropped_total",
            "Own events not published: the active replica published the same change (matched), "
            "never decided it and moved past it (expired), or had announced the subject's state "
            "before this replica's first decision about it (first).",
            "reason",
            {"matched": st.matched, "expired": st.expired, "first": st.first},
            HA_DROP_REASONS,
        ),
        _one(
            "netmon_mqtt_ha_events_promoted_total",
            "counter",
            "Own events published on taking over: the active replica had not published them.",
            st.promoted,
        ),
        _one(
            "netmon_mqtt_ha_promotions_total",
            "counter",
            "Times this replica took over publishing.",
            st.promotions,
        ),
        _one(
            "netmon_mqtt_ha_demotions_total",
            "counter",
            "Times this replica gave publishing up to the other one.",
            st.demotions,
        ),
        _one(
            "netmon_mqtt_ha_events_held",
            "gauge",
            "Own events held as standby, waiting for the active replica's version.",
            pair.pending(),
        ),
    ]
