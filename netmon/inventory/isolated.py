"""Load the inventory in a child process, with a time and a memory bound.

What the running service uses for reloads: a huge (but valid) edit parses in another process,
so it cannot hold the collector's GIL and delay polls (a 50 MB file took 62 s in-process and
two devices flapped down), and whatever memory a bad file makes the parser take is returned
to the system when the child exits (an alias bomb left 1.7 GB in the service after the revert).
A child over its time or memory bound is stopped and its load is a file:line problem.

Children come from a forkserver that has the loader imported already, so a reload costs a
fork plus the load itself, not a fresh interpreter.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import resource
from pathlib import Path
from typing import Any

from netmon.errors import InventoryError, Problem
from netmon.inventory.model import Inventory

TIMEOUT = 60.0
MEMORY_BYTES = 2 << 30  # address space of the child: the shipped backbone needs ~300 MB

_ctx: Any = None


def _context() -> Any:
    global _ctx
    if _ctx is None:
        _ctx = multiprocessing.get_context("forkserver")
        _ctx.set_forkserver_preload(["netmon.inventory.loader"])
    return _ctx


def _child(conn: multiprocessing.connection.Connection, path: str, memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        from netmon.inventory.loader import load_inventory

        conn.send(("ok", load_inventory(path)))
    except InventoryError as exc:
        conn.send(("problems", exc.problems))
    except MemoryError:
        conn.send(("problems", [Problem(path, 1, 1, f"loading needed over {memory >> 20} MiB")]))
    except Exception as exc:
        conn.send(("problems", [Problem(path, 1, 1, f"{type(exc).__name__}: {exc}")]))
    finally:
        conn.close()


def load_isolated(
    path: str | Path, *, timeout: float = TIMEOUT, memory_bytes: int = MEMORY_BYTES
) -> Inventory:
    """``load_inventory(path)`` in a child process; raises InventoryError as it does."""
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, str(path), memory_bytes), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise InventoryError(
                [Problem(str(path), 1, 1, f"loading took over {timeout:g} s: stopped")]
            )
        try:
            kind, value = parent.recv()
        except EOFError:  # killed (the kernel's OOM killer, a signal) before it answered
            proc.join(5)
            raise InventoryError(
                [Problem(str(path), 1, 1, f"the loader died (exit code {proc.exitcode})")]
            ) from None
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if kind == "ok":
        assert isinstance(value, Inventory)
        return value
    raise InventoryError(list(value))
