"""SSH access to the simulated devices (asyncssh): one listener per device that lists ``ssh``,
on the device's own loopback address, answering the platform's show commands from the same
state its SNMP agent serves (``cli_state``/``cli_render``).

Each device has a stable ed25519 host key derived from its name and a seed; ``known_hosts()``
gives the lines a collector's known-hosts file needs. Prompts, login banners, paging
(``--More--``, ``---- More ----``, ``---(more)---``; off after the platform's own command, as
netmiko sends) and the platform's session commands behave as on the devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable

import asyncssh
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netmon.simulator.backbone import Backbone, SimulatorError
from netmon.simulator.cli_render import family, render
from netmon.simulator.cli_state import CliFaultBook

log = logging.getLogger(__name__)
PAGE_LINES = 24
GARBAGE = "\x1b[0m#### CLI output buffer overrun, data lost ####\n\x07\x07 ^@^@ 0x7f3a 0x0000\n"
_MORE = {
    "cisco": " --More-- ",
    "huawei": "  ---- More ----",
    "juniper": "---(more)---",
    "mikrotik": "-- [Q quit|D dump|down]",
}
_PAGING_OFF = {
    "cisco": ("terminal length 0",),
    "huawei": ("screen-length 0 temporary",),
    "juniper": ("set cli screen-length 0",),
    "mikrotik": (),
}
_SESSION = {  # harmless session commands and their answers
    "terminal width 511": "",
    "terminal length 0": "",
    "screen-length 0 temporary": "Info: The configuration takes effect on the current user "
    "terminal interface only.",
    "set cli screen-width 511": "Screen width set to 511",
    "set cli complete-on-space off": "Disabling complete-on-space",
    "set cli screen-length 0": "Screen length set to 0",
}
_INVALID = {
    "cisco": "                ^\n% Invalid input detected at '^' marker.",
    "huawei": "              ^\nError: Unrecognized command found at '^' position.",
    "juniper": "                ^\nsyntax error, expecting <command>.",
    "mikrotik": "bad command name",
}


def host_key(name: str, seed: str) -> asyncssh.SSHKey:
    raw = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=32).digest()
    pem = Ed25519PrivateKey.from_private_bytes(raw).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return asyncssh.import_private_key(pem)


def prompt(platform: str, name: str, user: str) -> str:
    fam = family(platform)
    if fam == "huawei":
        return f"<{name}>"
    if fam == "juniper":
        return f"{user}@{name}> "
    if fam == "mikrotik":
        return f"[{user}@{name}] > "
    return f"{name}#"


def banner(platform: str, name: str) -> str:
    fam = family(platform)
    if fam == "huawei":
        return (
            "\r\nInfo: The max number of VTY users is 10, and the number\r\n"
            "      of current VTY users on line is 1.\r\n"
            "      The current login time is 2026-12-01 10:00:00+07:00.\r\n"
        )
    if fam == "juniper":
        return "--- JUNOS 21.4R3-S3.4 Kernel 64-bit  JNPR-12.1-20230302\r\n"
    if fam == "mikrotik":
        return (
            "\r\n  MikroTik RouterOS 6.49.10 (c) 1999-2023       https://www.mikrotik.com/\r\n\r\n"
        )
    return "\r\n"


class _LineReader:
    """A terminal's line input: echo, backspace, Ctrl-C; CR, LF or CR LF end a line."""

    def __init__(self, process: asyncssh.SSHServerProcess[str]) -> None:
        self.process = process
        self.pending = ""
        self.last_cr = False

    async def readline(self) -> str | None:
        buf: list[str] = []
        out = self.process.stdout
        while True:
            if not self.pending:
                self.pending = await self.process.stdin.read(1024)
                if not self.pending:
                    return None
            ch, self.pending = self.pending[0], self.pending[1:]
            if ch == "\n" and self.last_cr:
                self.last_cr = False
                continue
            self.last_cr = ch == "\r"
            if ch in "\r\n":
                out.write("\r\n")
                return "".join(buf)
            if ch in ("\x7f", "\b"):
                if buf:
                    buf.pop()
                    out.write("\b \b")
            elif ch == "\x03":
                out.write("^C\r\n")
                return ""
            elif ch.isprintable():
                buf.append(ch)
                out.write(ch)


class _Server(asyncssh.SSHServer):
    def __init__(self, sim: SshSimulator, device: str) -> None:
        self.sim = sim
        self.device = device
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        if self.sim.dead(self.device):
            conn.abort()  # a dead device: the connection drops
            return
        self.conn = conn
        self.sim.connections.add(conn)
        conn.send_auth_banner(
            "*** Ministry of Interior ICT backbone: authorised access only. ***\r\n"
        )
        self.sim.sessions += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.sim.connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        user = username.split("+", 1)[0]  # RouterOS login options: user+ct511w4098h
        return self.sim.logins.get(self.device) == (user, password)


