"""USM key material and ciphers: password-to-key, localization, HMAC-SHA(-2), AES-CFB128.

Key derivation follows RFC 3414 A.2 (1 MiB of the repeated password hashed, then
``H(Ku || engineID || Ku)``) with the auth protocol's hash also used for the privacy key
(RFC 3826 / RFC 7860). AES-256 needs 32 key bytes but SHA-1 gives 20, so the key is extended:

- ``AES-256`` — draft-blumenthal-aes-usm-04: ``Kul || H(Kul) || ...`` (net-snmp ``-x AES-256``,
  pysnmp ``usmAesBlumenthalCfb256Protocol``);
- ``AES-256-C`` — draft-reeder-snmpv3-usm-3desede ("Cisco"): ``Kul || localize(P2K(Kul))``
  (net-snmp ``-x AES-256-C``, pysnmp ``usmAesCfb256Protocol``).

With SHA-256 and SHA-512 the localized key is already long enough and both are the same key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # cryptography >= 47 keeps CFB among the "decrepit" modes
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB  # type: ignore[assignment,unused-ignore]

_P2K_BYTES = 1_048_576  # RFC 3414 A.2: one megabyte of repeated password


@dataclass(frozen=True, slots=True)
class AuthProtocol:
    name: str
    hash_name: str  # hashlib name
    mac_len: int  # truncated HMAC carried in msgAuthenticationParameters


@dataclass(frozen=True, slots=True)
class PrivProtocol:
    name: str
    key_len: int
    extension: str  # "none" | "blumenthal" | "reeder"


AUTH_PROTOCOLS: dict[str, AuthProtocol] = {
    "SHA": AuthProtocol("SHA", "sha1", 12),  # HMAC-SHA-96, RFC 3414
    "SHA-256": AuthProtocol("SHA-256", "sha256", 24),  # HMAC-SHA256-192, RFC 7860
    "SHA-512": AuthProtocol("SHA-512", "sha512", 48),  # HMAC-SHA512-384, RFC 7860
}

PRIV_PROTOCOLS: dict[str, PrivProtocol] = {
    "AES-128": PrivProtocol("AES-128", 16, "none"),  # RFC 3826
    "AES-256": PrivProtocol("AES-256", 32, "blumenthal"),
    "AES-256-C": PrivProtocol("AES-256-C", 32, "reeder"),
}


@functools.lru_cache(maxsize=4096)
def password_to_key(hash_name: str, password: bytes) -> bytes:
    """Ku (RFC 3414 A.2). Cached process-wide: ~1-3 ms of hashing per call, and a simulator's
    thousand engines share a handful of passwords; only localization is per engine."""
    if not password:
        raise ValueError("empty password")
    repeated = password * (_P2K_BYTES // len(password) + 1)
    return hashlib.new(hash_name, repeated[:_P2K_BYTES]).digest()


def localize(hash_name: str, ku: bytes, engine_id: bytes) -> bytes:
    """Kul = H(Ku || engineID || Ku) (RFC 3414 A.2)."""
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


def priv_key(auth: AuthProtocol, priv: PrivProtocol, password: bytes, engine_id: bytes) -> bytes:
    key = localize(auth.hash_name, password_to_key(auth.hash_name, password), engine_id)
    while len(key) < priv.key_len:
        if priv.extension == "blumenthal":
            key += hashlib.new(auth.hash_name, key).digest()
        elif priv.extension == "reeder":
            key += localize(auth.hash_name, password_to_key(auth.hash_name, key), engine_id)
        else:  # no protocol here needs more than the shortest hash gives without extension
            raise ValueError(f"{priv.name} needs a longer key than {auth.name} gives")
    return key[: priv.key_len]


@dataclass(frozen=True, slots=True)
class LocalizedKeys:
    """One user's keys localized to one engine, ready for per-message use."""

    auth: AuthProtocol
    priv: PrivProtocol
    auth_key: bytes
    priv_key: bytes
    aes: algorithms.AES  # reusable: only the IV changes per message

    @classmethod
    def derive(
        cls,
        auth: AuthProtocol,
        priv: PrivProtocol,
        auth_password: bytes,
        priv_password: bytes,
        engine_id: bytes,
    ) -> LocalizedKeys:
        auth_key = localize(
            auth.hash_name, password_to_key(auth.hash_name, auth_password), engine_id
        )
        pkey = priv_key(auth, priv, priv_password, engine_id)
        return cls(auth, priv, auth_key, pkey, algorithms.AES(pkey))

    def mac(self, message: bytes | bytearray) -> bytes:
        """The truncated HMAC of the whole message (its auth parameters zeroed by the caller)."""
        return hmac.digest(self.auth_key, message, self.auth.hash_name)[: self.auth.mac_len]

    def encrypt(self, iv: bytes, plaintext: bytes) -> bytes:
        enc = Cipher(self.aes, CFB(iv)).encryptor()
        return enc.update(plaintext) + enc.finalize()

    def decrypt(self, iv: bytes, ciphertext: bytes | memoryview) -> bytes:
        dec = Cipher(self.aes, CFB(iv)).decryptor()
        return dec.update(ciphertext) + dec.finalize()
