"""Hostile or broken input from an admin's side (issue 10, reproductions 2-4): a YAML alias
bomb, a self-referencing alias, deep nesting, a huge file, a FIFO where a file should be,
secrets that point at a FIFO or /dev/zero or are world-writable, and the watcher noticing
entries that cannot be stat'ed. Each is a file:line:column message, never a traceback, a
hang or memory that outlives the edit."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from netmon.cli import main
from netmon.errors import ConfigError, InventoryError
from netmon.inventory.loader import load_inventory
from netmon.inventory.secrets import MAX_SECRET_BYTES, PERMISSIONS_ENV, resolve_secret
from netmon.inventory.yamlpos import MAX_DEPTH, MAX_FILE_BYTES, parse
from netmon.service import Service, inventory_signature
from netmon.simulator.testbed import SECRETS, write_inventory


def bomb(levels: int) -> str:
    """A "billion laughs": each level lists the previous one nine times."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def inv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "inventory"
    write_inventory(root)
    return root


def province(inv: Path) -> Path:
    return next((inv / "provinces").glob("*.yaml"))


def test_an_alias_bomb_is_refused_at_its_position_without_expanding(inv: Path) -> None:
    # 6 levels: 531,441 strings once expanded (the old loader built them all; 7 levels took
    # 9.7 s and 1.78 GB, 9 reached MemoryError)
    f = province(inv)
    f.write_text(bomb(6) + f.read_text())
    tracemalloc.start()
    try:
        with pytest.raises(InventoryError) as err:
            load_inventory(inv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB"
    first = err.value.problems[0]
    assert (Path(first.file).name, first.line, first.column) == (f.name, 1, 5)
    assert first.message.startswith("anchor &a0: YAML anchors and aliases are not accepted")


def test_check_prints_the_bomb_as_file_line_column(
    inv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = province(inv)
    f.write_text(bomb(6) + f.read_text())
    assert main(["inventory", "check", str(inv)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(f"{f.name}:1:5: anchor &a0: YAML anchors and aliases are not "
                           "accepted in the inventory (write the value out in full)")  # fmt: skip
    assert len(out) == 10  # the first ten, not 60


def test_a_self_referencing_alias_is_a_message_not_a_recursion_error() -> None:
    parsed = parse("f.yaml", "selfref: &s [*s]\n")
    assert str(parsed.problems[0]).startswith("f.yaml:1:10: anchor &s:")
    assert parsed.data is None


def test_nesting_and_size_are_bounded(tmp_path: Path) -> None:
    deep = "x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    assert [p.message for p in parse("f.yaml", deep).problems] == [
        f"nested deeper than {MAX_DEPTH} levels"
    ]
    big = "# " + "x" * MAX_FILE_BYTES + "\n"
    [problem] = parse("f.yaml", big).problems
    assert "may be at most 4 MiB" in problem.message


def test_a_huge_province_file_is_not_even_read(inv: Path) -> None:
    f = province(inv)
    with open(f, "a") as out:
        out.truncate(MAX_FILE_BYTES + 1)  # sparse: no 4 MB written
    with pytest.raises(InventoryError) as err:
        load_inventory(inv)
    assert any("may be at most 4 MiB" in p.message for p in err.value.problems)


def test_a_fifo_in_the_inventory_is_refused_not_waited_on(inv: Path) -> None:
    os.mkfifo(inv / "provinces" / "51-lamphun.yaml")
    done: list[BaseException | None] = []

    def load() -> None:
        try:
            load_inventory(inv)
        except BaseException as exc:
            done.append(exc)

    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(20)
    assert done, "loading blocked on the FIFO"
    assert isinstance(done[0], InventoryError)
    assert any(p.message == "not a regular file" for p in done[0].problems)


# --- secrets ---------------------------------------------------------------------------------


def resolve_within(ref: str, seconds: float = 10.0) -> BaseException | str:
    """resolve_secret in a thread: the old code blocked forever on a FIFO."""
    out: list[BaseException | str] = []

    def run() -> None:
        try:
            out.append(resolve_secret(ref))
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert out, f"resolving {ref} did not return within {seconds} s"
    return out[0]


def test_a_fifo_secret_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "community"
    os.mkfifo(fifo, 0o600)
    result = resolve_within(f"file:{fifo}")
    assert isinstance(result, ConfigError) and "is not a regular file" in str(result)


def test_a_dev_zero_secret_is_refused() -> None:
    result = resolve_within("file:/dev/zero")
    assert isinstance(result, ConfigError) and "not a regular file" in str(result)


def test_secret_files_are_size_capped_and_must_not_be_group_or_world_accessible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "key"
    f.write_text("s3cret-value\n")
    f.chmod(0o600)
    assert resolve_secret(f"file:{f}") == "s3cret-value"
    f.chmod(0o666)
    with pytest.raises(ConfigError, match="mode 0666: group/others may write it") as err:
        resolve_secret(f"file:{f}")
    assert "s3cret" not in str(err.value)
    f.chmod(0o640)
    with pytest.raises(ConfigError, match="may read it"):
        resolve_secret(f"file:{f}")
    monkeypatch.setenv(PERMISSIONS_ENV, "warn")
    assert resolve_secret(f"file:{f}") == "s3cret-value"
    f.write_bytes(b"x" * (MAX_SECRET_BYTES + 1))
    f.chmod(0o600)
    with pytest.raises(ConfigError, match="a secret file may be at most"):
        resolve_secret(f"file:{f}")


def test_check_resolves_every_reference_without_printing_values(
    inv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NETMON_SIM_V3_PRIV")
    creds = inv / "credentials.yaml"
    data = json.loads(creds.read_text())
    fifo = inv.parent / "fifo"
    os.mkfifo(fifo, 0o600)
    data["profiles"][0]["snmp"]["community"] = f"file:{fifo}"
    creds.write_text(json.dumps(data))
    assert main(["inventory", "check", str(inv)]) == 1
    out = capsys.readouterr().out
    assert f"secret file:{fifo}: {fifo} is not a regular file" in out
    assert "environment variable NETMON_SIM_V3_PRIV is not set" in out
    assert all(value not in out for value in SECRETS.values())
    assert main(["inventory", "check", "--no-secrets", str(inv)]) == 0


# --- the watcher -----------------------------------------------------------------------------


def test_a_mode_change_alone_changes_the_signature(inv: Path) -> None:
    # As root (the tests' user) chmod 000 does not stop reads, so what is proven here is
    # that the watcher sees it at all: mtime and size stay the same, the old signature did not.
    f = province(inv)
    before = inventory_signature(inv)
    f.chmod(0o000)
    assert inventory_signature(inv) != before


@pytest.mark.parametrize("target", ["self", "missing"])
def test_an_entry_that_cannot_be_stated_is_a_reload_that_fails(inv: Path, target: str) -> None:
    # The honest stand-in for an unreadable file as root: a symlink stat() cannot follow
    # (pointing at itself: ELOOP; at nothing: ENOENT). `check` fails on it; the old watcher
    # skipped it, so netmon_inventory_reload_success stayed 1.
    svc = Service(inv, watch_interval=0.05)
    link = inv / "provinces" / "51-lamphun.yaml"

    async def run() -> None:
        assert await svc.reload()
        stop = asyncio.Event()
        watcher = asyncio.create_task(svc._watch(stop))
        link.symlink_to(link.name if target == "self" else inv / "nowhere.yaml")
        try:
            async with asyncio.timeout(10):
                while svc.reload_status is None or svc.reload_status.success:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await watcher

    asyncio.run(run())
    assert svc.reload_status is not None and not svc.reload_status.success
    svc.close()


def test_check_prints_a_self_pointing_symlink_instead_of_crashing(
    inv: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    link = inv / "provinces" / "51-lamphun.yaml"
    link.symlink_to(link.name)
    monkeypatch.chdir(inv)
    assert main(["inventory", "check", str(inv)]) == 1
    out = capsys.readouterr().out
    assert "51-lamphun.yaml:1:1: cannot read the file: " in out
    assert "Too many levels of symbolic links" in out


def test_the_periodic_full_check_catches_what_no_stat_shows(
    inv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stat sees nothing (a network mount, say): only the periodic check reading every file can
    monkeypatch.setattr("netmon.service.inventory_signature", lambda path: ())
    svc = Service(inv, watch_interval=0.05, full_check_interval=0.2)
    loads: list[bool] = []
    real = svc._load

    def counting(path: Path) -> object:
        loads.append(True)
        return real(path)

    svc._load = counting  # type: ignore[assignment]

    async def run() -> None:
        assert await svc.reload()
        stop = asyncio.Event()
        watcher = asyncio.create_task(svc._watch(stop))
        try:
            await asyncio.sleep(1.0)  # five periodic checks of the same bytes: no reload
            assert svc.reload_status is not None and svc.reload_status.success
            assert len(loads) == 1
            p = province(inv)
            tmp = p.with_suffix(".tmp")  # replaced whole: a check never reads half a write
            tmp.write_text(p.read_text() + "\n  - [broken\n")
            tmp.replace(p)
            async with asyncio.timeout(10):
                while svc.reload_status.success:
                    await asyncio.sleep(0.05)
            assert len(loads) == 2
            await asyncio.sleep(1.0)  # the same broken bytes: not parsed again and again
            assert len(loads) == 2
            p.unlink()  # a file that cannot be read (points at itself): reloaded each time
            p.symlink_to(p.name)
            async with asyncio.timeout(10):
                while len(loads) < 4:
                    await asyncio.sleep(0.05)
            assert not svc.reload_status.success
        finally:
            stop.set()
            await watcher

    asyncio.run(run())
    svc.close()


def test_the_service_loads_in_a_bounded_child_process(inv: Path) -> None:
    from netmon.inventory.isolated import load_isolated

    assert load_isolated(inv) == load_inventory(inv)
    with pytest.raises(InventoryError, match=r"loading took over 0\.001 s: stopped"):
        load_isolated(inv, timeout=0.001)
    # A parse that needs more memory than the child may have is a problem, not a dead
    # service (and the memory goes away with the child): under the size limit, 1M tiny
    # list items still make libyaml's composer build ~0.5 GB of nodes.
    f = province(inv)
    f.write_text("x: [" + "1," * 1_000_000 + "1]\n")
    with pytest.raises(InventoryError) as err:
        load_isolated(inv, memory_bytes=300 << 20)
    assert any("loading needed over 300 MiB" in p.message for p in err.value.problems)
