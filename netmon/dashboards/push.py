"""Upload the generated dashboards to a Grafana through its HTTP API (grafana-client).

Idempotent: the folder is created only when missing; a dashboard is uploaded (with
``overwrite``) only when what Grafana holds differs from ours, so a second push reports every
dashboard ``unchanged``. The token comes from an ``env:``/``file:`` reference and is never
printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import niquests
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from netmon.dashboards.common import FOLDER
from netmon.errors import ConfigError
from netmon.inventory.secrets import resolve_secret

# Keys Grafana adds or bumps on its copy; they say nothing about the content.
_VOLATILE = ("id", "version")


@dataclass(frozen=True)
class Change:
    kind: str  # "folder" | "dashboard"
    uid: str
    title: str
    action: str  # "created" | "updated" | "unchanged"


class PushError(RuntimeError):
    """Grafana refused a request; the message names what and why (never the token)."""


def _content(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dashboard.items() if k not in _VOLATILE}


def push(
    url: str,
    token_ref: str,
    dashboards: Mapping[str, Mapping[str, Any]],
    *,
    folder_uid: str = FOLDER,
    folder_title: str = "netmon",
    timeout: float = 10.0,
) -> list[Change]:
    try:
        token = resolve_secret(token_ref)
    except ConfigError as exc:
        raise PushError(str(exc)) from exc
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    changes: list[Change] = []
    try:
        folders = api.folder.get_all_folders()
        if any(f.get("uid") == folder_uid for f in folders):
            changes.append(Change("folder", folder_uid, folder_title, "unchanged"))
        else:
            api.folder.create_folder(folder_title, uid=folder_uid)
            changes.append(Change("folder", folder_uid, folder_title, "created"))
        for uid, dashboard in dashboards.items():
            current: dict[str, Any] | None
            try:
                current = api.dashboard.get_dashboard(uid)
            except GrafanaClientError as exc:
                if exc.status_code != 404:
                    raise
                current = None
            title = str(dashboard.get("title", uid))
            if current is not None:
                same_folder = current.get("meta", {}).get("folderUid") == folder_uid
                if same_folder and _content(current["dashboard"]) == _content(dashboard):
                    changes.append(Change("dashboard", uid, title, "unchanged"))
                    continue
            body = {
                "dashboard": {**dashboard, "id": None},
                "folderUid": folder_uid,
                "overwrite": True,
                "message": "netmon dashboards push",
            }
            api.dashboard.update_dashboard(body)
            action = "created" if current is None else "updated"
            changes.append(Change("dashboard", uid, title, action))
    except GrafanaException as exc:
        raise PushError(f"Grafana at {url}: {exc}") from exc
    except (OSError, niquests.exceptions.RequestException) as exc:  # refused, unreachable, TLS
        raise PushError(f"Grafana at {url}: {exc}") from exc
    return changes
