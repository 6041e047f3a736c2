"""Tag and category slugs: distinct names keep distinct pages, existing URLs stay put."""

from __future__ import annotations

from pathlib import Path

import pytest
from tsuzuri.domain.frontmatter import decode_source, split_front_matter
from tsuzuri.domain.keys import classify_key
from tsuzuri.domain.model import Post, Term
from tsuzuri.domain.post import adopt_known_names, parse_post
from tsuzuri.domain.site_config import SiteConfig
from tsuzuri.domain.slugs import looks_like_path, term_slug
from tsuzuri.errors import FieldError

ROOT = Path(__file__).resolve().parents[2]
SITE = SiteConfig(url="https://blog.example.com", title="t")


def post(front: str, site: SiteConfig = SITE) -> Post:
    raw = f"---\ntitle: a\n{front}\n---\n本文\n".encode()
    return parse_post(classify_key("posts/2026-02-11-x.md"), raw, site)


# --------------------------------------------------------------------------- symbols


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("C++", "c-plus-plus"),
        ("C#", "c-sharp"),
        ("C", "c"),
        ("F#", "f-sharp"),
        ("C♯", "c-sharp"),  # the music sharp sign, as some write it
        ("Ｃ＋＋", "c-plus-plus"),  # full width: NFKC first
        ("Google+", "google-plus"),
        (".NET", "dot-net"),
        (".NET Core", "dot-net-core"),
        (".env", "dot-env"),
        ("C/C++", "c-c-plus-plus"),
        ("C# と C++", "c-sharp-と-c-plus-plus"),
    ],
)
def test_meaningful_symbols_are_spelled_out(name: str, slug: str) -> None:
    assert term_slug(name) == slug


def test_c_cpp_and_csharp_get_three_pages() -> None:
    tags = post("tags: [C++, C#, C]").tags
    assert [(t.name, t.slug) for t in tags] == [
        ("C++", "c-plus-plus"),
        ("C#", "c-sharp"),
        ("C", "c"),
    ]
    assert len({t.url for t in tags}) == 3


# Names whose URL existed before symbols were spelled out: these must not move. Only a
# +, # or ♯ ending a word and a . starting one changed.
UNCHANGED = {
    "AWS": "aws",
    "AWS Lambda": "aws-lambda",
    "Node.js": "node-js",
    "Vue.js": "vue-js",
    "ASP.NET": "asp-net",
    "CI/CD": "ci-cd",
    "a+b": "a-b",
    "Q&A": "q-a",
    "v1.2.3": "v1-2-3",
    "100%": "100",
    "what?!": "what",
    "#100DaysOfCode": "100daysofcode",  # a leading # is a hashtag, not a sharp
    "生成AI": "生成ai",
    "東京/大阪": "東京-大阪",
    "ビッグ・データ": "ビッグ-データ",
    "Ｐｙｔｈｏｎ\u3000３": "python-3",
    "AI✨": "ai",
    "snake_case_name": "snake_case_name",
}


@pytest.mark.parametrize(("name", "slug"), UNCHANGED.items())
def test_names_without_meaningful_symbols_keep_their_slug(name: str, slug: str) -> None:
    assert term_slug(name) == slug


# Every tag and category of examples/posts with the slug it had before this change
# (and has now). A new example term belongs here with the slug it is published under.
EXAMPLE_SLUGS = {
    "AI": "ai",
    "AI最新ニュース": "ai最新ニュース",
    "AI活用": "ai活用",
    "AWS": "aws",
    "Claude": "claude",
    "DevOps": "devops",
    "Docker": "docker",
    "LLM": "llm",
    "Lambda": "lambda",
    "Python": "python",
    "RAG": "rag",
    "Security": "security",
    "Serverless": "serverless",
    "Terraform": "terraform",
    "TypeScript": "typescript",
    "お知らせ": "お知らせ",
    "イベント": "イベント",
    "クラウド": "クラウド",
    "プログラミング": "プログラミング",
    "勉強会": "勉強会",
    "生成AI": "生成ai",
}


