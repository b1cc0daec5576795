"""`netmon deploy generate`'s per-machine run arguments: each machine of a pair is its own
replica and, with a broker, publishes through the pair (one publisher, failover)."""

from __future__ import annotations

import argparse
import shlex

from netmon.commands import run
from netmon.deployment import Machine, Plan, machine_files
from netmon.event_options import options_from_args


def run_args(plan: Plan, machine: str) -> list[str]:
    env = machine_files(plan, machine, ["10", "50"])["netmon/netmon.env"]
    values = dict(line.split("=", 1) for line in env.splitlines() if not line.startswith("#"))
    return shlex.split(shlex.split(values["NETMON_RUN_ARGS"])[0])


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run.register(parser.add_subparsers())
    return parser.parse_args(["run", "--shard", "1/2", *argv])


def test_every_machine_gets_the_broker_and_its_replica_name() -> None:
    plan = Plan(2, machines=(Machine("a", "netmon-a"), Machine("b", "netmon-b")))
    assert run_args(plan, "a") == ["--replica", "a"]  # no broker: nothing is published
    plan = Plan(2, mqtt_url="mqtts://netmon-mqtt:8883")
    for name in ("a", "b"):
        argv = run_args(plan, name)
        assert argv == ["--replica", name, "--mqtt-url", "mqtts://netmon-mqtt:8883"]
        opts = options_from_args(parse(argv))  # what the unit's netmon run makes of them
        assert opts is not None and opts.replica == name and opts.mqtt is not None
        assert (opts.mqtt.tls, opts.mqtt.host, opts.mqtt.port) == (True, "netmon-mqtt", 8883)
