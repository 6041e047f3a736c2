"""The CloudFront viewer-request function, run for real under Node.

The cases live in tests/events/viewer_request_cases.json so that the local preview
server can be checked against the same table. Each request path is turned into the
event CloudFront Functions passes (uri plus querystring object) and handed to
functions/viewer-request/index.js evaluated in a bare ``vm`` context: like the
CloudFront runtime, it has no ``module``, ``require`` or ``process``.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_JS = ROOT / "functions" / "viewer-request" / "index.js"
CASES_JSON = ROOT / "tests" / "events" / "viewer_request_cases.json"
TEMPLATE = ROOT / "template.yaml"
CLOUDFRONT_FUNCTION_MAX_BYTES = 10 * 1024

CASES: list[dict[str, Any]] = json.loads(CASES_JSON.read_text(encoding="utf-8"))["cases"]

# Reads {"code": ..., "path": ..., "requests": [...]} on stdin, prints one result per
# request. A request is "/path?query" as a browser sends it.
HARNESS = r"""
const vm = require('vm');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));

function eventFor(raw) {
  const q = raw.indexOf('?');
  const uri = q === -1 ? raw : raw.slice(0, q);
  const querystring = {};
  if (q !== -1 && q < raw.length - 1) {
    for (const part of raw.slice(q + 1).split('&')) {
      const eq = part.indexOf('=');
      const key = eq === -1 ? part : part.slice(0, eq);
      const value = eq === -1 ? '' : part.slice(eq + 1);
      if (querystring[key]) {
        const entry = querystring[key];
        if (!entry.multiValue) entry.multiValue = [{ value: entry.value }];
        entry.multiValue.push({ value: value });
      } else {
        querystring[key] = { value: value };
      }
    }
  }
  return {
    version: '1.0',
    context: { eventType: 'viewer-request', distributionId: 'EDFDVBD6EXAMPLE' },
    viewer: { ip: '198.51.100.1' },
    request: { method: 'GET', uri: uri, querystring: querystring,
               headers: { host: { value: 'd111111abcdef8.cloudfront.net' } }, cookies: {} },
  };
}

// CloudFront-like: a fresh global scope without module/require/process.
const sandbox = vm.createContext({});
vm.runInContext(input.code, sandbox, { filename: 'index.js' });
const handler = vm.runInContext('handler', sandbox);

const results = input.requests.map((raw) => {
  const out = handler(eventFor(raw));
  if (out.statusCode !== undefined) {
    const headers = out.headers || {};
    return { status: out.statusCode, location: headers.location && headers.location.value,
             headers: Object.keys(headers) };
  }
  const qs = out.querystring;
  return { uri: out.uri, querystring: typeof qs === 'string' ? qs : Object.keys(qs || {}).length };
});

// Node-style loading must work too (the file exports handler behind a typeof guard).
const exported = require(input.path);
console.log(JSON.stringify({ results: results, exportsHandler: typeof exported.handler }));
"""


def _node() -> str:
    node = shutil.which("node")
    if node:
        return node
    if os.environ.get("CI") == "true":
        pytest.fail("node is required in CI to test functions/viewer-request/index.js")
    pytest.skip("node not found on PATH: the viewer-request function cannot be run")


@pytest.fixture(scope="module")
def node_run() -> dict[str, Any]:
    node = _node()
    payload = {
        "code": FUNCTION_JS.read_text(encoding="utf-8"),
        "path": str(FUNCTION_JS),
        "requests": [case["request"] for case in CASES],
    }
    proc = subprocess.run(
        [node, "-e", HARNESS],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"node harness failed:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c["name"] for c in CASES])
def test_case(node_run: dict[str, Any], index: int) -> None:
    case = CASES[index]
    got = node_run["results"][index]
    expect = case["expect"]
    if "status" in expect:
        assert got.get("status") == expect["status"], (case["request"], got)
        assert got.get("location") == expect["location"], (case["request"], got)
    else:
        assert "status" not in got, f"{case['request']!r} was answered at the edge: {got}"
        assert got["uri"] == expect["uri"], (case["request"], got)


def test_query_string_passes_through_on_rewrite(node_run: dict[str, Any]) -> None:
    index = next(i for i, c in enumerate(CASES) if c["name"] == "post directory with query")
    assert node_run["results"][index]["querystring"] == 1


def test_redirect_headers_are_lowercase(node_run: dict[str, Any]) -> None:
    for case, got in zip(CASES, node_run["results"], strict=True):
        if "status" in got:
            assert all(h == h.lower() for h in got["headers"]), case["name"]


def test_node_can_require_the_file(node_run: dict[str, Any]) -> None:
    assert node_run["exportsHandler"] == "function"


def test_every_case_is_well_formed() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert case["request"].startswith("/"), case
        expect = case["expect"]
        assert ("uri" in expect) != ("status" in expect), case
        if "status" in expect:
            assert expect["status"] in (301, 302, 307, 308), case
            assert "location" in expect, case


def test_function_fits_cloudfront_limits() -> None:
    code = FUNCTION_JS.read_bytes()
    assert len(code) <= CLOUDFRONT_FUNCTION_MAX_BYTES
    assert "function handler(event)" in code.decode("utf-8")
    # CloudFront Functions are not Node modules: no import/export statements.
    for line in code.decode("utf-8").splitlines():
        assert not line.lstrip().startswith(("export ", "import ")), line


def test_template_carries_the_same_code() -> None:
    """template.yaml inlines index.js; index.js is the source of truth."""
    template = cfn_yaml.load(str(TEMPLATE))
    function = template["Resources"]["ViewerRequestFunction"]["Properties"]
    inline = str(function["FunctionCode"])
    source = FUNCTION_JS.read_text(encoding="utf-8")
    if inline != source:
        diff = "".join(
            difflib.unified_diff(
                source.splitlines(True),
                inline.splitlines(True),
                "functions/viewer-request/index.js",
                "template.yaml ViewerRequestFunction.FunctionCode",
            )
        )
        pytest.fail(
            "template.yaml's ViewerRequestFunction.FunctionCode differs from "
            "functions/viewer-request/index.js; paste the file into the template "
            "(indented 8 spaces under `FunctionCode: |`).\n" + diff
        )
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["AutoPublish"] is True
