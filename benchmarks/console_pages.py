"""Server time of the console's pages at scale: the demo data plus the benchmark generator's
100,000 assignments (the browser tests' ``scale_server``), each page requested through Flask's
test client as the demo's platform admin, the median of a few requests after one to warm up.

    .venv/bin/python benchmarks/console_pages.py [--size 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from console_support import demo_service, sign_in  # noqa: E402

from rolecall.webapp.app import create_app  # noqa: E402

import dataset  # noqa: E402


def pages(data: dataset.Dataset) -> dict[str, str]:
    org = data.orgs[0]
    course = data.courses_by_org[org][0]
    user = data.users[0]
    wide = next(u for u, _, scope in data.grants if scope.startswith("org:"))
    return {
        "home": "/console/",
        "org": f"/console/scopes/org:{org}",
        "course": f"/console/scopes/{course}",
        "platform": "/console/scopes/platform",
        "user": f"/console/users/{user}",
        "org user": f"/console/users/{wide}",
        "matrix": "/console/roles/matrix",
        "roles": "/console/roles",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rc = demo_service(f"sqlite:///{tmp}/console.db")
        data = dataset.build(args.size)
        rc.add_users(data.users, actor="scale-loader")
        rc.add_scopes(data.scopes, actor="scale-loader")
        rc.assign_many(data.grants, actor="scale-loader", reason="data set at scale")
        client = create_app(rc).test_client()
        sign_in(client, "admin")
        print(f"{'page':<10} {'median ms':>10} {'max ms':>8} {'KiB':>7}  address")
        for name, url in pages(data).items():
            times = []
            size = 0
            for attempt in range(args.repeat + 1):
                start = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, (url, response.status_code)
                size = len(response.data)
                if attempt:
                    times.append(elapsed * 1000)
            print(
                f"{name:<10} {statistics.median(times):>10.1f} {max(times):>8.1f} "
                f"{size / 1024:>7.0f}  {url}"
            )
        rc.close()


if __name__ == "__main__":
    main()
