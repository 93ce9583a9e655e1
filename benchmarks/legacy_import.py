"""The legacy import of a large site: time and peak memory, streamed against the whole source.

A generated edx-platform database (SQLite, with the tables' user id indexes as edx-platform's
MySQL has them) of the shape of issue 29's site: by default 300,000 users (6 % inactive, 40
global staff), 5,000 courses in 60 orgs (10 % old-style keys), 20 custom courses, 200 v1
libraries, 120,000 ``student_courseaccessrole`` rows and 1,000,000 forum memberships (95 %
``Student``), with a few duplicate rows, names and keys differing only in case, and soft-deleted
rows. ``--quick`` divides every count by 100.

Each run is a child process of its own, on a new rolecall database (SQLite, every built-in
plugin and ``ccx``), whose peak resident set size (``ru_maxrss``) is read at its end:

- streamed: ``stream_import`` as ``rolecall legacy import --json`` runs it (the report
  spooled to disk and written out, on a loader: ``Rolecall.open(keep_grants=False)``), dry
  run, real run, and the second run on the imported state (which creates nothing);
- the peers: the whole source at once, ``read_database`` + ``plan_import`` (+ ``run_import``),
  what the command did before it streamed; and the streamed import on a service keeping
  every grant it writes in its index, what the command did before it opened a loader;
- the index alone: ``Rolecall.open`` on the imported state, the memory any rolecall process
  holding that state has, whatever it does.

Run from the repository: ``.venv/bin/python benchmarks/legacy_import.py [--quick]
[--forum-rows N] [--access-rows N] [--users N] [--slice-size N] [--no-peer] [--import-only]``
(``--import-only``: the streamed dry run and import alone). It prints figures and ratios,
asserts nothing and always exits 0.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROLES = ("Administrator", "Moderator", "Community TA", "Student", "Group Moderator")
ACCESS_ROLES = (
    ("staff", 40),
    ("instructor", 20),
    ("beta_testers", 15),
    ("limited_staff", 10),
    ("data_researcher", 10),
    ("ccx_coach", 5),
)

SCHEMA = (
    "CREATE TABLE auth_user (id INTEGER PRIMARY KEY, password TEXT, username TEXT UNIQUE, "
    "first_name TEXT, last_name TEXT, email TEXT, is_staff INTEGER, is_active INTEGER)",
    "CREATE TABLE student_courseaccessrole (id INTEGER PRIMARY KEY, org TEXT, course_id TEXT, "
    "role TEXT, user_id INTEGER, _sdc_deleted_at TEXT)",
    "CREATE UNIQUE INDEX access_uniq ON student_courseaccessrole (user_id, org, course_id, role)",
    "CREATE INDEX access_course ON student_courseaccessrole (course_id)",
    "CREATE TABLE django_comment_client_role (id INTEGER PRIMARY KEY, name TEXT, course_id TEXT)",
    "CREATE TABLE django_comment_client_role_users (id INTEGER PRIMARY KEY, role_id INTEGER, "
    "user_id INTEGER, _sdc_deleted_at TEXT)",
    "CREATE UNIQUE INDEX members_uniq ON django_comment_client_role_users (role_id, user_id)",
    "CREATE INDEX members_user ON django_comment_client_role_users (user_id)",
)


def generate(path: Path, *, users: int, courses: int, access: int, forum: int) -> dict[str, int]:
    """Write the legacy database; return its row counts."""
    rng = random.Random(29)
    orgs = [f"Org{n}" for n in range(60)]
    keys = []
    for n in range(courses):
        org = orgs[min(int(rng.paretovariate(1.2)) - 1, 59)]
        if n % 10 == 0:
            keys.append((org, f"{org}/C{n}/2014_Fall"))
        else:
            keys.append((org, f"course-v1:{org}+C{n}+2026_T1"))
    ccx = [
        (org, k.replace("course-v1:", "ccx-v1:") + f"+ccx@{n + 1}")
        for n, (org, k) in enumerate([k for k in keys if k[1].startswith("course-v1:")][:20])
    ]
    libraries = [
        (org, f"library-v1:{org}+Lib{n}") for n, org in enumerate(rng.choices(orgs, k=200))
    ]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    for statement in SCHEMA:
        db.execute(statement)
    db.executemany(
        "INSERT INTO auth_user VALUES (?, '!', ?, ?, ?, ?, ?, ?)",
        (
            (
                uid,
                f"user{uid}",
                "First",
                f"Last{uid}",
                f"user{uid}@example.org",
                int(uid % 7500 == 0),
                int(uid % 17 != 0),  # about 6 % inactive
            )
            for uid in range(1, users + 1)
        ),
    )
    # Forum roles: five per course and per custom course.
    role_ids: dict[tuple[str, str], int] = {}
    for _, key in (*keys, *ccx):
        for name in ROLES:
            role_ids[(name, key)] = len(role_ids) + 1
    db.executemany(
        "INSERT INTO django_comment_client_role VALUES (?, ?, ?)",
        ((rid, name, key) for (name, key), rid in role_ids.items()),
    )
    # Access rows: course rows, org rows, platform rows, libraries, custom courses.
    seen: set[tuple[int, str, str, str]] = set()
    rows = []
    names = [r for r, _ in ACCESS_ROLES]
    weights = [w for _, w in ACCESS_ROLES]
    while len(rows) < access:
        uid = rng.randint(1, users)
        draw = rng.random()
        if draw < 0.9:
            org, key = rng.choice(keys)
            row = (uid, org, key, rng.choices(names, weights)[0])
        elif draw < 0.93:
            org, key = rng.choice(ccx)
            row = (uid, org, key, rng.choice(("staff", "instructor")))
        elif draw < 0.96:
            org, key = rng.choice(libraries)
            row = (uid, org, key, rng.choice(("instructor", "staff", "library_user")))
        elif draw < 0.995:
            row = (uid, rng.choice(orgs), "", rng.choice(("staff", "instructor")))
        else:
            row = (uid, "", "", rng.choice(("course_creator_group", "support")))
        if row not in seen:
            seen.add(row)
            rows.append(row)
    # What an operator finds in a real site: duplicates (another org column), names and keys
    # differing only in case, rows soft-deleted by a replication.
    for n in range(42):
        uid, org, key, role = rows[n * 7]
        rows.append((uid, org.lower(), key, role) if key else (uid, org, key, role + "_dup"))
    for n in range(30):
        uid, org, key, role = rows[n * 11 + 1]
        rows.append((uid, org, key, role.capitalize()))
        rows.append((uid, org, key.lower(), role))
    db.executemany(
        "INSERT OR IGNORE INTO student_courseaccessrole (org, course_id, role, user_id, "
        "_sdc_deleted_at) VALUES (?, ?, ?, ?, ?)",
        (
            (org, key, role, uid, "2025-03-01" if n % 500 == 0 else None)
            for n, (uid, org, key, role) in enumerate(rows)
        ),
    )
    # Forum memberships: learners of a few courses each (Student), and moderators.
    members = set()
    all_keys = [k for _, k in (*keys, *ccx)]
    while len(members) < forum:
        uid = rng.randint(1, users)
        name = "Student" if rng.random() < 0.95 else rng.choice(ROLES[:3])
        members.add((role_ids[(name, rng.choice(all_keys))], uid))
    db.executemany(
        "INSERT INTO django_comment_client_role_users (role_id, user_id, _sdc_deleted_at) "
        "VALUES (?, ?, ?)",
        (
            (rid, uid, "2025-03-01" if n % 1000 == 0 else None)
            for n, (rid, uid) in enumerate(sorted(members, key=lambda m: rng.random()))
        ),
    )
    db.commit()
    counts = {
        table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
        for table in (
            "auth_user",
            "student_courseaccessrole",
            "django_comment_client_role",
            "django_comment_client_role_users",
        )
    }
    db.close()
    return counts


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {ccx!r})
import rolecall_ccx
from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.builtin_plugins.legacy.importer import plan_import, run_import, stream_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.builtin_plugins.legacy.reader import DatabaseSource, read_database
from rolecall.builtin_plugins.legacy.report import ImportReport

mode, rc_url, legacy_url, slice_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start, cpu = time.perf_counter(), time.process_time()
plugins = load_plugins(PluginSettings(), entry_points=[], extra={{"ccx": rolecall_ccx}})
rc = Rolecall.open(rc_url, plugins=plugins, background_sync=False, freeze_index=True,
                   keep_grants=mode not in ("stream-dry", "stream-real"))
opened = time.perf_counter() - start
summary = {{}}
if mode.startswith("stream"):
    with DatabaseSource(legacy_url) as source, ImportReport(spool=True, shown=50) as report:
        stream_import(rc, source, RoleMapping(), report.add, dry_run=mode == "stream-dry",
                      slice_size=slice_size)
        with open("/dev/null", "w") as out:
            report.write_json(out.write, {{"summary": report.summary(), "create": None,
                              "exists": None, "users": None, "ignored": None,
                              "problems": None, "duplicates": None}})
        summary = report.summary()
elif mode.startswith("whole"):
    plan = plan_import(rc, read_database(legacy_url), RoleMapping())
    if mode == "whole-real":
        run_import(rc, plan)
    summary = plan.summary()
    # The report, as the command wrote it with --json before it streamed.
    from dataclasses import asdict
    with open("/dev/null", "w") as out:
        lists = {{n: [asdict(r) for r in getattr(plan, n)] for n in
                 ("create", "exists", "ignored", "problems", "duplicates")}}
        lists["users"] = [{{"username": u, "email": e, "display_name": d}}
                          for u, e, d in plan.users]
        out.write(json.dumps({{"summary": summary, **lists}}, indent=2))
rc.close()
print(json.dumps({{
    "seconds": time.perf_counter() - start,
    "cpu": time.process_time() - cpu,
    "open_seconds": opened,
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "summary": summary,
}}))
"""


