"""A Jekyll site folder, as is, through ``tsuzuri dev --content``: every URL Jekyll 4
builds for it answers, and the Liquid tsuzuri claims to resolve is resolved as Jekyll
resolves it.

The site is tests/fixtures/jekyll/migration/site/ (minima-style: ``_config.yml`` with
``permalink: pretty``, ``index.md`` with ``layout: home``, posts in ``_posts/`` with a
Japanese file name, categories and tags, Liquid, a page, a draft and an image). What
Jekyll builds for it is tests/fixtures/jekyll/migration/expected_urls.json; where
``jekyll`` is installed the test builds it again and asserts the stored file is current.

The stack runs as a real subprocess on a copy of the site, as conftest.py starts it for
examples/, and is read with plain HTTP (no browser, no redirect followed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import quote, unquote, urlsplit

import pytest
import yaml
from tsuzuri_local.devstack.stack import default_sigint

from tests.e2e.conftest import (
    ARTIFACTS,
    DevStack,
    _free_ports,
    _pump,
    _stop,
    _wait_ready,
)

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "jekyll" / "migration"
SITE = FIXTURE / "site"
EXPECTED = FIXTURE / "expected_urls.json"
HTTP_TIMEOUT_S = 15.0


# --- what Jekyll builds, and the site's own files ------------------------------------------


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "jekyll_migration_build_expected", FIXTURE / "build_expected.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def expected() -> dict[str, dict[str, object]]:
    """The stored Jekyll build; checked against a fresh one where Jekyll is installed."""
    stored = json.loads(EXPECTED.read_text(encoding="utf-8"))
    if shutil.which("jekyll"):
        built = _build_script().expected()
        # The version may differ from the one that wrote the file; what it builds may not.
        built.pop("jekyll")
        assert built == {k: v for k, v in stored.items() if k != "jekyll"}, (
            "expected_urls.json is not what Jekyll builds for the fixture site: run "
            "python tests/fixtures/jekyll/migration/build_expected.py"
        )
    return stored


def _front_matter(relative: str) -> dict[str, object]:
    text = (SITE / relative).read_text(encoding="utf-8")
    _, front, _ = text.split("---", 2)
    data = yaml.safe_load(front)
    assert isinstance(data, dict), relative
    return data


def _title(relative: str) -> str:
    title = _front_matter(relative).get("title")
    assert isinstance(title, str), relative
    return title


def _site_title() -> str:
    config = yaml.safe_load((SITE / "_config.yml").read_text(encoding="utf-8"))
    return str(config["title"])


def _posts(expected: dict[str, dict[str, object]]) -> dict[str, str]:
    return {s: str(u) for s, u in expected["urls"].items() if s.startswith("_posts/")}


# --- the stack, on a copy of the site ------------------------------------------------------


@pytest.fixture(scope="module")
def jekyll_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """``tsuzuri dev --content`` on a private copy of the Jekyll site, up to ``ready:``;
    the same process, ports, readiness and SIGINT stop as conftest's ``dev``."""
    work = tmp_path_factory.mktemp("jekyll-migration")
    content = work / "site"
    shutil.copytree(SITE, content)
    port, aws_port = _free_ports(2)
    stderr_path = work / "tsuzuri-dev.stderr"
    command = [
        sys.executable, "-m", "tsuzuri_local.cli", "dev",
        "--content", str(content), "--port", str(port), "--aws-port", str(aws_port),
    ]  # fmt: skip
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(work / "cache")},
            start_new_session=True,
            preexec_fn=default_sigint,
        )
    stack = DevStack(url="", content=content, process=process, stderr_path=stderr_path)
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(
        target=_pump, args=(process.stdout, lines, stack.stdout), name="tsuzuri-dev-stdout"
    )
    reader.daemon = True
    reader.start()
    try:
        stack.url = _wait_ready(stack, lines)
        yield stack
    finally:
        problems = _stop(stack, [port, aws_port])
        reader.join(timeout=5)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "jekyll-migration-dev.log").write_text(
            stack.output(stderr_lines=400) + "\n", encoding="utf-8"
        )
    if problems:
        pytest.fail("; ".join(problems) + "\n" + stack.output(), pytrace=False)


# --- reading the site over HTTP -------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 301 is answered as a 301, not as the page it points to


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    location: str | None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def get(dev: DevStack, path: str) -> Response:
    """GET an unencoded path (``/2026/02/14/日本語/``), percent-encoded as a browser does."""
    url = dev.link(quote(path, safe="/"))
    try:
        with _OPENER.open(url, timeout=HTTP_TIMEOUT_S) as response:
            return Response(response.status, response.read(), response.headers.get("Location"))
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read(), error.headers.get("Location"))


