"""Post dates, read the way Jekyll 4 reads them.

Jekyll turns every front matter date into a ``Time`` in the site timezone
(``Utils.parse_date(...).localtime``), and the permalink uses that local calendar day.
So ``2026-02-11 20:59:09 +0000`` on a site in Asia/Tokyo is published under
``/2026/02/12/``. :func:`parse_date` does the same and returns an aware datetime
converted to the site timezone.

What reaches :func:`parse_date` depends on what PyYAML made of the value:

* ``2026-02-21`` -> ``date``: midnight, site time.
* ``2026-02-21 10:48:10 +09:00``, ``2026-02-21T10:48:10Z``,
  ``2026-02-21T10:48:10.123456+09:00`` -> aware ``datetime``: converted.
* ``2026-02-21 10:48:10`` (unquoted, no offset) -> naive ``datetime``: **UTC**, see below.
* ``2026-02-21 10:48:10 +0900`` and ``-0500`` (PyYAML wants a colon in the offset),
  ``2026-02-21 10:48 +0900`` (no seconds), ``2026/02/21 ...`` -> ``str``: parsed here.
* ``"2026-02-21 10:48:10"`` (quoted, no offset) -> ``str``: site time.
* ``2026-02-30`` -> ``str`` (the front matter loader keeps impossible timestamps as
  text) -> rejected here with a message about the calendar.

The naive ``datetime`` case is a Jekyll quirk kept on purpose: Jekyll's YAML reader
(SafeYAML) parses an unquoted ``YYYY-MM-DD HH:MM:SS`` without an offset with
``DateTime.parse``, which assumes UTC, so ``date: 2026-02-21 23:00:00`` is the 22nd in
Tokyo and lives under ``/2026/02/22/`` (jekyll/jekyll#1069, #3879). Keeping the URLs
means reading it the same way. Every *string* without an offset (quoted values, times
without seconds) goes through Ruby's ``Time.parse`` in Jekyll, which uses local time,
so those are site time here too. Pass ``naive_datetime_as_utc=False`` to read naive
datetimes as site time instead.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tsuzuri.errors import DateError

__all__ = ["EXAMPLE", "MAX_YEAR", "MIN_YEAR", "date_from_filename", "parse_date"]

#: A valid date, shown in every error message.
EXAMPLE = "2026-02-21 10:48:10 +0900"
MIN_YEAR = 1900
MAX_YEAR = 2999

_HINT = f"write it like {EXAMPLE}, or just 2026-02-21"
_FILENAME_HINT = "name the file like 2026-02-21-my-post.md"

_DATE_STRING = re.compile(
    r"""
    (?P<year>\d{4}) (?P<sep>[-/]) (?P<month>\d{1,2}) (?P=sep) (?P<day>\d{1,2})
    (?:
        (?:[Tt]|[ \t]+)
        (?P<hour>\d{1,2}) : (?P<minute>\d{2})
        (?: : (?P<second>\d{2}) (?: [.,] (?P<fraction>\d+) )? )?
        (?: [ \t]* (?P<zone> [Zz] | UTC | GMT | JST | [+-]\d{1,2}(?::?\d{2})? ) )?
    )?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_FILENAME = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})-(?P<slug>.*)", re.S)
# Not calendar.month_name: that follows the process locale.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_NAMED_ZONES = {"z": UTC, "utc": UTC, "gmt": UTC, "jst": timezone(timedelta(hours=9))}


def parse_date(
    value: object,
    *,
    tz: ZoneInfo,
    field: str = "date",
    line: int | None = None,
    naive_datetime_as_utc: bool = True,
) -> datetime:
    """Read a front matter date as Jekyll does; return it aware, in the site timezone.

    ``value`` is whatever the YAML loader produced: a ``datetime``, a ``date`` or a
    string. A ``date`` (and a string without a time) means midnight in the site
    timezone; a string without an offset means site time; a naive ``datetime`` means
    UTC unless ``naive_datetime_as_utc`` is false (see the module docstring).

    Raises :class:`~tsuzuri.errors.DateError` naming ``field`` (and ``line`` if given)
    for impossible days, unreadable text, other types and years outside 1900-2999.
    """
    if isinstance(value, datetime):
        _check_year(value.year, value.isoformat(sep=" "), field, line)
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=UTC if naive_datetime_as_utc else tz)
        return _in_zone(value, tz)
    if isinstance(value, date):
        _check_year(value.year, value.isoformat(), field, line)
        return _in_zone(datetime.combine(value, time(), tzinfo=tz), tz)
    if isinstance(value, str):
        return _parse_string(value, tz=tz, field=field, line=line)
    if value is None:
        raise DateError(f"{field} is empty", line=line, hint=_HINT)
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise DateError(
        f"{field}: expected a date, found {_type_name(value)} ({shown})", line=line, hint=_HINT
    )


