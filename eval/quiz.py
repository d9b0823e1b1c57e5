"""The news-quiz questions of RealTimeQA (../shared/data/realtimeqa) as part of the development
corpus: their evidence snippets become one RSS feed beside the shared feeds, and the questions a
question file, so quiz-style questions (a long description of an event, no lab names) are asked
over the whole corpus as users would ask them, not over a corpus of their own snippets.

    python eval/quiz.py        # writes eval/data/quiz/ (feed, feeds file, questions)
    NEWSBOT_DATA_DIR=eval/data NEWSBOT_FEEDS=eval/data/quiz/feeds.toml newsbot ingest
    NEWSBOT_DATA_DIR=eval/data newsbot eval eval/data/quiz/dev_quiz.jsonl

Generated, not committed (the quiz text is third-party data without a licence file): every
snippet is an item (title = its first words, link = the quiz page with the question id as a
query, so one quiz week's questions stay distinct articles, date = the quiz date). Each question
is asked at noon of its quiz date; with evidence its gold is its own snippet and its answer the
right choice; without evidence it is unanswerable (the corpus has nothing from the quiz on it).
"""

from __future__ import annotations

import json
import re
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from eval.evaluate import TITLE_WORDS, load_rtqa

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent / "shared" / "data" / "realtimeqa" / "ai_subset.jsonl"
OUT = HERE / "data" / "quiz"


def item_link(url: str, qid: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}quiz={qid}"


def main() -> None:
    questions = load_rtqa(SOURCE)
    OUT.mkdir(parents=True, exist_ok=True)
    items, lines = [], []
    for q in questions:
        link = item_link(q.url, q.id)
        if q.evidence:
            words = q.evidence.split()
            title = " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")
            items.append(
                f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
                f"<guid>{escape(q.id)}</guid><pubDate>{format_datetime(q.date)}</pubDate>"
                f"<description>{escape(q.evidence)}</description></item>"
            )
        lines.append(json.dumps({
            "id": f"quiz-{q.id}", "question": q.question,
            "kind": "fact" if q.evidence else "unanswerable",
            "gold_urls": [link] if q.evidence else [],
            "answer_terms": [q.choices[q.answer]] if q.evidence else [],
            "now": q.date.date().isoformat(), "pattern": "quiz",
        }, ensure_ascii=False))  # fmt: skip
    feed = OUT / "realtimeqa.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>News quiz (RealTimeQA evidence)</title><link>https://realtimeqa.invalid/</link>"
        + "".join(items) + "</channel></rss>\n", encoding="utf-8")  # fmt: skip
    (OUT / "dev_quiz.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = (HERE / "feeds.toml").read_text(encoding="utf-8")
    absolute = re.sub(
        r'url = "(?!\w+://)([^"]+)"', lambda m: f'url = "{(HERE / m.group(1)).resolve()}"', base
    )
    (OUT / "feeds.toml").write_text(
        absolute + f'\n[[feeds]]\nname = "News quiz"\nurl = "{feed}"\ntags = ["news"]\n',
        encoding="utf-8",
    )
    print(f"{len(items)} quiz articles, {len(lines)} questions -> {OUT}")


if __name__ == "__main__":
    main()
