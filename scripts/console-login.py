"""For `make run`: make sure the demo admin can sign in to the console.

If `admin` has no console password yet, one is generated and written to `.console-login`
(git-ignored, readable by its owner only); the sign-in details are printed either way.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from rolecall.core import Rolecall
from rolecall.core.demo import DEMO_ADMIN

LOGIN_FILE = Path(".console-login")


def main() -> int:
    database = sys.argv[1] if len(sys.argv) > 1 else None
    with Rolecall.open(database, background_sync=False) as rc:
        if DEMO_ADMIN not in {u[0] for u in rc.users()}:
            print(f"no {DEMO_ADMIN} user: create one with `rolecall create-admin NAME`")
            return 0
        if not rc.accounts.has_password(DEMO_ADMIN):
            password = secrets.token_urlsafe(12)
            rc.accounts.set_password(DEMO_ADMIN, password)
            LOGIN_FILE.write_text(f"{DEMO_ADMIN}\n{password}\n")
            os.chmod(LOGIN_FILE, 0o600)
    print("Console: http://127.0.0.1:5000/console/")
    if LOGIN_FILE.exists():
        user, password = LOGIN_FILE.read_text().split()[:2]
        print(f"Sign in as {user} with the password in {LOGIN_FILE} ({password})")
    else:
        print(
            f"Sign in as {DEMO_ADMIN} (its password was set before; change it with "
            f"`rolecall passwd {DEMO_ADMIN}`)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
