"""The one exception hierarchy of tsuzuri.

Two families matter to callers:

* :class:`PostRejected` and its subclasses describe bad *input*. They are the editor's
  problem, never retried, and are turned into a report that names the file, the line
  when known, and what to fix.
* :class:`TransientError` describes a failure of the platform (throttling, a race
  that kept losing). The handler lets it escape so that Lambda retries the event.
"""

from __future__ import annotations


class TsuzuriError(Exception):
    """Base class of every error tsuzuri raises on purpose."""


class ConfigError(TsuzuriError):
    """Runtime or site configuration is missing or invalid."""


class PostRejected(TsuzuriError):
    """An input file cannot be published. The live site must stay unchanged."""

    code = "rejected"

    def __init__(self, message: str, *, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        fix = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{fix}"


class KeyRejected(PostRejected):
    """The object key is outside ``posts/`` or ``assets/``, or tries to escape."""

    code = "bad-key"


class EncodingRejected(PostRejected):
    """The file is empty, not UTF-8, or contains NUL bytes."""

    code = "bad-encoding"


class TooLarge(PostRejected):
    """The file is over the configured size limit."""

    code = "too-large"


class FrontMatterError(PostRejected):
    """The YAML front matter is missing, invalid, hostile, or of the wrong shape."""

    code = "bad-front-matter"


class FieldError(FrontMatterError):
    """A front matter field has the wrong type or value."""

    code = "bad-field"


class DateError(FieldError):
    """A date cannot be parsed or names an impossible calendar day."""

    code = "bad-date"


class PermalinkError(FieldError):
    """A permalink is malformed or would escape the site root."""

    code = "bad-permalink"


class UrlCollision(PostRejected):
    """Another source file already owns the URL this post maps to."""

    code = "url-collision"


class ThemeRejected(PostRejected):
    """A theme override (``theme/*.j2``) does not compile or fails to render a sample page."""

    code = "bad-theme"


class TransientError(TsuzuriError):
    """A platform failure worth retrying: let the event be delivered again."""
