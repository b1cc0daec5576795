"""Fuzz what reads hostile bytes: SNMP decoders, USM (agent and manager), the HTTP request head
parser and router, and the inventory's YAML parser. ``make fuzz`` runs >= 1M mutated inputs and
prints, per target, how many were accepted, cleanly rejected (the decoder's own error) and how
many raised anything else ("unexpected": must be 0), plus the slowest single input.

Inputs are valid seeds mutated by bit flips, interesting bytes (0x00, 0x7f, 0x80, 0x81, 0x84,
0xff: BER length forms), truncation, insertion, deletion and duplication of chunks. Seeded
and deterministic (``--seed``). ``tests/unit/test_fuzz.py`` runs the same targets under
hypothesis with a small budget on every ``make test``.

The trap receiver's decoder is fuzzed by its own module (issue: events).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from exporters.http import MetricsServer, _HeadTooLarge
from netmon.inventory import yamlpos
from netmon.simulator.testbed import small_inventory
from netmon.snmp import ber
from netmon.snmp import message as msg
from netmon.snmp.usm import UsmAgent, UsmDrop, UsmTooBig, UsmUser, V3Request
from netmon.snmp.usm_manager import UsmManager

SYSNAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
IFHCIN = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 1_000_001)
ENGINE = b"\x80\x00\x1f\x88\x80netmon-fuzz"


@dataclass
class Target:
    name: str
    seeds: list[bytes]
    run: Callable[[bytes], object]
    clean: tuple[type[BaseException], ...]
    share: float  # of the total inputs


@dataclass
class Outcome:
    inputs: int = 0
    accepted: int = 0
    rejected: int = 0
    unexpected: int = 0
    slowest: float = 0.0
    examples: list[str] = field(default_factory=list)


# --- targets ---------------------------------------------------------------------------------


def _snmp_responses() -> list[bytes]:
    vbs = [
        msg.varbind(ber.encode_oid(SYSNAME), ber.encode_octets("d5001-edge1 ไทย".encode())),
        msg.varbind(ber.encode_oid(IFHCIN), ber.encode_unsigned(2**64 - 1, ber.COUNTER64)),
        msg.varbind(ber.encode_oid(IFHCIN), ber.encode_unsigned(7, ber.COUNTER32)),
        msg.varbind(ber.encode_oid(IFHCIN), ber.encode_oid((1, 3, 6, 1, 4, 1, 9, 1, 1))),
        msg.varbind(ber.encode_oid(IFHCIN), b"\x82\x00"),  # endOfMibView
        msg.varbind(ber.encode_oid(IFHCIN), b"\x80\x00"),  # noSuchObject
    ]
    return [
        msg.encode_message(1, b"public", ber.RESPONSE, 5, 0, 0, b"".join(vbs)),
        msg.encode_message(1, b"netmon-sim", ber.RESPONSE, 2**31 - 1, 0, 0, vbs[1] * 25),
        msg.encode_message(0, b"x", ber.RESPONSE, 9, 18, 1, vbs[0]),
    ]


def _snmp_requests() -> list[bytes]:
    oids = [SYSNAME, IFHCIN]
    return [msg.encode_get(b"public", 1, oids), msg.encode_getbulk(b"public", 7, oids, 25)]


def _get_pdu(request_id: int) -> bytes:
    vb = ber.tlv(ber.SEQUENCE, ber.encode_oid(SYSNAME) + b"\x05\x00")
    return ber.tlv(
        ber.GET, ber.encode_int(request_id) + b"\x02\x01\x00\x02\x01\x00" + ber.tlv(0x30, vb)
    )


def _response_pdu(pdu: bytes) -> bytes:
    return bytes([ber.RESPONSE]) + pdu[1:]


def _usm() -> tuple[UsmAgent, UsmManager, list[bytes], list[bytes]]:
    clock = [1000.0]
    user = UsmUser(b"fuzz", "SHA-256", b"auth-secret-1", "AES-128", b"priv-secret-1")
    agent = UsmAgent(ENGINE, [user], clock=lambda: clock[0])
    manager = UsmManager(user, clock=lambda: clock[0])
    to_agent, to_manager = [manager.discovery(1)], []

    def exchange(m: bytes) -> bytes:
        got = agent.receive(m)
        return got if isinstance(got, bytes) else agent.respond(got, _response_pdu(got.pdu))

    report = exchange(to_agent[0])
    to_manager.append(report)
    manager.receive(report)
    for i in range(2, 5):
        req = manager.request(i, _get_pdu(i))
        to_agent.append(req)
        to_manager.append(exchange(req))
    return agent, manager, to_agent, to_manager


def _http_target() -> tuple[list[bytes], Callable[[bytes], object]]:
    server = MetricsServer(lambda province: b"up 1\n", render_ttl=0)
    loop = asyncio.new_event_loop()

    async def one(data: bytes) -> object:
        reader = asyncio.StreamReader(limit=16 * 1024)
        reader.feed_data(data)
        reader.feed_eof()
        line, headers = await server._read_head(reader, 5.0)
        response = server._respond(line, headers, "127.0.0.1")
        if response is not None and response.status not in (200, 400, 401, 404, 405):
            raise AssertionError(f"status {response.status} for {line!r}")
        return response

    def run(data: bytes) -> object:
        return loop.run_until_complete(one(data))

    seeds = [
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9800\r\nAccept: */*\r\n\r\n",
        b"GET /province/50/metrics HTTP/1.1\r\nUser-Agent: Prometheus/2.42\r\n\r\n",
        b"GET /metrics?province=10&x=%0a HTTP/1.1\r\nAuthorization: Basic cDpw\r\n\r\n",
        b"HEAD /healthz HTTP/1.0\n\n",
        b"POST /action HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    ]
    return seeds, run


def _yaml_target() -> tuple[list[bytes], Callable[[bytes], object]]:
    inv = small_inventory()
    site = inv.sites[-1]
    text = json.dumps(site.site.model_dump(mode="json"), ensure_ascii=False, indent=1)
    block = "province:\n  code: '50'\n  name_en: Chiang Mai\nsites:\n  - code: '50'\n"
    block += "    devices: [{name: a, address: 127.0.0.1}]\n    links: []\n"

    def run(data: bytes) -> object:
        parsed = yamlpos.parse("fuzz.yaml", data.decode("utf-8", "replace"))
        for p in parsed.problems:  # every problem has a position
            if p.line < 1 or p.column < 1:
                raise AssertionError(f"problem without a position: {p}")
        return parsed

    return [text.encode(), block.encode(), b"a: &x [*x]\n", b"k: [[[[1]]]]\n"], run


def targets() -> list[Target]:
    agent, manager, to_agent, to_manager = _usm()
    http_seeds, http_run = _http_target()
    yaml_seeds, yaml_run = _yaml_target()

    def agent_run(data: bytes) -> object:
        got = agent.receive(data)
        if isinstance(got, V3Request):
            agent.respond(got, _response_pdu(got.pdu))
        return got

    clean_ber = (msg.MessageError, ber.BerError)
    return [
        Target("snmp decode_response", _snmp_responses(), msg.decode_response, clean_ber, 0.35),
        Target("snmp decode_request", _snmp_requests(), msg.decode_request, clean_ber, 0.20),
        Target("usm agent receive", to_agent, agent_run, (UsmDrop, UsmTooBig), 0.15),
        Target("usm manager receive", to_manager, manager.receive, (UsmDrop,), 0.10),
        Target("http request head", http_seeds, http_run, (_HeadTooLarge,), 0.12),
        Target("inventory yaml parse", yaml_seeds, yaml_run, (), 0.08),
    ]


# --- the engine ------------------------------------------------------------------------------

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF)


def mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(data)) if data else 0
        if op == 0 and data:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[pos] = rng.choice(_INTERESTING) if rng.random() < 0.7 else rng.randrange(256)
        elif op == 2:
            del data[rng.randrange(len(data) + 1) :]
        elif op == 3:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 4:
            del data[pos : pos + rng.randint(1, 16)]
        elif op == 5 and data:
            end = min(len(data), pos + rng.randint(1, 64))
            data[pos:pos] = data[pos:end] * rng.randint(1, 8)  # repeated structure
        else:
            data[pos:pos] = rng.choice(_INTERESTING).to_bytes(1, "big")
    return bytes(data)


def fuzz(target: Target, n: int, seed: int) -> Outcome:
    rng = random.Random(seed)
    out = Outcome()
    clock = time.process_time  # CPU per input: wall time on a shared box is noise
    for _ in range(n):
        data = mutate(rng, rng.choice(target.seeds))
        start = clock()
        try:
            target.run(data)
            out.accepted += 1
        except target.clean:
            out.rejected += 1
        except Exception:
            out.unexpected += 1
            if len(out.examples) < 3:
                out.examples.append(f"{data!r}\n{traceback.format_exc()}")
        out.slowest = max(out.slowest, clock() - start)
        out.inputs += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--inputs", type=int, default=1_000_000, help="total inputs (all targets)")
    ap.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args(argv if argv is not None else [])
    print(f"{'target':<24} {'inputs':>9} {'accepted':>9} {'rejected':>9} {'unexpected':>10} "
          f"{'slowest':>9} {'s':>6}")  # fmt: skip
    total, unexpected = 0, 0
    started = time.process_time()
    for i, target in enumerate(targets()):
        t0 = time.process_time()
        o = fuzz(target, int(args.inputs * target.share), args.seed + i)
        total += o.inputs
        unexpected += o.unexpected
        print(
            f"{target.name:<24} {o.inputs:>9,} {o.accepted:>9,} {o.rejected:>9,} "
            f"{o.unexpected:>10,} {o.slowest * 1000:>7.1f}ms {time.process_time() - t0:>6.1f}",
            flush=True,
        )
        for example in o.examples:
            print(example, file=sys.stderr)
    verdict = "OK: no unexpected exception" if unexpected == 0 else f"FAIL: {unexpected} unexpected"
    print(f"{total:,} inputs in {time.process_time() - started:.0f} CPU-s: {verdict}")
    return 0 if unexpected == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
