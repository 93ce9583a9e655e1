"""The index's compact pseudonym -> username map reads as the dict it replaces."""

from __future__ import annotations

import random

from rolecall.core.engine.pseudonyms import MERGE_AT, Pseudonyms
from rolecall.core.storage.models import new_pseudonym


def test_reads_as_a_dict_through_adds_renames_removals_and_merges() -> None:
    rng = random.Random(7)  # noqa: S311 - a repeatable sample, not a secret
    held = Pseudonyms()
    expected: dict[str, str] = {}
    odd = ["user/ABCDEF0123456789ABCD", "user/short", "legacy-name"]  # not rolecall's form
    for i in range(3 * MERGE_AT):
        pseudonym = odd[i] if i < len(odd) else new_pseudonym()
        held[pseudonym] = expected[pseudonym] = f"u{i}"
        if i == MERGE_AT // 2:
            held.compact()
    held.compact()
    for pseudonym in rng.sample(sorted(expected), 500):  # removed, some added back renamed
        del held[pseudonym]
        del expected[pseudonym]
        if rng.random() < 0.5:
            held[pseudonym] = expected[pseudonym] = "retired__" + pseudonym[-4:]
    for pseudonym in rng.sample(sorted(expected), 100):
        held[pseudonym] = expected[pseudonym] = "renamed"
    assert len(held) == len(expected)
    assert dict(held.items()) == expected
    assert held.get(new_pseudonym()) is None
    for pseudonym, name in rng.sample(sorted(expected.items()), 200):
        assert held[pseudonym] == name
        assert pseudonym in held
    name = expected[odd[1]]
    assert held.of(name) == odd[1]
    some = next(p for p, n in expected.items() if n.startswith("u") and p not in odd)
    assert held.of(expected[some]) == some
    assert held.of("nobody") is None
    held.compact()
    assert dict(held.items()) == expected