def child(mode: str, rc_url: str, legacy_url: str, slice_size: int) -> dict[str, Any]:
    script = CHILD.format(ccx=str(REPO / "plugins" / "ccx"))
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", script, mode, rc_url, legacy_url, str(slice_size)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forum-rows", type=int, default=1_000_000)
    parser.add_argument("--access-rows", type=int, default=120_000)
    parser.add_argument("--users", type=int, default=300_000)
    parser.add_argument("--courses", type=int, default=5_000)
    parser.add_argument("--slice-size", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="every count divided by 100")
    parser.add_argument("--no-peer", action="store_true", help="skip the peers' runs")
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="only the streamed dry run and import (no second run, no index alone, no peer)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    scale = 100 if args.quick else 1
    with tempfile.TemporaryDirectory(prefix="rolecall-legacy-bench-") as tmp:
        folder = Path(tmp)
        legacy = folder / "edxapp.db"
        began = time.perf_counter()
        counts = generate(
            legacy,
            users=args.users // scale,
            courses=max(args.courses // scale, 30),
            access=args.access_rows // scale,
            forum=args.forum_rows // scale,
        )
        print(
            f"legacy site generated in {time.perf_counter() - began:.1f} s: "
            + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        )
        legacy_url = f"sqlite:///{legacy}"
        results: dict[str, dict[str, Any]] = {}

        def run(name: str, mode: str, database: str) -> None:
            results[name] = child(
                mode, f"sqlite:///{folder / database}", legacy_url, args.slice_size
            )
            r = results[name]
            print(
                f"{name:<34} {r['seconds']:8.1f} s wall {r['cpu']:8.1f} s CPU "
                f"{r['max_rss_mb']:9,.0f} MB peak RSS",
                flush=True,
            )

        run("streamed, dry run", "stream-dry", "dry.db")
        run("streamed, import", "stream-real", "streamed.db")
        if args.import_only:
            print(
                "summary: "
                + ", ".join(f"{k} {v:,}" for k, v in results["streamed, import"]["summary"].items())
            )
            if results["streamed, import"]["summary"] != results["streamed, dry run"]["summary"]:
                print("  the dry run's summary differs from the import's")
            if args.json:
                args.json.write_text(json.dumps({"counts": counts, "results": results}, indent=2))
            return
        run("streamed, second run", "stream-real", "streamed.db")
        run("index alone (Rolecall.open)", "open", "streamed.db")
        if not args.no_peer:
            run("whole source, dry run", "whole-dry", "whole-dry.db")
            run("whole source, import", "whole-real", "whole.db")
            run("streamed, import, grants kept", "stream-kept", "kept.db")
        summary = results["streamed, import"]["summary"]
        print("summary: " + ", ".join(f"{k} {v:,}" for k, v in summary.items()))
        second = results["streamed, second run"]["summary"]
        print(
            f"second run: {second['grants_to_create']} grants to create, "
            f"{second['grants_existing']:,} existing"
        )
        index = results["index alone (Rolecall.open)"]["max_rss_mb"]
        for name in ("streamed, dry run", "streamed, import", "streamed, second run"):
            print(
                f"{name}: peak RSS over the index alone {results[name]['max_rss_mb'] - index:+,.0f}"
                " MB"
            )
        if not args.no_peer:
            for what in ("dry run", "import"):
                s, w = results[f"streamed, {what}"], results[f"whole source, {what}"]
                if w["summary"] != s["summary"]:
                    print(f"  {what}: the summaries differ: {w['summary']} vs {s['summary']}")
                print(
                    f"{what}: streamed / whole source: time {s['seconds'] / w['seconds']:.2f}x, "
                    f"peak RSS {s['max_rss_mb'] / w['max_rss_mb']:.2f}x"
                )
            s, k = results["streamed, import"], results["streamed, import, grants kept"]
            if k["summary"] != s["summary"]:
                print(f"  grants kept: the summaries differ: {k['summary']} vs {s['summary']}")
            print(
                f"import: loader / grants kept: time {s['seconds'] / k['seconds']:.2f}x, "
                f"peak RSS {s['max_rss_mb'] / k['max_rss_mb']:.2f}x"
            )
        if args.json:
            args.json.write_text(json.dumps({"counts": counts, "results": results}, indent=2))


if __name__ == "__main__":
    main()
