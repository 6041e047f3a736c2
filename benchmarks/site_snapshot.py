"""Publish a content folder through ``tsuzuri dev`` and write every object of the site
and source buckets to a folder, with a manifest of hashes: render before and after a
refactor, then ``diff -r`` the two ``site/`` folders (reports differ only in ``at``).

    python -m benchmarks.site_snapshot OUT [--content examples] [--port 18080]

The port is part of every absolute URL in the pages, so compare runs on one port.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--content", type=Path, default=ROOT / "examples")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    import botocore.session

    aws_port = args.port + 1
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")  # what moto's server accepts
    command = [sys.executable, "-m", "tsuzuri_local.cli", "dev", "--fresh"]
    command += ["--content", str(args.content)]
    command += ["--port", str(args.port), "--aws-port", str(aws_port)]
    stack = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    log: list[str] = []
    deadline = time.monotonic() + args.timeout
    assert stack.stdout is not None
    try:
        for line in stack.stdout:
            log.append(line)
            if "related lists ready" in line or time.monotonic() > deadline:
                break
        s3 = botocore.session.get_session().create_client(
            "s3", region_name="ap-northeast-1", endpoint_url=f"http://127.0.0.1:{aws_port}"
        )
        manifest: dict[str, list[str | None]] = {}
        for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
            kind = bucket.rsplit("-", 1)[-1]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for listed in page.get("Contents", []):
                    obj = s3.get_object(Bucket=bucket, Key=listed["Key"])
                    body = obj["Body"].read()
                    target = args.out / kind / listed["Key"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(body)
                    manifest[f"{kind}/{listed['Key']}"] = [
                        hashlib.sha256(body).hexdigest(),
                        obj.get("ContentType"),
                        obj.get("CacheControl"),
                    ]
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        stack.wait(30)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    (args.out / "log.txt").write_text("".join(log))
    print(f"{len(manifest)} objects in {args.out}")


if __name__ == "__main__":
    main()
