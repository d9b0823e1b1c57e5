"""SQuAD 2.0 dev (and the SQuAD 1.1 dev articles it lacks) as JSON Lines, read from the SQuAD
explorer's HTML pages (rajpurkar/SQuAD-explorer, branch gh-pages, explore/v2.0/dev/*.html and
explore/1.1/dev/*.html): the dataset's JSON files are not reachable here, its per-article pages
are. One object per question: question, context, answers ([] = unanswerable), title, id.
SQuAD is CC BY-SA 4.0 (Rajpurkar et al. 2016, 2018); nothing of it is committed.

    python train/squad_pages.py PAGES_DIR OUT.jsonl [--skip-titles-of OTHER.jsonl]
"""

from __future__ import annotations

import argparse
import json
from html.parser import HTMLParser
from pathlib import Path


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.paragraphs: list[dict] = []
        self.mode: str | None = None
        self.buf: list[str] = []
        self.qa: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "h1" and a.get("id") == "title":
            self.mode, self.buf = "title", []
        elif tag == "pre":
            self.mode, self.buf = "pre", []
        elif tag == "div" and "qa-wrap" in cls:
            self.qa = {"id": a.get("data-id"), "question": "", "answers": []}
            self.paragraphs[-1]["qas"].append(self.qa)
        elif tag == "strong" and "question" in cls:
            self.mode, self.buf = "q", []
        elif tag == "span" and cls == ["answer"]:
            self.mode, self.buf = "a", []

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self.buf)
        if self.mode == "title" and tag == "h1":
            self.title, self.mode = text, None
        elif self.mode == "pre" and tag == "pre":
            self.paragraphs.append({"context": text, "qas": []})
            self.mode = None
        elif self.mode == "q" and tag == "strong" and self.qa is not None:
            self.qa["question"], self.mode = text, None
        elif self.mode == "a" and tag == "span" and self.qa is not None:
            self.qa["answers"].append(text)
            self.mode = None

    def handle_data(self, data: str) -> None:
        if self.mode:
            self.buf.append(data)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pages", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--skip-titles-of", type=Path)
    args = ap.parse_args()
    skip = set()
    if args.skip_titles_of:
        skip = {json.loads(line)["title"] for line in args.skip_titles_of.open()}
    n = 0
    with args.out.open("w", encoding="utf-8") as out:
        for page in sorted(args.pages.glob("*.html")):
            if page.name == "index.html":
                continue
            p = _Page()
            p.feed(page.read_text(encoding="utf-8"))
            if p.title in skip:
                continue
            for para in p.paragraphs:
                for qa in para["qas"]:
                    rec = {"question": qa["question"], "context": para["context"],
                           "answers": qa["answers"], "title": p.title, "id": qa["id"]}  # fmt: skip
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
    print(n, "questions")


if __name__ == "__main__":
    main()
