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


def _edge(first: str, last: int) -> str:
    """A pseudonym of rolecall's form whose digits start with ``first`` and end with ``last``."""
    return f"user/{first}{'0' * (20 - len(first) - 2)}{last:02x}"


def test_every_entry_is_found_at_every_size_and_bucket_edge() -> None:
    """A look-up searches only the entries sharing the pseudonym's first bits: entries at the
    first and last buckets, several in one bucket, and near misses are answered exactly, from
    a buffer of one entry to one of many buckets."""
    for size in (1, 7, 9, 100, 5 * MERGE_AT):
        rng = random.Random(size)  # noqa: S311 - a repeatable sample, not a secret
        held = Pseudonyms()
        expected: dict[str, str] = {}
        crowded = [_edge("0000", n) for n in (1, 3)] + [_edge("ffff", n) for n in (2, 250)]
        crowded += [_edge("8000", n) for n in range(0, 40, 2)]  # one bucket, many entries
        for i in range(size):
            pseudonym = crowded[i] if i < len(crowded) else f"user/{rng.getrandbits(80):020x}"
            held[pseudonym] = expected[pseudonym] = f"u{i}"
        held.compact()
        assert dict(held.items()) == expected
        for pseudonym, name in expected.items():
            assert held[pseudonym] == name
        for miss in [_edge("0000", 2), _edge("ffff", 251), _edge("8000", 1), _edge("7fff", 0)]:
            assert (miss in held) is (miss in expected)
            assert held.get(miss) == expected.get(miss)


def test_a_load_reads_as_the_same_pairs_added_one_by_one() -> None:
    """An index's build hands every pseudonym over at once (``load``): the map reads as the
    one made by adding them one by one, odd forms included, and so does a load into a map
    that holds some already (added one by one then)."""
    rng = random.Random(11)  # noqa: S311 - a repeatable sample, not a secret
    pairs = [(f"user/{rng.getrandbits(80):020x}", f"u{i}") for i in range(3 * MERGE_AT)]
    pairs += [("legacy-name", "old"), ("user/short", "older")]
    one_by_one, loaded = Pseudonyms(), Pseudonyms()
    for pseudonym, name in pairs:
        one_by_one[pseudonym] = name
    loaded.load(iter(pairs))
    assert len(loaded) == len(one_by_one) == len(pairs)
    assert dict(loaded.items()) == dict(one_by_one.items())
    for pseudonym, name in rng.sample(pairs, 300):
        assert loaded[pseudonym] == name
    assert loaded.get(f"user/{rng.getrandbits(80):020x}") is None
    more = [(f"user/{rng.getrandbits(80):020x}", f"m{i}") for i in range(50)]
    loaded.load([*more, (pairs[0][0], "renamed")])
    expected = {**dict(pairs), **dict(more), pairs[0][0]: "renamed"}
    assert len(loaded) == len(expected)
    assert dict(loaded.items()) == expected
