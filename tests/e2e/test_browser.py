"""The published sample blog, in headless Chromium, against ``tsuzuri dev``.

What a reader sees: the home page, a post, its tag page, every link on them, the 404
page, and an editor's file dropped into (then removed from) the content folder showing
up on (then leaving) the site while the stack runs.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, unquote, urldefrag, urlsplit

import pytest
import yaml

from tests.e2e.conftest import EXAMPLES, DevStack

if TYPE_CHECKING:
    from playwright.sync_api import APIResponse, Page

pytestmark = pytest.mark.e2e

JST = timezone(timedelta(hours=9))  # the corpus' _config.yml timezone (Asia/Tokyo)
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
POLL_TIMEOUT_S = 10.0
T = TypeVar("T")


# --- the corpus, read independently of the product ------------------------------------


@dataclass(frozen=True)
class CorpusPost:
    file: str
    title: str
    when: datetime
    path: str  # URL path, unencoded
    tags: tuple[str, ...]
    public: bool  # not `published: false` and not dated in the future

    @property
    def href_path(self) -> str:
        """The path as a browser serializes it (percent-encoded)."""
        return quote(self.path)


def _front_matter(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    _, front, _ = text.split("---", 2)
    data = yaml.safe_load(front)
    assert isinstance(data, dict), path
    return data


def _when(value: object, fallback: date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=JST)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=JST)
    if isinstance(value, str):
        text = re.sub(r"\s+([+-]\d\d:?\d\d|Z)$", r"\1", value.strip())
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=JST)
    return datetime(fallback.year, fallback.month, fallback.day, tzinfo=JST)


@cache
def corpus() -> tuple[CorpusPost, ...]:
    """Every dated post of examples/posts, with its URL under /:year/:month/:day/:title/."""
    now = datetime.now(JST)
    posts = []
    for path in sorted((EXAMPLES / "posts").iterdir()):
        match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)-(.+)\.(md|markdown)", path.name)
        if not match:
            continue
        front = _front_matter(path)
        when = _when(front.get("date"), date(*map(int, match.groups()[:3])))
        local = when.astimezone(JST)
        url = str(front.get("permalink") or f"/{local:%Y/%m/%d}/{front.get('slug') or match[4]}/")
        tags = front.get("tags") or ()
        posts.append(
            CorpusPost(
                file=path.name,
                title=str(front["title"]),
                when=when,
                path=url,
                tags=tuple(tags.split() if isinstance(tags, str) else map(str, tags)),
                public=front.get("published", True) is not False and when <= now,
            )
        )
    return tuple(posts)


def site_config() -> dict[str, object]:
    data = yaml.safe_load((EXAMPLES / "_config.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def newest_public_post() -> CorpusPost:
    return max((p for p in corpus() if p.public), key=lambda p: p.when)


# --- helpers -----------------------------------------------------------------------------


def visit(page: Page, dev: DevStack, path: str, status: int = 200) -> None:
    response = page.goto(dev.link(path), wait_until="load")
    assert response is not None, path
    assert response.status == status, f"{path}: {response.status}, expected {status}"


def same_origin_links(page: Page, dev: DevStack) -> list[str]:
    """Absolute URLs (fragment removed) of the page's same-origin a[href] and link[href]."""
    hrefs: list[str] = page.eval_on_selector_all(
        "a[href], link[href]", "els => els.map(e => e.href)"
    )
    origin = urlsplit(dev.url)[:2]
    found = []
    for href in hrefs:
        url = urldefrag(href).url
        if urlsplit(url)[:2] == origin and url not in found:
            found.append(url)
    return found


def paths_linked(page: Page, dev: DevStack) -> list[str]:
    """Same-origin paths linked from <main>, in document order."""
    hrefs: list[str] = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.href)")
    origin = urlsplit(dev.url)[:2]
    return [urlsplit(h).path for h in hrefs if urlsplit(h)[:2] == origin]


