"""Resolve secret references (``env:NAME``, ``file:/path``) at the moment they are used.

The inventory holds only references, so it can be committed and reviewed; the secret itself
lives in the service's environment or a root-readable file.
"""

from __future__ import annotations

import os
from pathlib import Path

from netmon.errors import ConfigError


def resolve_secret(ref: str) -> str:
    """Return the secret ``ref`` points to; a missing one is a ConfigError naming the reference."""
    kind, _, where = ref.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if value is None:
            raise ConfigError(f"secret {ref}: environment variable {where} is not set")
        return value
    if kind == "file":
        try:
            # A trailing newline is an editor's, not part of the secret.
            return Path(where).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"secret {ref}: cannot read {where}: {exc.strerror}") from exc
    raise ConfigError(f"secret {ref}: not a reference (write env:NAME or file:/path)")
