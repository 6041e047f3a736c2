"""The local preview server serves the site bucket the way the distribution does."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from tsuzuri_local.preview import SECURITY_HEADERS, PreviewServer

from tests.support.site import Site, post_text


@pytest.fixture
def server(site: Site) -> Iterator[tuple[str, int]]:
    site.publish(
        "posts/2025-11-03-生成AIの基礎.md", post_text("基礎", date="2025-11-03 09:00:00 +0900")
    )
    preview = PreviewServer(site.clients.s3, site.settings.site_bucket, port=0)
    preview.start()
    host, port = preview.url.removeprefix("http://").rstrip("/").split(":")
    yield host, int(port)
    preview.stop()


def _get(server: tuple[str, int], path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(*server, timeout=10)
    connection.request("GET", path)
    return connection.getresponse()


def test_directory_urls_serve_index_html_with_stored_headers(server: tuple[str, int]) -> None:
    response = _get(server, "/2025/11/03/%E7%94%9F%E6%88%90AI%E3%81%AE%E5%9F%BA%E7%A4%8E/")
    body = response.read().decode()
    assert response.status == 200
    assert "基礎" in body
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "max-age" in (response.getheader("Cache-Control") or "")
    for name, value in SECURITY_HEADERS.items():
        assert response.getheader(name) == value


def test_missing_pages_get_the_404_page_with_status_404(server: tuple[str, int]) -> None:
    response = _get(server, "/no/such/page/")
    assert response.status == 404
    assert "<html" in response.read().decode()


def test_extensionless_paths_redirect_without_an_open_redirect(server: tuple[str, int]) -> None:
    response = _get(server, "/2025/11/03/x?utm=1")
    assert response.status == 301
    assert response.getheader("Location") == "/2025/11/03/x/?utm=1"
    assert _get(server, "//evil.example/path").getheader("Location") == "/evil.example/path/"
