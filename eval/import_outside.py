"""Convert the questions written outside the project (../shared/data/eval/questions_2025.jsonl)
into the evaluation's format, as part of the development split: eval/dev_outside.jsonl.

    python eval/import_outside.py            # rewrites eval/dev_outside.jsonl

`gold_links` become `gold_urls`; `dedupe` (the same story in several feeds) is a `fact`; the
pattern is `outside_<kind>`, with `outside_source` where the question carries a `feed_hint`.
The questions were asked without a date: no `now` (latest = the newest in the corpus).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent / "shared" / "data" / "eval" / "questions_2025.jsonl"
TARGET = HERE / "dev_outside.jsonl"


def convert(obj: dict[str, object]) -> dict[str, object]:
    kind = str(obj["kind"])
    pattern = f"outside_{kind}"
    if obj.get("feed_hint") and kind == "fact":
        pattern = "outside_source"
    return {
        "id": f"out-{obj['id']}",
        "question": obj["question"],
        "kind": "fact" if kind == "dedupe" else kind,
        "gold_urls": obj.get("gold_links") or [],
        "answer_terms": obj.get("answer_terms") or [],
        "pattern": pattern,
    }


def main() -> None:
    lines = [json.loads(x) for x in SOURCE.read_text(encoding="utf-8").splitlines() if x.strip()]
    out = [json.dumps(convert(o), ensure_ascii=False) for o in lines]
    TARGET.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{len(out)} questions -> {TARGET}")


if __name__ == "__main__":
    main()