def poll(check: Callable[[], T | None], what: str, timeout: float = POLL_TIMEOUT_S) -> T:
    """Call ``check`` until it returns something other than None, for up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not true within {timeout:.0f} s", pytrace=False)
        time.sleep(0.25)


def fetch(page: Page, dev: DevStack, path: str) -> APIResponse:
    return page.request.get(dev.link(path))


# --- reading the site ----------------------------------------------------------------------


def test_home_lists_newest_public_post(page: Page, dev: DevStack, artifacts: Path) -> None:
    newest = newest_public_post()
    visit(page, dev, "/")
    assert page.title() == site_config()["title"]

    linked = paths_linked(page, dev)
    assert newest.href_path in linked, f"{newest.path} not linked from the home page"
    post_paths = {p.href_path for p in corpus()}
    first_post = next(p for p in linked if p in post_paths)
    assert first_post == newest.href_path, "the home page does not start with the newest post"
    for hidden in (p for p in corpus() if not p.public):
        assert hidden.href_path not in linked, f"{hidden.file} is not public but is linked"

    page.screenshot(path=artifacts / "home.png", full_page=True)


def test_post_page_shows_japanese_text_tags_and_related_section(
    page: Page, dev: DevStack, artifacts: Path
) -> None:
    post = newest_public_post()
    visit(page, dev, post.href_path)

    assert page.get_attribute("html", "lang") == "ja"
    heading = page.locator("h1").first.inner_text().strip()
    assert heading == post.title
    assert JAPANESE.search(heading), heading
    assert JAPANESE.search(page.locator("main").inner_text())

    tag_links = page.locator("main a[href*='/tags/']:not([href$='/tags/'])")
    names = [t.strip() for t in tag_links.all_inner_texts()]
    assert set(names) == set(post.tags), names
    for href in tag_links.evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        assert href.isascii(), f"tag link not percent-encoded: {href}"

    assert page.locator("section.related-posts").count() == 1

    # The related function fills the section from the table stream shortly after the
    # render: wait for it, then every entry is another live post of the sample site.
    def related_links() -> list[str] | None:
        visit(page, dev, post.href_path)
        hrefs: list[str] = page.eval_on_selector_all(
            "section.related-posts .post-card-title a", "els => els.map(e => e.href)"
        )
        return [urlsplit(h).path for h in hrefs] or None

    related = poll(related_links, "the post's related section lists posts", timeout=120)
    post_paths = {p.href_path for p in corpus() if p.public}
    assert post.href_path not in related
    assert set(related) <= post_paths, set(related) - post_paths
    assert len(set(related)) <= 6
    for path in set(related):
        assert fetch(page, dev, path).status == 200, path

    page.screenshot(path=artifacts / "post.png", full_page=True)


def test_first_tag_page_lists_the_post(page: Page, dev: DevStack, artifacts: Path) -> None:
    post = newest_public_post()
    visit(page, dev, post.href_path)
    first_tag = page.locator("main a[href*='/tags/']:not([href$='/tags/'])").first
    name = first_tag.inner_text().strip()
    assert name == post.tags[0]

    with page.expect_navigation():
        first_tag.click()
    assert urlsplit(page.url).path.startswith("/tags/")
    assert name in page.locator("h1").first.inner_text()
    assert post.href_path in paths_linked(page, dev), f"{page.url} does not list {post.path}"

    page.screenshot(path=artifacts / "tag.png", full_page=True)


def test_non_ascii_tag_page_from_the_tag_index(page: Page, dev: DevStack) -> None:
    tag = "勉強会"  # no slug in _config.yml: the URL keeps the name, percent-encoded
    tagged = [p for p in corpus() if p.public and tag in p.tags]
    assert tagged, "the corpus has no public post tagged 勉強会"
    visit(page, dev, "/tags/")
    link = page.locator("main a", has_text=tag).first
    href = link.get_attribute("href") or ""
    assert href == f"/tags/{quote(tag)}/", href

    with page.expect_navigation():
        link.click()
    assert page.locator("h1").first.inner_text().strip() == tag
    linked = paths_linked(page, dev)
    for post in tagged:
        assert post.href_path in linked, f"{post.path} missing from the 勉強会 tag page"


def test_every_link_answers_200(page: Page, dev: DevStack) -> None:
    post = newest_public_post()
    failed_loads: list[str] = []
    page.on(
        "response",
        lambda r: failed_loads.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    visit(page, dev, "/")
    links = same_origin_links(page, dev)
    visit(page, dev, post.href_path)
    links += same_origin_links(page, dev)
    tag_href = page.locator("main a[href*='/tags/']:not([href$='/tags/'])").first
    visit(page, dev, tag_href.get_attribute("href") or "")
    links += same_origin_links(page, dev)

    assert not failed_loads, f"page resources failed to load: {failed_loads}"
    assert not errors, f"browser console errors: {errors}"
    unique = list(dict.fromkeys(links))
    assert len(unique) > 20, unique  # posts, tags, categories, pagination, assets
    broken = []
    for url in unique:
        response = page.request.get(url)  # follows redirects
        if response.status != 200:
            broken.append(f"{response.status} {url}")
    assert not broken, f"{len(broken)} of {len(unique)} links broken: {broken}"


def test_unknown_url_answers_404_with_the_site_page(page: Page, dev: DevStack) -> None:
    visit(page, dev, "/404.html")
    not_found_title = page.title()
    not_found_heading = page.locator("h1").first.inner_text()

    for path in ("/no/such/page/", "/2026/03/27/no-such-post/", "/assets/images/missing.png"):
        visit(page, dev, path, status=404)
        assert page.title() == not_found_title, path
        assert page.locator("h1").first.inner_text() == not_found_heading, path
        assert JAPANESE.search(not_found_heading), not_found_heading
        assert page.locator("a[href='/']").count() > 0, f"{path}: no link home"


def test_path_without_trailing_slash_redirects(page: Page, dev: DevStack) -> None:
    post = newest_public_post()
    for path in ("/tags", post.href_path.rstrip("/")):
        response = page.request.get(dev.link(path), max_redirects=0)
        assert response.status == 301, f"{path}: {response.status}"
        assert response.headers["location"] == path + "/"
    visit(page, dev, post.href_path.rstrip("/"))
    assert urlsplit(page.url).path == post.href_path


# --- the content folder is watched -------------------------------------------------------


@dataclass
class DroppedPost:
    file: Path
    path: str  # percent-encoded URL path
    title: str
    tags: tuple[str, ...]


@pytest.fixture(scope="module")
def dropped(dev: DevStack) -> Iterator[DroppedPost]:
    """A new post written into the running stack's posts/ folder (removed at the end)."""
    when = datetime.now(JST) - timedelta(minutes=5)
    slug = "e2e-browser-drop"
    title = "ブラウザから確かめる新しい投稿"
    tags = ("AI", "E2Eテスト")
    text = (
        "---\n"
        f"title: {title}\n"
        f"date: {when:%Y-%m-%d %H:%M:%S} +0900\n"
        f"tags: [{', '.join(tags)}]\n"
        "---\n\n"
        "フォルダにファイルを置くだけで、数秒後にはサイトに載ります。\n"
    )
    file = dev.content / "posts" / f"{when:%Y-%m-%d}-{slug}.md"
    staging = dev.content.parent / file.name
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, file)  # appear whole, as an editor's atomic save does
    yield DroppedPost(file=file, path=f"/{when:%Y/%m/%d}/{slug}/", title=title, tags=tags)
    file.unlink(missing_ok=True)


