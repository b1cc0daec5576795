"""`netmon run` options of the event path: the trap/inform receiver and the MQTT publisher."""

from __future__ import annotations

import argparse
import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING

from netmon.errors import ConfigError

if TYPE_CHECKING:
    from netmon.event_wiring import EventOptions

_SECRET_RE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/\S+)$")


def _secret_ref(value: str) -> str:
    if not _SECRET_RE.match(value):
        raise argparse.ArgumentTypeError(
            "a secret reference: env:VARIABLE_NAME or file:/absolute/path (never the secret)"
        )
    return value


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not sep or not 0 <= number <= 65535:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {value!r}") from None
    return host, number


def _engine_id(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not hex: {value!r}") from None
    if not 5 <= len(raw) <= 32:
        raise argparse.ArgumentTypeError("an snmpEngineID is 5..32 bytes")
    return raw


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("traps and MQTT events")
    g.add_argument(
        "--trap-listen",
        type=_hostport,
        default=None,
        metavar="HOST:PORT",
        help="receive SNMP traps and informs on this UDP address (e.g. 0.0.0.0:162; off "
        "by default; an address off loopback needs --allow-non-loopback)",
    )
    g.add_argument(
        "--trap-community",
        type=_secret_ref,
        action="append",
        default=[],
        metavar="REF",
        help="an extra v1/v2c trap community (env:NAME or file:/path) accepted from any "
        "inventory device, besides each device's own; repeatable",
    )
    g.add_argument(
        "--trap-engine-id",
        type=_engine_id,
        default=None,
        metavar="HEX",
        help="this receiver's snmpEngineID for SNMPv3 informs (default 80001f88046e65746d6f6e"
        "2d7472617073, 'netmon-traps'); senders localize their inform keys to it",
    )
    g.add_argument(
        "--mqtt-url",
        default=None,
        metavar="URL",
        help="publish events and the retained board to this broker: mqtt://HOST:PORT or "
        "mqtts://HOST:PORT (TLS); off by default",
    )
    g.add_argument(
        "--mqtt-username",
        type=_secret_ref,
        default=None,
        metavar="REF",
        help="env:NAME or file:/path",
    )
    g.add_argument(
        "--mqtt-password",
        type=_secret_ref,
        default=None,
        metavar="REF",
        help="env:NAME or file:/path",
    )
    g.add_argument(
        "--mqtt-ca", default=None, metavar="FILE", help="CA file that signs the broker's cert"
    )
    g.add_argument("--mqtt-cert", default=None, metavar="FILE", help="client certificate (TLS)")
    g.add_argument("--mqtt-key", default=None, metavar="FILE", help="client certificate's key")
    g.add_argument("--mqtt-client-id", default=None, help="MQTT client identifier")
    g.add_argument(
        "--mqtt-queue",
        type=Path,
        default=None,
        metavar="PATH",
        help="the durable outbox (SQLite) for events the broker has not acknowledged yet "
        "(default $STATE_DIRECTORY/mqtt-outbox.db, /var/lib/netmon/ as root, else "
        "~/.local/state/netmon/)",
    )
    g.add_argument(
        "--replica",
        default=None,
        metavar="NAME",
        help="this machine's name in an HA pair (a, b): one replica of the pair publishes "
        "the events, the other takes over when it goes (README: Shards and HA pairs)",
    )
    g.add_argument(
        "--mqtt-ha-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --replica: how far apart in decision time the two replicas' versions of "
        "one change may be (default 60)",
    )
    g.add_argument(
        "--mqtt-queue-max",
        type=int,
        default=100_000,
        metavar="N",
        help="events the outbox holds at most; beyond, the oldest are dropped and counted",
    )


def options_from_args(args: argparse.Namespace) -> EventOptions | None:
    """The ``EventOptions`` the arguments ask for (None: no traps, no MQTT); raises
    ConfigError for a bad URL or a non-loopback trap address without --allow-non-loopback."""
    from exporters.mqtt import MqttSettings
    from exporters.mqtt_topics import parse_mqtt_url
    from netmon.event_wiring import EventOptions

    if args.trap_listen is None and args.mqtt_url is None:
        return None
    if args.trap_listen is not None:
        host = args.trap_listen[0]
        if not ipaddress.ip_address(host).is_loopback and not args.allow_non_loopback:
            raise ConfigError(
                f"refusing to receive traps on {host} (not loopback); "
                "pass --allow-non-loopback to mean it"
            )
    mqtt = None
    if args.mqtt_url is not None:
        tls, host, port = parse_mqtt_url(args.mqtt_url)
        if (args.mqtt_ca or args.mqtt_cert) and not tls:
            raise ConfigError("--mqtt-ca/--mqtt-cert need an mqtts:// URL")
        if args.mqtt_cert and not args.mqtt_key:
            raise ConfigError("--mqtt-cert needs --mqtt-key")
        mqtt = MqttSettings(
            host=host,
            port=port,
            tls=tls,
            ca_file=args.mqtt_ca,
            cert_file=args.mqtt_cert,
            key_file=args.mqtt_key,
            username=args.mqtt_username,
            password=args.mqtt_password,
            client_id=args.mqtt_client_id,
        )
    if args.replica is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", args.replica):
        raise ConfigError(f"--replica {args.replica!r}: want letters, digits, - or _")
    if args.mqtt_ha_window <= 0:
        raise ConfigError("--mqtt-ha-window must be positive")
    if args.mqtt_queue_max < 1:
        raise ConfigError("--mqtt-queue-max must be at least 1")
    return EventOptions(
        trap_listen=args.trap_listen,
        trap_communities=tuple(args.trap_community),
        trap_engine_id=args.trap_engine_id,
        mqtt=mqtt,
        mqtt_queue=args.mqtt_queue,
        mqtt_queue_max=args.mqtt_queue_max,
        replica=args.replica,
        ha_window=args.mqtt_ha_window,
    )