def date_from_filename(stem: str) -> tuple[date, str]:
    """Split a Jekyll post file name (without extension) into its date and slug.

    ``"2026-02-11-slug"`` -> ``(date(2026, 2, 11), "slug")``. Like Jekyll, the month and
    day may have one digit. Raises :class:`~tsuzuri.errors.DateError` if the name does
    not start with a real ``YYYY-MM-DD-`` date or has nothing after it.
    """
    match = _FILENAME.fullmatch(stem)
    if match is None:
        raise DateError(
            f"the file name {stem!r} does not start with a date (YYYY-MM-DD-)",
            hint=_FILENAME_HINT,
        )
    year, month, day = (int(match[name]) for name in ("year", "month", "day"))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DateError(
            f"the file name {stem!r} has the year {year}, outside {MIN_YEAR}-{MAX_YEAR}",
            hint=_FILENAME_HINT,
        )
    problem = _calendar_problem(year, month, day)
    if problem:
        raise DateError(f"the file name {stem!r} has {problem}", hint=_FILENAME_HINT)
    slug = match["slug"]
    if not slug.strip(" -"):
        raise DateError(f"the file name {stem!r} has no title after the date", hint=_FILENAME_HINT)
    return date(year, month, day), slug


def _parse_string(text: str, *, tz: ZoneInfo, field: str, line: int | None) -> datetime:
    value = text.strip()
    match = _DATE_STRING.fullmatch(value)
    if match is None:
        if not value:
            raise DateError(f"{field} is empty", line=line, hint=_HINT)
        raise DateError(f"{field}: {text!r} is not a date", line=line, hint=_HINT)

    year, month, day = (int(match[name]) for name in ("year", "month", "day"))
    _check_year(year, text, field, line)
    problem = _calendar_problem(year, month, day)
    if problem:
        raise DateError(f"{field}: {text!r} has {problem}", line=line, hint=_HINT)

    hour = int(match["hour"] or 0)
    minute = int(match["minute"] or 0)
    second = int(match["second"] or 0)
    micro = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    if hour > 23 or minute > 59 or second > 59:
        raise DateError(f"{field}: {text!r} has an impossible time of day", line=line, hint=_HINT)

    zone = match["zone"]
    if zone is None:
        return _in_zone(datetime(year, month, day, hour, minute, second, micro, tzinfo=tz), tz)
    offset = _offset(zone)
    if offset is None:
        raise DateError(f"{field}: {text!r} has an impossible UTC offset", line=line, hint=_HINT)
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=offset).astimezone(tz)


def _offset(zone: str) -> timezone | None:
    named = _NAMED_ZONES.get(zone.lower())
    if named is not None:
        return named
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    if len(digits) <= 2:
        hours, minutes = int(digits), 0
    else:
        hours, minutes = int(digits[:-2]), int(digits[-2:])
    if hours > 23 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _in_zone(value: datetime, tz: ZoneInfo) -> datetime:
    """Convert to ``tz``; a wall time in ``tz`` is normalised (DST gaps move forward)."""
    return value.astimezone(UTC).astimezone(tz)


def _calendar_problem(year: int, month: int, day: int) -> str | None:
    """Why ``year-month-day`` is not a real day, or ``None``. ``year`` is in range."""
    if not 1 <= month <= 12:
        return f"no month {month}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"an impossible day: {_MONTHS[month - 1]} {year} has {days} days"
    return None


def _check_year(year: int, shown: str, field: str, line: int | None) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DateError(
            f"{field}: {shown!r} has the year {year}, outside {MIN_YEAR}-{MAX_YEAR}",
            line=line,
            hint=_HINT,
        )


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
