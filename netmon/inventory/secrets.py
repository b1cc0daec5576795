"""Resolve secret references (``env:NAME``, ``file:/path``) at the moment they are used.

The inventory holds only references, so it can be committed and reviewed; the secret itself
lives in the service's environment or a root-readable file.

A ``file:`` secret is read the way ssh reads a private key: only a regular file (a FIFO froze
the event loop until SIGKILL; /dev/zero grew memory without end), at most
``MAX_SECRET_BYTES``, opened without blocking, and refused when its group or others may read
or write it (``NETMON_SECRET_PERMISSIONS=warn`` logs a warning instead, once per file).
"""

from __future__ import annotations

import logging
import os
import stat

from netmon.errors import ConfigError

log = logging.getLogger(__name__)

MAX_SECRET_BYTES = 64 * 1024
PERMISSIONS_ENV = "NETMON_SECRET_PERMISSIONS"  # "refuse" (default) or "warn"
_warned: set[str] = set()


def resolve_secret(ref: str) -> str:
    """Return the secret ``ref`` points to; a missing one is a ConfigError naming the reference."""
    kind, _, where = ref.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if value is None:
            raise ConfigError(f"secret {ref}: environment variable {where} is not set")
        return value
    if kind == "file":
        raw = _read_file(ref, where)
        try:
            # A trailing newline is an editor's, not part of the secret.
            return raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"secret {ref}: {where} is not UTF-8 text") from exc
    raise ConfigError(f"secret {ref}: not a reference (write env:NAME or file:/path)")


def _read_file(ref: str, where: str) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it).
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"secret {ref}: cannot read {where}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"secret {ref}: {where} is not a regular file")
        if st.st_size > MAX_SECRET_BYTES:
            raise ConfigError(
                f"secret {ref}: {where} is {st.st_size} bytes; a secret file may be at most "
                f"{MAX_SECRET_BYTES}"
            )
        _check_mode(ref, where, st.st_mode)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_SECRET_BYTES:  # the file may grow after fstat
            chunk = os.read(fd, MAX_SECRET_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SECRET_BYTES:
            raise ConfigError(f"secret {ref}: {where} is over {MAX_SECRET_BYTES} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"secret {ref}: cannot read {where}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _check_mode(ref: str, where: str, mode: int) -> None:
    loose = mode & 0o077
    if not loose:
        return
    what = f"secret {ref}: {where} has mode {stat.S_IMODE(mode):04o}: group/others may " + (
        "write it" if loose & 0o022 else "read it"
    )
    if os.environ.get(PERMISSIONS_ENV, "refuse") == "warn":
        if where not in _warned:
            _warned.add(where)
            log.warning("%s (chmod 600 it)", what)
        return
    raise ConfigError(f"{what}: chmod 600 it (or set {PERMISSIONS_ENV}=warn)")