def _listed_on(page: Page, dev: DevStack, listing: str, path: str) -> bool:
    response = fetch(page, dev, listing)
    return response.status == 200 and f'href="{path}"' in response.text()


def test_dropped_post_appears(page: Page, dev: DevStack, dropped: DroppedPost) -> None:
    poll(
        lambda: True if fetch(page, dev, dropped.path).status == 200 else None,
        f"{dropped.path} answers 200",
    )
    poll(
        lambda: True if _listed_on(page, dev, "/", dropped.path) else None,
        "the home page links the new post",
    )

    visit(page, dev, "/")
    assert paths_linked(page, dev)[0] == dropped.path  # it is the newest post
    visit(page, dev, dropped.path)
    assert page.locator("h1").first.inner_text().strip() == dropped.title
    names = page.locator("main a[href*='/tags/']:not([href$='/tags/'])").all_inner_texts()
    assert {n.strip() for n in names} == set(dropped.tags)


def test_deleted_post_disappears(page: Page, dev: DevStack, dropped: DroppedPost) -> None:
    poll(
        lambda: True if fetch(page, dev, dropped.path).status == 200 else None,
        f"{dropped.path} is published before the delete",
    )
    visit(page, dev, dropped.path)
    tag_pages = page.locator("main a[href*='/tags/']:not([href$='/tags/'])").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    assert len(tag_pages) == len(dropped.tags)
    for tag_page in tag_pages:
        assert _listed_on(page, dev, tag_page, dropped.path), tag_page

    dropped.file.unlink()

    poll(
        lambda: True if fetch(page, dev, dropped.path).status == 404 else None,
        f"{dropped.path} answers 404",
    )
    for listing in ["/", *tag_pages]:
        # A tag page whose only post went may itself go (404): either way it no longer lists it.
        poll(
            lambda listing=listing: None if _listed_on(page, dev, listing, dropped.path) else True,
            f"{listing} no longer links {dropped.path}",
        )
    visit(page, dev, dropped.path, status=404)
    visit(page, dev, "/")
    assert dropped.path not in paths_linked(page, dev)


