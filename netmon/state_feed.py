"""Wiring: the scheduler's results become the state engine's observations.

This is the only module that reads collector results on the engine's behalf, so
``netmon/state`` stays free of collector types. What counts as "it answered":

- a probe's verdict (any answer, even an error or an SNMPv3 report);
- a full or status poll that succeeded, or failed with anything but a timeout (a device that
  answers garbage is reachable, and broken otherwise: its poll errors say so);
- a full or status poll that timed out says nothing by itself: the scheduler probes the
  device at once and the probe decides.
"""

from __future__ import annotations

from collector.model import DeviceState, PollResult, ProbeResult, StatusResult
from collector.poll_runs import FULL, PROBE, Result
from netmon.state.engine import StateEngine
from netmon.state.model import Cause

SILENT = ("timeout",)  # no verdict on reachability
NO_WORD = ("config", "internal")  # netmon's own trouble: the device was not asked


class StateFeed:
    def __init__(self, engine: StateEngine) -> None:
        self.engine = engine

    def __call__(
        self, name: str, kind: str, state: DeviceState, result: Result, began: float
    ) -> None:
        eng = self.engine
        if isinstance(result, ProbeResult):
            evidence = "answered" if result.answered else f"no answer: {result.error}"
            eng.observe(name, result.answered, Cause.PROBE, evidence, began)
            return
        cause = Cause.POLL if kind == FULL else Cause.STATUS
        if result.ok:
            eng.observe(name, True, cause, f"{kind} poll answered", began)
        elif result.error_kind not in SILENT + NO_WORD:
            eng.observe(name, True, cause, f"{kind} poll answered with {result.error_kind}", began)
        if not result.ok:
            return
        if isinstance(result, PollResult):
            if result.rebooted:
                eng.observe_reboot(name, "sysUpTime went backwards", Cause.POLL)
            eng.observe_interfaces(name, _link_statuses(state, result), Cause.POLL, began)
        elif isinstance(result, StatusResult):
            eng.observe_interfaces(name, _status_opers(state, result), Cause.STATUS, began)
        assert kind != PROBE


def _names(state: DeviceState) -> dict[str, str]:
    """ifIndex -> ifName of the device's link interfaces (from the cached labels)."""
    last = state.last
    table = last.interfaces if last is not None else None
    if table is None:
        return {}
    links = set(state.target.uplinks)
    out: dict[str, str] = {}
    for index, labels in table.labels.items():
        name = labels.get("ifName", "")
        if name in links:
            out[index] = name
    return out


def _link_statuses(
    state: DeviceState, result: PollResult
) -> dict[str, tuple[int | None, int | None]]:
    table = result.interfaces
    if table is None:
        return {}
    admin = table.values.get("ifAdminStatus", {})
    oper = table.values.get("ifOperStatus", {})
    return {name: (admin.get(i), oper.get(i)) for i, name in _names(state).items()}


def _status_opers(
    state: DeviceState, result: StatusResult
) -> dict[str, tuple[int | None, int | None]]:
    names = _names(state)
    return {names[i]: (None, v) for i, v in result.oper_status.items() if i in names}