def example_terms() -> set[str]:
    names: set[str] = set()
    for path in sorted((ROOT / "examples" / "posts").glob("*.md")):
        data = split_front_matter(decode_source(path.read_bytes())).data
        for key in ("tags", "tag", "categories", "category"):
            value = data.get(key)
            if value is None:
                continue
            items = value.split() if isinstance(value, str) else value
            names.update(str(item).strip() for item in items)
    return names


def test_the_example_sites_terms_keep_their_slugs() -> None:
    names = example_terms()
    assert names, "the examples have tags"
    assert names <= EXAMPLE_SLUGS.keys(), (
        f"add these to EXAMPLE_SLUGS: {names - EXAMPLE_SLUGS.keys()}"
    )
    assert {name: term_slug(name) for name in names} == {n: EXAMPLE_SLUGS[n] for n in names}


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "name", ["../../etc", "../etc", "./etc", "a/../b", "..", "etc/..", "..\\etc"]
)
def test_a_path_is_not_a_tag(name: str) -> None:
    assert looks_like_path(name)
    with pytest.raises(FieldError, match="looks like a file path") as caught:
        post(f"tags: [{name!r}]")
    assert caught.value.line == 3


@pytest.mark.parametrize("name", ["CI/CD", "Node.js", "a..b", "...more", "TCP/IP"])
def test_slashes_and_dots_inside_a_name_are_not_a_path(name: str) -> None:
    assert not looks_like_path(name)


# --------------------------------------------------------------------------- case and display names


def test_case_only_variants_in_one_post_are_one_tag_named_as_first_written() -> None:
    result = post("tags: [AWS, aws, ＡＷＳ]")
    assert [(t.name, t.slug) for t in result.tags] == [("AWS", "aws")]
    notes = [(n.written, n.name, n.reason) for n in result.term_notes]
    assert notes == [("aws", "AWS", "case"), ("ＡＷＳ", "AWS", "case")]
    assert "'aws' is published as 'AWS' at /tags/aws/" in result.term_notes[0].message


def test_other_spellings_with_one_url_are_noted() -> None:
    result = post("tags: [Node.js, node js]")
    assert [t.name for t in result.tags] == ["Node.js"]
    assert [(n.written, n.reason) for n in result.term_notes] == [("node js", "same-url")]


def test_a_plain_post_has_no_notes() -> None:
    assert post("tags: [AWS, Python]").term_notes == ()


def test_the_config_name_is_the_display_name_for_every_case() -> None:
    site = SiteConfig(
        url="https://blog.example.com",
        title="t",
        tag_slugs={"AWS": "aws", "生成AI": "generative-ai"},
    )
    result = post("tags: [aws, 生成ai, 生成AI]", site)
    assert [(t.name, t.slug) for t in result.tags] == [("AWS", "aws"), ("生成AI", "generative-ai")]
    assert [(n.written, n.name, n.reason) for n in result.term_notes] == [
        ("aws", "AWS", "config"),
        ("生成ai", "生成AI", "config"),
    ]
    assert "tag_slugs" in result.term_notes[0].message


def test_a_config_slug_separates_names_the_rule_would_merge() -> None:
    site = SiteConfig(url="https://blog.example.com", title="t", tag_slugs={"C--": "c-minus-minus"})
    assert [t.slug for t in post("tags: [C--, C]", site).tags] == ["c-minus-minus", "c"]


def test_the_sites_existing_name_wins_over_a_new_spelling() -> None:
    # The tag `aws` has 20 posts; a post tagged AWS joins it instead of renaming it.
    result = adopt_known_names(post("tags: [AWS, Python]"), {"tag/aws": "aws"})
    assert [(t.name, t.slug) for t in result.tags] == [("aws", "aws"), ("Python", "python")]
    assert [(n.written, n.name, n.reason) for n in result.term_notes] == [("AWS", "aws", "case")]
    assert result.summary().tags == ("aws", "Python")


def test_known_names_that_match_change_nothing() -> None:
    original = post("tags: [AWS]")
    assert adopt_known_names(original, {"tag/aws": "AWS", "tag/python": "Python"}) is original


def test_term_is_unchanged() -> None:
    # Term's fields are read by the store, the theme and the lists: only names may change.
    assert Term("tag", "C++", "c-plus-plus").url == "/tags/c-plus-plus/"
