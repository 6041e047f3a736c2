"""One tag, one name: spellings that differ in case or width join the tag the site
already shows, and symbols keep tags apart (``C++``, ``C#`` and ``C``)."""

from __future__ import annotations

from tests.support.site import Site, post_text


def test_a_case_variant_joins_the_tag_under_its_first_name(site: Site) -> None:
    site.publish("posts/2026-03-01-first.md", post_text("一つ目", tags="[aws]"))
    site.publish("posts/2026-03-02-second.md", post_text("二つ目", tags="[AWS]"))

    report = site.report("posts/2026-03-02-second.md")
    assert report["status"] == "published"
    assert any("'AWS'" in note and "aws" in note for note in report["notes"]), report
    assert "notes" not in site.report("posts/2026-03-01-first.md")
    assert len(site.tag_posts("/tags/aws/index.json")) == 2
    assert site.json("/tags/aws/index.json")["name"] == "aws", "the tag was renamed"
    names = [t["name"] for t in site.json("/tags/index.json")["tags"]]
    assert names.count("aws") == 1 and "AWS" not in names


def test_symbols_keep_tags_apart(site: Site) -> None:
    site.publish("posts/2026-03-03-cpp.md", post_text("C++", tags='["C++"]'))
    site.publish("posts/2026-03-04-cs.md", post_text("C#", tags='["C#"]'))
    site.publish("posts/2026-03-05-c.md", post_text("C", tags="[C]"))
    for url in ("/tags/c-plus-plus/", "/tags/c-sharp/", "/tags/c/"):
        assert len(site.tag_posts(f"{url}index.json")) == 1, url