class SshSimulator:
    def __init__(
        self,
        backbone: Backbone,
        logins: dict[str, tuple[str, str]],  # device -> (username, password) it accepts
        *,
        port: int,
        key_seed: str = "netmon-sim",
        book: CliFaultBook | None = None,
    ) -> None:
        self.backbone = backbone
        self.devices = list(logins)
        self.logins = logins
        self.port = port
        self.key_seed = key_seed
        self.book = book or CliFaultBook(backbone)
        self.servers: list[asyncssh.SSHAcceptor] = []
        self.keys = {name: host_key(name, key_seed) for name in self.devices}
        self.sessions = 0
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.commands = 0

    def dead(self, device: str) -> bool:
        return bool(self.backbone.node(device).faults.dead)

    def known_hosts(self) -> str:
        lines = []
        for name, key in self.keys.items():
            addr = self.backbone.node(name).dev.address
            pub = key.export_public_key("openssh").decode().split()[:2]
            host = addr if self.port == 22 else f"[{addr}]:{self.port}"
            lines.append(f"{host} {' '.join(pub)}")
        return "\n".join(lines) + "\n"

    async def start(self) -> None:
        for name in self.devices:
            addr = self.backbone.node(name).dev.address
            try:
                server = await asyncssh.create_server(
                    self._factory(name),
                    host=addr,
                    port=self.port,
                    server_host_keys=[self.keys[name]],
                    process_factory=self._process(name),
                    line_editor=False,  # our own: CR LF is one Enter, as on the devices
                    keepalive_interval=0,
                )
            except OSError as exc:
                await self.stop()
                raise SimulatorError(
                    f"device {name}: cannot listen for SSH on {addr}:{self.port}: {exc}"
                ) from exc
            self.servers.append(server)

    async def stop(self) -> None:
        for s in self.servers:
            s.close()
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()
        await asyncio.sleep(0)  # let the sessions' tasks see their connection go
        for s in self.servers:
            with contextlib.suppress(Exception):
                await s.wait_closed()
        self.servers.clear()

    def _factory(self, name: str) -> Callable[[], asyncssh.SSHServer]:
        return lambda: _Server(self, name)

    def _process(self, name: str) -> Callable[[asyncssh.SSHServerProcess[str]], object]:
        async def handle(process: asyncssh.SSHServerProcess[str]) -> None:
            try:
                await self._session(name, process)
            except (asyncssh.Error, ConnectionError, BrokenPipeError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    process.exit(0)

        return handle

    async def _session(self, name: str, process: asyncssh.SSHServerProcess[str]) -> None:
        node = self.backbone.node(name)
        platform = node.dev.platform
        fam = family(platform)
        user = str(process.get_extra_info("username") or "netmon").split("+", 1)[0]
        p = prompt(platform, name, user)
        paging = bool(_PAGING_OFF[fam])
        process.stdout.write(banner(platform, name) + p)
        reader = _LineReader(process)
        while True:
            line = await reader.readline()
            if line is None:
                return
            cmd = " ".join(line.split())
            if self.dead(name):
                return
            if not cmd:
                process.stdout.write(p)
                continue
            if cmd in ("exit", "quit", "logout", "/quit"):
                return
            if cmd in _PAGING_OFF[fam]:
                paging = False
            if cmd in _SESSION:
                answer = _SESSION[cmd]
                process.stdout.write((answer + "\r\n" if answer else "") + p)
                continue
            self.commands += 1
            view = self.book.view(name)
            out = render(view, cmd)
            if out is None:
                process.stdout.write(_INVALID[fam].replace("\n", "\r\n") + "\r\n" + p)
                continue
            kind, text = out
            if kind in view.faults.garbage:
                text = GARBAGE
            if view.faults.hang:
                # half the answer, then silence: the session hangs as a wedged device does
                process.stdout.write(text[: len(text) // 2].replace("\n", "\r\n"))
                while await process.stdin.read(1024):  # until the client gives up
                    pass
                return
            await self._write(process, fam, text, paging)
            process.stdout.write(p)

    async def _write(
        self, process: asyncssh.SSHServerProcess[str], fam: str, text: str, paging: bool
    ) -> None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not paging:
            process.stdout.write("".join(f"{x}\r\n" for x in lines))
            return
        for start in range(0, len(lines), PAGE_LINES - 1):
            page = lines[start : start + PAGE_LINES - 1]
            process.stdout.write("".join(f"{x}\r\n" for x in page))
            if start + PAGE_LINES - 1 >= len(lines):
                return
            more = _MORE[fam]
            process.stdout.write(more)
            key = await process.stdin.read(1)
            process.stdout.write("\b" * len(more) + " " * len(more) + "\b" * len(more))
            if key in ("q", "Q", "\x03", ""):
                process.stdout.write("\r\n")
                return
