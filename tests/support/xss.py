"""The XSS vectors of tests/xss/, and posts that put them in every field a page shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from markdown_it.utils import read_fixture_file

XSS = Path(__file__).resolve().parents[1] / "xss"


def owasp_vectors() -> list[str]:
    lines = (XSS / "owasp_vectors.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def markdown_it_cases() -> list[str]:
    """The Markdown source of each case of markdown-it's own XSS fixture."""
    return [source for _, _, source, _ in read_fixture_file(XSS / "markdown-it-xss.txt")]


# Short vectors for front matter fields: each aims at one escaping context of the theme
# (element text, attribute value, URL attribute, JSON-LD script, Atom XML).
FIELD_VECTORS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "</script><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    '" onmouseover="alert(1)" x="',
    "javascript:alert(1)",
    "]]><script>alert(1)</script><![CDATA[",
    "<!--<script>alert(1)//-->",
    "&lt;script&gt;alert(1)&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62;",
]
# URLs that front matter accepts (http(s) or a site path) but that try to break out.
URL_VECTORS = [
    'https://img.example/x.png"onerror="alert(1)',
    'https://img.example/"><script>alert(1)</script>',
    "https://img.example/'><svg/onload=alert(1)>",
    '/x.png"onload="alert(1)',
]
LINK_BODIES = [
    "[a](javascript:alert(1))",
    "[b](JaVaScRiPt:alert(1))",
    "[c](vbscript:msgbox(1))",
    "[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[e](&#106;avascript:alert(1))",
    "[f](java&#x09;script:alert(1))",
    "[g](&#x6A;&#x61;vascript:alert(1))",
    "[h](%6Aavascript:alert(1))",
    "[i](java%0ascript:alert(1))",
    "[j](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "[k][r]\n\n[r]: javascript:alert(1)",
    "![l](javascript:alert(1))",
    "![m](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+)",
    '[n](https://ok.example/ "title\\" onmouseover=\\"alert(1)")',
    "[o](javascript&colon;alert(1))",
]
IAL_BODIES = [
    'para\n{: onclick="alert(1)"}',
    'para\n{: style="background:url(javascript:alert(1))"}',
    '[link](/ok/){: href="javascript:alert(1)"}',
    '[link](/ok/){: onmouseover="alert(1)" title="t"}',
    "# head {: onclick=alert(1)}",
    '## head {: #x" onclick="alert(1)}',
    'para\n{: id="x\\" onclick=\\"alert(1)"}',
    'para\n{: class="a\\" onfocus=alert(1) autofocus x=\\""}',
    '![img](/x.png){: onerror="alert(1)" src="javascript:alert(1)"}',
    '```python\nprint(1)\n```\n{: onclick="alert(1)" data-x="y"}',
    '| a |\n|---|\n| b |\n{: style="x:expression(alert(1))" onmouseover="alert(1)"}',
]
FOOTNOTE_BODIES = [
    "text[^1]\n\n[^1]: <img src=x onerror=alert(1)> [x](javascript:alert(1))",
    'text[^"><img src=x onerror=alert(1)>]\n\n[^"><img src=x onerror=alert(1)>]: note',
    "text[^a]\n\n[^a]: <script>alert(1)</script>",
]


@dataclass(frozen=True)
class VectorPost:
    key: str
    text: str
    where: str  # the placement, for messages


def _post(n: int, where: str, front: dict[str, object], body: str) -> VectorPost:
    day = 1 + n % 28
    month = 1 + (n // 28) % 9
    lines = ["---"] + [f"{k}: {json.dumps(v, ensure_ascii=True)}" for k, v in front.items()]
    lines += ["tags: " + json.dumps(front.get("tags", ["xss"]))] if "tags" not in front else []
    text = "\n".join([*lines, "---", "", body, ""])
    return VectorPost(f"posts/2026-{month:02d}-{day:02d}-xss-{n:03d}.md", text, where)


def vector_posts() -> list[VectorPost]:
    """One post per vector and placement."""
    posts: list[VectorPost] = []

    def add(where: str, front: dict[str, object], body: str = "本文。") -> None:
        front = {"title": f"XSS {len(posts)}", **front}
        posts.append(_post(len(posts), where, front, body))

    for vector in owasp_vectors():
        add("body (OWASP)", {}, vector)
    for source in markdown_it_cases():
        add("body (markdown-it xss fixture)", {}, source)
    for body in LINK_BODIES:
        add("link URL", {}, body)
    for body in IAL_BODIES:
        add("IAL attributes", {}, body)
    for body in FOOTNOTE_BODIES:
        add("footnote", {}, body)
    for vector in FIELD_VECTORS:
        add("title", {"title": vector})
        add("tags", {"tags": [vector, "xss"]})
        add("categories", {"categories": [vector]})
        add("excerpt", {"excerpt": vector})
        add("description", {"description": vector})
        add("author", {"author": vector})
        add("author.name", {"author": {"name": vector}})
        add("robots", {"robots": vector})
        add("heading", {}, f"## {vector}\n\n### a\n\n### b")  # and the table of contents
        add("first paragraph (excerpt)", {}, vector.replace("<", "&lt;"))
    for url in URL_VECTORS:
        add("image", {"image": url})
        add("image.path", {"image": {"path": url}})
        add("canonical_url", {"canonical_url": url})
    add("permalink", {"permalink": '/x"><svg onload=alert(1)>/'})
    add("permalink", {"permalink": "/x'onmouseover='alert(1)'/"})
    add("JSON-LD breakout", {"title": "</script><script>alert(1)</script>",
                             "description": "</script><!--<script>alert(1)</script>"})  # fmt: skip
    return posts


def smoke_posts() -> list[VectorPost]:
    """The first post of each placement, plus a few OWASP bodies: the fast browser run."""
    seen: set[str] = set()
    chosen = []
    for post in vector_posts():
        extra = post.where == "body (OWASP)" and any(m in post.text for m in _SMOKE_EXTRA)
        if post.where not in seen or extra:
            seen.add(post.where)
            chosen.append(post)
    return chosen


# OWASP bodies worth a browser in every run: polyglot, entity-encoded src, meta refresh,
# mutation XSS through math/style, noscript title breakout.
_SMOKE_EXTRA = (
    "<IMG SRC=&#106;",
    'HTTP-EQUIV="refresh" CONTENT="0;url=javascript',
    "<math><mtext>",
    "<noscript><p title=",
    "<svg/onload=alert('XSS')>",
)
