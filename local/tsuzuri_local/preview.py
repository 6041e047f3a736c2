"""Serve the site bucket the way CloudFront does, for ``tsuzuri dev``.

The request rule mirrors the viewer-request CloudFront Function in
``functions/viewer-request/index.js``; both are tested against the same cases in
``tests/events/viewer_request_cases.json``.
"""

from __future__ import annotations

import gzip
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError
from tsuzuri.rendering.theme import content_security_policy

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": content_security_policy(),
}


# CloudFront compresses these types (1,000 bytes to 10 MB) when the viewer accepts it.
_COMPRESSIBLE = ("text/", "application/json", "application/xml", "application/atom+xml",
                 "image/svg+xml", "application/javascript")  # fmt: skip


def rewrite(uri: str, query: str = "") -> tuple[str, str | None]:
    """The viewer-request rule: (origin URI, redirect location). A location means 301.

    Same cases as ``functions/viewer-request/index.js``; both are tested against
    ``tests/events/viewer_request_cases.json``.
    """
    if uri.endswith("/"):
        return uri + "index.html", None
    last = uri.rsplit("/", 1)[-1]
    if "." in last:
        return uri, None
    # Collapse leading slashes and backslashes: "//host/" would be an open redirect.
    location = "/" + uri.lstrip("/\\") + "/"
    if query:
        location += "?" + query
    return "", location


class PreviewServer:
    def __init__(self, s3: Any, bucket: str, *, host: str = "127.0.0.1", port: int = 8080):
        self._s3 = s3
        self._bucket = bucket
        handler = self._handler_class()
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        s3, bucket = self._s3, self._bucket

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve(send_body=True)

            def do_HEAD(self) -> None:
                self._serve(send_body=False)

            def _serve(self, *, send_body: bool) -> None:
                # Not urlsplit: it would read "//evil/x" as a host name.
                path, _, query = self.path.partition("?")
                uri, location = rewrite(path or "/", query)
                if location is not None:
                    self._send(HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": location}, send_body)
                    return
                key = unquote(uri[1:])  # S3 decodes the URI the same way
                status, obj = HTTPStatus.OK, _fetch(s3, bucket, key)
                if obj is None:
                    status, obj = HTTPStatus.NOT_FOUND, _fetch(s3, bucket, "404.html")
                if obj is None:
                    self._send(status, b"Not Found", {"Content-Type": "text/plain"}, send_body)
                    return
                headers = {"Content-Type": obj.get("ContentType", "application/octet-stream")}
                if obj.get("CacheControl"):
                    headers["Cache-Control"] = obj["CacheControl"]
                body = obj["Body"].read()
                accepts = "gzip" in self.headers.get("Accept-Encoding", "")
                if (
                    accepts
                    and len(body) >= 1000
                    and headers["Content-Type"].startswith(_COMPRESSIBLE)
                ):
                    body = gzip.compress(body, 6)
                    headers["Content-Encoding"] = "gzip"
                    headers["Vary"] = "Accept-Encoding"
                self._send(status, body, headers, send_body)

            def _send(
                self, status: int, body: bytes, headers: dict[str, str], send_body: bool
            ) -> None:
                self.send_response(status)
                for name, value in {**headers, **SECURITY_HEADERS}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the dev loop prints its own lines

        return Handler


def _fetch(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    if not key:
        return None
    try:
        return s3.get_object(Bucket=bucket, Key=key)  # type: ignore[no-any-return]
    except ClientError:
        return None
