"""The one reader of model mentions in text: "DeepSeek-V3.1", "deepseek v3.1", "Qwen2.5-72B",
"GPT-4o mini", "Gemini 2.5 Pro", "Llama 3.1 405B", "Claude Opus 4.1" → ModelMention(family,
version, variant, size, maker). Used at ingest (the model directory) and by question
understanding (the answer path imports it; this package imports nothing of bot/).

Precision first. A family is read only when it is a known one (the curated core or the
models.dev-derived catalogue, ingest.modelnames.families), or, for names no list has yet
("Ornith-1.5", "Cendana 2"), when a capitalized name carries a version and the same sentence
calls it a model (`read_unknown`). Tier words ("Small", "Pro", "Series") are never families:
"Mistral Small 3.1" is Mistral's, "Small 12" and "Series 2" are nothing, and "cde-small-v1"
is not a model called "Small".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from ingest.modelnames.families import (
    CHECKPOINT_WORDS,
    COMMON_TIERS,
    PLAIN_WORD_TIERS,
    SPELLINGS,
    TIER_ALIASES,
    Family,
    catalogue,
    families,
)

__all__ = [
    "Family",
    "ModelMention",
    "catalogue_facts",
    "families",
    "find_models",
    "read_model",
]


@dataclass(frozen=True)
class ModelMention:
    family: str  # family key, lowercase: "qwen"
    version: str  # "2.5", "4o", "v3.1", "k2"; "" when only the family is named
    variant: str  # tier words that name a distinct model: "mini", "opus", "pro", "luna max"
    size: str  # "72B", "235B-A22B", "8x7B"; "" when not stated
    maker: str  # "Alibaba"; "" for a name no list knows
    text: str  # as written
    start: int
    end: int

    @property
    def key(self) -> str:
        """What identifies the model within its family: version then variant ("4o mini")."""
        return " ".join(p for p in (self.version, self.variant) if p)


_VER = r"(?:\d{1,2}(?:\.\d{1,2}){0,2}[onv]?)(?![\d.]*\d)"  # "4o", "4.5v", "3n"
# "72B", "8x7B", "A22B", "1T", "500M" (not "500m": money); "1M context" is no size
_SIZE = re.compile(r"(?:\d+x)?\d+(?:\.\d+)?[bBMT]|[aA]\d+(?:\.\d+)?[bB]", re.ASCII)
_NOT_SIZE_AFTER = re.compile(r"[ -]?(?:tokens?[ -]?)?(?:context|tokens?)\b", re.IGNORECASE)
# One word of a name's tail: "8x7B", "V3.1", "A22B", "2.5", "4o", "Pro", "R+".
_TOKEN = re.compile(
    r"([ \-_]?)(\d+x\d+[bB]|[A-Za-z]\d+(?:\.\d+)*[A-Za-z]?|\d+(?:\.\d+)*[A-Za-z]?"
    r"|[A-Za-z][A-Za-z]*\+?)(?![A-Za-z0-9]|\.\d)"
)
_UNKNOWN = re.compile(
    r"(?<![\w.@/\-])([A-Z][a-z]+(?:[A-Z][a-z]+)?|[A-Z]{2,}[a-z]?)([ \-])"
    r"(v?\d{1,2}(?:\.\d{1,2})?)(?![\w.%]|,\d)"
)
_MODEL_CUE = re.compile(
    r"\b(?:models?|LLMs?|weights|open[- ]source|checkpoints?|parameters?|parameter|"
    r"model bahasa|fine-?tuned)\b",
    re.IGNORECASE,
)
_LICENCE_NAME = re.compile(r"[ -](?:Community )?Licen[cs]e\b", re.IGNORECASE)
_LICENCE_AFTER = re.compile(r"[ -]?(?:\.0)?\s*(?:licen[cs]e|licensed)", re.IGNORECASE)
_ANNOUNCED = re.compile(
    r"\b(?:releas(?:es|ed)|launch(?:es|ed)|introduc(?:es|ed)|unveil(?:s|ed)|announc(?:es|ed)|"
    r"open[- ]sourc(?:es|ed)|meluncurkan|merilis)\b",
    re.IGNORECASE,
)
_NOT_UNKNOWN = frozenset(
    """apache mit transformers keras triton cuda tpu mlx ollama cursor thunderbolt wikitext
    cifar imagenet bfcl verified selected systems problem training software stack universal tour
    risk nodes dataset code character dynamic embed fast given index guard spark miles paham
    python3 pytorch tensorflow jax numpy react node chrome firefox safari linux xcode
    series part phase level stage step chapter section figure table version gen generation
    top round day week month year hour minute page class tier plan windows iphone pixel python
    galaxy ios android macos ubuntu covid rtx gtx python3 neurips iclr icml cvpr acl emnlp aaai
    issue vol volume episode season item rule article act bill title grade under over about
    than after before since only just model models llm llms agent agents score figure
    appendix lesson chapter unit group team stanford mmlu swe bench arena humaneval""".split()
)
MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


@cache
def _family_pattern(use_catalogue: bool) -> re.Pattern[str]:
    names = set(families(use_catalogue)) | set(SPELLINGS) | set(TIER_ALIASES)
    alts = sorted((re.escape(n).replace(r"\-", "[ -]?") for n in names), key=len, reverse=True)
    return re.compile(r"(?<![\w.@/\-])(" + "|".join(alts) + r")", re.IGNORECASE)


_O_SERIES = re.compile(r"(?<![\w.@/\-])o([1-9])(?:-(mini|pro))?(?![\w.]|-\w)")


def find_models(
    text: str, *, use_catalogue: bool = True, read_unknown: bool = True
) -> list[ModelMention]:
    """Every model mention in `text`, in order (family-only mentions have version "")."""
    table = families(use_catalogue)
    out: list[ModelMention] = []
    taken: list[tuple[int, int]] = []
    for m in _family_pattern(use_catalogue).finditer(text):
        if taken and m.start() < taken[-1][1]:
            continue  # inside the mention before ("Opus" of "Claude Opus 4.1")
        mention = _read_at(text, m, table)
        if mention is not None:
            out.append(mention)
            taken.append((mention.start, mention.end))
    for m in _O_SERIES.finditer(text):
        version, tier = m.group(1), m.group(2) or ""
        out.append(ModelMention("o", version, tier, "", "OpenAI", m.group(0), m.start(), m.end()))
        taken.append((m.start(), m.end()))
    if read_unknown:
        out.extend(
            u for u in _unknown(text) if not any(s < u.end and u.start < e for s, e in taken)
        )
    return sorted(out, key=lambda x: x.start)


def read_model(name: str, *, use_catalogue: bool = True) -> ModelMention | None:
    """The one mention a name is ("qwen2.5 72b", "Claude Opus 4.1"), or None."""
    found = find_models(name, use_catalogue=use_catalogue)
    return found[0] if found else None


def _read_at(text: str, m: re.Match[str], table: dict[str, Family]) -> ModelMention | None:
    written = m.group(1)
    low = re.sub(r"[ -]", "-", written.lower())
    alias_tier = ""
    if written.lower() in TIER_ALIASES:
        key, alias_tier = TIER_ALIASES[written.lower()], written.lower()
    else:
        key = SPELLINGS.get(written.lower(), low if low in table else low.replace("-", ""))
    family = table.get(key)
    if family is None:
        return None
    version, variant, size, end = _tail(text, m.end(), family)
    if alias_tier:  # "Opus 4.1": a tier alone is a model only with a version, capitalized
        if not version or not written[0].isupper():
            return None
        variant = " ".join(sorted({alias_tier, *variant.split()} - {""}))
    elif family.ambiguous and not (written[0].isupper() and (version or size)):
        return None
    if _LICENCE_NAME.match(text, end):
        return None  # "the Llama 3.1 Community License" names a licence, not the model
    if key == "deepseek" and version and version[0].isdigit():
        version = "v" + version  # "DeepSeek 3.1" is DeepSeek-V3.1
    return ModelMention(
        key, version, variant, size, family.maker, text[m.start() : end], m.start(), end
    )


def _tail(text: str, pos: int, family: Family) -> tuple[str, str, str, int]:
    """Read the version, tier words and size after a family name, up to 6 tokens."""
    version, end = "", pos
    tiers: list[str] = []
    sizes: list[str] = []
    tier_words = family.tiers | COMMON_TIERS if family.common_tiers else family.tiers
    letters = family.letters
    for _ in range(6):
        t = _TOKEN.match(text, end)
        if not t or (t.group(1) == "" and end != pos and not t.group(2)[0].isdigit()):
            break
        word = t.group(2)
        low = word.lower()
        if _SIZE.fullmatch(word) and _NOT_SIZE_AFTER.match(text, t.end()):
            break  # "Opus 4.6 1M context": a context length
        if _SIZE.fullmatch(word) and (version or sizes or low[0] != "a"):
            sizes.append(word.upper().replace("X", "x"))
        elif not version and not sizes and _is_version(low, letters):
            if t.group(1) == " " and low[0].isdigit() and _looks_like_quantity(text, t.end()):
                break
            version = _normal_version(low, letters)
        elif low in tier_words and low not in tiers:
            if low in PLAIN_WORD_TIERS and word.islower() and t.group(1) != "-":
                break  # "Grok 4.5 plus", "Qwen3.8 medium-size": words, not tiers
            tiers.append(low)
        elif low in CHECKPOINT_WORDS and (version or tiers):
            pass
        else:
            break
        end = t.end()
    while end > pos and text[end - 1] in " -_":
        end -= 1
    return version, " ".join(tiers), "-".join(sizes), end


def _normal_version(low: str, letters: str) -> str:
    """ "v3.1" → "3.1" (but DeepSeek's "v3.1" keeps its letter), "2.0" → "2"."""
    if "v" not in letters:
        low = low.removeprefix("v")
    return re.sub(r"(\d)(?:\.0)+(?=$|[a-z])", r"\1", low)


def _is_version(low: str, letters: str) -> bool:
    if letters and low[:1] in letters and re.fullmatch(r"[a-z]\d{1,2}(?:\.\d{1,2})?", low):
        return True
    if not re.fullmatch(_VER, low.removeprefix("v")):
        return False
    major = int(re.match(r"\d+", low.removeprefix("v")).group())  # type: ignore[union-attr]
    return major < 100


def _looks_like_quantity(text: str, pos: int) -> bool:
    """ "Claude 3 times", "GPT 5 percent": a number followed by a unit is no version."""
    after = text[pos : pos + 12].lower()
    return bool(re.match(r"\s*(?:times|percent|%|points|days|hours|years|x\b|people)", after))


def _unknown(text: str) -> Iterator[ModelMention]:
    """Names no list knows, read only with a version, in a sentence that calls them models, and
    written like a model's name: CamelCase or capitals ("PaliGemma 2", "RWKV-5"), glued to its
    version ("Ornith-1.5", "Mamba-2"), or in a sentence that announces it ("Lentera AI
    meluncurkan Cendana 2, model bahasa ..."). Words of software, licences and benchmarks
    ("Apache 2.0", "Transformers 5", "CIFAR-10") are not models."""
    tiers = _all_tiers()
    for m in _UNKNOWN.finditer(text):
        name, version = m.group(1), _normal_version(m.group(3), "")
        low = name.lower()
        if len(low) < 3 or low in _NOT_UNKNOWN or low in MONTHS or low in tiers:
            continue
        if low in CHECKPOINT_WORDS:
            continue
        sentence = _sentence(text, m.start(), m.end())
        if not _MODEL_CUE.search(sentence) or _LICENCE_AFTER.match(text, m.end()):
            continue
        shaped = bool(re.search(r"[a-z][A-Z]|^[A-Z]{3,}", name)) or m.group(2) == "-"
        if not shaped and not _ANNOUNCED.search(sentence):
            continue
        size_m = re.match(r"[ \-]((?:\d+x)?\d+(?:\.\d+)?[BM])\b", text[m.end() :])
        size = size_m.group(1) if size_m else ""
        yield ModelMention(low, version, "", size, "", m.group(0), m.start(), m.end())


@cache
def _all_tiers() -> frozenset[str]:
    words = set(COMMON_TIERS)
    for f in families(True).values():
        words |= f.tiers
    return frozenset(words)


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start), start - 200)
    right_candidates = [i for i in (text.find(". ", end), text.find("\n", end)) if i != -1]
    right = min([*right_candidates, end + 200])
    return text[max(left, 0) : right]


def catalogue_facts(family: str, version: str) -> list[tuple[str, str]]:
    """What the models.dev catalogue states about a model version (field, value): open
    weights, context and output limits, price per million input/output tokens."""
    return _catalogue_index().get((family, version), [])


@cache
def _catalogue_index() -> dict[tuple[str, str], list[tuple[str, str]]]:
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    models = catalogue()["models"]
    assert isinstance(models, list)
    for entry in models:
        m = read_model(str(entry["name"]))
        if m is None or not (m.version or m.size) or (m.family, m.key or m.size) in out:
            continue
        facts = [("open_weights", "yes" if entry["open_weights"] else "no")]
        if entry.get("context"):
            facts.append(("context", _tokens(int(entry["context"]))))
        if entry.get("output"):
            facts.append(("output_limit", _tokens(int(entry["output"]))))
        for key, field_name in (("price_in", "price_input"), ("price_out", "price_output")):
            if entry.get(key) is not None:
                facts.append((field_name, f"${entry[key]:g}"))
        out[(m.family, m.key or m.size)] = facts
    return out


def _tokens(n: int) -> str:
    return f"{round(n / 1e6, 2):g}M" if n >= 1_000_000 else f"{round(n / 1e3)}K"
