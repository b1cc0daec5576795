"""TLS and basic auth from a Prometheus exporter-toolkit web-config file.

The same file format node_exporter and snmp_exporter take with ``--web.config.file``, so an
operator reuses what they know::

    tls_server_config:
      cert_file: netmon.crt        # relative paths are relative to this file
      key_file: netmon.key
      # client_auth_type: RequireAndVerifyClientCert   (with client_ca_file: ca.crt)
      # min_version: TLS12
    basic_auth_users:
      prometheus: $2y$10$...       # bcrypt hash: htpasswd -nBC 10 prometheus

bcrypt costs ~75 ms of CPU per check at cost 10, so it runs in a thread (bcrypt releases
the GIL), one check at a time, and the verdict for a header already seen is cached.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from netmon.errors import ConfigError

_TOP = {"tls_server_config", "basic_auth_users", "http_server_config"}
_TLS = {
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
}
_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Compared against when the user is unknown, so a wrong name costs as much as a wrong password.
_DUMMY = bcrypt.hashpw(b"netmon", bcrypt.gensalt(4))
_CACHE_MAX = 1024


@dataclass(frozen=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str | None = None


@dataclass
class WebConfig:
    tls: TlsConfig | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    source: Path | None = None
    _verdicts: dict[bytes, bool] = field(default_factory=dict, repr=False)
    _lock: asyncio.Lock | None = field(default=None, repr=False)

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        t = self.tls
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _VERSIONS[t.min_version]
        if t.max_version:
            ctx.maximum_version = _VERSIONS[t.max_version]
        try:
            ctx.load_cert_chain(t.cert_file, t.key_file)
            if t.client_ca_file is not None:
                ctx.load_verify_locations(t.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"web config {self.source}: cannot load TLS files: {exc}") from exc
        ctx.verify_mode = _CLIENT_AUTH[t.client_auth_type]
        return ctx

    # --- basic auth ----------------------------------------------------------------------

    def _key(self, header: str | None) -> bytes:
        return hashlib.sha256((header or "").encode("latin-1", "replace")).digest()

    def check_cached(self, header: str | None) -> bool | None:
        """The verdict for this Authorization header if known without bcrypt, else None."""
        if not header or not header.startswith("Basic "):
            return False
        return self._verdicts.get(self._key(header))

    async def check(self, header: str | None) -> bool:
        known = self.check_cached(header)
        if known is not None:
            return known
        assert header is not None
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one bcrypt at a time: a flood of guesses costs one core
            verdict = await asyncio.to_thread(self._verify, header)
        if len(self._verdicts) >= _CACHE_MAX:
            self._verdicts.clear()
        self._verdicts[self._key(header)] = verdict
        return verdict

    def _verify(self, header: str) -> bool:
        try:
            raw = base64.b64decode(header[len("Basic ") :].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = raw.decode("utf-8", "replace").partition(":")
        if not sep:
            return False
        stored = self.users.get(user)
        ok = bcrypt.checkpw(password.encode(), stored if stored is not None else _DUMMY)
        return ok and stored is not None


def _path(base: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: should be a file path")
    p = Path(value)
    return p if p.is_absolute() else base / p


def load_web_config(path: Path) -> WebConfig:
    """Read and check a web-config file; every mistake is a ConfigError naming the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"web config {path}: cannot read it: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"web config {path}: not valid YAML: {exc}") from exc
    if data is None:
        return WebConfig(source=path)
    if not isinstance(data, dict):
        raise ConfigError(f"web config {path}: expected keys and values")
    unknown = set(data) - _TOP
    if unknown:
        raise ConfigError(f"web config {path}: unknown key(s) {', '.join(sorted(unknown))}")
    base = path.parent
    cfg = WebConfig(source=path)
    tls = data.get("tls_server_config")
    if tls is not None:
        where = f"web config {path}: tls_server_config"
        if not isinstance(tls, dict):
            raise ConfigError(f"{where}: expected keys and values")
        bad = set(tls) - _TLS
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(bad))}")
        auth = tls.get("client_auth_type", "NoClientCert")
        if auth not in _CLIENT_AUTH:
            raise ConfigError(f"{where}.client_auth_type: one of {', '.join(_CLIENT_AUTH)}")
        for key in ("min_version", "max_version"):
            if key in tls and tls[key] not in _VERSIONS:
                raise ConfigError(f"{where}.{key}: one of {', '.join(_VERSIONS)}")
        ca = tls.get("client_ca_file")
        if auth == "RequireAndVerifyClientCert" and ca is None:
            raise ConfigError(f"{where}: RequireAndVerifyClientCert needs client_ca_file")
        cfg.tls = TlsConfig(
            cert_file=_path(base, tls.get("cert_file"), f"{where}.cert_file"),
            key_file=_path(base, tls.get("key_file"), f"{where}.key_file"),
            client_auth_type=auth,
            client_ca_file=_path(base, ca, f"{where}.client_ca_file") if ca else None,
            min_version=tls.get("min_version", "TLS12"),
            max_version=tls.get("max_version"),
        )
        cfg.ssl_context()  # fail at start, not at the first scrape
    users = data.get("basic_auth_users")
    if users is not None:
        where = f"web config {path}: basic_auth_users"
        if not isinstance(users, dict):
            raise ConfigError(f"{where}: expected user: bcrypt-hash pairs")
        for user, hashed in users.items():
            if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ConfigError(f"{where}.{user}: not a bcrypt hash (htpasswd -nBC 10 USER)")
            cfg.users[str(user)] = hashed.encode()
    return cfg
