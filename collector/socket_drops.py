"""Datagrams the kernel dropped because a UDP socket's receive buffer was full.

Such a drop shows up only as a device timing out; Linux counts it per socket in the last
column of /proc/net/udp (and udp6), found by the socket's inode.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_TABLES = (Path("/proc/net/udp"), Path("/proc/net/udp6"))


def receive_drops(sock: socket.socket) -> int | None:
    """The kernel's drop counter for ``sock``; None where /proc does not tell (not Linux)."""
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except OSError:
        return None
    for table in _TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) >= 13 and cols[9] == inode:
                return int(cols[-1])
    return None
