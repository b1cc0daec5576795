"""`netmon alerts explain` shows each quiet device with the root cause it hangs on."""

from __future__ import annotations

import json

from support.backbones import backbone

from exporters.state_api import state_json
from netmon.explain import explain_text
from netmon.state.engine import StateEngine
from netmon.state.model import Cause


def test_explain_lists_root_causes_and_what_hangs_on_them() -> None:
    eng = StateEngine(clock=lambda: 1000.0, maintenance=lambda now: {"s1": "dist-swap"})
    eng.set_inventory(backbone())
    for n in ("c1", "c2", "p1", "s1", "e1", "e2", "p2", "e3"):
        eng.observe(n, True, Cause.POLL)
    eng.observe("p2", False, Cause.PROBE)
    eng.observe("c2", True, Cause.PROBE)
    eng.observe("e3", False, Cause.PROBE)
    eng.observe("s1", False, Cause.PROBE)
    eng.observe("p1", True, Cause.PROBE)
    eng.observe("e2", False, Cause.PROBE)
    text = explain_text(json.loads(state_json(eng)), now=1125.0)
    lines = text.splitlines()
    assert lines[0].startswith("p2: down for 2m [PAGES]")
    assert "    quiet: e3 at 5101 T / ท: unreachable because p2 is down" in lines
    assert any(
        ln.startswith("s1: maintenance window dist-swap") and "[quiet]" in ln for ln in lines
    )
    assert "    quiet: e2 at 5002 T / ท: unreachable because s1 is maintenance" in lines
    assert lines[-1] == "devices: 1 down, 1 maintenance, 2 unreachable, 4 up; links: 0 down, 5 dark"


def test_explain_when_all_is_well() -> None:
    assert explain_text({"devices": [], "links": []}).startswith("nothing is down")
