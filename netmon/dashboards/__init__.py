"""Grafana dashboards generated as code (grafana-foundation-sdk, Grafana 11.6 schema).

``generate.all_dashboards()`` builds them; ``netmon dashboards generate`` writes them to
``dashboards/*.json``; ``netmon dashboards push`` uploads them (``push.py``). UIDs and the
drill-down URL pattern are ``netmon/links.py``; rate windows are ``netmon/rate_window.py``.
"""
