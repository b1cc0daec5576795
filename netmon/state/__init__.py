"""The device and link state: computed once, here, and read by everyone else.

Inputs (fed by the wiring in ``netmon/service.py``): whether each device answers (full polls,
status polls, reachability probes, traps), each inventory link end's admin/oper status, the
topology (``netmon.inventory.topology``) and the maintenance windows
(``inventory/maintenance.yaml``). Output: one ``DeviceView`` per device and one ``LinkView``
per inventory link, and an ``Event`` for every change. The exporter, the MQTT publisher, the
rules, the dashboards, the NOC page and the demo all read these; none recomputes them.

This package imports neither ``exporters`` nor ``collector``: data flows inventory ->
collector -> state -> exporters, and only ``netmon/service.py`` wires them.

Device states (``Status``):
- ``up``           it answers.
- ``down``         it does not answer and it is a root cause: it has no upstream device, or
                   some upstream path is still up. This is what pages.
- ``unreachable``  it does not answer (or is not asked) because every upstream path crosses
                   a device that is down or in maintenance: it is dark *because of* another
                   device (``DeviceView.causes``). Never pages on its own.
- ``maintenance``  inside a maintenance window. Never pages; nor does what is dark behind it.
- ``unknown``      never polled yet (just started or just added). Never pages.

Metrics the exporter derives from the views (every series also carries the topology labels
``province, province_code, district, site, device, role, region`` of the device; for links,
those of the link's downstream ``from`` device):

- ``netmon_device_state{state}``: 1 for the device's state, 0 for the four others.
- ``netmon_device_state_since_timestamp_seconds``: when the current state began.
- ``netmon_device_cause_info{cause_device, cause_site, cause_province_code, cause_state}``: 1
  per (dark device, root cause) pair; ``cause_state`` is ``down`` or ``maintenance``.
- ``netmon_link_state{link, kind, peer_device, state}``: link states ``up``, ``down`` (both
  end devices answer and an end is admin up / oper down: the link itself is the root cause),
  ``dark`` (an end device is not up: the device is the cause), ``admin_down``, ``unknown``.
- ``netmon_link_speed_bits_per_second{link, kind, peer_device}``: the inventory circuit speed.
- ``netmon_link_flaps_total{link, kind, peer_device}``: oper status transitions seen.
- ``netmon_maintenance_active{window, scope}``: 1 while a window is active (labels who/why in
  ``netmon_maintenance_info``).
"""
