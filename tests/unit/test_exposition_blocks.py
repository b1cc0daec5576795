"""Interface blocks written from a template (``IfLabels.block``) are the per-line text, byte
for byte, whatever the label values, values and row order; otherwise they fall back."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.exposition import render_text
from exporters.families import Family, IfLabels, LabelSet

TOPOLOGY = (("province", "เชียงใหม่"), ("site", "1001"))
free_text = st.text(alphabet=st.sampled_from('%s%%d\\"\n{}ab ก\x00\x01'), max_size=6)


def per_line(name: str, per_if: IfLabels, rows: Mapping[str, object], stamp: str) -> str:
    return "".join(f"{name}{per_if[i].text} {v}{stamp}\n" for i, v in rows.items() if i in per_if)


def labels(aliases: list[str]) -> IfLabels:
    per_if = IfLabels()
    for n, alias in enumerate(aliases, 1):
        per_if[str(n)] = LabelSet((("ifIndex", str(n)), ("ifAlias", alias), *TOPOLOGY))
    per_if.seal()
    return per_if


@settings(max_examples=300, deadline=None)
@given(
    aliases=st.lists(free_text, max_size=5),
    values=st.lists(st.one_of(st.integers(), st.floats(allow_nan=False)), max_size=5),
    shuffle=st.randoms(use_true_random=False),
    drop=st.booleans(),
    shuffled=st.booleans(),
    stamp=st.sampled_from(["", " 1764547200000"]),
)
def test_a_block_is_the_per_line_text(
    aliases: list[str],
    values: list[float],
    shuffle: object,
    drop: bool,
    shuffled: bool,
    stamp: str,
) -> None:
    per_if = labels(aliases)
    # One value per interface (the usual case), in the walk's order unless shuffled, one
    # dropped, or values for interfaces the labels do not know.
    values = (values + [7] * len(aliases))[: max(len(aliases), len(values) if drop else 0)]
    rows: dict[str, object] = {str(n): v for n, v in enumerate(values, 1)}
    if drop and rows:
        rows.pop(next(iter(rows)))
    keys = list(rows)
    if shuffled:
        shuffle.shuffle(keys)  # type: ignore[attr-defined]
    rows = {k: rows[k] for k in keys}
    text = per_if.block("ifHCInOctets", rows, stamp)  # type: ignore[arg-type]
    exact = list(rows) == list(per_if)
    assert (text is not None) == exact  # anything else takes the per-line path
    want = per_line("ifHCInOctets", per_if, rows, stamp)
    if text is not None:
        assert text == want
    fam = Family("ifHCInOctets", "counter", "h", blocks=[(per_if, rows, stamp)])  # type: ignore[list-item]
    body = render_text([fam]).decode().splitlines(keepends=True)
    assert "".join(line for line in body if not line.startswith("# ")) == want


def test_an_unsealed_label_map_renders_line_by_line() -> None:
    per_if = IfLabels({"1": LabelSet((("ifIndex", "1"),))})
    assert per_if.block("ifMtu", {"1": 1500}, "") is None
    fam = Family("ifMtu", "gauge", "h", blocks=[(per_if, {"1": 1500}, "")])
    assert render_text([fam]).decode().endswith('ifMtu{ifIndex="1"} 1500\n')


def test_percent_signs_in_labels_are_text() -> None:
    per_if = labels(["%s", "%d%%", "50% used", "%(x)s"])
    rows = {"1": 1, "2": 2, "3": 3, "4": 4}
    text = per_if.block("ifMtu", rows, " 5")
    assert text is not None and text == per_line("ifMtu", per_if, rows, " 5")
    assert 'ifAlias="50% used"' in text
