"""Parse YAML once, fast, keeping where every key and value was written.

libyaml's composer (PyYAML's ``CSafeLoader``) builds the node tree in C with a mark on every
node; one Python walk turns it into plain data plus a position index keyed by the path
(``("sites", 3, "devices", 0, "name")``). Measured on the shipped inventory (21k lines):
ruamel.yaml's round-trip loader takes ~4.7 CPU-s, this ~0.3 CPU-s.

Duplicate keys are reported (YAML forbids them; PyYAML would silently keep the last one), and
tab indentation is found in the raw text first so the message names the exact column.

Hostile input is bounded: anchors and aliases are refused (the inventory format does not need
them, and seven lines of nested aliases expand to gigabytes: a "billion laughs"), nesting
deeper than ``MAX_DEPTH`` is refused, and a file over ``MAX_FILE_BYTES`` is not parsed at all
(the biggest province file is ~60 KB). Each refusal is a file:line:column problem.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from netmon.errors import Problem

Path_ = tuple[str | int, ...]

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32  # a site's interface is at depth 5

# The *Base* loader resolves no implicit types: libyaml hands every scalar over as text with its
# quoting style, and ``_plain_scalar`` applies the YAML 1.2 core schema (``yes`` stays a word, as
# in ruamel.yaml) at a fraction of PyYAML's regex resolver cost.
_BASE: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml when available
_STR = "tag:yaml.org,2002:str"
_DEFAULT_TAGS = {
    yaml.ScalarNode: _STR,
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
    yaml.MappingNode: "tag:yaml.org,2002:map",
}


class _Loader(_BASE):  # type: ignore[misc]
    """The composer asks the resolver about every node; answer without its path machinery."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        return _DEFAULT_TAGS[kind]

    def descend_resolver(self, parent: Any, index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_RE = re.compile(r"[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}


def _plain_scalar(text: str) -> Any:
    """Resolve an unquoted scalar (YAML 1.2 core schema)."""
    if text in _NULLS:
        return None
    first = text[0]
    if first in "0123456789+-.":
        if _INT_RE.fullmatch(text):
            return int(text, 0) if text[1:2] in ("o", "x") or text[2:3] in ("o", "x") else int(text)
        if _FLOAT_RE.fullmatch(text):
            return float(text)
        low = text.lower()
        if low in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[low]
        return text
    if first in "tTfF":
        return _BOOLS.get(text, text)
    return text


@dataclass
class Parsed:
    """One file: its data, and 1-based (line, column) of each value and each mapping key."""

    file: str
    data: Any = None
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def at(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        """A problem at ``path`` (its key if ``key``), or at its nearest written ancestor."""
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, message)

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))


def _tabs(file: str, text: str) -> list[Problem]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        indent = len(line) - len(line.lstrip(" \t"))
        col = line.find("\t", 0, indent)
        if col >= 0:
            out.append(
                Problem(file, n, col + 1, "tab character in indentation: indent with spaces")
            )
    return out


class _TooDeep(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def _aliases(file: str, text: str) -> list[Problem]:
    """Every anchor (&x) and alias (*x), from libyaml's event stream (cheap: no tree)."""
    out: list[Problem] = []
    for event in yaml.parse(text, Loader=_Loader):
        anchor = getattr(event, "anchor", None)
        if not anchor:
            continue
        what = f"alias *{anchor}" if isinstance(event, yaml.AliasEvent) else f"anchor &{anchor}"
        mark = event.start_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        out.append(
            Problem(
                file,
                line,
                col,
                f"{what}: YAML anchors and aliases are not accepted in the inventory "
                "(write the value out in full)",
            )
        )
        if len(out) >= 10:  # a generated bomb has thousands; ten say enough
            break
    return out


class _Walker:
    def __init__(self, parsed: Parsed) -> None:
        self.p = parsed
        self.ctor = SafeConstructor()

    def scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.tag == _STR:
            return node.value if node.style else _plain_scalar(node.value)
        if node.tag == "!":  # a non-specific tag: the value is plain text
            return node.value
        fn = self.ctor.yaml_constructors.get(node.tag)
        if fn is None:
            self.p.problems.append(self.p.at(path, f"unsupported YAML tag {node.tag}"))
            return None
        try:
            return fn(self.ctor, node)
        except (ConstructorError, ValueError) as exc:
            self.p.problems.append(self.p.at(path, f"cannot read value: {exc}"))
            return None

    def walk(self, node: yaml.Node, path: Path_) -> Any:
        if len(path) > MAX_DEPTH:
            raise _TooDeep(node)
        self.p.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(child, (*path, i)) for i, child in enumerate(node.value)]
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            kpos = (knode.start_mark.line + 1, knode.start_mark.column + 1)
            if not isinstance(knode, yaml.ScalarNode):
                self.p.problems.append(
                    Problem(self.p.file, *kpos, "a key must be a plain word, not a list or map")
                )
                continue
            # Keys stay text: `50:` and `"50":` name the same key.
            key = knode.value if knode.tag == _STR else str(self.scalar(knode, path))
            sub = (*path, key)
            if key in out:
                first = self.p.keys[sub]
                self.p.problems.append(
                    Problem(
                        self.p.file,
                        *kpos,
                        f"duplicate key '{key}' (first written at line {first[0]})",
                    )
                )
                continue
            self.p.keys[sub] = kpos
            out[key] = self.walk(vnode, sub)
        return out


def parse(file: str, text: str) -> Parsed:
    """Parse ``text``; problems (tabs, syntax, duplicate keys) land in ``Parsed.problems``."""
    parsed = Parsed(file)
    if len(text) > MAX_FILE_BYTES:
        parsed.problems.append(too_big(file, len(text.encode("utf-8", "replace"))))
        return parsed
    tabs = _tabs(file, text) if "\t" in text else []
    if tabs:  # the parser's own message for a tab is confusing; ours names the column
        parsed.problems.extend(tabs)
        return parsed
    try:
        if "&" in text or "*" in text:
            aliases = _aliases(file, text)
            if aliases:
                parsed.problems.extend(aliases)
                return parsed
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "not valid YAML"
        if exc.context:
            started = exc.context_mark
            at = f" at line {started.line + 1}" if started and started is not mark else ""
            what = f"{what} ({exc.context}{at})"
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        parsed.problems.append(Problem(file, line, col, f"YAML syntax error: {what}"))
        return parsed
    except yaml.YAMLError as exc:
        parsed.problems.append(Problem(file, 1, 1, f"YAML syntax error: {exc}"))
        return parsed
    if node is None:
        parsed.problems.append(Problem(file, 1, 1, "the file is empty"))
        return parsed
    try:
        parsed.data = _Walker(parsed).walk(node, ())
    except _TooDeep as exc:
        mark = exc.node.start_mark
        parsed.problems.append(
            Problem(file, mark.line + 1, mark.column + 1, f"nested deeper than {MAX_DEPTH} levels")
        )
        parsed.data = None
    return parsed


def too_big(file: str, size: int) -> Problem:
    return Problem(
        file,
        1,
        1,
        f"the file is {size / 2**20:.1f} MiB; an inventory file may be at most "
        f"{MAX_FILE_BYTES // 2**20} MiB (split it, one file per province)",
    )
