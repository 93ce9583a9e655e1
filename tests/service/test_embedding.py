"""rolecall inside someone else's process: what it does to the process stays within its calls.

Each case runs in a fresh interpreter, so what it reads (the collector's state, the frozen
objects, the root logger) is the process's as a host application would see it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HOST = r"""
import gc, json, logging, sys
from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins

url, collector_on = sys.argv[1], sys.argv[2] == "on"
if not collector_on:
    gc.disable()
root_handlers = len(logging.getLogger().handlers)
rc = Rolecall.open(url, plugins=load_plugins(PluginSettings(), entry_points=[]),
                   background_sync=False)
rc.add_users([f"u{i}" for i in range(1500)])
rc.add_scopes(["course-v1:MITx+c1+2026"])
after_load = gc.isenabled()
rows = [(f"u{i}", "course_staff", "course-v1:MITx+c1+2026") for i in range(1500)]
rc.assign_many(rows)
after_bulk = gc.isenabled()
try:  # a bulk write that fails half way through its validation
    rc.assign_many(rows + [("nobody", "course_staff", "course-v1:MITx+nope")])
except BadInputError:
    pass
after_failure = gc.isenabled()
rc.close()
print(json.dumps({
    "after_load": after_load,
    "after_bulk": after_bulk,
    "after_failure": after_failure,
    "frozen": gc.get_freeze_count(),
    "root_handlers_added": len(logging.getLogger().handlers) - root_handlers,
    "rolecall_handlers": len(logging.getLogger("rolecall").handlers),
}))
"""


def _host(url: str, collector: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", HOST, url, collector],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_a_host_collector_is_on_again_after_every_call_failing_ones_included(
    tmp_path: Path,
) -> None:
    seen = _host(f"sqlite:///{tmp_path / 'rc.db'}", "on")
    assert seen["after_load"] is True
    assert seen["after_bulk"] is True
    assert seen["after_failure"] is True


def test_a_host_that_keeps_its_collector_off_finds_it_off(tmp_path: Path) -> None:
    seen = _host(f"sqlite:///{tmp_path / 'rc.db'}", "off")
    assert (seen["after_load"], seen["after_bulk"], seen["after_failure"]) == (False, False, False)


def test_an_embedded_service_freezes_nothing_and_configures_no_logging(tmp_path: Path) -> None:
    seen = _host(f"sqlite:///{tmp_path / 'rc.db'}", "on")
    assert seen["frozen"] == 0
    assert seen["root_handlers_added"] == 0
    assert seen["rolecall_handlers"] == 0
