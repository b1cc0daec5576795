"""A tiny SNMPv3 responder over UsmAgent for interop tests (pysnmp, net-snmp) on loopback.

GET answers every OID with ``VALUE``; GETNEXT/GETBULK answer ``oid + (i,)`` rows with Integer i.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import cast

from netmon.snmp import ber
from netmon.snmp.usm import UsmAgent, UsmDrop, V3Request

VALUE = b"sim-router-01"


def response_pdu(request_pdu: bytes) -> bytes:
    """A Response PDU for a GET/GETNEXT/GETBULK PDU TLV (built with ber.py)."""
    tag, s, e = ber.read_tlv(request_pdu, 0, len(request_pdu))
    a, p = ber.expect(request_pdu, s, e, ber.INTEGER)
    request_id = ber.decode_int(request_pdu, a, p)
    a, p = ber.expect(request_pdu, p, e, ber.INTEGER)
    non_repeaters = ber.decode_int(request_pdu, a, p)
    a, p = ber.expect(request_pdu, p, e, ber.INTEGER)
    max_repetitions = ber.decode_int(request_pdu, a, p)
    vs, ve = ber.expect(request_pdu, p, e, ber.SEQUENCE)
    oids: list[ber.OID] = []
    while vs < ve:
        bs, be = ber.expect(request_pdu, vs, ve, ber.SEQUENCE)
        a, b = ber.expect(request_pdu, bs, be, ber.OBJECT_IDENTIFIER)
        oids.append(ber.decode_oid(request_pdu, a, b))
        vs = be
    varbinds = b""
    if tag == ber.GET:
        for oid in oids:
            varbinds += ber.tlv(ber.SEQUENCE, ber.encode_oid(oid) + ber.encode_octets(VALUE))
    elif tag == ber.GETBULK:
        for oid in oids[:non_repeaters]:
            varbinds += ber.tlv(ber.SEQUENCE, ber.encode_oid((*oid, 1)) + ber.encode_int(1))
        for i in range(1, max(max_repetitions, 0) + 1):
            for oid in oids[non_repeaters:]:
                varbinds += ber.tlv(ber.SEQUENCE, ber.encode_oid((*oid, i)) + ber.encode_int(i))
    else:
        for oid in oids:
            varbinds += ber.tlv(ber.SEQUENCE, ber.encode_oid((*oid, 1)) + ber.encode_int(1))
    return ber.tlv(
        ber.RESPONSE,
        ber.encode_int(request_id) + b"\x02\x01\x00\x02\x01\x00" + ber.tlv(ber.SEQUENCE, varbinds),
    )


def answer(agent: UsmAgent, data: bytes) -> bytes | None:
    try:
        got = agent.receive(data)
    except UsmDrop:
        return None
    if isinstance(got, V3Request):
        return agent.respond(got, response_pdu(got.pdu))
    return got


class AsyncResponder(asyncio.DatagramProtocol):
    def __init__(self, agent: UsmAgent) -> None:
        self.agent = agent
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        out = answer(self.agent, data)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


@contextlib.contextmanager
def thread_responder(agent: UsmAgent, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve ``agent`` from a thread; yields the UDP port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            out = answer(agent, data)
            if out is not None:
                sock.sendto(out, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        sock.close()
