"""The report of a streamed import, kept a slice at a time.

Whatever the source's size, the report holds the counts, the first rows of each list (what the
human output shows) and, when ``--json`` is asked for, every row written as it comes to a
temporary file of its list (removed on close), from which the JSON document is written at the
end, in the same form ``json.dumps(..., indent=2)`` gives.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from .importer import LISTS, ImportPlan, summary_of


def plan_rows(plan: ImportPlan, name: str) -> list[Any]:
    """The rows of one of the plan's lists (:data:`LISTS`), as objects."""
    rows: list[Any] = getattr(plan, name)
    return rows


def json_row(name: str, row: Any) -> dict[str, Any]:
    """One row of a list as the JSON report gives it."""
    if name == "users":
        username, email, display = row
        return {"username": username, "email": email, "display_name": display}
    return asdict(row)


class ImportReport:
    """Counts, the first ``shown`` rows of each list, and (``spool``) every row on disk."""

    def __init__(self, *, spool: bool, shown: int) -> None:
        self.shown_rows = shown
        self.counts = dict.fromkeys(LISTS, 0)
        self.first: dict[str, list[Any]] = {name: [] for name in LISTS}
        self.deleted = 0
        self.inactive = 0
        self._folder = tempfile.mkdtemp(prefix="rolecall-report-") if spool else None
        self._files: dict[str, IO[str]] = {}
        if self._folder is not None:
            for name in LISTS:
                self._files[name] = (Path(self._folder) / f"{name}.jsonl").open(
                    "w+", encoding="utf-8"
                )

    def add(self, plan: ImportPlan) -> None:
        """Take in one slice's plan."""
        for name in LISTS:
            rows = plan_rows(plan, name)
            self.counts[name] += len(rows)
            room = self.shown_rows - len(self.first[name])
            if room > 0:
                self.first[name].extend(rows[:room])
            spool = self._files.get(name)
            if spool is not None:
                spool.writelines(json.dumps(json_row(name, row)) + "\n" for row in rows)
        self.deleted += plan.deleted
        self.inactive += sum(p.kind == "inactive_user" for p in plan.ignored)

    def summary(self) -> dict[str, int]:
        return summary_of(self.counts, deleted=self.deleted, inactive=self.inactive)

    def rows(self, name: str) -> Iterator[dict[str, Any]]:
        spool = self._files[name]
        spool.flush()
        spool.seek(0)
        for line in spool:
            yield json.loads(line)

    def write_json(self, write: Callable[[str], None], fields: dict[str, Any]) -> None:
        """Write ``fields`` as one JSON object, the lists (a value ``None`` under a name of
        :data:`LISTS`) read back from the spool, as ``json.dumps(indent=2)`` would."""
        write("{\n")
        last = len(fields) - 1
        for n, (key, value) in enumerate(fields.items()):
            comma = "," if n < last else ""
            if key in LISTS and value is None:
                if not self.counts[key]:
                    write(f"  {json.dumps(key)}: []{comma}\n")
                    continue
                write(f"  {json.dumps(key)}: [\n")
                chunk: list[str] = []
                for i, row in enumerate(self.rows(key), start=1):
                    text = json.dumps(row, indent=2).replace("\n", "\n    ")
                    chunk.append(f"    {text}{',' if i < self.counts[key] else ''}\n")
                    if len(chunk) >= 1000:
                        write("".join(chunk))
                        chunk = []
                write("".join(chunk))
                write(f"  ]{comma}\n")
            else:
                text = json.dumps(value, indent=2, default=str).replace("\n", "\n  ")
                write(f"  {json.dumps(key)}: {text}{comma}\n")
        write("}\n")

    def close(self) -> None:
        for spool in self._files.values():
            spool.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> ImportReport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
