"""The exception tree. Every error netmon raises on purpose derives from NetmonError.

NetmonError
├── InventoryError      the inventory files are wrong (carries every problem, with file:line)
├── TopologyError       the links do not form a backbone (a loop, a link to an unknown device)
├── ConfigError         a setting or a secret reference cannot be resolved
└── SnmpError           SNMP wire or protocol trouble: netmon.snmp's BerError, MessageError,
                        UsmDrop; the collector's SnmpTransportError (one per error kind);
                        the simulator's SimulatorError (bad control requests, bad devices)
"""

from __future__ import annotations

from dataclasses import dataclass


class NetmonError(Exception):
    """Base of every deliberate netmon error."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in an input file, with where it is (1-based line and column)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class InventoryError(NetmonError):
    """The inventory cannot be used; ``problems`` lists every mistake found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(NetmonError):
    """A setting or secret reference cannot be resolved."""


class SnmpError(NetmonError):
    """SNMP wire or protocol trouble."""