# --- issue 7: search, dark mode, table of contents, static pages --------------------------


def test_search_finds_japanese_posts_by_bigrams(page: Page, dev: DevStack) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    visit(page, dev, "/search/")
    page.fill("#search-query", "コールドスタート")
    page.press("#search-query", "Enter")
    results = page.locator("#search-results a")
    results.first.wait_for()
    hrefs = results.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert "/2024/03/12/lambda-cold-start/" in hrefs, hrefs
    assert "件" in page.locator("#search-status").inner_text()
    assert "q=" in page.url  # the query is in the URL: a result list can be shared

    visit(page, dev, "/search/?q=" + quote("存在しないキーワードです"))
    poll(
        lambda: True if "0件" in page.locator("#search-status").inner_text() else None,
        "an empty result says so",
    )
    assert not errors, errors


def test_search_page_without_javascript_points_to_archive_and_tags(
    browser: object, dev: DevStack
) -> None:
    context = browser.new_context(base_url=dev.url, java_script_enabled=False)  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.goto(dev.link("/search/"))
    status = tab.locator("#search-status")
    assert status.locator("a[href='/archive/']").count() == 1
    assert status.locator("a[href='/tags/']").count() == 1
    tab.goto(dev.link("/archive/"))
    assert tab.locator("h1").inner_text() == "アーカイブ"
    context.close()


def _background(page: Page) -> tuple[int, ...]:
    color = page.evaluate("getComputedStyle(document.body).backgroundColor")
    return tuple(int(c) for c in re.findall(r"\d+", color)[:3])


def test_dark_mode_follows_the_system_setting(page: Page, dev: DevStack, artifacts: Path) -> None:
    post = "/2024/03/12/lambda-cold-start/"
    page.emulate_media(color_scheme="light")
    visit(page, dev, post)
    light = _background(page)
    assert sum(light) > 600, light
    page.screenshot(path=artifacts / "post-light.png")
    page.emulate_media(color_scheme="dark")
    dark = _background(page)
    assert sum(dark) < 150, dark
    text = page.evaluate("getComputedStyle(document.body).color")
    assert sum(int(c) for c in re.findall(r"\d+", text)[:3]) > 600, text  # light text
    page.screenshot(path=artifacts / "post-dark.png")


def test_print_stylesheet_applies_only_to_print(page: Page, dev: DevStack) -> None:
    visit(page, dev, "/2024/03/12/lambda-cold-start/")
    nav_display = "getComputedStyle(document.querySelector('.site-nav')).display"
    assert page.evaluate(nav_display) != "none"
    page.emulate_media(media="print")
    page.wait_for_function(f"{nav_display} === 'none'", timeout=5_000)
    page.emulate_media(media="screen")
    assert page.evaluate(nav_display) != "none"


def test_table_of_contents_links_to_the_headings(page: Page, dev: DevStack) -> None:
    visit(page, dev, "/2024/03/12/lambda-cold-start/")
    toc = page.locator("nav.toc")
    assert toc.count() == 1
    links = toc.locator("a")
    assert links.count() >= 3
    headings = page.locator(".post-body h2").all_inner_texts()
    assert links.first.inner_text().strip() == headings[0].strip()
    for href in links.evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        target = page.locator(f"[id='{unquote(href[1:])}']")
        assert target.count() == 1, href
    last = links.last
    last.click()
    target = page.locator(f"[id='{unquote((last.get_attribute('href') or '#')[1:])}']")
    poll(
        lambda: True if target.evaluate("e => e.getBoundingClientRect().top < 200") else None,
        "clicking a TOC entry scrolls to its heading",
    )


def test_static_page_is_in_the_navigation_and_the_sitemap(page: Page, dev: DevStack) -> None:
    visit(page, dev, "/")
    nav = page.locator("header nav a", has_text="このブログについて")
    with page.expect_navigation():
        nav.click()
    assert urlsplit(page.url).path == "/about/"
    assert page.locator("h1").inner_text() == "このブログについて"
    assert page.locator("nav.breadcrumbs a[href='/']").count() == 1
    visit(page, dev, "/contact/")  # an HTML page, sanitized, with the theme
    assert page.locator("h1").inner_text() == "お問い合わせ"
    assert "/about/" in fetch(page, dev, "/sitemaps/pages.xml").text()
