"""The load benchmark: the REST API under granian (or gunicorn), on PostgreSQL, over HTTP.

    .venv/bin/python benchmarks/load.py [--size 100000] [--duration 20] [--workers 2]
                                        [--server granian] [--worker-class sync] [--threads 1]
                                        [--clients 3] [--max-requests 200000] [--no-peer]

It creates a fresh database ``rolecall_load_<random>`` on the server of
``ROLECALL_TEST_POSTGRES_URL`` (its keys from ``ROLECALL_SECRET_KEY`` or ``ROLECALL_KEY_FILE``,
else a key file made for the run), loads the data set of ``dataset.py`` into it through the
service's bulk paths (plus a platform admin with a bearer token, and the users the writes
use), starts the server (``--server``: granian where it is installed, else gunicorn) on a free
port of 127.0.0.1 and drives three phases, each bounded in time (``--duration``) and in
requests (``--max-requests``): single checks alone (taking turns, in the same run, with the
peer: the setup measured before, gunicorn's sync workers with every check through Flask),
batches of 1,000 checks alone, then a mix of single checks, batches, team listings and writes
(grants and revocations). The client is ``--clients`` processes, each sending one request at a
time on its own connection (see ``Wire``). It prints requests/s, checks/s and p50/p99 latency
per kind, the CPU the server, the clients and PostgreSQL took, then verifies that every
acknowledged write is in the database and that the audit chain verifies, and prints PASS/MISS
per goal.

A benchmark, not a test: it exits 0 whatever the figures, and 1 only when an acknowledged
write is missing from the database (or the chain does not verify). Every process it starts is
stopped before it returns, and the database is dropped. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from rolecall.builtin_plugins import BUILTIN_PLUGINS
from rolecall.core import DelegationRule, Plugins, PluginSettings, Rolecall, hookimpl, load_plugins
from rolecall.core.storage.models import Assignment, AuditEvent, User

import dataset

HERE = Path(__file__).resolve().parent
PG_ADMIN_URL = os.environ.get(
    "ROLECALL_TEST_POSTGRES_URL",
    "postgresql+psycopg://rolecall:rolecall@127.0.0.1:5432/rolecall_test",
)
HOST = "127.0.0.1"
ADMIN = "loadadmin"
WRITE_ROLE = "course_auditor"
BATCH = 1000
QUERIES = 20_000
GOAL_SINGLE = 2_000  # single checks per second, one check per request
GOAL_BATCH = 200_000  # checks per second through batches of 1,000
GOAL_SINGLE_CPU_MS = 0.3  # server CPU per single-check request (issue 25)
KINDS = ("single", "batch", "team", "assign", "revoke")
MIX = {"single": 70, "batch": 5, "team": 15, "write": 10}
"""The mixed phase: per 100 requests, by kind (a write is a grant, or the revocation of one of
the client's earlier grants)."""
TICK = os.sysconf("SC_CLK_TCK")
ALLOWED = re.compile(rb'"allowed":(true|false)')


def say(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------- the server side


class LoadRules:
    """The one delegation rule the writes need: platform admins assign and revoke anything
    (the built-in ``delegation`` plugin names roles the benchmark's catalogue does not have)."""

    @hookimpl
    def register_delegation_rules(self) -> list[DelegationRule]:
        return [
            DelegationRule(
                id="platform_admins_manage_everything",
                description="Platform admins may assign and revoke every role, everywhere.",
                holders=("platform_admin",),
                assign=("*",),
                revoke=("*",),
                scope_types=("platform", "org", "course", "library"),
            )
        ]


def make_plugins() -> Plugins:
    """The platform scope types, the benchmark's roles (``dataset.BenchCatalogue``), the web
    application's permissions and the rule above; every other built-in disabled, as in run.py."""
    from rolecall.webapp import plugin as console

    others = frozenset(BUILTIN_PLUGINS) - {"platform"}
    return load_plugins(
        PluginSettings(disabled=others),
        entry_points=[],
        extra={
            "rolecall_bench": dataset.BenchCatalogue(),
            "rolecall_load": LoadRules(),
            "console": console,
        },
    )


def make_app(fast_path: bool = True) -> Any:
    """The application factory (``load:make_app()``): each worker opens its own service on
    ``ROLECALL_DATABASE_URL``, with its own index and sync thread. ``fast_path=False`` (the
    peer's): without the check endpoint's fast path (``rolecall.webapp.api.fastpath``), every
    check through Flask as before it."""
    from rolecall.webapp.api.fastpath import CheckFastPath
    from rolecall.webapp.app import create_app

    app = create_app(
        Rolecall.open(
            os.environ["ROLECALL_DATABASE_URL"], plugins=make_plugins(), freeze_index=True
        )
    )
    if not fast_path:
        assert isinstance(app.wsgi_app, CheckFastPath)
        app.wsgi_app = app.wsgi_app.inner  # type: ignore[method-assign,assignment]
    return app


@contextmanager
def keys() -> Iterator[str]:
    """Where the run's session and audit keys come from: ``ROLECALL_SECRET_KEY`` or
    ``ROLECALL_KEY_FILE`` when one is set (rolecall refuses a server database without either),
    else a key file made for the run in a temporary folder (the database is dropped at the end,
    and the folder with it). gunicorn's workers inherit the setting."""
    if os.environ.get("ROLECALL_SECRET_KEY") or os.environ.get("ROLECALL_KEY_FILE"):
        yield (
            "ROLECALL_SECRET_KEY" if os.environ.get("ROLECALL_SECRET_KEY") else "ROLECALL_KEY_FILE"
        )
        return
    with tempfile.TemporaryDirectory(prefix="rolecall-load-keys-") as folder:
        os.environ["ROLECALL_KEY_FILE"] = str(Path(folder) / "rolecall.keys")
        try:
            yield "a key file made for the run"
        finally:
            del os.environ["ROLECALL_KEY_FILE"]


@contextmanager
def database() -> Iterator[str]:
    """A fresh database ``rolecall_load_<random>``, dropped afterwards."""
    name = f"rolecall_load_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


def writers(clients: int) -> list[list[str]]:
    """The users each client process grants and revokes roles to: its own, so that the last
    acknowledged write of a (user, role, scope) is unambiguous."""
    return [[f"loadw{c}u{i:04d}" for i in range(200)] for c in range(clients)]


def load(url: str, data: dataset.Dataset, clients: int, chunk: int = 50_000) -> tuple[str, float]:
    """The data set, the admin and the writers through the service's bulk paths; the admin's
    token (made through the service's accounts, as ``rolecall tokens create`` does)."""
    start = time.perf_counter()
    with Rolecall.open(url, plugins=make_plugins(), background_sync=False, freeze_index=True) as rc:
        for i in range(0, len(data.users), chunk):
            rc.add_users(data.users[i : i + chunk], actor="load-loader")
        rc.add_users([ADMIN, *(u for group in writers(clients) for u in group)])
        for i in range(0, len(data.scopes), chunk):
            rc.add_scopes(data.scopes[i : i + chunk], actor="load-loader")
        for i in range(0, len(data.grants), chunk):
            rc.assign_many(data.grants[i : i + chunk], actor="load-loader", reason="load")
        rc.assign(ADMIN, "platform_admin", "platform", actor="load-loader")
        _, token = rc.accounts.create_token(ADMIN, label="load benchmark", actor="load-loader")
    return token, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_s: float = 0.0
    """Seconds from the start until every worker answered (each builds its index)."""

    def summary(self) -> str:
        return f"PIDs {self.pids()}, every worker ready in {self.ready_s:.1f} s"

    def pids(self) -> list[int]:
        """The master and its workers."""
        found = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with suppress(OSError, IndexError, ValueError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == self.process.pid:
                        found.append(int(entry.name))
        return found


SERVERS = ("granian", "gunicorn")
"""The HTTP servers the benchmark can put in front of the application (``--server``)."""
DEFAULT_SERVER = "granian" if importlib.util.find_spec("granian") else "gunicorn"


def server_command(
    server: str, port: int, workers: int, threads: int, worker_class: str, factory: str
) -> list[str]:
    """The command line that serves ``load:<factory>`` (``make_app()`` but for gunicorn's
    peer) with ``server`` on ``port``.

    granian (a Rust HTTP server; WSGI through ``--interface wsgi``): ``workers`` processes,
    each importing the factory itself (no preload), ``threads`` blocking threads each running
    the application, HTTP/1.1 keep-alive. gunicorn: ``worker_class`` workers with ``threads``
    threads (a ``sync`` worker closes every connection)."""
    if server == "granian":
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--factory",
            "--working-dir",
            str(HERE),
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--http",
            "1",
            "--no-ws",
            "--backlog",
            "256",
            "--log-level",
            "warning",
            "load:make_app",
        ]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--pythonpath",
        str(HERE),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--keep-alive",
        "60",
        "--timeout",
        "120",
        "--backlog",
        "256",
        f"load:{factory}",
    ]


@contextmanager
def serve(
    url: str,
    name: str,
    workers: int,
    threads: int,
    worker_class: str,
    factory: str = "make_app()",
) -> Iterator[Server]:
    """The server ``name`` (granian or gunicorn) on a free port of 127.0.0.1, stopped (its
    whole process group) on the way out. ``factory``: gunicorn's (granian's is always
    ``make_app``)."""
    port = free_port()
    folder = tempfile.mkdtemp(prefix="rolecall-load-")
    log = Path(folder) / f"{name}.log"
    command = server_command(name, port, workers, threads, worker_class, factory)
    env = {**os.environ, "ROLECALL_DATABASE_URL": url}
    with open(log, "wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, port, log)
    try:
        start = time.perf_counter()
        wait_ready(server, workers, timeout=180)
        server.ready_s = time.perf_counter() - start
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_ready(server: Server, workers: int, timeout: float) -> None:
    """Until every worker answers ``/healthz`` (each builds its own index first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"gunicorn exited: {server.log.read_text()[-2000:]}")
        if len(server.pids()) > workers and _healthy(server.port):
            # A worker answers once its index is built; give the others as many tries.
            answered = sum(_healthy(server.port) for _ in range(4 * workers))
            if answered == 4 * workers:
                return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not get ready in {timeout:.0f} s")


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        connection.request("GET", "/healthz")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


# ----------------------------------------------------------------------------- CPU accounting


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU of each of these processes so far (those still running)."""
    found = {}
    for pid in pids:
        with suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU taken in between by the processes alive at both ends."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine (the server is shared: approximate)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICK, sum(values) / TICK


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


# ----------------------------------------------------------------------------- the client


@dataclass
class Plan:
    """What the client processes send: prepared bodies, so the client spends its time on
    HTTP, not on building JSON."""

    token: str
    port: int
    singles: list[bytes]
    single_expected: list[bool]
    batches: list[bytes]
    batch_expected: list[list[bool]]
    teams: list[str]
    writers: list[list[str]]
    write_scopes: list[str]


@dataclass
class Outcome:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    wrong: int = 0
    verified: int = 0
    writes: list[dict[str, Any]] = field(default_factory=list)
    cpu: float = 0.0
    started: float = 0.0
    ended: float = 0.0


_PLAN: Plan | None = None
"""Set in the parent before the client processes fork: they inherit it."""


class ProtocolError(Exception):
    """A response the client cannot read (no Content-Length, a malformed status line)."""


class Wire:
    """One HTTP/1.1 connection on a plain socket.

    The client shares the server's cores, so it must cost far less than the server it
    measures: ``http.client`` took a third of a millisecond of CPU per request (more than a
    third of what the server spends on a single check). Here a request is sent as prepared
    bytes and a response is read by its ``Content-Length`` (the API always sends one). The
    socket is opened again after a response that closes it: gunicorn's sync workers close
    every connection, its gthread workers keep them alive.
    """

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.address = (HOST, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.pending = bytearray()

    def connect(self) -> None:
        self.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.address)  # a numeric address: no name lookup
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            with suppress(OSError):
                self.sock.close()
        self.sock = None
        self.pending = bytearray()

    def _more(self, data: bytearray) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise ConnectionError("the server closed the connection before the response ended")
        data += chunk

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one prepared request; (status, body) of its response."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.sendall(request)
        data = self.pending
        end = data.find(b"\r\n\r\n")
        while end < 0:
            self._more(data)
            end = data.find(b"\r\n\r\n")
        lines = bytes(data[:end]).decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError) as exc:
            raise ProtocolError(f"malformed status line {lines[0][:80]!r}") from exc
        length = None
        closing = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                closing = value.strip().lower() == "close"
        if length is None:
            raise ProtocolError("a response without Content-Length")
        start = end + 4
        while len(data) - start < length:
            self._more(data)
        body = bytes(data[start : start + length])
        self.pending = data[start + length :]
        if closing:
            self.close()
        return status, body


class Client:
    def __init__(self, plan: Plan, number: int, outcome: Outcome) -> None:
        self.plan = plan
        self.number = number
        self.outcome = outcome
        self.rng = random.Random(f"client:{number}")
        self.wire = Wire(plan.port)
        self.head = f"Host: {HOST}:{plan.port}\r\nAuthorization: Bearer {plan.token}\r\n"
        self.framed: dict[tuple[str, str, bytes | None], bytes] = {}
        """Requests as sent, kept for the prepared bodies (each is sent many times)."""
        self.held: dict[tuple[str, str, str], int] = {}
        self.free = [
            (user, WRITE_ROLE, self.rng.choice(plan.write_scopes)) for user in plan.writers[number]
        ]
        self.counter = 0

    def request(
        self, kind: str, method: str, path: str, body: bytes | None = None, keep: bool = False
    ) -> bytes | None:
        """The response's body (None on an error, which is counted); the latency is recorded
        under ``kind``. ``keep``: the request is sent again later, keep its bytes."""
        request = self.framed.get((method, path, body))
        if request is None:
            request = self.frame(method, path, body)
            if keep:
                self.framed[(method, path, body)] = request
        start = time.perf_counter()
        try:
            status, raw = self.wire.exchange(request)
        except (OSError, ProtocolError, ValueError) as exc:
            self.wire.close()  # the next request reconnects
            self.error(kind, f"{kind}: {type(exc).__name__}: {exc}")
            return None
        self.outcome.latencies.setdefault(kind, []).append(time.perf_counter() - start)
        if status >= 300:
            self.error(kind, f"{kind}: HTTP {status}: {raw[:300]!r}")
            return None
        return raw

    def frame(self, method: str, path: str, body: bytes | None) -> bytes:
        """The request's bytes: the request line, the headers, the body."""
        head = f"{method} {path} HTTP/1.1\r\n{self.head}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + (body or b"")

    def error(self, kind: str, message: str) -> None:
        self.outcome.errors[kind] = self.outcome.errors.get(kind, 0) + 1
        if len(self.outcome.messages) < 5:
            self.outcome.messages.append(message)

    def single(self) -> None:
        plan = self.plan
        i = (self.counter * 7919 + self.number) % len(plan.singles)
        raw = self.request("single", "POST", "/api/v1/check", plan.singles[i], keep=True)
        if raw is not None:
            self.outcome.verified += 1
            if json.loads(raw)["results"][0]["allowed"] != plan.single_expected[i]:
                self.outcome.wrong += 1

    def batch(self) -> None:
        plan = self.plan
        i = (self.counter + self.number) % len(plan.batches)
        raw = self.request("batch", "POST", "/api/v1/check", plan.batches[i], keep=True)
        if raw is not None:
            # The answers in order, without building the 1,000 result objects (the body is
            # the server's compact JSON; usernames, permissions and keys hold no quotes).
            answers = [a == b"true" for a in ALLOWED.findall(raw)]
            self.outcome.verified += len(answers)
            if answers != plan.batch_expected[i]:
                self.outcome.wrong += sum(
                    a != e for a, e in zip(answers, plan.batch_expected[i], strict=False)
                ) + abs(len(answers) - BATCH)

    def team(self) -> None:
        key = self.plan.teams[self.rng.randrange(len(self.plan.teams))]
        self.request("team", "GET", f"/api/v1/scopes/{key}/team", keep=True)

    def write(self) -> None:
        if self.held and (not self.free or self.rng.random() < 0.5):
            key = self.rng.choice(list(self.held))
            grant_id = self.held[key]
            raw = self.request("revoke", "DELETE", f"/api/v1/assignments/{grant_id}")
            if raw is not None:
                answer = json.loads(raw)
                del self.held[key]
                self.free.append(key)
                self.acknowledged("revoke", key, grant_id, answer["revision"], True)
            return
        key = self.free.pop(self.rng.randrange(len(self.free)))
        user, role, scope = key
        body = json.dumps({"user": user, "role": role, "scope": scope}).encode()
        raw = self.request("assign", "POST", "/api/v1/assignments", body)
        if raw is None:
            self.free.append(key)
            return
        answer = json.loads(raw)
        grant_id = answer["assignment"]["id"]
        self.held[key] = grant_id
        self.acknowledged("assign", key, grant_id, answer["revision"], answer["changed"])

    def acknowledged(
        self, op: str, key: tuple[str, str, str], grant_id: int, revision: int, changed: bool
    ) -> None:
        seq = len(self.outcome.writes)
        self.outcome.writes.append(write(op, key, grant_id, revision, changed, self.number, seq))


def write(
    op: str,
    key: tuple[str, str, str],
    grant_id: int,
    revision: int,
    changed: bool,
    client: int,
    seq: int,
) -> dict[str, Any]:
    """The record of one acknowledged write: ``op`` (assign or revoke) of ``key`` (user, role,
    scope), the assignment's id, the revision the server answered, whether it changed anything,
    and its place in the client's sequence (a key is only ever written by one client)."""
    user, role, scope = key
    return {
        "op": op,
        "user": user,
        "role": role,
        "scope": scope,
        "id": grant_id,
        "revision": revision,
        "changed": changed,
        "client": client,
        "seq": seq,
    }


def run_client(number: int, phase: str, start_at: float, duration: float, cap: int) -> Outcome:
    """One client process: until ``duration`` seconds after ``start_at`` or ``cap`` requests."""
    assert _PLAN is not None
    outcome = Outcome()
    client = Client(_PLAN, number, outcome)
    kinds = list(MIX)
    cum = [sum(list(MIX.values())[: i + 1]) for i in range(len(kinds))]
    actions = {"single": client.single, "batch": client.batch, "team": client.team}
    actions["write"] = client.write
    with suppress(OSError):
        client.wire.connect()
    time.sleep(max(0.0, start_at - time.time()))
    cpu = time.process_time()
    outcome.started = time.time()
    deadline = start_at + duration
    while client.counter < cap and time.time() < deadline:
        if phase == "mix":
            roll = client.rng.random() * cum[-1]
            kind = next(k for k, c in zip(kinds, cum, strict=True) if roll < c)
        else:
            kind = phase
        actions[kind]()
        client.counter += 1
    outcome.ended = time.time()
    outcome.cpu = time.process_time() - cpu
    client.wire.close()
    return outcome


@dataclass
class PhaseResult:
    phase: str
    wall: float
    outcomes: list[Outcome]
    server_cpu: float
    client_cpu: float
    postgres_cpu: float
    machine_cpu: float
    load_before: str
    load_after: str

    def latencies(self, kind: str) -> list[float]:
        return [t for o in self.outcomes for t in o.latencies.get(kind, [])]

    def errors(self, kind: str) -> int:
        return sum(o.errors.get(kind, 0) for o in self.outcomes)

    def requests(self) -> int:
        return sum(len(o.latencies.get(k, [])) for o in self.outcomes for k in KINDS)


def merged(label: str, parts: list[PhaseResult]) -> PhaseResult:
    """The rounds of one phase on one server as one result: requests, wall and CPU times
    summed, the load averages of the first round's start and the last round's end."""
    return PhaseResult(
        phase=label,
        wall=sum(p.wall for p in parts),
        outcomes=[o for p in parts for o in p.outcomes],
        server_cpu=sum(p.server_cpu for p in parts),
        client_cpu=sum(p.client_cpu for p in parts),
        postgres_cpu=sum(p.postgres_cpu for p in parts),
        machine_cpu=sum(p.machine_cpu for p in parts),
        load_before=parts[0].load_before,
        load_after=parts[-1].load_after,
    )


def run_phase(phase: str, server: Server, clients: int, duration: float, cap: int) -> PhaseResult:
    """One phase against ``server`` (the clients fork with ``_PLAN``, which names its port)."""
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 1.0
    server_pids = server.pids()
    pg = postgres_pids()
    load_before = load_average()
    with context.Pool(clients) as pool:
        pending = [
            pool.apply_async(run_client, (n, phase, start_at, duration, max(1, cap // clients)))
            for n in range(clients)
        ]
        time.sleep(max(0.0, start_at - time.time()))
        server_before, pg_before = cpu_seconds(server_pids), cpu_seconds(pg)
        busy_before, _ = machine_busy()
        wall_start = time.perf_counter()
        outcomes = [p.get(timeout=duration + 120) for p in pending]
        wall = time.perf_counter() - wall_start
        server_cpu = cpu_delta(server_before, cpu_seconds(server_pids))
        pg_cpu = cpu_delta(pg_before, cpu_seconds(pg))
        busy = machine_busy()[0] - busy_before
    return PhaseResult(
        phase=phase,
        wall=max(o.ended for o in outcomes) - min(o.started for o in outcomes) or wall,
        outcomes=outcomes,
        server_cpu=server_cpu,
        client_cpu=sum(o.cpu for o in outcomes),
        postgres_cpu=pg_cpu,
        machine_cpu=busy,
        load_before=load_before,
        load_after=load_average(),
    )


def make_plan(data: dataset.Dataset, token: str, port: int, clients: int) -> Plan:
    queries = dataset.queries(data, QUERIES)
    singles = [
        json.dumps({"checks": [{"user": q.user, "permission": q.permission, "scope": q.scope}]})
        for q in queries
    ]
    batches = []
    batch_expected = []
    for start in range(0, len(queries) - BATCH + 1, BATCH):
        part = queries[start : start + BATCH]
        checks = [{"user": q.user, "permission": q.permission, "scope": q.scope} for q in part]
        batches.append(json.dumps({"checks": checks}).encode())
        batch_expected.append([q.expected for q in part])
    rng = random.Random(f"load:{data.size}")
    return Plan(
        token=token,
        port=port,
        singles=[s.encode() for s in singles],
        single_expected=[q.expected for q in queries],
        batches=batches,
        batch_expected=batch_expected,
        teams=rng.sample(data.scopes, min(500, len(data.scopes))),
        writers=writers(clients),
        write_scopes=rng.sample(data.courses, min(200, len(data.courses))),
    )


# ----------------------------------------------------------------------------- verification


def verify_writes(url: str, writes: list[dict[str, Any]], users: list[str]) -> list[str]:
    """Every acknowledged write is in the database: each (user, role, scope) is present (with
    the acknowledged id) or absent as its last acknowledged write left it, and each write that
    changed something has its audit event at the acknowledged revision; ``users`` (every user
    the clients write to) hold nothing else. Returns the problems."""
    problems: list[str] = []
    last: dict[tuple[str, str, str], dict[str, Any]] = {}
    for w in sorted(writes, key=lambda w: (w["client"], w["seq"])):
        last[(w["user"], w["role"], w["scope"])] = w
    users = sorted(set(users) | {w["user"] for w in writes})
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            present: dict[tuple[str, str, str], int] = {}
            for start in range(0, len(users), 1000):
                rows = session.execute(
                    select(User.username, Assignment.role, Assignment.scope, Assignment.id)
                    .join(User, User.id == Assignment.user_id)
                    .where(User.username.in_(users[start : start + 1000]))
                )
                present.update(((u, r, s), i) for u, r, s, i in rows)
            # The audit log names users by their pseudonyms (rolecall.core.storage.subjects).
            names: dict[str, str] = {}
            for start in range(0, len(users), 1000):
                pairs = session.execute(
                    select(User.pseudonym, User.username).where(
                        User.username.in_(users[start : start + 1000])
                    )
                )
                names.update((p, u) for p, u in pairs if p is not None)
            revisions = sorted({w["revision"] for w in writes if w["changed"]})
            events: dict[int, list[tuple[str, str | None, str | None, str | None]]] = {}
            for start in range(0, len(revisions), 1000):
                rows = session.execute(
                    select(
                        AuditEvent.revision,
                        AuditEvent.action,
                        AuditEvent.user,
                        AuditEvent.role,
                        AuditEvent.scope,
                    ).where(AuditEvent.revision.in_(revisions[start : start + 1000]))
                )
                for row in rows:
                    user = names.get(row.user, row.user) if row.user is not None else None
                    events.setdefault(row.revision, []).append(
                        (row.action, user, row.role, row.scope)
                    )
    finally:
        engine.dispose()
    for key, w in last.items():
        found = present.get(key)
        if w["op"] == "assign" and found != w["id"]:
            problems.append(
                f"assignment {w['id']} ({', '.join(key)}), granted at revision {w['revision']}: "
                + ("missing" if found is None else f"the row has id {found}")
            )
        elif w["op"] == "revoke" and found is not None:
            problems.append(
                f"{', '.join(key)} revoked at revision {w['revision']} is still there (id {found})"
            )
    for w in writes:
        if not w["changed"]:
            continue
        wanted = (w["op"], w["user"], w["role"], w["scope"])
        if wanted not in events.get(w["revision"], []):
            problems.append(
                f"no audit event {w['op']} {w['user']} {w['role']} {w['scope']} at revision "
                f"{w['revision']}"
            )
    # Nothing but the acknowledged writes may be there either.
    extra = [k for k in present if k not in last]
    problems.extend(f"unacknowledged assignment {', '.join(k)}" for k in extra[:5])
    return problems


# ----------------------------------------------------------------------------- the report


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def report(results: list[PhaseResult], clients: int) -> list[str]:
    header = ("phase", "kind", "requests", "req/s", "checks/s", "p50 ms", "p99 ms", "errors")
    rows: list[tuple[str, ...]] = []
    for r in results:
        for kind in KINDS:
            times = r.latencies(kind)
            if not times and not r.errors(kind):
                continue
            per_request = {"single": 1, "batch": BATCH}.get(kind, 0)
            rate = len(times) / r.wall
            rows.append(
                (
                    r.phase,
                    kind,
                    f"{len(times):,}",
                    f"{rate:,.0f}",
                    f"{rate * per_request:,.0f}" if per_request else "-",
                    f"{statistics.median(times) * 1e3:.2f}" if times else "-",
                    f"{pct(times, 0.99) * 1e3:.2f}" if times else "-",
                    str(r.errors(kind)),
                )
            )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    width = max(len(r.phase) for r in results)
    lines.append("")
    lines.append(
        "CPU per phase, in cores (CPU seconds / wall seconds; the machine has "
        f"{os.cpu_count()}): server = the HTTP server's processes (master + workers), client = "
        f"the {clients} client processes, postgres = every PostgreSQL process (shared server), "
        "others = the rest of the machine's busy CPU (other programs); server ms = server CPU "
        "per request"
    )
    for r in results:
        requests = r.requests()
        others = r.machine_cpu - r.server_cpu - r.client_cpu - r.postgres_cpu
        lines.append(
            f"  {r.phase:<{width}} {r.wall:5.1f} s: server {r.server_cpu / r.wall:.2f}, client "
            f"{r.client_cpu / r.wall:.2f}, postgres {r.postgres_cpu / r.wall:.2f}, others "
            f"{max(0.0, others) / r.wall:.2f}; server ms {server_ms(r, requests):.2f}; load "
            f"average {r.load_before} -> {r.load_after}"
        )
    return lines


def server_ms(result: PhaseResult, requests: int) -> float:
    return result.server_cpu / max(1, requests) * 1e3


def rate(result: PhaseResult, kind: str) -> float:
    return len(result.latencies(kind)) / result.wall


PEER = "peer"
"""The label of the peer's rounds of the single phase: the setup measured before, gunicorn's
sync workers and every check through Flask (``make_app(fast_path=False)``; see ``--peer``)."""


def describe(server: str, args: argparse.Namespace) -> str:
    if server == "granian":
        return f"granian {version('granian')} ({args.workers} workers, {args.threads} threads each)"
    return (
        f"gunicorn {version('gunicorn')} ({args.workers} {args.worker_class} workers, "
        f"{args.threads} threads each)"
    )


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def single_with_peer(
    url: str, server: Server, plan: Plan, args: argparse.Namespace
) -> list[PhaseResult]:
    """The single phase in ``args.rounds`` rounds on ``server``, each followed (or preceded,
    every other round) by one on the peer (:data:`PEER`), started beside it for the phase: both
    meet the machine in the same state. Each gets ``args.duration`` seconds and
    ``args.max_requests`` requests in all."""
    global _PLAN
    rounds = max(1, args.rounds)
    parts: dict[str, list[PhaseResult]] = {"single": [], PEER: []}
    with serve(url, "gunicorn", args.workers, 1, "sync", "make_app(fast_path=False)") as peer:
        say(
            f"  the peer: gunicorn {version('gunicorn')} ({args.workers} sync workers, checks "
            f"through Flask) on {HOST}:{peer.port}: {peer.summary()}"
        )
        for n in range(rounds):
            turns = [("single", server), (PEER, peer)]
            for label, where in turns if n % 2 == 0 else turns[::-1]:
                _PLAN = replace(plan, port=where.port)
                parts[label].append(
                    run_phase(
                        "single",
                        where,
                        args.clients,
                        args.duration / rounds,
                        max(1, args.max_requests // rounds),
                    )
                )
    return [merged(label, found) for label, found in parts.items()]


def main(argv: list[str] | None = None) -> int:
    global _PLAN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="assignments in the data set")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="requests per phase, at most"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker (above 1, gunicorn runs gthread workers)",
    )
    parser.add_argument("--clients", type=int, default=3, help="client processes")
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=DEFAULT_SERVER,
        help="the HTTP server (default: granian where it is installed, else gunicorn)",
    )
    parser.add_argument(
        "--peer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the single phase on the setup before (the peer: gunicorn's sync workers, "
        "every check through Flask), taking turns",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="turns of the single phase with the peer"
    )
    parser.add_argument(
        "--worker-class",
        default="sync",
        help="gunicorn worker class: sync (one request per connection, so each connection "
        "goes to a free worker) or gthread (keep-alive: a connection stays with the worker "
        "that accepted it, and a few clients can all land on one worker)",
    )
    parser.add_argument(
        "--phases", default="single,batch,mix", help="comma-separated: single, batch, mix"
    )
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    peer = args.peer and (args.server, args.worker_class, args.threads) != ("gunicorn", "sync", 1)
    if args.server == "gunicorn" and DEFAULT_SERVER == "gunicorn":
        say("granian is not installed (pip install -e '.[bench]'): serving with gunicorn")

    say(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; load average "
        f"{load_average()}"
    )
    data = dataset.build(args.size)
    say(
        f"data set: {len(data.grants):,} assignments, {len(data.users):,} users, "
        f"{len(data.scopes):,} courses and libraries"
    )
    results: list[PhaseResult] = []
    writes: list[dict[str, Any]] = []
    problems: list[str] = []
    verification = None
    with keys() as where, database() as url:
        say(f"keys: {where}")
        token, seconds = load(url, data, args.clients)
        say(f"loaded through the service in {seconds:.1f} s")
        with serve(url, args.server, args.workers, args.threads, args.worker_class) as server:
            say(f"{describe(args.server, args)} on {HOST}:{server.port}: {server.summary()}")
            plan = make_plan(data, token, server.port, args.clients)
            for phase in phases:
                with_peer = phase == "single" and peer
                say(
                    f"phase {phase}: {args.clients} client processes, {args.duration:.0f} s"
                    + (
                        f", in {args.rounds} rounds taking turns with the peer ..."
                        if with_peer
                        else " ..."
                    )
                )
                if with_peer:
                    done = single_with_peer(url, server, plan, args)
                else:
                    _PLAN = plan
                    done = [
                        run_phase(phase, server, args.clients, args.duration, args.max_requests)
                    ]
                for result in done:
                    results.append(result)
                    for outcome in result.outcomes:
                        writes.extend(outcome.writes)
                        for message in outcome.messages:
                            say(f"  error ({result.phase}): {message}")
                    wrong = sum(o.wrong for o in result.outcomes)
                    verified = sum(o.verified for o in result.outcomes)
                    if verified:
                        say(
                            f"  {result.phase}: answers compared with the data set's: "
                            f"{verified:,}, wrong {wrong}"
                        )
        problems = verify_writes(url, writes, [u for group in writers(args.clients) for u in group])
        with Rolecall.open(
            url, plugins=make_plugins(), background_sync=False, freeze_index=True
        ) as rc:
            verification = rc.verify_audit()

    say("")
    for line in report(results, args.clients):
        say(line)
    say("")
    by_phase = {r.phase: r for r in results}
    if "single" in by_phase:
        r = by_phase["single"]
        cost = server_ms(r, r.requests())
        against = ""
        if PEER in by_phase:
            theirs = server_ms(by_phase[PEER], by_phase[PEER].requests())
            against = (
                f" (the peer, gunicorn's sync workers and checks through Flask, in the same "
                f"run: {theirs:.2f} ms)"
            )
        say(
            f"{'PASS' if cost <= GOAL_SINGLE_CPU_MS else 'MISS'}  at most {GOAL_SINGLE_CPU_MS} "
            f"ms of server CPU per single-check request: {cost:.2f} ms{against}"
        )
    for phase, goal, per in (("single", GOAL_SINGLE, 1), ("batch", GOAL_BATCH, BATCH)):
        if phase not in by_phase:
            continue
        r = by_phase[phase]
        got = rate(r, phase) * per
        cost = server_ms(r, len(r.latencies(phase)))
        what = "single checks/s through HTTP" if per == 1 else "checks/s through batches"
        say(
            f"{'PASS' if got >= goal else 'MISS'}  at least {goal:,} {what}: {got:,.0f}, with "
            f"{r.server_cpu / r.wall:.2f} cores of server CPU at {cost:.2f} ms per request "
            f"(the goal takes {goal / per * cost / 1e3:.2f} cores at that cost)"
        )
    changed = sum(w["changed"] for w in writes)
    if problems:
        say(f"MISS  every acknowledged write in the database: {len(problems)} problems")
        for problem in problems[:20]:
            say(f"  {problem}")
    else:
        say(
            f"PASS  every acknowledged write in the database: {len(writes):,} writes "
            f"({changed:,} changes), final state and audit events as acknowledged"
        )
    assert verification is not None
    say(
        f"{'PASS' if verification.ok else 'MISS'}  the audit chain verifies: "
        f"{verification.events:,} events, {verification.message}"
    )
    return 1 if problems or not verification.ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
