"""`netmon dashboards push` against a local HTTP server that checks every request as Grafana's
HTTP API documents it (https://grafana.com/docs/grafana/latest/developer-resources/api-reference/
http-api/): Bearer auth, JSON bodies, GET/POST /api/folders, GET /api/dashboards/uid/:uid,
POST /api/dashboards/db with ``dashboard`` (``id`` null), ``folderUid`` and ``overwrite``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from netmon.cli import main
from netmon.dashboards.generate import all_dashboards
from netmon.dashboards.push import PushError, push

TOKEN = "glsa_test_token_0123456789"


class FakeGrafana:
    def __init__(self) -> None:
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.problems: list[str] = []


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"message": "Unauthorized"})
                return False
            return True

        def _body(self) -> Any:
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                state.problems.append(
                    f"{self.path}: Content-Type {self.headers.get('Content-Type')}"
                )
            length = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(length))

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path))
            if not self._authorised():
                return
            if self.path.split("?")[0] == "/api/folders":
                self._reply(200, [{"id": i, **f} for i, f in enumerate(state.folders.values())])
            elif self.path.startswith("/api/dashboards/uid/"):
                uid = self.path.rsplit("/", 1)[1]
                held = state.dashboards.get(uid)
                if held is None:
                    self._reply(404, {"message": "Dashboard not found"})
                else:
                    self._reply(200, held)
            else:
                self._reply(404, {"message": "Not found"})

        def do_POST(self) -> None:
            state.requests.append(("POST", self.path))
            if not self._authorised():
                return
            body = self._body()
            if self.path == "/api/folders":
                if not body.get("title") or "uid" not in body:
                    state.problems.append(f"folder body {body}")
                    self._reply(400, {"message": "bad folder"})
                    return
                if body["uid"] in state.folders:
                    self._reply(409, {"message": "a folder with the same uid already exists"})
                    return
                state.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"]}
                self._reply(200, {"id": len(state.folders), **state.folders[body["uid"]]})
            elif self.path == "/api/dashboards/db":
                dash = body.get("dashboard", {})
                folder = body.get("folderUid")
                if dash.get("id") is not None or not dash.get("uid") or not dash.get("title"):
                    state.problems.append(f"dashboard body {str(body)[:200]}")
                if folder not in state.folders:
                    self._reply(400, {"message": "folder not found"})
                    return
                held = state.dashboards.get(dash["uid"])
                if held is not None and body.get("overwrite") is not True:
                    self._reply(412, {"status": "version-mismatch"})
                    return
                version = 1 if held is None else held["dashboard"]["version"] + 1
                stored = {**dash, "id": 7, "version": version}
                state.dashboards[dash["uid"]] = {
                    "dashboard": stored,
                    "meta": {"folderUid": folder, "slug": dash["uid"]},
                }
                self._reply(
                    200,
                    {"id": 7, "uid": dash["uid"], "status": "success", "version": version},
                )
            else:
                self._reply(404, {"message": "Not found"})

    return Handler


@pytest.fixture()
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGrafana, str]]:
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NETMON_TEST_GRAFANA_TOKEN", TOKEN)
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
    assert state.problems == []


def test_push_creates_the_folder_uploads_everything_then_is_idempotent(
    grafana: tuple[FakeGrafana, str],
) -> None:
    state, url = grafana
    dashboards = all_dashboards()
    first = push(url, "env:NETMON_TEST_GRAFANA_TOKEN", dashboards)
    assert [(c.kind, c.action) for c in first] == [("folder", "created")] + [
        ("dashboard", "created")
    ] * len(dashboards)
    assert set(state.dashboards) == set(dashboards)
    assert all(d["meta"]["folderUid"] == "netmon" for d in state.dashboards.values())
    held = state.dashboards["netmon-national"]["dashboard"]
    assert {k: v for k, v in held.items() if k not in ("id", "version")} == dashboards[
        "netmon-national"
    ]
    posts = len([r for r in state.requests if r[0] == "POST"])
    again = push(url, "env:NETMON_TEST_GRAFANA_TOKEN", dashboards)
    assert {c.action for c in again} == {"unchanged"}
    assert len([r for r in state.requests if r[0] == "POST"]) == posts  # nothing re-uploaded
    # one dashboard changed (someone edited it in Grafana): only that one is uploaded
    state.dashboards["netmon-link"]["dashboard"]["title"] = "edited by hand"
    third = push(url, "env:NETMON_TEST_GRAFANA_TOKEN", dashboards)
    assert [c.uid for c in third if c.action == "updated"] == ["netmon-link"]
    assert state.dashboards["netmon-link"]["dashboard"]["version"] == 2


def test_cli_reports_changes_and_reads_the_token_from_a_file(
    grafana: tuple[FakeGrafana, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = grafana
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)  # file: secrets readable by group/others are refused
    assert main(["dashboards", "push", "--url", url, "--token", f"file:{token}"]) == 0
    out = capsys.readouterr().out
    assert "created   dashboard netmon-national" in out and "7 changed, 0 unchanged" in out
    assert main(["dashboards", "push", "--url", url, "--token", f"file:{token}"]) == 0
    out = capsys.readouterr().out
    assert "0 changed, 7 unchanged" in out and TOKEN not in out


def test_a_wrong_token_is_a_clear_error_without_the_token(
    grafana: tuple[FakeGrafana, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = grafana
    monkeypatch.setenv("NETMON_TEST_BAD_TOKEN", "wrong-secret-value")
    with pytest.raises(PushError) as exc:
        push(url, "env:NETMON_TEST_BAD_TOKEN", all_dashboards())
    assert "Unauthorized" in str(exc.value) and "wrong-secret-value" not in str(exc.value)
    assert state.dashboards == {}


def test_a_missing_token_reference_or_grafana_is_a_push_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NETMON_TEST_UNSET", raising=False)
    with pytest.raises(PushError, match="NETMON_TEST_UNSET is not set"):
        push("http://127.0.0.1:9", "env:NETMON_TEST_UNSET", {})
    monkeypatch.setenv("NETMON_TEST_GRAFANA_TOKEN", TOKEN)
    from netmon.ports import free_tcp_port

    url = f"http://127.0.0.1:{free_tcp_port()}"  # nothing listens
    rc = main(["dashboards", "push", "--url", url, "--token", "env:NETMON_TEST_GRAFANA_TOKEN"])
    assert rc == 1 and "push failed" in capsys.readouterr().err
