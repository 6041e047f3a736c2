"""Security posture, offline: every bucket of template.yaml is private and TLS-only, and
no credential is committed anywhere in the repository."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "template.yaml"))))
    return template["Resources"]  # type: ignore[no-any-return]


def _buckets(resources: dict[str, Any]) -> list[str]:
    return sorted(name for name, r in resources.items() if r["Type"] == "AWS::S3::Bucket")


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Properties"]["PolicyDocument"]["Statement"]
    return found if isinstance(found, list) else [found]


def _condition(statement: dict[str, Any], key: str) -> Any:
    return statement.get("Condition", {}).get("Bool", {}).get(key)


def test_there_are_buckets_to_check(resources: dict[str, Any]) -> None:
    assert {"SourceBucket", "SiteBucket"} <= set(_buckets(resources))


def test_every_bucket_blocks_all_public_access(resources: dict[str, Any]) -> None:
    for name in _buckets(resources):
        props = resources[name]["Properties"]
        assert props.get("PublicAccessBlockConfiguration") == ALL_BLOCKED, name


def test_every_bucket_denies_requests_without_tls(resources: dict[str, Any]) -> None:
    for name in _buckets(resources):
        policies = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": name}
        ]
        assert len(policies) == 1, f"{name}: one bucket policy"
        denies = [
            s
            for s in _statements(policies[0])
            if s["Effect"] == "Deny"
            and s.get("Principal") == "*"
            and s.get("Action") in ("s3:*", ["s3:*"])
            and _condition(s, "aws:SecureTransport") in ("false", False)
        ]
        assert denies, f"{name}: no Deny of s3:* when aws:SecureTransport is false"
        resources_denied = denies[0]["Resource"]
        assert {"Fn::GetAtt": [name, "Arn"]} in resources_denied, f"{name}: the bucket itself"
        assert {"Fn::Sub": f"${{{name}.Arn}}/*"} in resources_denied, f"{name}: its objects"
        for statement in _statements(policies[0]):
            if statement["Effect"] == "Allow":
                assert statement.get("Principal") != "*", f"{name}: public Allow"


# --------------------------------------------------------------------------- secrets

# Built from parts so that this file does not match itself.
_AKID = "A" + "KIA"
SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:" + _AKID + r"|ASIA|AROA|AIDA)[A-Z2-7]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_?secret_?access_?key\W{0,5}[=:]\W{0,5}(?!testing\b)[A-Za-z0-9/+]{40}\b"
    ),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?" + r"PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
}
# Documentation's well-known example key ids are not secrets.
ALLOWED = {_AKID + "IOSFODNN7EXAMPLE"}


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        return [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # not a checkout: walk the tree
        skip = {".git", ".venv", ".venv-sam", ".aws-sam", "node_modules", ".hypothesis"}
        return [
            p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
        ]


def test_no_credentials_are_committed() -> None:
    found = []
    files = _tracked_files()
    assert len(files) > 50
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        for what, pattern in SECRET_PATTERNS.items():
            found += [
                f"{path.relative_to(ROOT)}: {what}"
                for m in pattern.finditer(text)
                if m.group(0) not in ALLOWED
            ]
    assert not found, found


def test_the_secret_patterns_work() -> None:
    assert SECRET_PATTERNS["AWS access key id"].search("key = " + _AKID + "Z" * 16)
    sample = "aws_secret_access_key = " + "a1B2" * 10
    assert SECRET_PATTERNS["AWS secret access key"].search(sample)
