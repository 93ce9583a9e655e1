"""How the CLI prints: aligned tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
"""The ``--json`` flag every command takes."""


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows under upper-case headers, columns padded to their widest cell."""
    cells = [[str(h).upper() for h in headers]] + [
        ["" if c is None else str(c) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> None:
    click.echo(table(headers, rows) if rows else empty)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def joined(values: Sequence[str] | frozenset[str], empty: str = "-") -> str:
    return ", ".join(sorted(values)) if values else empty
