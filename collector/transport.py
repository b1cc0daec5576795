"""The narrow SNMP transport interface the collector needs, its errors, and a fake.

Only two operations: ``get`` scalars and ``walk`` whole table columns. Everything above this
line (profiles, caching, scheduling, exposition) is independent of how the bytes travel, so a
faster codec can replace pysnmp on the hot path without touching the rest.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from typing import Protocol

from netmon.errors import SnmpError


class Missing(enum.Enum):
    """An agent's "there is nothing here" answers (RFC 3416 exceptions)."""

    no_such_object = "noSuchObject"
    no_such_instance = "noSuchInstance"
    end_of_mib_view = "endOfMibView"


Value = int | str | Missing
"""Integers of every SNMP kind are ``int``; OCTET STRINGs are text; OIDs are dotted text."""


class SnmpTransportError(SnmpError):
    """A request to one device failed. ``kind`` is the label of ``netmon_poll_errors_total``."""

    kind = "other"


class SnmpTimeout(SnmpTransportError):
    kind = "timeout"


class SnmpWalkLoop(SnmpTransportError):
    """The agent answered an OID that is not after the one asked for: a walk would never end."""

    kind = "walk_loop"


class SnmpGarbage(SnmpTransportError):
    """An answer that cannot be used (undecodable, wrong type, wrong shape)."""

    kind = "garbage"


class SnmpNoSuchObject(SnmpTransportError):
    kind = "no_such_object"


class SnmpErrorStatus(SnmpTransportError):
    """The agent answered with a non-zero error-status (e.g. tooBig, genErr)."""

    kind = "error_status"


class SnmpAuthError(SnmpTransportError):
    """SNMPv3 USM refused us (unknown user, wrong keys, not in time window)."""

    kind = "auth"


class SnmpTransport(Protocol):
    """What a collector may ask of one device."""

    async def get(self, oids: Sequence[str]) -> list[tuple[str, Value]]:
        """GET the given instance OIDs; the answer is in request order."""
        ...

    async def walk(self, columns: Sequence[str]) -> dict[str, dict[str, Value]]:
        """Walk every column at once; ``{column: {index: value}}`` with dotted-text indexes."""
        ...

    async def get_walk(
        self, oids: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[tuple[str, Value]], dict[str, dict[str, Value]]]:
        """``get(oids)`` and ``walk(columns)`` in as few requests as the transport can (the
        fast transport: the scalars ride as non-repeaters of the walk's first GETBULK)."""
        ...


def oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


class FakeTransport:
    """Answers from a dict ``{oid: value}`` as a well-behaved agent would (for unit tests).

    ``delay`` makes every request take that long; ``fail`` makes every request raise it.
    """

    def __init__(
        self,
        data: Mapping[str, Value],
        *,
        delay: float = 0.0,
        fail: SnmpTransportError | None = None,
        max_repetitions: int = 25,
    ) -> None:
        self.data = dict(data)
        self.delay = delay
        self.fail = fail
        self.max_repetitions = max_repetitions
        self.requests = 0

    async def _request(self) -> None:
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail

    async def get(self, oids: Sequence[str]) -> list[tuple[str, Value]]:
        await self._request()
        return [(oid, self.data.get(oid, Missing.no_such_instance)) for oid in oids]

    async def walk(self, columns: Sequence[str]) -> dict[str, dict[str, Value]]:
        keys = sorted(self.data, key=oid_key)
        out: dict[str, dict[str, Value]] = {}
        for column in columns:
            prefix = column + "."
            rows = [k for k in keys if k.startswith(prefix)]
            # One request per max_repetitions rows, as GETBULK would need.
            for _ in range(max(1, -(-len(rows) // self.max_repetitions))):
                await self._request()
            out[column] = {k[len(prefix) :]: self.data[k] for k in rows}
        return out

    async def get_walk(
        self, oids: Sequence[str], columns: Sequence[str]
    ) -> tuple[list[tuple[str, Value]], dict[str, dict[str, Value]]]:
        return await self.get(oids), await self.walk(columns)
