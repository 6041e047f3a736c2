"""Cold init of the render function: a fresh interpreter importing the handler module
and building its publisher (clients, site config) against moto's server.

    .venv/bin/python benchmarks/cold_init.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import time, sys, json
t0 = time.perf_counter()
sys.path.insert(0, "functions/render")
import app
t1 = time.perf_counter()
app.publisher()
t2 = time.perf_counter()
import resource
print(json.dumps({"import_ms": (t1 - t0) * 1000, "init_ms": (t2 - t1) * 1000,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )
    from moto.server import ThreadedMotoServer
    from tsuzuri.provision import provision
    from tsuzuri.runtime import make_clients

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    settings = provision(make_clients(endpoint_url=endpoint), prefix="coldinit").settings
    env = {
        **os.environ,
        "SOURCE_BUCKET": settings.source_bucket,
        "SITE_BUCKET": settings.site_bucket,
        "TABLE_NAME": settings.table_name,
        "DISTRIBUTION_ID": settings.distribution_id or "",
        "TSUZURI_AWS_ENDPOINT_URL": endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    results = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    server.stop()
    for key in ("import_ms", "init_ms", "rss_mb"):
        values = [r[key] for r in results]
        print(
            f"{key:10s} median {statistics.median(values):7.1f}"
            f"   min {min(values):7.1f}   max {max(values):7.1f}"
        )
    total = [r["import_ms"] + r["init_ms"] for r in results]
    print(
        f"{'cold init':10s} median {statistics.median(total):7.1f} ms"
        f" over {args.runs} fresh interpreters"
    )


if __name__ == "__main__":
    main()
