"""The Liquid subset resolved in posts and pages; the rest is left as text and noted."""

from __future__ import annotations

import pytest
from tsuzuri.domain.liquid import filename_post_url, render_liquid
from tsuzuri.domain.site_config import SiteConfig

SITE = SiteConfig(title="つづり", description="ノート", url="https://blog.example.com")


@pytest.mark.parametrize(
    ("source", "out"),
    [
        ("{{ site.title }}", "つづり"),
        ("{{site.description}}", "ノート"),
        ("{{ site.url }}/feed.xml", "https://blog.example.com/feed.xml"),
        ("[x]({{ site.baseurl }}/about/)", "[x](/about/)"),
        ('![d]({{ "/assets/d.png" | relative_url }})', "![d](/assets/d.png)"),
        ("{{ 'assets/d.png' | relative_url }}", "/assets/d.png"),
        ('{{ "/about/" | absolute_url }}', "https://blog.example.com/about/"),
        ("[前回]({% post_url 2026-01-10-hello %})", "[前回](/2026/01/10/hello/)"),
        ("{%- post_url 2025-11-03-生成AIの基礎 -%}", "/2025/11/03/生成AIの基礎/"),
        ("{% post_url 2024/2024-12-30-Mixed Case %}", "{% post_url 2024/2024-12-30-Mixed Case %}"),
        ("{% post_url 2024/2024-12-30-nested %}", "/2024/12/30/nested/"),
        ("{% raw %}{{ vue }} {% if %}{% endraw %}", "{{ vue }} {% if %}"),
        ("a{% comment %}{% include x.html %}{% endcomment %}b", "ab"),
        ("{% highlight ruby linenos %}\nputs 1\n{% endhighlight %}", "```ruby\nputs 1\n```"),
    ],
)
def test_supported_forms_are_resolved(source: str, out: str) -> None:
    result = render_liquid(source, SITE)
    assert result.text == out


def test_other_liquid_is_left_as_text_and_noted_with_its_line() -> None:
    body = "intro\n\n{% include cta.html %}\n\n{{ page.title | upcase }} and {{ site.title }}\n"
    result = render_liquid(body, SITE, first_line=5)
    assert result.text == body.replace("{{ site.title }}", "つづり")
    assert [(n.line, n.text) for n in result.unsupported] == [
        (7, "{% include cta.html %}"),
        (9, "{{ page.title | upcase }}"),
    ]
    assert result.warning is not None
    assert "{% include cta.html %} (line 7)" in result.warning
    assert "shown as text" in result.warning


def test_text_without_liquid_is_untouched() -> None:
    result = render_liquid("plain {not liquid} %} }}", SITE)
    assert (result.text, result.resolved, result.unsupported, result.warning) == (
        "plain {not liquid} %} }}", 0, (), None
    )  # fmt: skip


def test_post_url_follows_the_site_permalink_and_base_path() -> None:
    site = SiteConfig(permalink="date", url="https://example.com/blog/")
    assert render_liquid("{% post_url 2026-01-10-hello %}", site).text == (
        "/blog/2026/01/10/hello.html"
    )
    assert render_liquid("{{ site.baseurl }}", site).text == "/blog"
    assert filename_post_url("not-a-post", site) is None
    assert filename_post_url("2026-13-40-bad-day", site) is None


def test_a_nul_in_the_text_cannot_forge_a_kept_block() -> None:
    result = render_liquid("\x000\x00{% raw %}x{% endraw %}", SITE)
    assert result.text == "0x"


def test_a_post_links_to_another_with_post_url() -> None:
    from tsuzuri.domain.keys import classify_key
    from tsuzuri.domain.post import parse_post

    raw = (
        "---\ntitle: t\ndate: 2026-02-11 20:59:09 +0000\n---\n"
        "[前回]({% post_url 2026-01-10-hello %}) {{ site.title }} {% include x.html %}\n"
    ).encode()
    post = parse_post(classify_key("_posts/2026-02-11-t.md"), raw, SiteConfig(title="綴"))
    assert 'href="/2026/01/10/hello/"' in post.body_html
    assert "綴" in post.body_html
    assert "{% include x.html %}" in post.body_html
