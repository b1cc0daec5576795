"""One device's netmiko session, used from a worker thread (netmiko is synchronous).

- Host keys are checked against a known-hosts file (``ssh_strict``: unknown and changed keys
  are refused). Trust on first use only when enabled: an unknown key is then added to the
  file (under a lock, so concurrent first logins do not overwrite each other); a *changed* key
  is refused either way.
- ``abort()`` may be called from another thread (the event loop, at the poll's deadline): it
  closes the socket under netmiko, so a read stuck on a device that stopped mid-output ends
  at once instead of at netmiko's own timeout.
- Error messages never carry a secret: netmiko's and paramiko's texts are replaced by ours,
  with any secret value that might appear in them masked.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmon.errors import NetmonError

_TOFU_LOCK = threading.Lock()


class SshError(NetmonError):
    """An SSH poll of one device failed; ``kind`` labels ``netmon_ssh_poll_errors_total``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class HostKeys:
    known_hosts: Path | None  # None: nothing is trusted (every login is refused)
    trust_on_first_use: bool = False


@dataclass(frozen=True, slots=True)
class Login:
    device_type: str
    host: str
    port: int
    username: str
    password: str | None
    key_file: str | None
    timeout: float  # connect / auth / banner
    find_prompt: bool = False  # netmiko auto_find_prompt before every command


def _mask(text: str, secrets: tuple[str, ...]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def classify(exc: BaseException, secrets: tuple[str, ...] = ()) -> SshError:
    """Our error kind and a message without secrets for a netmiko/paramiko/socket failure."""
    import paramiko  # type: ignore[import-untyped]
    from netmiko.exceptions import (
        NetmikoAuthenticationException,
        NetmikoTimeoutException,
        ReadTimeout,
    )

    # netmiko re-raises paramiko's host-key errors as NetmikoTimeoutException: look at the
    # exception it was raised from, and at the text it carries.
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, paramiko.SSHException) and not isinstance(exc, paramiko.SSHException):
        if isinstance(cause, paramiko.BadHostKeyException | paramiko.AuthenticationException):
            return classify(cause, secrets)
        if "not found in known_hosts" in str(cause):
            return classify(cause, secrets)
    text = str(exc)
    if "does not match" in text and "Host key" in text:
        return SshError("host_key", "the device's host key CHANGED: refused (known-hosts file)")
    name = type(exc).__name__
    if isinstance(exc, paramiko.BadHostKeyException):
        return SshError("host_key", "the device's host key CHANGED: refused (known-hosts file)")
    if "not found in known_hosts" in text:
        return SshError("unknown_host", "host key not in the known-hosts file: refused")
    if isinstance(exc, NetmikoAuthenticationException | paramiko.AuthenticationException):
        return SshError("auth", "authentication failed")
    if isinstance(exc, ReadTimeout):
        return SshError("timeout", "the device stopped answering in the middle of a command")
    if isinstance(exc, NetmikoTimeoutException | socket.timeout | TimeoutError):
        return SshError("timeout", "no SSH answer in time")
    if isinstance(exc, ConnectionRefusedError):
        return SshError("connect", "connection refused")
    if isinstance(exc, OSError | EOFError | paramiko.SSHException):
        return SshError("connect", f"connection failed ({name})")
    return SshError("other", _mask(f"{name}: {exc}", secrets)[:200])


class Session:
    """A reusable login to one device. Not thread-safe by itself: the collector runs at most
    one command sequence per device at a time (its per-device lock)."""

    def __init__(self, login: Login, keys: HostKeys) -> None:
        self.login = login
        self.keys = keys
        self.conn: Any = None
        self.aborted = False

    def _connect(self) -> Any:
        from netmiko import ConnectHandler

        lg, keys = self.login, self.keys
        if keys.known_hosts is None:
            raise SshError("unknown_host", "no known-hosts file configured: refused")
        params: dict[str, Any] = {
            "device_type": lg.device_type,
            "host": lg.host,
            "port": lg.port,
            "username": lg.username,
            "ssh_strict": not keys.trust_on_first_use,
            "system_host_keys": False,
            "alt_host_keys": True,
            "alt_key_file": str(keys.known_hosts),
            "conn_timeout": lg.timeout,
            "auth_timeout": lg.timeout,
            "banner_timeout": lg.timeout,
            "fast_cli": True,
            "allow_agent": False,
        }
        if lg.password is not None:
            params["password"] = lg.password
        if lg.key_file is not None:
            params["use_keys"] = True
            params["key_file"] = lg.key_file
        else:
            params["use_keys"] = False
        if keys.trust_on_first_use:
            # paramiko's AutoAddPolicy saves the client's whole key set to the file: one
            # login at a time, so two first logins do not overwrite each other's key.
            keys.known_hosts.touch(exist_ok=True)
            with _TOFU_LOCK:
                return ConnectHandler(**params)
        return ConnectHandler(**params)

    def alive(self) -> bool:
        if self.conn is None or self.aborted:
            return False
        try:
            return bool(self.conn.is_alive())
        except Exception:
            return False

    def run(self, commands: list[str], read_timeout: float) -> tuple[list[str], bool]:
        """Send ``commands``; returns their outputs and whether a new login was needed."""
        fresh = False
        secrets = tuple(s for s in (self.login.password,) if s)
        try:
            if not self.alive():
                self.close()
                self.aborted = False
                self.conn = self._connect()
                fresh = True
            outs = []
            for cmd in commands:
                if self.aborted:
                    raise SshError("timeout", "cut off at the poll's deadline")
                outs.append(
                    str(
                        self.conn.send_command(
                            cmd,
                            read_timeout=read_timeout,
                            strip_prompt=True,
                            strip_command=True,
                            # the prompt found at login: no extra Enter per command, whose
                            # echoed prompts (several, on a slow device) desynchronised the
                            # reads that follow (measured: 3 of 119 polls hung at 8 at once)
                            auto_find_prompt=self.login.find_prompt,
                        )
                    )
                )
            return outs, fresh
        except SshError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            if self.aborted:
                raise SshError("timeout", "cut off at the poll's deadline") from None
            raise classify(exc, secrets) from None

    def abort(self) -> None:
        """From any thread: end the session now (the worker's blocked read fails)."""
        self.aborted = True
        conn = self.conn
        if conn is None:
            return
        with contextlib.suppress(Exception):
            conn.remote_conn.close()
        with contextlib.suppress(Exception):
            conn.remote_conn_pre.close()

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            if not self.aborted:
                conn.disconnect()
            else:
                conn.remote_conn_pre.close()
        except Exception:
            pass
