"""The kernel's receive-buffer drops on a UDP socket are read back (issue 10, point 5)."""

from __future__ import annotations

import asyncio
import socket

from collector.socket_drops import receive_drops
from collector.udp_endpoint import SnmpEndpoint


def test_a_flooded_endpoint_reports_the_kernels_drops() -> None:
    async def main() -> None:
        ep = SnmpEndpoint("127.0.0.1", rcvbuf=4096)
        await ep.open()
        try:
            assert ep.receive_drops == 0
            addr = ep.local_address
            assert addr is not None
            # Block the loop so nothing is read while the flood arrives.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
                for _ in range(2000):
                    flood.sendto(b"x" * 512, addr)
            drops = ep.receive_drops
            assert drops is not None and drops > 0
        finally:
            ep.close()

    asyncio.run(main())


def test_a_socket_not_in_proc_gives_none() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        assert receive_drops(tcp) is None
