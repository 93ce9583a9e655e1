"""The audit writer builds each event's hash from pre-encoded parts: it must equal the hash the
verifier recomputes with :func:`event_hash`, whatever the event holds."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from rolecall.core.storage.audit import AuditWriter, event_hash, hmac_sha256, numbered
from rolecall.core.storage.keys import Key, key_id
from rolecall.core.storage.models import Base

ENGINE = create_engine("sqlite://")
Base.metadata.create_all(ENGINE)  # no user: every name is recorded as given


KEY = Key(key_id(b"k" * 32), b"k" * 32)


def writer_for(
    revision: int,
    last_hash: str,
    at: datetime,
    actor: str | None,
    batch_id: str | None,
    key: Key | None = None,
) -> AuditWriter:
    """A writer in a transaction of its own (it only hashes here: nothing is flushed)."""
    return AuditWriter(Session(ENGINE), revision, last_hash, at, actor, batch_id, key=key)


texts = st.text(max_size=12)
optional = st.none() | texts
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
events = st.lists(
    st.tuples(texts, optional, optional, optional, st.dictionaries(texts, json_values)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(
    events=events,
    revision=st.integers(min_value=0, max_value=2**40),
    actor=optional,
    batch_id=optional,
    offset=st.integers(min_value=-12, max_value=12),
    micro=st.integers(min_value=0, max_value=999_999),
    key=st.sampled_from([None, KEY]),
)
def test_the_writer_hashes_as_the_verifier_does(
    events: list[tuple[str, str | None, str | None, str | None, dict[str, Any]]],
    revision: int,
    actor: str | None,
    batch_id: str | None,
    offset: int,
    micro: int,
    key: Key | None,
) -> None:
    at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC).replace(microsecond=micro)
    at = at.astimezone(timezone(timedelta(hours=offset)))
    writer = writer_for(revision, "0" * 64, at, actor, batch_id, key)
    previous = "0" * 64
    for action, user, role, scope, details in events:
        writer.add(action, user=user, role=role, scope=scope, details=details)
        row = writer.rows[-1]
        expected = event_hash(
            previous, revision, at, action, actor, user, role, scope, details, batch_id, key
        )
        assert row["prev_hash"] == previous
        assert row["hash"] == expected
        assert row["key_id"] == (None if key is None else key.id)
        previous = expected


def test_details_with_a_time_hash_it_as_text() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    writer = writer_for(3, "0" * 64, at, None, None)
    details = {"when": at, "n": 1.5}
    writer.add("note", details=details)
    assert writer.rows[0]["hash"] == event_hash(
        "0" * 64, 3, at, "note", None, None, None, None, details, None
    )


@settings(max_examples=200, deadline=None)
@given(
    details=st.dictionaries(texts, json_values, max_size=5),
    numbers=st.lists(st.integers(), min_size=1, max_size=4),
)
def test_numbered_details_are_encoded_as_add_encodes_them(
    details: dict[str, Any], numbers: list[int]
) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    template = numbered(details, "id")
    for number in numbers:
        full = {**details, "id": number}
        fast = writer_for(1, "0" * 64, at, None, None)
        fast.add("assign", details=full, details_json=template(number))
        slow = writer_for(1, "0" * 64, at, None, None)
        slow.add("assign", details=full)
        assert fast.rows[0]["details_json"] == slow.rows[0]["details_json"]
        assert fast.rows[0]["hash"] == slow.rows[0]["hash"]


def test_numbered_details_with_the_marker_in_a_value_still_encode_right() -> None:
    details = {"reason": "-918273645546372819", "note": -918273645546372819}
    template = numbered(details, "id")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    writer = writer_for(1, "0" * 64, at, None, None)
    writer.add("assign", details={**details, "id": 7})
    assert template(7) == writer.rows[0]["details_json"]


@pytest.mark.parametrize("length", [0, 1, 32, 63, 64, 65, 200])
def test_the_writers_hmac_is_rfc_2104(length: int) -> None:
    secret = bytes(range(256))[:length]
    sign = hmac_sha256(secret)
    for message in (b"", b"x", b"[" + b"payload" * 100 + b"]"):
        assert sign(message) == hmac.new(secret, message, hashlib.sha256).hexdigest()
