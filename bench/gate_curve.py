"""The gate's trade-off as a curve: answerable questions declined against unanswerable ones
declined, for values of one gate constant, on a question split, in one process (the model and
the corpus loaded once).

    NEWSBOT_DATA_DIR=eval/data python bench/gate_curve.py NAME_WAIVER 0.45 0.5 0.55 0.6 \
        --questions eval/dev.jsonl eval/dev_outside.jsonl

`relevance_threshold` (the similarity a passage needs, a setting) is a knob too:

    NEWSBOT_DATA_DIR=eval/data python bench/gate_curve.py relevance_threshold 0.3 0.35 0.4 ...

Choose a value on the development files; report the curve of the held-out ones (never tune on
them). Prints one row per value: answerable declined, unanswerable declined, answer-term rate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.answer import gate
from bot.config import load_answer_settings
from bot.engine import Engine
from eval.evaluate import evaluate_question, load_questions, warm_up


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "constant", help="a constant of bot/answer/gate.py (NAME_WAIVER) or relevance_threshold"
    )
    ap.add_argument("values", nargs="+", type=float)
    ap.add_argument("--questions", nargs="+", type=Path, required=True)
    args = ap.parse_args()
    setting = args.constant == "relevance_threshold"
    if not setting and not hasattr(gate, args.constant):
        raise SystemExit(f"bot/answer/gate.py has no constant {args.constant}")
    questions = [q for path in args.questions for q in load_questions(path)]
    engine = Engine(load_answer_settings())
    warm_up(engine)
    print(f"{args.constant:>14}  answerable declined  unanswerable declined  answer terms  (n)")
    for value in args.values:
        if setting:
            engine.answerer.settings = engine.settings.model_copy(update={args.constant: value})
        else:
            setattr(gate, args.constant, value)
        results = [evaluate_question(engine, q, 5) for q in questions]
        ans = [r for r in results if r.answerable]
        un = [r for r in results if not r.answerable]
        declined = sum(not r.answered for r in ans) / max(1, len(ans))
        caught = sum(not r.answered for r in un) / max(1, len(un))
        terms = sum(bool(r.term_hit) for r in ans) / max(1, len(ans))
        print(f"{value:>14.3f}  {declined:>19.2f}  {caught:>21.2f}  {terms:>12.2f}  "
              f"({len(ans)}+{len(un)})")  # fmt: skip


if __name__ == "__main__":
    main()
