"""The one exception hierarchy of tsuzuri.

Two families matter to callers:

* :class:`InputRejected` and its subclasses describe bad *input*: a post or page
  (:class:`PostRejected`), a key, an encoding, a size, a theme override. They are the
  editor's problem, never retried, and are turned into a report that names the file,
  the line when known, and what to fix.
* :class:`TransientError` describes a failure of the platform (throttling, a race
  that kept losing). The handler lets it escape so that Lambda retries the event.
"""

from __future__ import annotations


class TsuzuriError(Exception):
    """Base class of every error tsuzuri raises on purpose."""


class ConfigError(TsuzuriError):
    """Runtime or site configuration is missing or invalid."""


class InputRejected(TsuzuriError):
    """An uploaded file cannot be used as it is. The live site must stay unchanged.

    The editor's problem, never retried: it becomes the file's report, with the line
    when known and what to fix. A refused edit of a live file leaves its last accepted
    version live: ``live_url`` says where, so the report agrees with the site.
    """

    code = "rejected"

    def __init__(self, message: str, *, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint
        self.live_url: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        fix = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{fix}"


class PostRejected(InputRejected):
    """A post or page cannot be published as written."""


class KeyRejected(InputRejected):
    """The object key is outside ``posts/`` or ``assets/``, or tries to escape."""

    code = "bad-key"


class EncodingRejected(InputRejected):
    """The file is empty, not UTF-8, or contains NUL bytes."""

    code = "bad-encoding"


class TooLarge(InputRejected):
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


class UrlTaken(UrlCollision):
    """Another post owns the URL: this file waits in line for it (a URL claim is a
    queue of contenders, oldest claim first; see :meth:`PostStore.add_claim`)."""

    def __init__(self, message: str, *, url: str, owner: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.url = url
        self.owner = owner


class ThemeRejected(InputRejected):
    """A theme override (``theme/*.j2``) does not compile or fails to render a sample page."""

    code = "bad-theme"


class InvalidMessage(TsuzuriError):
    """A queue message that is neither an S3 notification nor a rebuild request."""


class TransientError(TsuzuriError):
    """A platform failure worth retrying: let the event be delivered again."""


class StaleEvent(TsuzuriError):
    """A newer event for the same source key was applied first: this one changes nothing."""


class SiteConfigRejected(ConfigError):
    """``_config.yml`` cannot be used as written: the editor's problem, like a rejected
    post. It is reported (``reports/_config.yml.json``, ``tsuzuri check``) with the line
    of the offending key, never retried, and the site keeps its last valid settings.

    A :class:`ConfigError`, so that every caller that refuses a bad config still does.
    """

    code = "bad-config"

    def __init__(self, message: str, *, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint
