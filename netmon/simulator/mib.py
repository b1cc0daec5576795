"""A device's MIB as a sorted table: OID tuples for ordering (bisect), encoded OID TLVs and
whole pre-encoded varbinds for static values, a function per dynamic value.

A walk asks for the OID it was just given, so the raw OID body of a request is first looked
up in a dict (no decoding at all); only an OID that is not in the table is decoded and bisected.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from netmon.snmp import ber
from netmon.snmp.message import varbind

OID = tuple[int, ...]
# A dynamic value: (unix time, cumulative traffic profile at that time) -> encoded value TLV.
ValueFn = Callable[[float, float], bytes]


def enc_counter32(v: int) -> bytes:
    v &= 0xFFFFFFFF
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return bytes((ber.COUNTER32, len(b))) + b


def enc_counter64(v: int) -> bytes:
    v &= 0xFFFFFFFFFFFFFFFF
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return bytes((ber.COUNTER64, len(b))) + b


def enc_unsigned(tag: int, v: int) -> bytes:
    v &= 0xFFFFFFFF
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return bytes((tag, len(b))) + b


def enc_int(v: int) -> bytes:
    return ber.encode_int(v)


class _Layout:
    """The shape of a MIB: sorted OIDs, their encodings and types. Devices of one platform
    with the same interface numbering share one (built once, saves time and memory)."""

    def __init__(self, oids: list[OID], tags: list[int], objects: set[OID]) -> None:
        self.oids = oids
        self.tags = tags
        self.objects = objects
        self.oid_tlvs: list[bytes] = []
        self.by_body: dict[bytes, int] = {}
        for i, oid in enumerate(oids):
            body = ber.encode_oid_body(oid)
            self.by_body[body] = i
            self.oid_tlvs.append(ber.tlv(ber.OBJECT_IDENTIFIER, body))


_LAYOUTS: dict[tuple[OID, ...], _Layout] = {}


class Mib:
    """Build with ``add``, then ``freeze``; afterwards read-only apart from the value functions'
    own state (interface status lives in the objects the functions close over)."""

    def __init__(self) -> None:
        self._pending: dict[OID, tuple[int, bytes | ValueFn, int]] = {}
        self.oids: list[OID] = []
        self.oid_tlvs: list[bytes] = []
        self.static: list[bytes | None] = []  # whole varbind when static
        self.fns: list[ValueFn | None] = []
        self.tags: list[int] = []
        self.by_body: dict[bytes, int] = {}
        self.objects: set[OID] = set()  # scalar and column OIDs, for noSuchObject/noSuchInstance
        self.size = 0

    def add(self, oid: OID, tag: int, value: bytes | ValueFn, instance_len: int = 1) -> None:
        """``value`` is the encoded value TLV or a function returning it; the last
        ``instance_len`` sub-identifiers are the instance (``.0`` for scalars)."""
        self._pending[oid] = (tag, value, instance_len)

    def freeze(self) -> None:
        pending = self._pending
        keys = sorted(pending)
        shape = tuple(keys)
        layout = _LAYOUTS.get(shape)
        if layout is None:
            tags = [pending[k][0] for k in keys]
            objects = {k[: -pending[k][2]] for k in keys}
            layout = _LAYOUTS[shape] = _Layout(keys, tags, objects)
        if any(pending[k][0] != t for k, t in zip(keys, layout.tags, strict=True)):
            raise ValueError("an OID with two different types")
        self.oids, self.oid_tlvs, self.tags = layout.oids, layout.oid_tlvs, layout.tags
        self.by_body, self.objects = layout.by_body, layout.objects
        static: list[bytes | None] = []
        fns: list[ValueFn | None] = []
        for oid_tlv, key in zip(layout.oid_tlvs, keys, strict=True):
            value = pending[key][1]
            if isinstance(value, bytes):
                static.append(varbind(oid_tlv, value))
                fns.append(None)
            else:
                static.append(None)
                fns.append(value)
        self.static, self.fns = static, fns
        self.size = len(keys)
        self._pending = {}

    def index(self, body: bytes) -> int | None:
        return self.by_body.get(body)

    def next_index(self, body: bytes) -> int:
        """Index of the first OID after the requested one (``size`` at the end of the MIB).
        Raises ``BerError`` for an undecodable OID."""
        i = self.by_body.get(body)
        if i is not None:
            return i + 1
        oid = ber.decode_oid(body, 0, len(body))
        return bisect_right(self.oids, oid)

    def varbind(self, i: int, now: float, cum: float) -> bytes:
        vb = self.static[i]
        if vb is not None:
            return vb
        fn = self.fns[i]
        assert fn is not None
        return varbind(self.oid_tlvs[i], fn(now, cum))

    def missing_tag(self, body: bytes) -> int:
        """noSuchObject or noSuchInstance for an OID that is not in the table."""
        oid = ber.decode_oid(body, 0, len(body))
        for n in range(len(oid) - 1, 0, -1):
            if oid[:n] in self.objects:
                return ber.NO_SUCH_INSTANCE
        return ber.NO_SUCH_OBJECT
