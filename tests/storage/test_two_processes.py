"""Two real OS processes on one database server (PostgreSQL, then MariaDB): the change feed
between processes.

Process A writes and reports each revision token. Process B is already running with its
background catch-up every second (staleness 1.0). B must see A's write within 3 s without being
told, and at once when given A's token; and it must do so by applying A's events to the index it
has, never by building a new one. B reports that from inside itself: whether ``rc.index`` is
still the object it started with, and how many times ``Rolecall._load`` (the full build) ran.

Each child is a small script run with ``sys.executable -c`` that reads one command a line on
standard input and answers one JSON line on standard output. Every wait is bounded and both
children are killed in a ``finally``.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from support import child_environment

TESTS = Path(__file__).resolve().parents[1]
C1 = "course-v1:MITx+c1+2026"

CHILD = r"""
import json
import sys
import time

url, name, tests = sys.argv[1:4]
sys.path.insert(0, tests)

from conftest import make_plugins  # the same test plugin as the tests use

from rolecall.core import Rolecall

loads = []
full_build = Rolecall._load


def counting_load(self):
    loads.append(time.monotonic())
    full_build(self)


Rolecall._load = counting_load
rc = Rolecall.open(url, plugins=make_plugins(), background_sync=name == "B", staleness=1.0)
first = rc.index


def say(**answer):
    answer.update(revision=rc.revision, same_index=rc.index is first, loads=len(loads))
    print(json.dumps(answer), flush=True)


say(ready=True, background=rc._thread is not None)
for line in sys.stdin:
    command, *args = line.split()
    if command == "users":
        say(token=rc.add_users(args))
    elif command == "assign":
        say(token=rc.assign(*args))
    elif command == "wait":  # poll a plain check (no token) until it allows, within a limit
        user, permission, scope, limit = args
        start = time.monotonic()
        seen = False
        while time.monotonic() - start < float(limit):
            if rc.check(user, permission, scope):
                seen = True
                break
            time.sleep(0.01)
        say(seen=seen, elapsed=time.monotonic() - start)
    elif command == "check":  # one check with a token
        user, permission, scope, token = args
        behind = rc.revision < int(token)
        start = time.monotonic()
        allowed = rc.check(user, permission, scope, at_least=int(token))
        say(allowed=allowed, behind=behind, elapsed=time.monotonic() - start)
    elif command == "quit":
        break
rc.close()
"""


class Child:
    """One child process speaking the line protocol above."""

    def __init__(self, name: str, url: str, folder: Path) -> None:
        self.name = name
        self.stderr: IO[str] = (folder / f"{name}.stderr").open("w+")
        env = child_environment()
        self.process = subprocess.Popen(
            [sys.executable, "-W", "error", "-c", CHILD, url, name, str(TESTS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        self.ready: dict[str, Any] = {}
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _errors(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()[-3000:]

    def ask(self, command: str | None = None, timeout: float = 30) -> dict[str, Any]:
        """Send ``command`` (if any) and return the child's next answer."""
        if command is not None:
            assert self.process.stdin is not None
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"process {self.name} did not answer {command!r} within {timeout} s\n"
                f"{self._errors()}"
            ) from None
        if line is None:
            raise AssertionError(f"process {self.name} exited\n{self._errors()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        try:
            if self.process.poll() is None and self.process.stdin is not None:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
            self.reader.join(timeout=10)
            for stream in (self.process.stdin, self.process.stdout, self.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def children(server_url: str, tmp_path: Path) -> Any:
    started: list[Child] = []

    def start(name: str) -> Child:
        child = Child(name, server_url, tmp_path)
        started.append(child)
        child.ready = child.ask(timeout=60)
        assert child.ready["ready"] is True
        return child

    try:
        yield start
    finally:
        for child in started:
            child.stop()


def test_a_write_in_one_process_reaches_another_by_its_change_feed(children: Any) -> None:
    a = children("A")
    users = [f"user{i}" for i in range(6)]
    a.ask("users " + " ".join(users))
    b = children("B")  # already running, with its background catch-up, before A's writes
    assert b.ready["background"] is True
    assert a.ready["background"] is False
    assert b.ask("check user0 t.edit " + C1 + " 0")["allowed"] is False

    # Without being told: B's background catch-up finds A's write within 3 s.
    token = a.ask(f"assign user0 editor {C1}")["token"]
    seen = b.ask(f"wait user0 t.edit {C1} 3", timeout=10)
    assert seen["seen"] is True, seen
    assert seen["elapsed"] < 3
    assert seen["revision"] >= token

    # With the token: at once, even when B has not caught up yet. B's background catch-up
    # runs once a second, so right after A's write B is usually behind; try a few writes until
    # one of the checks found B behind and the token made it catch up.
    answers = []
    for user in users[1:]:
        token = a.ask(f"assign {user} editor {C1}")["token"]
        answer = b.ask(f"check {user} t.edit {C1} {token}", timeout=10)
        assert answer["allowed"] is True, answer
        assert answer["revision"] >= token
        assert answer["elapsed"] < 1.0, answer
        answers.append(answer)
        if answer["behind"]:
            break
    assert any(answer["behind"] for answer in answers), answers

    # Never a full reload: the index B started with took every change, one build in all.
    final = b.ask(f"check user0 t.view {C1} {token}")
    assert final["allowed"] is True
    assert final["same_index"] is True, final
    assert final["loads"] == 1, final
    assert all(answer["same_index"] and answer["loads"] == 1 for answer in [seen, *answers])
