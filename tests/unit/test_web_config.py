"""exporters/web_config.py: the exporter-toolkit web-config format, checked strictly, and basic
auth on the /metrics server (bcrypt off the loop, verdicts cached, /healthz exempt)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from pathlib import Path

import bcrypt
import pytest
from support.tls import self_signed

from exporters.http import MetricsServer
from exporters.scrape_config import ScrapeAuth, scrape_config
from exporters.web_config import load_web_config
from netmon.errors import ConfigError

HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "web.yml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_server_config: {cert_file: a.crt}\n", "key_file: should be a file path"),
        ("tls_server_config: {cert_file: a.crt, key_file: a.key}\n", "cannot load TLS files"),
        ("tls_server_config: {cert: a.crt}\n", "unknown key(s) cert"),
        ("basic_auth_users: {alice: plaintext}\n", "alice: not a bcrypt hash"),
        ("basic_auth_user: {}\n", "unknown key(s) basic_auth_user"),
        ("tls_server_config: {min_version: TLS9}\n", "min_version: one of TLS10"),
        ("- a\n", "expected keys and values"),
    ],
)
def test_mistakes_are_config_errors_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_web_config(write(tmp_path, text))
    assert message in str(err.value)


def test_tls_paths_are_relative_to_the_file_and_the_scrape_config_follows(tmp_path: Path) -> None:
    self_signed(tmp_path)
    cfg = load_web_config(
        write(
            tmp_path,
            "tls_server_config: {cert_file: netmon.crt, key_file: netmon.key}\n"
            f"basic_auth_users: {{prom: '{HASH}'}}\n",
        )
    )
    assert cfg.tls is not None and cfg.tls.cert_file == tmp_path / "netmon.crt"
    assert cfg.ssl_context() is not None
    text = scrape_config("127.0.0.1:9800", ["10"], auth=ScrapeAuth.for_web(cfg, "/p"))
    assert text.count("scheme: https") == 2 and text.count("password_file: /p") == 2
    assert ScrapeAuth.for_web(load_web_config(write(tmp_path, "")), "/p") is None


def test_basic_auth_on_the_server(tmp_path: Path) -> None:
    cfg = load_web_config(write(tmp_path, f"basic_auth_users:\n  prom: '{HASH}'\n"))
    server = MetricsServer(lambda p: b"up 1\n", web=cfg)

    async def get(port: int, target: str, auth: str | None) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        extra = (
            f"Authorization: Basic {base64.b64encode(auth.encode()).decode()}\r\n" if auth else ""
        )
        writer.write(f"GET {target} HTTP/1.1\r\n{extra}\r\n".encode())
        await writer.drain()
        raw = await reader.read()
        writer.close()
        return raw.split(b"\r\n", 1)[0]

    async def main() -> None:
        port = await server.start("127.0.0.1", 0)
        try:
            assert await get(port, "/metrics", None) == b"HTTP/1.1 401 Unauthorized"
            assert await get(port, "/metrics", "prom:nope") == b"HTTP/1.1 401 Unauthorized"
            assert await get(port, "/metrics", "eve:pw") == b"HTTP/1.1 401 Unauthorized"
            assert await get(port, "/metrics", "prom:pw") == b"HTTP/1.1 200 OK"
            assert cfg.check_cached("Basic " + base64.b64encode(b"prom:pw").decode()) is True
            assert await get(port, "/healthz", None) == b"HTTP/1.1 200 OK"  # liveness probes
            assert server.counters.unauthorized == 3
        finally:
            await server.close()

    asyncio.run(main())


def test_clients_waiting_for_a_bcrypt_check_do_not_hold_every_slot(tmp_path: Path) -> None:
    # Guesses are checked one at a time (bcrypt costs CPU), so waiting ones are evictable:
    # a flood of wrong passwords cannot make /healthz or a cached scraper see 503.
    slow = bcrypt.hashpw(b"pw", bcrypt.gensalt(13)).decode()  # ~0.6 s a check
    cfg = load_web_config(write(tmp_path, f"basic_auth_users:\n  prom: '{slow}'\n"))
    from exporters.http_guard import GuardLimits

    server = MetricsServer(lambda p: b"up 1\n", web=cfg, limits=GuardLimits(max_connections=2))

    writers: list[asyncio.StreamWriter] = []  # kept: a collected writer closes its socket

    async def send(port: int, target: str, auth: str | None) -> asyncio.StreamReader:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        extra = (
            f"Authorization: Basic {base64.b64encode(auth.encode()).decode()}\r\n" if auth else ""
        )
        writer.write(f"GET {target} HTTP/1.1\r\n{extra}\r\n".encode())
        await writer.drain()
        return reader

    async def main() -> None:
        port = await server.start("127.0.0.1", 0)
        try:
            guesses = [await send(port, "/metrics", f"prom:guess{i}") for i in range(2)]
            await asyncio.sleep(0.2)  # both admitted, one in bcrypt, one waiting
            healthz = await send(port, "/healthz", None)
            async with asyncio.timeout(20):
                first = (await healthz.read()).split(b"\r\n", 1)[0]
            assert first == b"HTTP/1.1 200 OK"
            assert server.guard.evicted >= 1
            for g in guesses:
                with contextlib.suppress(ConnectionError):
                    await g.read()
        finally:
            await server.close()

    asyncio.run(main())
