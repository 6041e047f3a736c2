"""Front matter dates and post file names, read the way Jekyll 4 reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tsuzuri.domain.dates import EXAMPLE, date_from_filename, parse_date
from tsuzuri.domain.frontmatter import split_front_matter
from tsuzuri.errors import DateError, FieldError, FrontMatterError, PostRejected

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def _yaml_value(text: str) -> Any:
    """What the front matter loader hands to parse_date for ``date: <text>``."""
    return split_front_matter(f"---\ndate: {text}\n---\n").data["date"]


# --------------------------------------------------------------------------- strings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-21 10:48:10 +0900", "2026-02-21T10:48:10+09:00"),
        ("2026-02-21 10:48:10 +09:00", "2026-02-21T10:48:10+09:00"),
        ("2026-02-21 10:48:10 +09", "2026-02-21T10:48:10+09:00"),
        ("2026-02-21 10:48:10 +9", "2026-02-21T10:48:10+09:00"),
        ("2026-02-21 10:48:10+0900", "2026-02-21T10:48:10+09:00"),
        ("2026-02-21 10:48:10 -0500", "2026-02-22T00:48:10+09:00"),
        ("2026-02-21 10:48:10 +0530", "2026-02-21T14:18:10+09:00"),
        ("2026-02-21 10:48:10 -00:30", "2026-02-21T20:18:10+09:00"),
        ("2026-02-21 10:48 +0900", "2026-02-21T10:48:00+09:00"),
        ("2026-02-21 10:48", "2026-02-21T10:48:00+09:00"),
        ("2026-02-21 10:48:10", "2026-02-21T10:48:10+09:00"),  # a string: site time
        ("2026-02-21T10:48:10+09:00", "2026-02-21T10:48:10+09:00"),
        ("2026-02-21T10:48:10Z", "2026-02-21T19:48:10+09:00"),
        ("2026-02-21t10:48:10z", "2026-02-21T19:48:10+09:00"),
        ("2026-02-21 10:48:10 UTC", "2026-02-21T19:48:10+09:00"),
        ("2026-02-21 10:48:10 GMT", "2026-02-21T19:48:10+09:00"),
        ("2026-02-21 10:48:10 JST", "2026-02-21T10:48:10+09:00"),
        ("2026-02-21T10:48:10.123456+09:00", "2026-02-21T10:48:10.123456+09:00"),
        ("2026-02-21T10:48:10.1234567+09:00", "2026-02-21T10:48:10.123456+09:00"),
        ("2026-02-21 10:48:10.5 +0900", "2026-02-21T10:48:10.500000+09:00"),
        ("2026-02-21", "2026-02-21T00:00:00+09:00"),
        ("2026-2-1", "2026-02-01T00:00:00+09:00"),
        ("2026-02-21 9:05:00 +0900", "2026-02-21T09:05:00+09:00"),
        ("2026/02/21 10:48:10 +0900", "2026-02-21T10:48:10+09:00"),
        ("2026/02/21", "2026-02-21T00:00:00+09:00"),
        ("  2026-02-21 10:48:10 +0900  ", "2026-02-21T10:48:10+09:00"),
        ("2024-02-29", "2024-02-29T00:00:00+09:00"),
        ("1900-01-01", "1900-01-01T00:00:00+09:00"),
        ("2999-12-31 12:00:00 +0900", "2999-12-31T12:00:00+09:00"),
    ],
)
def test_parse_date_strings(text: str, expected: str) -> None:
    result = parse_date(text, tz=TOKYO)
    assert result.isoformat() == expected
    assert result.tzinfo is TOKYO


def test_utc_evening_is_the_next_day_in_tokyo() -> None:
    """The key Jekyll behaviour: the permalink day is the day in the site timezone."""
    result = parse_date("2026-02-11 20:59:09 +0000", tz=TOKYO)
    assert result == datetime(2026, 2, 12, 5, 59, 9, tzinfo=TOKYO)
    assert str(result) == "2026-02-12 05:59:09+09:00"
    assert result.date() == date(2026, 2, 12)


def test_other_site_timezones() -> None:
    assert parse_date("2026-07-04 12:00:00 +0000", tz=NEW_YORK).isoformat() == (
        "2026-07-04T08:00:00-04:00"
    )
    assert parse_date("2026-01-04", tz=NEW_YORK).isoformat() == "2026-01-04T00:00:00-05:00"
    # 02:30 does not exist on the spring-forward day; like Ruby, move it forward.
    assert parse_date("2026-03-08 02:30:00", tz=NEW_YORK).isoformat() == (
        "2026-03-08T03:30:00-04:00"
    )


# --------------------------------------------------------------------------- YAML values


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("2026-02-21 10:48:10 +0900", "2026-02-21T10:48:10+09:00"),  # str
        ("2026-02-21 10:48:10 +09:00", "2026-02-21T10:48:10+09:00"),  # aware datetime
        ("2026-02-21 10:48:10 -0500", "2026-02-22T00:48:10+09:00"),  # str
        ("2026-02-21 10:48 +0900", "2026-02-21T10:48:00+09:00"),  # str
        ("2026-02-21T10:48:10+09:00", "2026-02-21T10:48:10+09:00"),  # aware datetime
        ("2026-02-21T10:48:10Z", "2026-02-21T19:48:10+09:00"),  # aware datetime
        ("2026-02-21T10:48:10.123456+09:00", "2026-02-21T10:48:10.123456+09:00"),
        ("2026-02-21", "2026-02-21T00:00:00+09:00"),  # date
        ("2026/02/21 10:48:10 +0900", "2026-02-21T10:48:10+09:00"),  # str
        ('"2026-02-21 10:48:10"', "2026-02-21T10:48:10+09:00"),  # quoted: site time
        ("'2026-02-21'", "2026-02-21T00:00:00+09:00"),
        # Unquoted without an offset: YAML timestamp, which Jekyll (SafeYAML) reads as UTC.
        ("2026-02-21 10:48:10", "2026-02-21T19:48:10+09:00"),
        ("2026-02-21 23:30:00", "2026-02-22T08:30:00+09:00"),
        ("2026-02-21T10:48:10", "2026-02-21T19:48:10+09:00"),
    ],
)
def test_parse_date_of_every_yaml_form(front_matter: str, expected: str) -> None:
    assert parse_date(_yaml_value(front_matter), tz=TOKYO).isoformat() == expected


def test_naive_datetimes_can_be_read_as_site_time() -> None:
    value = _yaml_value("2026-02-21 23:30:00")
    assert value == datetime(2026, 2, 21, 23, 30)
    result = parse_date(value, tz=TOKYO, naive_datetime_as_utc=False)
    assert result.isoformat() == "2026-02-21T23:30:00+09:00"
    # strings without an offset are site time either way
    assert parse_date("2026-02-21 23:30:00", tz=TOKYO, naive_datetime_as_utc=True).day == 21


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 2, 21), "2026-02-21T00:00:00+09:00"),
        (datetime(2026, 2, 21, 10, 48, 10, tzinfo=TOKYO), "2026-02-21T10:48:10+09:00"),
        (datetime(2026, 2, 21, 1, 0, tzinfo=UTC), "2026-02-21T10:00:00+09:00"),
        (
            datetime(2026, 2, 21, 10, 0, tzinfo=timezone(timedelta(hours=-8))),
            "2026-02-22T03:00:00+09:00",
        ),
        (datetime(2026, 2, 21, 10, 48, 10), "2026-02-21T19:48:10+09:00"),
    ],
)
def test_parse_date_objects(value: date, expected: str) -> None:
    result = parse_date(value, tz=TOKYO)
    assert result.isoformat() == expected
    assert result.tzinfo is TOKYO


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-02-30", "February 2026 has 28 days"),
        ("2025-02-29 10:00:00 +0900", "February 2025 has 28 days"),
        ("2026-04-31", "April 2026 has 30 days"),
        ("2026-02-00", "impossible day"),
        ("2026-13-01", "no month 13"),
        ("2026-00-10", "no month 0"),
        ("2026-02-21 24:00:00", "impossible time of day"),
        ("2026-02-21 10:60", "impossible time of day"),
        ("2026-02-21 10:48:60 +0900", "impossible time of day"),
        ("2026-02-21 10:48:10 +2400", "impossible UTC offset"),
        ("2026-02-21 10:48:10 +0975", "impossible UTC offset"),
        ("1899-12-31", "year 1899, outside 1900-2999"),
        ("3000-01-01 00:00:00 +0900", "year 3000, outside 1900-2999"),
        ("0000-01-01", "year 0, outside"),
        (date(1800, 1, 1), "year 1800"),
        (datetime(3001, 1, 1, tzinfo=UTC), "year 3001"),
        ("yesterday", "'yesterday' is not a date"),
        ("2026年2月21日", "is not a date"),
        ("21/02/2026", "is not a date"),
        ("Feb 21, 2026", "is not a date"),
        ("2026-02-21 10:48:10 +0900 extra", "is not a date"),
        ("2026-02/21", "is not a date"),
        ("20260221", "is not a date"),
        ("2026-02-21 10:48:10 Asia/Tokyo", "is not a date"),
        ("", "date is empty"),
        ("   ", "date is empty"),
        (None, "date is empty"),
        (20260221, "found a number"),
        (1.5, "found a number"),
        (True, "found true/false"),
        (["2026-02-21"], "found a list"),
        ({"y": 2026}, "found a mapping"),
        (b"2026-02-21", "found a bytes"),
    ],
)
def test_parse_date_rejections_explain_and_show_an_example(value: object, problem: str) -> None:
    with pytest.raises(DateError) as caught:
        parse_date(value, tz=TOKYO)
    error = caught.value
    assert problem in error.message
    assert error.message.startswith("date")
    assert EXAMPLE in str(error)
    assert error.code == "bad-date"


def test_date_errors_are_field_errors_of_the_post() -> None:
    with pytest.raises(DateError) as caught:
        parse_date("nope", tz=TOKYO)
    assert isinstance(caught.value, FieldError)
    assert isinstance(caught.value, FrontMatterError)
    assert isinstance(caught.value, PostRejected)


def test_date_errors_name_the_field_and_line() -> None:
    with pytest.raises(DateError) as caught:
        parse_date("2026-02-30", tz=TOKYO, field="last_modified_at", line=7)
    error = caught.value
    assert error.line == 7
    assert str(error).startswith("line 7: last_modified_at: '2026-02-30' has an impossible day")


def test_impossible_day_from_yaml_is_reported_by_the_date_parser() -> None:
    front = split_front_matter("---\ntitle: x\ndate: 2026-02-30 10:00:00 +09:00\n---\n")
    with pytest.raises(DateError, match="February 2026 has 28 days") as caught:
        parse_date(front.data["date"], tz=TOKYO, line=front.lines["date"])
    assert caught.value.line == 3


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(DateError) as caught:
        parse_date(list(range(100)), tz=TOKYO)
    assert len(caught.value.message) < 120


# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("stem", "expected_date", "slug"),
    [
        ("2026-02-11-slug", date(2026, 2, 11), "slug"),
        ("2026-02-11-aws-lambda-入門", date(2026, 2, 11), "aws-lambda-入門"),
        ("2026-2-3-short-month", date(2026, 2, 3), "short-month"),
        ("2024-02-29-leap", date(2024, 2, 29), "leap"),
        ("2026-02-11-2026-02-12", date(2026, 2, 11), "2026-02-12"),
        ("2026-02-11-a.b", date(2026, 2, 11), "a.b"),
        ("2026-02-11-日本語のタイトル", date(2026, 2, 11), "日本語のタイトル"),
    ],
)
def test_date_from_filename(stem: str, expected_date: date, slug: str) -> None:
    assert date_from_filename(stem) == (expected_date, slug)


@pytest.mark.parametrize(
    ("stem", "problem"),
    [
        ("slug", "does not start with a date"),
        ("about", "does not start with a date"),
        ("2026-02-11", "does not start with a date"),
        ("26-02-11-slug", "does not start with a date"),
        ("2026_02_11_slug", "does not start with a date"),
        ("20260211-slug", "does not start with a date"),
        ("2026-02-11-", "no title after the date"),
        ("2026-02-11---", "no title after the date"),
        ("2026-02-30-slug", "February 2026 has 28 days"),
        ("2026-13-01-slug", "no month 13"),
        ("1899-12-31-slug", "outside 1900-2999"),
    ],
)
def test_date_from_filename_rejections(stem: str, problem: str) -> None:
    with pytest.raises(DateError) as caught:
        date_from_filename(stem)
    assert problem in caught.value.message
    assert caught.value.hint is not None
    assert "2026-02-21-my-post.md" in caught.value.hint
