"""The peer comparison: pycasbin enforcing an openedx-authz-shaped model on the same data.

Run by ``run.py`` in a child process, so a policy load that takes too long is cut off by a
timeout and its memory is returned whole; prints one JSON object. It can also be run alone::

    .venv/bin/python benchmarks/peer_casbin.py --size 100000 --checks 1000

The model is openedx-authz's (``openedx_authz/engine/config/model.conf``) without its staff
bypass: RBAC with domains (``g = _, _, _``: user, role, scope), ``keyMatch`` as ``g``'s domain
matching function so an org-wide grant is the glob ``course-v1:ORG+*`` and a platform grant is
``*``, and the deny-override effect. Role implications and inclusions are expanded into the ``p``
lines (one line per role and permission of its closed set), so no ``g2`` is needed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import casbin
from casbin.util import key_match

import dataset

MODEL = """
[request_definition]
r = sub, act, scope

[policy_definition]
p = sub, act, scope, eft

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = (g(r.sub, p.sub, r.scope) || g(r.sub, p.sub, "*")) && keyMatch(r.scope, p.scope) \
&& r.act == p.act
"""

SCOPE_PATTERN = {"course": "course-v1:*", "library": "lib:*"}


def domain(scope: str) -> str:
    """The casbin domain of a grant: the key, an org glob, or ``*`` for the platform."""
    if scope == "platform":
        return "*"
    if scope.startswith("org:"):
        return f"course-v1:{scope[4:]}+*"
    return scope


def policy_lines(data: dataset.Dataset) -> list[str]:
    lines = [
        f"p, role^{role}, act^{permission}, {SCOPE_PATTERN[dataset.ROLE_KIND[role]]}, allow"
        for role, permissions in sorted(dataset.ROLE_PERMISSIONS.items())
        for permission in sorted(permissions)
    ]
    lines.extend(
        f"g, user^{user}, role^{role}, {domain(scope)}" for user, role, scope in data.grants
    )
    return lines


def enforcer(policy_file: Path) -> casbin.Enforcer:
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as model:
        model.write(MODEL)
    e = casbin.Enforcer(model.name, str(policy_file))
    Path(model.name).unlink()
    return e


def emit(event: str, **values: object) -> None:
    """One JSON line, flushed at once: the parent reads what was printed before a timeout."""
    print(json.dumps({"event": event, **values}), flush=True)


def measure(size: int, checks: int, budget: float) -> None:
    data = dataset.build(size)
    chosen = dataset.queries(data)[:checks]
    counts = data.level_counts()
    with tempfile.TemporaryDirectory() as folder:
        policy = Path(folder) / "policy.csv"
        policy.write_text("\n".join(policy_lines(data)) + "\n")
        start, cpu = time.perf_counter(), time.process_time()
        e = enforcer(policy)
        # As openedx-authz does; it rebuilds the role links under the new matching function.
        e.add_named_domain_matching_func("g", key_match)
        load, load_cpu = time.perf_counter() - start, time.process_time() - cpu
    emit(
        "loaded",
        load_s=load,
        load_cpu_s=load_cpu,
        platform_links=counts["platform"],
        org_links_per_org=counts["org"] / len(data.orgs),
    )

    # Each check is timed alone, in CPU time of this thread (as run.py does for rolecall).
    # First sight of each scope: casbin builds (and caches) a role manager for the domain,
    # merging every link whose domain pattern matches it. Stop issuing checks once the
    # budget is spent; at least one is always measured.
    cold, wrong = [], 0
    deadline = time.perf_counter() + budget
    for q in chosen:
        t0 = time.thread_time_ns()
        allowed = e.enforce(f"user^{q.user}", f"act^{q.permission}", q.scope)
        cold.append(time.thread_time_ns() - t0)
        wrong += allowed != q.expected
        if time.perf_counter() > deadline:
            break
    measured = chosen[: len(cold)]
    # The same checks again, every role manager cached: casbin's steady state.
    warm = []
    for _ in range(max(1, 1000 // len(measured))):
        for q in measured:
            t0 = time.thread_time_ns()
            allowed = e.enforce(f"user^{q.user}", f"act^{q.permission}", q.scope)
            warm.append(time.thread_time_ns() - t0)
            wrong += allowed != q.expected
    emit(
        "done",
        size=size,
        checks=len(measured),
        load_s=load,
        load_cpu_s=load_cpu,
        cold_median_ns=statistics.median(cold),
        cold_p99_ns=_p99(cold),
        warm_median_ns=statistics.median(warm),
        warm_p99_ns=_p99(warm),
        wrong=wrong,
        casbin_version=casbin_version(),
    )


def _p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def casbin_version() -> str:
    """The installed distribution: ``pycasbin`` since 2.0, ``casbin`` before."""
    from importlib.metadata import PackageNotFoundError, version

    for name in ("pycasbin", "casbin"):
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            continue
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds for first-sight checks")
    args = parser.parse_args(argv)
    measure(args.size, args.checks, args.budget)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