class _Region(HTMLParser):
    """The text and link hrefs of the whole document; the text, link hrefs and image
    srcs of the element whose class list holds ``region`` (``post-body``)."""

    VOID = frozenset(
        ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"]
    )  # fmt: skip

    def __init__(self, region: str) -> None:
        super().__init__(convert_charrefs=True)
        self.region, self.depth = region, 0
        self.texts: list[str] = []
        self.region_texts: list[str] = []
        self.all_href: list[str] = []
        self.href: list[str] = []
        self.src: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.texts)

    @property
    def region_text(self) -> str:
        return "".join(self.region_texts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href") is not None:
            self.all_href.append(str(values["href"]))
        if self.depth:
            if tag == "a" and values.get("href") is not None:
                self.href.append(str(values["href"]))
            if tag == "img" and values.get("src") is not None:
                self.src.append(str(values["src"]))
            if tag not in self.VOID:
                self.depth += 1
        elif self.region in (values.get("class") or "").split() and tag not in self.VOID:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self.depth:
            self.region_texts.append(data)


def read(html: str, region: str = "post-body") -> _Region:
    parser = _Region(region)
    parser.feed(html)
    parser.close()
    return parser


def _path(url: str) -> str:
    """A link's path, unencoded (the server may send it percent-encoded)."""
    return unquote(urlsplit(url).path)


# --- the tests ------------------------------------------------------------------------------


def test_every_url_jekyll_builds_answers_200(
    jekyll_dev: DevStack, expected: dict[str, dict[str, object]]
) -> None:
    urls = expected["urls"]
    assert len(_posts(expected)) == 4 and {"index.md", "about.md"} <= set(urls), urls
    answers = {source: get(jekyll_dev, str(url)) for source, url in urls.items()}
    wrong = {
        source: f"{urls[source]} -> {r.status}" + (f" (Location: {r.location})" * bool(r.location))
        for source, r in answers.items()
        if r.status != 200
    }
    assert not wrong, f"Jekyll's URLs not served by tsuzuri dev: {wrong}\n" + jekyll_dev.output()
    for source in (*_posts(expected), "about.md"):
        assert _title(source) in read(answers[source].text).text, f"{source}: title not shown"
    photo = answers["assets/images/photo.png"].body
    assert photo == (SITE / "assets/images/photo.png").read_bytes()


def test_drafts_are_not_published(
    jekyll_dev: DevStack, expected: dict[str, dict[str, object]]
) -> None:
    drafts = expected["drafts"]
    assert drafts, "the fixture site has a draft"
    for source, url in drafts.items():
        response = get(jekyll_dev, str(url))
        assert response.status == 404, f"draft {source} at {url}: {response.status}"
    home = get(jekyll_dev, "/")
    assert home.status == 200
    for source in drafts:
        assert _title(source) not in home.text, f"draft {source} is on the home page"


def test_home_page_lists_the_posts(
    jekyll_dev: DevStack, expected: dict[str, dict[str, object]]
) -> None:
    assert expected["urls"]["index.md"] == "/"
    home = get(jekyll_dev, "/")
    assert home.status == 200, home.status
    page = read(home.text)
    text = page.text
    missing = [s for s in _posts(expected) if _title(s) not in text]
    assert not missing, f"posts not on the home page: {missing}"
    hrefs = {_path(h) for h in page.all_href}
    unlinked = {s: u for s, u in _posts(expected).items() if u not in hrefs}
    assert not unlinked, f"posts not linked from the home page at Jekyll's URL: {unlinked}"


def test_liquid_is_resolved_as_jekyll_resolves_it(
    jekyll_dev: DevStack, expected: dict[str, dict[str, object]]
) -> None:
    links = expected["links"]
    assert links, "the fixture site has a post with Liquid links"
    first = expected["urls"]["_posts/2026-01-10-first.md"]
    for source, jekyll_links in links.items():
        assert isinstance(jekyll_links, dict)
        url = str(expected["urls"][source])
        response = get(jekyll_dev, url)
        assert response.status == 200, f"{url}: {response.status}"
        html = response.text
        left = [mark for mark in ("{{", "{%", "%}", "}}") if mark in html]
        assert not left, f"{url}: Liquid left in the HTML: {left}"
        body = read(html)
        body_text = body.region_text
        assert body_text.strip(), f"{url}: no .post-body"
        assert _site_title() in body_text, f"{url}: {{{{ site.title }}}} not resolved"
        # The links and images of the body, as Jekyll resolved them, in the same order.
        assert body.href == jekyll_links["href"], (url, body.href)
        assert body.src == jekyll_links["src"], (url, body.src)
        assert first in body.href, f"{url}: no link to the first post ({first})"
        for target in dict.fromkeys(body.href + body.src):
            answer = get(jekyll_dev, _path(target))
            assert answer.status == 200, f"{url} links {target}: {answer.status}"
