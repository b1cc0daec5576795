"""Alerting configuration: Prometheus rules and the Alertmanager config, generated.

- ``rules``: ``deploy/prometheus/rules/*.yml`` (recording rules for dashboards, alerts) from the
  inventory (poll intervals set the rate windows and staleness) and ``collector/profiles.yaml``
  (which vendor metrics exist); built on the state engine's metrics (``netmon/state``).
- ``routing``: the admins' routing file (``inventory/alerting.yaml``), checked strictly.
- ``alertmanager``: ``deploy/alertmanager/alertmanager.yml`` from the routing file and the
  inventory (regions become province-code matchers).

Every alert pages a root cause only: the state engine decides who is ``down`` (a root cause)
and who is ``unreachable`` (dark because of another device); interface and device-level alerts
fire only for devices that are ``up``.
"""
