"""The model families newsbot reads: a short curated core (the families the news names most,
with their makers and tier words), merged with the catalogue derived from models.dev
(catalogue.json, see eval/model_catalogue.py). Data only; the reader is ingest.modelnames."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE = Path(__file__).with_name("catalogue.json")


@dataclass(frozen=True)
class Family:
    key: str  # lowercase: "gpt", "claude", "qwen"
    display: str  # as the makers write it: "GPT", "Claude", "Qwen"
    maker: str
    tiers: frozenset[str] = frozenset()  # words that name a distinct model: "mini", "opus"
    letters: str = ""  # letters a version may start with: "k" (Kimi K2), "vr" (DeepSeek V3, R1)
    # A common word or a short name ("Phi", "Sora", "Seed"): read only when capitalized and
    # followed by a version or a size.
    ambiguous: bool = False
    common_tiers: bool = True  # also the tiers most families use (mini, pro, max, ...)


COMMON_TIERS = frozenset("mini nano pro max ultra plus turbo lite flash air coder vl omni".split())
# Tier words that are also ordinary words ("Grok 4.5 plus a new API"): read only when written
# with a capital or joined by a hyphen ("GPT-4o mini" keeps its lowercase "mini").
PLAIN_WORD_TIERS = frozenset(
    "plus max air next flash lite ultra small medium large micro code image video audio vision "
    "deep think live search fast spark".split()
)
# Words after a name that belong to the checkpoint, not to the model's identity.
CHECKPOINT_WORDS = frozenset(
    "instruct chat base it hf preview exp experimental thinking think reasoning latest "
    "fp8 fp16 bf16 gguf awq gptq int4 int8 a3b distill".split()
)

_CORE: tuple[Family, ...] = (
    Family(
        "gpt",
        "GPT",
        "OpenAI",
        frozenset(
            "mini nano pro turbo codex luna terra sol spark max image realtime audio".split()
        ),
    ),
    Family("gpt-oss", "gpt-oss", "OpenAI"),
    Family(
        "claude",
        "Claude",
        "Anthropic",
        frozenset("opus sonnet haiku fable mythos instant".split()),
        common_tiers=False,  # "Claude Max" is a plan, "Opus 4.6 Max" an effort setting
    ),
    Family(
        "gemini",
        "Gemini",
        "Google",
        frozenset(
            "pro flash flash-lite lite ultra nano deep think live diffusion robotics".split()
        ),
    ),
    Family("gemma", "Gemma", "Google", frozenset("n".split())),
    Family("llama", "Llama", "Meta", frozenset("scout maverick behemoth guard vision".split())),
    Family(
        "qwen",
        "Qwen",
        "Alibaba",
        frozenset("coder vl omni max plus turbo math next audio image".split()),
    ),
    Family("qwq", "QwQ", "Alibaba"),
    Family(
        "deepseek",
        "DeepSeek",
        "DeepSeek",
        frozenset("coder math prover flash pro vl".split()),
        letters="vr",
    ),
    Family("mistral", "Mistral", "Mistral AI", frozenset("small medium large nemo saba".split())),
    Family("mixtral", "Mixtral", "Mistral AI"),
    Family("codestral", "Codestral", "Mistral AI"),
    Family("devstral", "Devstral", "Mistral AI", frozenset("small medium".split())),
    Family("magistral", "Magistral", "Mistral AI", frozenset("small medium".split())),
    Family("ministral", "Ministral", "Mistral AI"),
    Family("pixtral", "Pixtral", "Mistral AI", frozenset({"large"})),
    Family("voxtral", "Voxtral", "Mistral AI", frozenset("mini small".split())),
    Family(
        "phi",
        "Phi",
        "Microsoft",
        frozenset("mini medium small vision multimodal".split()),
        ambiguous=True,
    ),
    Family("grok", "Grok", "xAI", frozenset("mini code imagine heavy".split())),
    Family("kimi", "Kimi", "Moonshot AI", letters="k"),
    Family("glm", "GLM", "Zhipu AI", frozenset("air flash turbo".split())),
    Family("minimax", "MiniMax", "MiniMax", letters="mh"),
    Family("nemotron", "Nemotron", "NVIDIA", frozenset("nano super ultra".split())),
    Family("granite", "Granite", "IBM", ambiguous=True),
    Family("olmo", "OLMo", "Ai2"),
    Family("yi", "Yi", "01.AI", ambiguous=True),
    Family("ernie", "ERNIE", "Baidu", ambiguous=True),
    Family("hunyuan", "Hunyuan", "Tencent"),
    Family("sora", "Sora", "OpenAI", ambiguous=True),
    Family("dall-e", "DALL-E", "OpenAI"),
    Family("whisper", "Whisper", "OpenAI", ambiguous=True),
    Family("veo", "Veo", "Google", ambiguous=True),
    Family("imagen", "Imagen", "Google", ambiguous=True),
    Family("palm", "PaLM", "Google", ambiguous=True),
    Family("smollm", "SmolLM", "Hugging Face"),
    Family("falcon", "Falcon", "TII", ambiguous=True),
    Family("jamba", "Jamba", "AI21 Labs", frozenset("mini large".split())),
    Family("command", "Command", "Cohere", frozenset({"r", "r+", "a"}), ambiguous=True),
    Family(
        "stable-diffusion", "Stable Diffusion", "Stability AI", frozenset("medium large xl".split())
    ),
    Family("kling", "Kling", "Kuaishou", ambiguous=True),
    Family("seedance", "Seedance", "ByteDance"),
    Family("seedream", "Seedream", "ByteDance"),
    Family("starcoder", "StarCoder", "BigCode"),
    Family("lfm", "LFM", "Liquid AI", frozenset({"vl"})),
)
# A tier written alone before a version names its family's model: "Opus 4.1", "Sonnet 4.5".
TIER_ALIASES = {w: "claude" for w in ("opus", "sonnet", "haiku", "fable", "mythos")}
# Spellings that are not the family's key.
SPELLINGS = {
    "dall·e": "dall-e",
    "dalle": "dall-e",
    "stable diffusion": "stable-diffusion",
    "gpt oss": "gpt-oss",
}


@cache
def catalogue() -> dict[str, object]:
    """The models.dev-derived catalogue (families and, per model, what the catalogue states)."""
    data: dict[str, object] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return data


@cache
def families(use_catalogue: bool = True) -> dict[str, Family]:
    """Family key → Family: the core, plus (with `use_catalogue`) the catalogue's families, all
    read as ambiguous unless the core has them, with the catalogue's tier words added."""
    out = {f.key: f for f in _CORE}
    if not use_catalogue:
        return out
    raw = catalogue()["families"]
    assert isinstance(raw, dict)
    for key, entry in raw.items():
        tiers = frozenset(entry.get("tiers", ()))
        if key in out:
            f = out[key]
            out[key] = Family(
                f.key, f.display, f.maker, f.tiers | tiers, f.letters, f.ambiguous, f.common_tiers
            )
        elif key != "o":
            out[key] = Family(key, key.capitalize(), str(entry["maker"]), tiers, ambiguous=True)
    return out
