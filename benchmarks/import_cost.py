"""What ``import rolecall.core`` costs, against ``import pluggy`` measured in the same run.

Each figure is the fastest of ``--runs`` imports, each in a fresh interpreter, the modules
interleaved run by run so that a busy moment of the machine hits them alike. A run times the
import statement inside the child (``time.perf_counter`` around it: the interpreter's own
start-up is left out) with bytecode cached as in an installed package (``PYTHONPYCACHEPREFIX``
pointing at a temporary folder, warmed by one untimed run of each; the source tree is not
written to). The goal (issue 28): ``import rolecall.core`` at most 4 times ``import pluggy``.

    .venv/bin/python benchmarks/import_cost.py
    .venv/bin/python benchmarks/import_cost.py --runs 30 --json import_cost.json

A benchmark, not a test: it prints PASS or MISS and always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL = 4.0
"""``import rolecall.core`` at most this many times ``import pluggy``."""

STATEMENTS = {
    "import pluggy": "import pluggy",
    "import pydantic": "from pydantic import BaseModel",
    "import rolecall.core": "import rolecall.core",
    "a plugin's import": "from rolecall.core import Permission, Role, ScopeType, hookimpl",
    "the engine's answers": "from rolecall.core import Decision, Team",
}
"""pluggy is the peer. The others for context: pydantic's ``BaseModel`` (what the records need);
what a plugin module imports (the records, whose pydantic models are built on first use); the
engine's answers (``Decision``, ``Team``: pydantic models too)."""


def _child(statement: str) -> str:
    return (
        "import time\n"
        "start = time.perf_counter()\n"
        f"{statement}\n"
        "print(time.perf_counter() - start)\n"
    )


def time_import(statement: str, env: dict[str, str]) -> float:
    """Seconds one fresh interpreter takes to run the import ``statement``."""
    out = subprocess.run(  # noqa: S603 (our own interpreter, our own statements)
        [sys.executable, "-c", _child(statement)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return float(out)


def measure(runs: int, statements: dict[str, str] = STATEMENTS) -> dict[str, list[float]]:
    """Every run's time per statement (by label), in seconds."""
    with tempfile.TemporaryDirectory(prefix="rolecall-pyc-") as cache:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
        for statement in statements.values():  # compile once: later runs read the cache
            time_import(statement, env)
        times: dict[str, list[float]] = {label: [] for label in statements}
        for _ in range(runs):
            for label, statement in statements.items():
                times[label].append(time_import(statement, env))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per module")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    times = measure(max(1, args.runs))
    best = {m: min(t) for m, t in times.items()}
    median = {m: sorted(t)[len(t) // 2] for m, t in times.items()}
    peer = best["import pluggy"]
    print(f"import cost, fastest (median) of {args.runs} fresh interpreters each:")
    for label in times:
        print(
            f"  {label:<22} {best[label] * 1000:7.1f} ms ({median[label] * 1000:6.1f})"
            f"  {best[label] / peer:5.2f}x pluggy"
        )
    ratio = best["import rolecall.core"] / peer
    verdict = "PASS" if ratio <= GOAL else "MISS"
    print(f"{verdict}: import rolecall.core is {ratio:.2f}x import pluggy (goal: at most {GOAL}x)")
    if args.json is not None:
        figures = {
            "runs": args.runs,
            "statements": STATEMENTS,
            "best_ms": {label: v * 1000 for label, v in best.items()},
            "median_ms": {label: v * 1000 for label, v in median.items()},
            "ratio_to_pluggy": ratio,
            "goal": GOAL,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
