"""Answer one request PDU from a device's MIB: GET, GETNEXT, GETBULK (and SET, refused), with
RFC 3416 exceptions (noSuchObject, noSuchInstance, endOfMibView) for v2c/v3 and RFC 1157 /
RFC 3584 semantics for v1 (noSuchName; Counter64 objects are invisible to v1).

This is the hot path: varbinds come pre-encoded from the table, only dynamic values are
encoded per request, and a walk's next OID is found by dict lookup of the raw OID bytes.
"""

from __future__ import annotations

from netmon.simulator import traffic
from netmon.simulator.mib import Mib
from netmon.snmp import ber
from netmon.snmp.message import (
    NO_SUCH_NAME,
    NOT_WRITABLE,
    TOO_BIG,
    V1,
    Pdu,
    varbind,
)

Answer = tuple[int, int, bytes]  # error-status, error-index, concatenated varbinds
_NULL = b"\x05\x00"
_END = b"\x82\x00"


def _echo(pdu: Pdu) -> bytes:
    return b"".join(varbind(ber.tlv(ber.OBJECT_IDENTIFIER, body), _NULL) for body in pdu.oids)


def answer(
    mib: Mib,
    pdu: Pdu,
    version: int,
    budget: int,
    now: float,
    walk_loop: bool = False,
    no_view: bool = False,
) -> Answer | None:
    """The Response's error fields and varbinds; ``budget`` is how many bytes of varbinds fit.

    Returns None for a PDU an agent does not answer (a Response, a trap...). Raises
    ``BerError`` for an undecodable OID in the request.
    """
    tag = pdu.tag
    if no_view and tag in (ber.GET, ber.GETNEXT, ber.GETBULK):
        return _no_view(pdu, version)
    cum = traffic.cumulative(now)
    if tag == ber.GETBULK:
        if version == V1:
            return None  # v1 has no GetBulk: a malformed request
        return _bulk(mib, pdu, budget, now, cum, walk_loop)
    if tag == ber.GETNEXT:
        return _next(mib, pdu, version, budget, now, cum, walk_loop)
    if tag == ber.GET:
        return _get(mib, pdu, version, budget, now, cum)
    if tag == ber.SET:
        # A read-only view: v1 says noSuchName, v2c notWritable (RFC 3584 section 4.3).
        status = NO_SUCH_NAME if version == V1 else NOT_WRITABLE
        return status, 1 if pdu.oids else 0, _echo(pdu)
    return None


def _no_view(pdu: Pdu, version: int) -> Answer | None:
    """A device whose access view excludes everything (a misconfigured router): a GET finds
    noSuchObject, a walk ends at once (endOfMibView); v1 can only say noSuchName."""
    if version == V1:
        return (NO_SUCH_NAME, 1, _echo(pdu)) if pdu.oids else (0, 0, b"")
    exception = bytes((ber.NO_SUCH_OBJECT if pdu.tag == ber.GET else ber.END_OF_MIB_VIEW, 0))
    return 0, 0, b"".join(varbind(ber.tlv(ber.OBJECT_IDENTIFIER, b), exception) for b in pdu.oids)


def _too_big(pdu: Pdu, version: int) -> Answer:
    # RFC 3416 4.2.1: tooBig carries an empty varbind list (v1 echoes the request's).
    return TOO_BIG, 0, _echo(pdu) if version == V1 else b""


def _get(mib: Mib, pdu: Pdu, version: int, budget: int, now: float, cum: float) -> Answer:
    out: list[bytes] = []
    size = 0
    by_body, tags = mib.by_body, mib.tags
    for k, body in enumerate(pdu.oids):
        i = by_body.get(body)
        if i is None or (version == V1 and tags[i] == ber.COUNTER64):
            if version == V1:
                return NO_SUCH_NAME, k + 1, _echo(pdu)
            missing = mib.missing_tag(body) if i is None else ber.NO_SUCH_INSTANCE
            vb = varbind(ber.tlv(ber.OBJECT_IDENTIFIER, body), bytes((missing, 0)))
        else:
            vb = mib.varbind(i, now, cum)
        size += len(vb)
        out.append(vb)
    if size > budget:
        return _too_big(pdu, version)
    return 0, 0, b"".join(out)


def _next_index(mib: Mib, body: bytes, walk_loop: bool) -> int:
    if not walk_loop:
        return mib.next_index(body)
    # Misbehaving agent: answer with the requested OID again (or an earlier one).
    i = mib.by_body.get(body)
    if i is not None:
        return i
    return max(mib.next_index(body) - 1, 0)


def _next(
    mib: Mib, pdu: Pdu, version: int, budget: int, now: float, cum: float, walk_loop: bool
) -> Answer:
    out: list[bytes] = []
    size = 0
    n, tags = mib.size, mib.tags
    for k, body in enumerate(pdu.oids):
        i = _next_index(mib, body, walk_loop)
        if version == V1:
            while i < n and tags[i] == ber.COUNTER64:
                i += 1
            if i >= n:
                return NO_SUCH_NAME, k + 1, _echo(pdu)
        if i >= n:
            vb = varbind(ber.tlv(ber.OBJECT_IDENTIFIER, body), _END)
        else:
            vb = mib.varbind(i, now, cum)
        size += len(vb)
        out.append(vb)
    if size > budget:
        return _too_big(pdu, version)
    return 0, 0, b"".join(out)


def _bulk(mib: Mib, pdu: Pdu, budget: int, now: float, cum: float, walk_loop: bool) -> Answer:
    oids = pdu.oids
    n_req = len(oids)
    nonrep = min(max(pdu.non_repeaters, 0), n_req)
    reps = max(pdu.max_repetitions, 0)
    n = mib.size
    static, fns, oid_tlvs = mib.static, mib.fns, mib.oid_tlvs
    out: list[bytes] = []
    size = 0
    for k in range(nonrep):
        i = _next_index(mib, oids[k], walk_loop)
        if i < n:
            vb = mib.varbind(i, now, cum)
        else:
            vb = varbind(ber.tlv(ber.OBJECT_IDENTIFIER, oids[k]), _END)
        size += len(vb)
        if size > budget:
            break
        out.append(vb)
    else:
        repeaters = oids[nonrep:]
        if not repeaters or reps == 0:
            return 0, 0, b"".join(out)
        pos = [_next_index(mib, body, walk_loop) for body in repeaters]
        last = [ber.tlv(ber.OBJECT_IDENTIFIER, body) for body in repeaters]
        width = len(repeaters)
        for _ in range(reps):
            ended = 0
            for j in range(width):
                i = pos[j]
                if i < n:
                    pre = static[i]
                    if pre is None:
                        fn = fns[i]
                        assert fn is not None
                        vb = varbind(oid_tlvs[i], fn(now, cum))
                    else:
                        vb = pre
                    last[j] = oid_tlvs[i]
                    pos[j] = i + 1
                else:
                    vb = varbind(last[j], _END)
                    ended += 1
                size += len(vb)
                if size > budget:
                    break
                out.append(vb)
            else:
                if ended == width:
                    break
                continue
            break
    if not out and (nonrep or reps):
        return _too_big(pdu, 1)
    return 0, 0, b"".join(out)
