"""Seeded generator of a blog shaped like the target: mostly Japanese posts with English
terms, H2/H3 structure, GFM tables, lists, links and kramdown IAL lines, about 240 tags
with a Zipf-like skew, 6 categories, dates in +0000 and +0900. No copied text.

    .venv/bin/python benchmarks/corpus.py OUT_DIR --posts 2500 [--seed 7] [--median-kb 40]

Writes OUT_DIR/_config.yml and OUT_DIR/_posts/*.md.
"""

from __future__ import annotations

import argparse
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

CATEGORIES = ["AI最新ニュース", "クラウド", "プログラミング", "AI活用", "イベント", "お知らせ"]
CATEGORY_SLUGS = ["latest", "cloud", "programming", "ai", "events", "news"]
TERMS = [
    "Lambda",
    "S3",
    "DynamoDB",
    "CloudFront",
    "Python",
    "TypeScript",
    "RAG",
    "LLM",
    "Claude",
    "Bedrock",
    "Kubernetes",
    "Terraform",
    "GitHub Actions",
    "OIDC",
    "API",
    "SQS",
    "EventBridge",
    "Jinja2",
    "Markdown",
    "CI/CD",
    "Docker",
    "VPC",
    "IAM",
]
SUBJECTS = [
    "生成AI",
    "クラウド設計",
    "サーバーレス",
    "データ基盤",
    "社内導入",
    "コスト最適化",
    "セキュリティ",
    "運用自動化",
    "検索精度",
    "開発体験",
    "チーム運営",
    "品質管理",
]
VERBS = [
    "を見直しました",
    "を比較しました",
    "を検証しました",
    "を導入しました",
    "の勘所をまとめます",
    "で詰まった点を共有します",
    "を段階的に進めました",
]
ASPECTS = ["手順", "注意点", "結果"]
CLAUSES = [
    "まず前提として",
    "結論から言うと",
    "実際の現場では",
    "今回のケースでは",
    "注意したいのは",
    "意外なことに",
    "経験上",
    "チームで議論した結果",
    "数字で見ると",
    "一方で",
]
FILLERS = [
    "設定値を一つずつ確認しながら進めることが大切です",
    "小さく試して計測してから広げるのが安全です",
    "ログとメトリクスを最初から用意しておくと後が楽になります",
    "ドキュメントに判断の理由を残しておくと引き継ぎが円滑です",
    "想定外の入力に対しても落ちない作りを意識しました",
    "コストと速度のバランスを取るのが一番難しいところでした",
    "利用者の声を聞きながら優先順位を調整しています",
]


def zipf_tags(count: int) -> list[tuple[str, float]]:
    """240 tags; the top tag lands on about half the posts."""
    names = ["AI", "生成AI", "AWS", "Python", "Claude", "LLM", "RAG", "サーバーレス"]
    names += [f"tag-{i:03d}" if i % 3 else f"トピック{i:03d}" for i in range(len(names), count)]
    return [(name, 0.5 / (rank + 1) ** 0.9) for rank, name in enumerate(names)]


def sentence(rng: random.Random) -> str:
    term = rng.choice(TERMS)
    return (
        f"{rng.choice(CLAUSES)}、{term} と{rng.choice(SUBJECTS)}{rng.choice(VERBS)}。"
        f"{rng.choice(FILLERS)}。"
    )


def paragraph(rng: random.Random) -> str:
    return "".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def table(rng: random.Random) -> str:
    rows = ["| 項目 | Before | After | 備考 |", "|---|---:|---:|---|"]
    for _ in range(rng.randint(3, 8)):
        rows.append(
            f"| {rng.choice(TERMS)} | {rng.randint(1, 999)} ms | {rng.randint(1, 999)} ms "
            f"| {rng.choice(SUBJECTS)} |"
        )
    return "\n".join(rows)


def body(rng: random.Random, target_bytes: int) -> str:
    parts = [paragraph(rng)]
    section = 0
    while len("\n\n".join(parts).encode()) < target_bytes:
        section += 1
        parts.append(f"## {section}. {rng.choice(SUBJECTS)}と {rng.choice(TERMS)}")
        for sub in range(rng.randint(1, 3)):
            parts.append(f"### {section}.{sub + 1} {rng.choice(SUBJECTS)}の{rng.choice(ASPECTS)}")
            parts.append(paragraph(rng))
            roll = rng.random()
            if roll < 0.3:
                parts.append(table(rng))
            elif roll < 0.5:
                parts.append(
                    "\n".join(f"- **{rng.choice(TERMS)}**: {sentence(rng)}" for _ in range(4))
                )
            elif roll < 0.6:
                parts.append(
                    f"```python\nimport json\nprint(json.dumps({{'section': {section}}}))\n```"
                )
    if rng.random() < 0.2:
        parts.append("[無料相談はこちら](https://example.com/contact)\n{: .consulting-cta-link}")
    return "\n\n".join(parts) + "\n"


def generate(out: Path, posts: int, seed: int = 7, median_kb: float = 40) -> list[Path]:
    rng = random.Random(seed)
    tags = zipf_tags(240)
    (out / "_posts").mkdir(parents=True, exist_ok=True)
    slugs = "\n".join(f"  {n}: {s}" for n, s in zip(CATEGORIES, CATEGORY_SLUGS, strict=True))
    (out / "_config.yml").write_text(
        f"title: ベンチマークブログ\nurl: https://bench.example.com\ntimezone: Asia/Tokyo\n"
        f"paginate: 10\ncategory_slugs:\n{slugs}\n",
        encoding="utf-8",
    )
    start = datetime(2019, 1, 1, tzinfo=UTC)
    written = []
    for number in range(posts):
        when = start + timedelta(minutes=rng.randint(0, 60 * 24 * 365 * 7))
        chosen = sorted(
            {name for name, p in tags if rng.random() < p} or {tags[8 + number % 200][0]}
        )
        while len(chosen) < 3:
            chosen = sorted(set(chosen) | {rng.choice(tags[8:])[0]})
        chosen = chosen[:8]
        size = min(135_000, int(rng.lognormvariate(math.log(median_kb * 1024), 0.5)))
        offset = "+0900" if rng.random() < 0.3 else "+0000"
        # The wall-clock time in the post's own offset, as editors write it.
        wall = when + (timedelta(hours=9) if offset == "+0900" else timedelta())
        date_text = wall.strftime("%Y-%m-%d %H:%M:%S")
        name = f"{wall:%Y-%m-%d}-post-{number:05d}.md"
        tag_list = ", ".join(f'"{t}"' for t in chosen)
        text = (
            f"---\nlayout: post\n"
            f'title: "{rng.choice(SUBJECTS)}と{rng.choice(TERMS)} その{number}"\n'
            f"date: {date_text} {offset}\ncategories: [{rng.choice(CATEGORIES)}]\n"
            f'tags: [{tag_list}]\nauthor: 綴 太郎\ndescription: "{rng.choice(FILLERS)}"\n'
            f"image: /assets/images/post-{number % 20}.png\n---\n\n{body(rng, size)}"
        )
        path = out / "_posts" / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--posts", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--median-kb", type=float, default=40)
    args = parser.parse_args()
    files = generate(args.out, args.posts, args.seed, args.median_kb)
    sizes = sorted(p.stat().st_size for p in files)
    print(
        f"{len(files)} posts, median {sizes[len(sizes) // 2] / 1024:.1f} KB, "
        f"largest {sizes[-1] / 1024:.1f} KB, total {sum(sizes) / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
