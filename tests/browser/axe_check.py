"""axe-core on the page as it is now: no serious or critical violation."""

from __future__ import annotations

from typing import Any

SERIOUS = {"serious", "critical"}


def assert_accessible(page: Any) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert not bad, f"{page.url}: " + "; ".join(bad)
