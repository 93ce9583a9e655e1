"""Browser tests in real Chromium (Debian's, driven by Playwright's sync API): the console is
served by werkzeug in a thread on 127.0.0.1 with a free port, on the demo data.

``scripts/test-browser.sh`` (run by ``make test``) installs Chromium; the tests skip, saying
why, only when it is not there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import demo_service

CHROMIUM = Path("/usr/bin/chromium")
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
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    from werkzeug.serving import make_server

    from rolecall.webapp.app import create_app

    rc = demo_service(f"sqlite:///{tmp_path / 'browser.db'}")
    app = create_app(rc)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)
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
