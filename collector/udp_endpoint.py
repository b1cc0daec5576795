"""One UDP socket for every SNMP device: send a request, match its answer, retransmit on timeout.

Answers are matched on (request id, source address): the request-id of a v1/v2c PDU or the
msgID of an SNMPv3 message (the inner request-id is encrypted). A retransmission keeps its id,
so a late answer to the first send is accepted and the duplicate that follows is dropped.
Datagrams that match nothing (late duplicates, strangers, garbage) are counted, never raised:
one bad device must not disturb the event loop the others share, and an unmatchable datagram
must not cut short a request whose real answer may still come. A request that runs out of
retries after only undecodable datagrams came from its device fails as SnmpGarbage rather
than SnmpTimeout: "answers nonsense" and "is silent" are different faults for the NOC.

Measured (/work/shared/notes/measured-facts.md): the default ~212 KB receive buffer dropped
hundreds of answers per run at 200 concurrent devices, each drop a timeout; 4 MB removed them.

The socket is read with ``loop.add_reader`` and drained (up to MAX_READS datagrams a wake-up),
not through asyncio's datagram transport, which reads one datagram per loop iteration: after a
stall of the loop (a whole 10x /metrics render) the retransmission timers that expired in it
fired before the answers already received were read, each a false "does not answer".
Draining reads them all before the expired timers run (README, 10x; same CPU, measured).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import ipaddress
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, fields

from collector.fifo_timers import FifoTimers, Timeout
from collector.socket_drops import receive_drops
from collector.transport import SnmpGarbage, SnmpTimeout, SnmpTransportError
from netmon.errors import ConfigError
from netmon.snmp import ber
from netmon.snmp.message import quick_head
from netmon.snmp.usm import SecurityLevel, UsmUser
from netmon.snmp.usm_manager import UsmManager

log = logging.getLogger(__name__)

RCVBUF_BYTES = 4 * 1024 * 1024
MAX_READS = 256  # datagrams read per wake-up: all that are queued, yet other callbacks get a turn
MAX_DATAGRAM = 65535
MAX_ID = 2**31 - 1  # request-id is an Integer32, msgID 0..2^31-1: stay positive in both
Address = tuple[str, int]


def peek_id(data: bytes) -> int:
    """The id an answer is matched on: msgID for SNMPv3, the PDU's request-id for v1/v2c.

    Raises ``ber.BerError`` when the datagram does not even have that much structure."""
    rid = _peek_v2c_id(data)
    return rid if rid is not None else _peek_any_id(data)


def _peek_any_id(data: bytes) -> int:
    end = len(data)
    ms, me = ber.expect(data, 0, end, ber.SEQUENCE)
    vs, ve = ber.expect(data, ms, me, ber.INTEGER)
    version = ber.decode_int(data, vs, ve)
    if version == 3:
        gs, ge = ber.expect(data, ve, me, ber.SEQUENCE)
        s, e = ber.expect(data, gs, ge, ber.INTEGER)
        return ber.decode_int(data, s, e)
    _, ce = ber.expect(data, ve, me, ber.OCTET_STRING)
    _, ps, pe = ber.read_tlv(data, ce, me)
    s, e = ber.expect(data, ps, pe, ber.INTEGER)
    return ber.decode_int(data, s, e)


def _peek_v2c_id(data: bytes) -> int | None:
    """``peek_id`` of a well-formed v1/v2c message, read inline (every answer passes here);
    None for anything else, which the TLV-by-TLV reader above decodes or explains."""
    head = quick_head(data)
    if head is None:
        return None
    _, ce, me = head
    try:
        if data[ce] & 0x1F == 0x1F:  # the PDU: any one-byte tag
            return None
        ps, pe = ber.quick_tlv(data, ce, me)
        n = data[ps + 1]
        if pe < 0 or data[ps] != 0x02 or not 0 < n <= 9 or ps + 2 + n > pe:
            return None
    except IndexError:
        return None
    return int.from_bytes(data[ps + 2 : ps + 2 + n], "big", signed=True)


def canonical_address(address: str) -> str:
    """The text form the kernel reports as a datagram's source (so answers match)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise ConfigError(f"SNMP target {address!r} is not an IP address") from exc
    if ip.version != 4:
        # The shared socket is AF_INET (as pysnmp's UdpTransportTarget): say so, not time out.
        raise ConfigError(f"SNMP target {address}: IPv6 is not supported by this transport")
    return str(ip)


