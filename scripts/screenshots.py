"""Screenshots of the console's main pages into docs/screenshots/, taken in Chromium on the demo
data: `.venv/bin/python scripts/screenshots.py`."""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from console_support import PASSWORD, demo_service  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from rolecall.webapp.app import create_app  # noqa: E402

OUT = REPO / "docs" / "screenshots"
CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
LOCKED = "course-v1:BerkeleyX+CS169.1x+2026_T1"
PUBLISH = "courses.publish_course_content"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rc = demo_service(f"sqlite:///{tmp}/shots.db")
        http = make_server("127.0.0.1", 0, create_app(rc), threaded=True)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{http.server_port}/console"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{base}/login")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/")
            page.screenshot(path=OUT / "home.png")
            page.goto(f"{base}/scopes/{CIRCUITS}")
            page.screenshot(path=OUT / "scope.png", full_page=True)
            page.goto(f"{base}/scopes/{CIRCUITS}?permission={PUBLISH}#can-heading")
            page.screenshot(path=OUT / "scope-who-can.png")
            page.goto(f"{base}/explain?user=grace&permission={PUBLISH}&scope={quote(CIRCUITS)}")
            page.screenshot(path=OUT / "explain.png")
            page.goto(f"{base}/scopes/{LOCKED}?permission={PUBLISH}")
            page.screenshot(path=OUT / "scope-locked.png")
            staff = "role=course_staff&role=course_admin&role=course_editor"
            page.goto(f"{base}/assignments?{staff}&view=users")
            page.screenshot(path=OUT / "assignments-users.png", full_page=True)
            page.goto(f"{base}/users/audrey")
            page.screenshot(path=OUT / "user.png")
            page.goto(f"{base}/assign?users=bea+stu+uma")
            page.click("text=Next: choose the role")
            page.check("#role-course_auditor")
            page.click("text=Next: choose where")
            page.fill("#more_scopes", f"{CIRCUITS}\ncourse-v1:MITx+18.01x+2026_T1")
            page.click("text=Next: preview")
            page.screenshot(path=OUT / "wizard-preview.png", full_page=True)
            page.click("text=Back")
            page.uncheck(f"#chosen-list input[value='{CIRCUITS}']")
            page.fill("#more_scopes", "course-v1:MITx+*")
            page.click("text=Next: preview")
            page.screenshot(path=OUT / "wizard-wildcard.png")
            page.goto(f"{base}/scopes/{CIRCUITS[:-1]}2")  # one character off
            page.screenshot(path=OUT / "scope-unknown.png")
            olivia = browser.new_page(viewport={"width": 1280, "height": 860})
            olivia.goto(f"{base}/login")
            olivia.fill("#username", "olivia")
            olivia.fill("#password", PASSWORD)
            olivia.click("button[type=submit]")
            olivia.wait_for_url(f"{base}/")
            olivia.goto(f"{base}/scopes/{CIRCUITS.replace('MITx', 'mitx')}")  # another org
            olivia.screenshot(path=OUT / "forbidden-did-you-mean.png")
            olivia.close()
            page.goto(f"{base}/roles")
            page.click("#role-course_editor summary")
            page.locator("#role-course_editor").scroll_into_view_if_needed()
            page.screenshot(path=OUT / "roles.png")
            page.goto(f"{base}/audit")
            page.screenshot(path=OUT / "audit.png")
            page.goto(f"{base}/roles/matrix?plugin=courses")
            page.screenshot(path=OUT / "matrix.png")
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{base}/scopes/{CIRCUITS}")
            page.screenshot(path=OUT / "scope-390.png", full_page=True)
            page.goto(f"{base}/restrictions")
            page.screenshot(path=OUT / "restrictions-390.png", full_page=True)
            browser.close()
        http.shutdown()
        rc.close()


if __name__ == "__main__":
    main()
