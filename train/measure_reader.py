"""The trained reader (torch) on the held-out SQuAD articles of train_reader.py: AUC of
answerable against unanswerable by (best span - no answer), and the mean of each.

    python train/measure_reader.py MODEL_DIR RECORDS.jsonl [RECORDS.jsonl ...] [--n 400]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from train_reader import MAXLEN, split  # noqa: E402

MAX_SPAN = 30


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("records", nargs="+")
    ap.add_argument("--n", type=int, default=400)
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForQuestionAnswering.from_pretrained(args.model).eval()
    _, held = split(args.records)
    random.Random(1).shuffle(held)
    scores, labels = [], []
    with torch.no_grad():
        for r in held[: args.n]:
            enc = tok(r["question"], r["context"], truncation="only_second", max_length=MAXLEN,
                      return_tensors="pt")  # fmt: skip
            out = model(**enc)
            s, e = out.start_logits[0].numpy(), out.end_logits[0].numpy()
            ctx = [i for i, t in enumerate(enc.sequence_ids(0)) if t == 1]
            lo, hi = ctx[0], ctx[-1]
            n = hi - lo + 1
            grid = s[lo : hi + 1, None] + e[None, lo : hi + 1]
            ok = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), MAX_SPAN)
            scores.append(float(np.where(ok, grid, -1e9).max() - (s[0] + e[0])))
            labels.append(bool(r["answers"]))
    sc, y = np.array(scores), np.array(labels)
    ranks = np.empty(len(sc))
    ranks[np.argsort(sc)] = np.arange(len(sc))
    auc = (ranks[y].mean() - (y.sum() - 1) / 2) / (~y).sum()
    means = f"answerable {sc[y].mean():.2f} unanswerable {sc[~y].mean():.2f}"
    print(f"n {len(y)} AUC {auc:.3f} {means}")


if __name__ == "__main__":
    main()