@dataclass(slots=True)
class EndpointStats:
    sent: int = 0  # first sends
    retransmits: int = 0
    received: int = 0  # every datagram
    matched: int = 0
    unmatched: int = 0  # no request waiting (late duplicate, stranger)
    undecodable: int = 0  # not even an id to match on
    timeouts: int = 0  # requests that ran out of retries
    socket_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# What a callback request (``SnmpEndpoint.send``) is told: the answer, or why there is none.
Answered = Callable[[bytes | SnmpTransportError], None]


class _Pending:
    __slots__ = (
        "addr",
        "callback",
        "future",
        "garbage",
        "handle",
        "payload",
        "timeout",
        "tries_left",
    )

    def __init__(
        self,
        future: asyncio.Future[bytes] | None,
        payload: bytes,
        addr: Address,
        tries_left: int,
        timeout: float,
        callback: Answered | None = None,
    ) -> None:
        self.future = future
        self.callback = callback
        self.payload = payload
        self.addr = addr
        self.tries_left = tries_left
        self.timeout = timeout
        self.handle: Timeout | None = None
        self.garbage: str = ""  # what undecodable datagrams from addr looked like, if any


class SnmpEndpoint:
    """The shared socket. Opens lazily on first use (so it can be built outside a loop)."""

    def __init__(self, host: str = "127.0.0.1", *, rcvbuf: int = RCVBUF_BYTES) -> None:
        self.host = host
        self.rcvbuf = rcvbuf
        self.stats = EndpointStats()
        self._sock: socket.socket | None = None
        self._fd = -1  # kept: a socket closed under us reports -1, its reader must still go
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsent: collections.deque[tuple[bytes, Address]] = collections.deque()
        self._pending: dict[tuple[int, Address], _Pending] = {}
        # The pending keys by device, so an undecodable datagram touches only its own device's.
        self._by_addr: dict[Address, set[tuple[int, Address]]] = {}
        self._next_id = random.randrange(1, MAX_ID // 2)
        self._closed = False
        self._usm: dict[tuple[Address, UsmUser], tuple[UsmManager, asyncio.Lock]] = {}
        # Retransmission timers: one asyncio timer for all (nearly all are cancelled unfired).
        self._timers: FifoTimers | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        self._open(asyncio.get_running_loop())

    def _open(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        """The socket, opened on ``loop`` (again, if the one it was opened on is gone)."""
        if self._sock is not None and self._loop is loop and self._sock.fileno() >= 0:
            return self._sock
        if self._closed:
            raise SnmpTransportError("the SNMP endpoint is closed")
        self._drop_socket()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._enlarge_buffer(sock)
            sock.bind((self.host, 0))
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._readable)
        except BaseException:
            sock.close()
            raise
        self._sock, self._fd, self._loop = sock, sock.fileno(), loop
        return sock

    def _drop_socket(self) -> None:
        """Forget the socket (closed, or its loop is gone); the next request opens another."""
        sock, fd, loop = self._sock, self._fd, self._loop
        self._sock, self._fd, self._loop = None, -1, None
        self._unsent.clear()
        if sock is None:
            return
        if loop is not None and not loop.is_closed():
            loop.remove_reader(fd)
            loop.remove_writer(fd)
        sock.close()

    def _enlarge_buffer(self, sock: socket.socket) -> None:
        # SO_RCVBUFFORCE passes the system maximum but needs CAP_NET_ADMIN; SO_RCVBUF is capped.
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, self.rcvbuf)
                return
            except OSError:
                continue
        log.warning("could not enlarge the SNMP socket receive buffer")

    @property
    def local_address(self) -> Address | None:
        if self._sock is None:
            return None
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def receive_drops(self) -> int | None:
        """Datagrams the kernel dropped on this socket (receive buffer full)."""
        return receive_drops(self._sock) if self._sock is not None else None

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        """Stop: outstanding requests are cancelled, the socket closed."""
        self._closed = True
        pending, self._pending = self._pending, {}
        self._by_addr.clear()
        for p in pending.values():
            if p.handle is not None:
                p.handle.cancel()
            if p.future is not None and not p.future.done():
                p.future.cancel()
            elif p.callback is not None:
                _tell(p, SnmpTransportError("the SNMP endpoint is closed"))
        if self._timers is not None:
            self._timers.close()
            self._timers = None
        self._drop_socket()

    # --- socket I/O ----------------------------------------------------------------------------

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(MAX_READS):
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EBADF, errno.ENOTSOCK):
                    self._drop_socket()  # gone under us: the next request opens another
                    return
                self.error_received(exc)  # an ICMP error queued on the socket: read on
                continue
            self.datagram_received(data, addr)

    def _send(self, payload: bytes, addr: Address) -> None:
        sock = self._sock
        if sock is None:
            self.error_received(OSError(errno.EBADF, "the SNMP socket is closed"))
            return
        if not self._unsent:
            try:
                sock.sendto(payload, addr)
                return
            except (BlockingIOError, InterruptedError):
                assert self._loop is not None
                self._loop.add_writer(sock.fileno(), self._writable)
            except OSError as exc:  # e.g. EINVAL toward another network: the request times out
                self.error_received(exc)
                if exc.errno in (errno.EBADF, errno.ENOTSOCK):
                    self._drop_socket()  # gone under us: the next request opens another
                return
        self._unsent.append((payload, addr))  # the send buffer is full: in order, when it drains

    def _writable(self) -> None:
        sock = self._sock
        while sock is not None and self._unsent:
            payload, addr = self._unsent[0]
            try:
                sock.sendto(payload, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.error_received(exc)
            self._unsent.popleft()
        if sock is not None and self._loop is not None:
            self._loop.remove_writer(self._fd)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors and failed sends on an unconnected socket: the request times out.
        self.stats.socket_errors += 1

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        stats = self.stats
        stats.received += 1
        source: Address = (addr[0], addr[1])  # type: ignore[assignment]
        try:
            rid = peek_id(data)
        except ber.BerError as exc:
            stats.undecodable += 1
            self._note_garbage(source, exc)
            return
        pending = self._take((rid, source))
        if pending is None:
            stats.unmatched += 1
            return
        stats.matched += 1
        if pending.handle is not None:
            pending.handle.cancel()
        if pending.future is None:
            _tell(pending, data)  # here, in the reader: before any timer that expired meanwhile
        elif not pending.future.done():
            pending.future.set_result(data)

    def usm_state(self, addr: Address, user: UsmUser) -> tuple[UsmManager, asyncio.Lock]:
        """The USM state toward one device for one user, kept here so that discovery and the
        clock survive a rebuilt transport (the collector rebuilds it when a target changes).

        The key holds the resolved keys (UsmUser compares them), so rotated secrets get fresh
        state; the state of the same user's old keys toward that device is dropped then."""
        key = (addr, user)
        held = self._usm.get(key)
        if held is None:
            stale = [k for k in self._usm if k[0] == addr and k[1].name == user.name]
            for k in stale:
                del self._usm[k]
            held = (UsmManager(user, SecurityLevel.AUTH_PRIV), asyncio.Lock())
            self._usm[key] = held
        return held

    def forget(self, addr: Address) -> None:
        """Drop the USM state toward ``addr`` (the device left the inventory)."""
        for key in [k for k in self._usm if k[0] == addr]:
            del self._usm[key]

    def _note_garbage(self, source: Address, exc: ber.BerError) -> None:
        for key in self._by_addr.get(source, ()):
            self._pending[key].garbage = str(exc)

    def _take(self, key: tuple[int, Address]) -> _Pending | None:
        """Remove a request from the pending table and from its device's index."""
        pending = self._pending.pop(key, None)
        if pending is not None:
            keys = self._by_addr.get(key[1])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_addr[key[1]]
        return pending

    # --- requests ------------------------------------------------------------------------------

    def next_id(self) -> int:
        rid = self._next_id
        self._next_id = rid + 1 if rid < MAX_ID else 1
        return rid

    async def exchange(
        self, addr: Address, request_id: int, payload: bytes, timeout: float, retries: int
    ) -> bytes:
        """Send ``payload`` to ``addr`` and return the datagram answering ``request_id``;
        resend it (same id) up to ``retries`` times, each after ``timeout`` seconds.
        Raises SnmpTimeout when every try went unanswered."""
        loop = asyncio.get_running_loop()
        key = (request_id, addr)
        pending = _Pending(loop.create_future(), payload, addr, retries, timeout)
        self._start(loop, key, pending)
        assert pending.future is not None
        try:
            return await pending.future
        finally:
            if pending.handle is not None:
                pending.handle.cancel()
            if self._pending.get(key) is pending:
                self._take(key)

    def send(
        self,
        addr: Address,
        request_id: int,
        payload: bytes,
        timeout: float,
        retries: int,
        callback: Answered,
    ) -> None:
        """``exchange`` without a coroutine: ``callback`` gets the answer (called from the
        socket's reader) or the SnmpTransportError that ended the request (from its timer),
        exactly once. For one-request polls, where a task, a future and the frames between them
        were most of a request's CPU at 10x (README, "The collector at 10x")."""
        loop = asyncio.get_running_loop()
        pending = _Pending(None, payload, addr, retries, timeout, callback)
        self._start(loop, (request_id, addr), pending)

    def _start(
        self, loop: asyncio.AbstractEventLoop, key: tuple[int, Address], pending: _Pending
    ) -> None:
        sock = self._sock
        if sock is None or self._loop is not loop or sock.fileno() < 0:
            self._open(loop)
        if key in self._pending:
            raise SnmpTransportError(f"request id {key[0]} to {key[1][0]} already in flight")
        addr = pending.addr
        self._pending[key] = pending
        self._by_addr.setdefault(addr, set()).add(key)
        self._send(pending.payload, addr)
        self.stats.sent += 1
        timers = self._timers
        if timers is None or timers.loop is not loop:
            timers = self._timers = FifoTimers(loop)
        pending.handle = timers.call_later(pending.timeout, self._expire, key, pending)

    def _expire(self, key: tuple[int, Address], pending: _Pending) -> None:
        if pending.future is not None and pending.future.done():
            return
        if pending.tries_left > 0 and self._sock is not None:
            pending.tries_left -= 1
            self._send(pending.payload, pending.addr)
            self.stats.retransmits += 1
            assert self._timers is not None  # it is what called this
            pending.handle = self._timers.call_later(pending.timeout, self._expire, key, pending)
            return
        self.stats.timeouts += 1
        if self._pending.get(key) is pending:
            self._take(key)
        error: SnmpTransportError = SnmpTimeout(f"{key[1][0]}: no answer")
        if pending.garbage:
            error = SnmpGarbage(f"{key[1][0]}: only undecodable answers ({pending.garbage})")
        if pending.future is None:
            _tell(pending, error)
            return
        with contextlib.suppress(asyncio.InvalidStateError):
            pending.future.set_exception(error)


def _tell(pending: _Pending, outcome: bytes | SnmpTransportError) -> None:
    """Call a callback request's callback once; its bug must not stop the reader or timers."""
    callback, pending.callback = pending.callback, None
    if callback is None:
        return
    try:
        callback(outcome)
    except Exception:
        log.exception("SNMP answer callback %r failed", callback)
