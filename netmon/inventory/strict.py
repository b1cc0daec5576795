"""Strict checks shared by the admins' other YAML files (maintenance windows, alert routing):
unknown keys with a "did you mean" from the file's own vocabulary, then pydantic validation
worded like the inventory's, every problem at its ``file:line:column``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from netmon.inventory.yamlpos import Parsed, Path_

M = TypeVar("M", bound=BaseModel)


def known_keys(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(f.alias or name for name, f in model.model_fields.items())


def drop_unknown(doc: Parsed, path: Path_, data: Any, allowed: Iterable[str]) -> Any:
    """Report every key of mapping ``data`` (at ``path``) not in ``allowed``; return the
    mapping without them, so the rest is still checked. Non-mappings pass through."""
    if not isinstance(data, dict):
        return data
    allowed = tuple(allowed)
    out = {}
    for key, value in data.items():
        if key in allowed:
            out[key] = value
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        doc.problems.append(doc.at((*path, key), f"unknown key '{key}'{hint}", key=True))
    return out


def validate(
    model: type[M],
    data: Any,
    doc: Parsed,
    path: Path_,
    hints: dict[str, str] | None = None,
) -> M | None:
    """``model`` from ``data`` with unknown keys reported first; None (and problems) if not.
    ``hints`` words a pattern mismatch per field: {"smarthost": "host:port"} gives
    "smarthost: 'x' is not host:port"."""
    from pydantic import ValidationError

    from netmon.inventory.loader import _plain, _resolve  # the inventory's wording

    try:
        return model.model_validate(drop_unknown(doc, path, data, known_keys(model)))
    except ValidationError as exc:
        for err in exc.errors():
            loc = _resolve(doc, path, err["loc"])
            name = next((x for x in reversed(err["loc"]) if isinstance(x, str)), "")
            if err["type"] == "string_pattern_mismatch" and hints and name in hints:
                message = f"{name}: {err['input']!r} is not {hints[name]}"
            else:
                message = _plain(err)
            doc.problems.append(doc.at(loc, message, key=err["type"] == "extra_forbidden"))
        return None
