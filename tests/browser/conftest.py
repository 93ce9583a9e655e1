"""Browser tests in real Chromium (Debian's, driven by Playwright's sync API): the console is
served by werkzeug in a thread on 127.0.0.1 with a free port, on the demo data (``server``, fresh
for each test) or on the demo data plus an installation at scale (``scale_server``, one for the
whole run: thousands of courses, tens of thousands of staff grants, from the benchmark's
generator; tests that write there use users and scopes of their own).

``scripts/test-browser.sh`` (run by ``make test``) installs Chromium; the tests skip, saying
why, only when it is not there.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from console_support import demo_service

from rolecall.core import Rolecall

CHROMIUM = Path("/usr/bin/chromium")
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCALE = 100_000
"""Assignments in the ``scale_server`` data set: 2,000 courses, 200 libraries, 20 orgs."""
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Chromium is not installed at /usr/bin/chromium (scripts/test-browser.sh installs it)"
        )
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for the page: on a loaded machine a page at scale may take seconds.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@contextmanager
def serving(rc: Rolecall) -> Iterator[str]:
    """The console of ``rc`` over HTTP on 127.0.0.1 (a free port), until the block ends."""
    from werkzeug.serving import make_server

    from rolecall.webapp.app import create_app

    http = make_server("127.0.0.1", 0, create_app(rc), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    rc = demo_service(f"sqlite:///{tmp_path / 'browser.db'}")
    with serving(rc) as url:
        yield url
    rc.close()


def scale_data() -> Any:
    """The benchmark generator's data set of ``SCALE`` assignments (``benchmarks/dataset.py``;
    its role ids are the built-in catalogue's course and library roles)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    import dataset

    return dataset.build(SCALE)


@pytest.fixture(scope="session")
def scale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo data plus ``scale_data()`` loaded through the service's bulk paths."""
    path = tmp_path_factory.mktemp("scale") / "scale.db"
    rc = demo_service(f"sqlite:///{path}")
    data = scale_data()
    rc.add_users(data.users, actor="scale-loader")
    rc.add_scopes(data.scopes, actor="scale-loader")
    rc.assign_many(data.grants, actor="scale-loader", reason="data set at scale")
    with serving(rc) as url:
        yield url
    rc.close()


def csp_violations(page: Any) -> list[str]:
    """The Content-Security-Policy violations Chromium has reported on ``page`` so far."""
    return list(page.rolecall_csp)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A tab in a fresh context; a test fails if Chromium reports any violation of the
    console's Content-Security-Policy (an inline script, style or handler) on it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.rolecall_csp = []
    tab.on(
        "console",
        lambda message: (
            tab.rolecall_csp.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    context.close()
    assert tab.rolecall_csp == [], tab.rolecall_csp
