"""Theme overrides (theme/*.j2): loader precedence, escaping, and validation errors."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.model import Post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.errors import KeyRejected, ThemeRejected
from tsuzuri.rendering.overrides import overrides_fingerprint, validate_overrides
from tsuzuri.rendering.theme import Theme

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
SITE = SiteConfig.from_bytes(b"title: T\nurl: https://blog.example.com\n")
PACKAGED_POST = (TEMPLATES / "post.html.j2").read_text(encoding="utf-8")
CTA_POST = PACKAGED_POST.replace(
    "{{ body }}\n</div>", '{{ body }}\n</div>\n{% include "cta.html.j2" %}'
)
CTA = '<aside class="cta">{{ post.title }} の相談は<a href="/contact/">こちら</a></aside>\n'


def _post(**kw: object) -> Post:
    fields: dict[str, object] = {
        "source_key": "posts/2026-02-12-x.md",
        "slug": "x",
        "url": "/2026/02/12/x/",
        "title": "<b>題</b>",
        "date": datetime(2026, 2, 12, tzinfo=SITE.tz),
        "body_html": "<p>本文</p>",
        "excerpt": "抜粋",
        "description": "説明",
    }
    fields.update(kw)
    return Post(**fields)  # type: ignore[arg-type]


def _render(theme: Theme) -> str:
    return theme.render_post(_post(), previous=None, next=None, related=())


def test_an_override_wins_over_the_packaged_template_and_can_add_partials() -> None:
    overrides = {"post.html.j2": CTA_POST, "cta.html.j2": CTA}
    theme = validate_overrides(SITE, overrides, TEMPLATES)
    html = _render(theme)
    assert '<aside class="cta">' in html
    # The partial escapes what it prints, as the packaged theme does.
    assert "&lt;b&gt;題&lt;/b&gt; の相談は" in html
    # Templates that are not overridden still come from the package.
    assert 'class="cta"' not in theme.render_not_found()
    assert '<aside class="cta">' not in _render(Theme(SITE, TEMPLATES))


def test_an_override_of_macros_reaches_the_packaged_templates() -> None:
    macros = (TEMPLATES / "_macros.html.j2").read_text(encoding="utf-8")
    macros += '\n{% macro ad_slot() %}<div class="ad-slot"></div>{% endmacro %}\n'
    post = CTA_POST.replace('{% include "cta.html.j2" %}', "{{ m.ad_slot() }}")
    theme = validate_overrides(SITE, {"_macros.html.j2": macros, "post.html.j2": post}, TEMPLATES)
    assert '<div class="ad-slot"></div>' in _render(theme)


@pytest.mark.parametrize(
    ("overrides", "template", "line", "words"),
    [
        ({"cta.html.j2": "<aside>\n{% if %}\n</aside>"}, "theme/cta.html.j2", 2, "expected"),
        (
            {
                "post.html.j2": "{% extends 'base.html.j2' %}\n{% block content %}\n{{ post.nope }}"
                "{% endblock %}"
            },
            "theme/post.html.j2",
            3,
            "nope",
        ),
        (
            {"post.html.j2": CTA_POST, "cta.html.j2": "<p>\n\n{{ undefined_name }}</p>"},
            "theme/cta.html.j2",
            3,
            "undefined_name",
        ),
        (
            {
                "404.html.j2": "{% extends 'base.html.j2' %}\n{% block content %}{{ post.title }}"
                "{% endblock %}"
            },
            "theme/404.html.j2",
            2,
            "post",
        ),
        ({"post.html.j2": "{% include 'missing.html.j2' %}"}, "theme/post.html.j2", 1, "missing"),
    ],
)
def test_a_broken_override_is_rejected_with_template_and_line(
    overrides: dict[str, str], template: str, line: int, words: str
) -> None:
    with pytest.raises(ThemeRejected) as caught:
        validate_overrides(SITE, overrides, TEMPLATES)
    error = caught.value
    assert error.code == "bad-theme"
    assert error.message.startswith(template + ":")
    assert error.line == line
    assert words in error.message.lower()
    assert error.hint


def test_an_override_that_breaks_a_packaged_template_names_that_template() -> None:
    with pytest.raises(ThemeRejected) as caught:
        validate_overrides(SITE, {"_macros.html.j2": "{% macro unrelated() %}{% endmacro %}"},
                           TEMPLATES)  # fmt: skip
    assert "rendering a sample" in caught.value.message
    assert caught.value.line is not None


@pytest.mark.parametrize(
    "source",
    [
        "{{ post.title|safe }}",
        "{% filter safe %}{{ post.title }}{% endfilter %}",
        "x\n{% autoescape false %}{{ post.title }}{% endautoescape %}",
    ],
)
def test_an_override_cannot_mark_values_safe(source: str) -> None:
    with pytest.raises(ThemeRejected) as caught:
        validate_overrides(SITE, {"cta.html.j2": source}, TEMPLATES)
    assert caught.value.line in (1, 2)


def test_new_templates_must_be_escaped_kinds_and_keys_are_checked() -> None:
    with pytest.raises(ThemeRejected):
        validate_overrides(SITE, {"cta.txt.j2": "{{ site.title }}"}, TEMPLATES)
    assert classify_key("theme/post.html.j2").kind == "theme"
    assert classify_key("theme/cta.html.j2").slug == "cta.html.j2"
    for bad in ("theme/sub/post.html.j2", "theme/post.html", "theme/.x.html.j2", "theme/a.css"):
        with pytest.raises(KeyRejected):
            classify_key(bad)


def test_fingerprint_tells_override_sets_apart() -> None:
    assert overrides_fingerprint({}) and overrides_fingerprint({}) == overrides_fingerprint({})
    assert overrides_fingerprint({"a.html.j2": "x"}) != overrides_fingerprint({"a.html.j2": "y"})
    assert overrides_fingerprint({"a.html.j2": "x"}) != overrides_fingerprint({})


def test_rebuild_requests_carry_the_theme_fingerprint() -> None:
    from tsuzuri.publishing.rebuild import RebuildRequest

    request = RebuildRequest(lists=True, config="c", theme="t")
    assert RebuildRequest.from_message(json.loads(request.message())) == request
    assert "theme" not in json.loads(RebuildRequest(lists=True).message())


def test_tsuzuri_dev_mirrors_theme_templates(tmp_path: Path) -> None:
    from tsuzuri_local.devstack.mirror import content_files

    (tmp_path / "theme").mkdir()
    (tmp_path / "theme" / "cta.html.j2").write_text("x", encoding="utf-8")
    (tmp_path / "theme" / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "theme" / ".swap.html.j2").write_text("x", encoding="utf-8")
    assert [key for _, key in content_files(tmp_path)] == ["theme/cta.html.j2"]
