"""The model stage: questions about an AI model answered from the model directory built at
ingest (ingest.store.model_directory) - "what's the newest Qwen?", "when did GPT-5 come out?",
"who makes Kimi?", "Qwen3.8-27B's context window / price / licence / size". Each answer cites
the articles the directory took its facts from, with their dates.

A question is the stage's when it names a model (ingest.modelnames, the same reader the
directory is built with) and asks one of those things; everything else, and a model or fact the
directory does not hold, goes on to the passages (which may still find it, or decline). Facts
come from the news only: the models.dev catalogue stays on the /model card, labelled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from bot.answer.evidence import date_prefix
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan
from bot.messages import format_day, say
from bot.models import Answer, Source
from ingest.links import article_id
from ingest.modelnames import ModelMention, find_models
from ingest.store.model_cards import FamilyCard, ModelCard, ModelFact

_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("context", r"\bcontext(?:\s+(?:window|length|size))?\b|\bkonteks\b"),
        ("price", r"\b(?:price|pricing|cost|costs|per\s+million|harga|biaya)\b"),
        ("licence", r"\blicen[cs]e[ds]?\b|\blisensi\b|\bopen[- ]weights?\b"),
        ("parameters", r"\bparameters?\b|\bhow\s+(?:big|large)\b|\bukuran\b"),
        ("maker", r"\bwho\s+(?:makes|made|built|builds|develops|developed|created|is\s+behind)"
                  r"|\bwhich\s+(?:company|lab|firm)\b|\bsiapa\s+(?:pembuat|yang\s+membuat"
                  r"|pengembang)"),
        ("when", r"\bwhen\b|\brelease\s+date\b|\bwhat\s+date\b|\bkapan\b"),
        ("newest", r"\b(?:newest|latest|most\s+recent|terbaru|paling\s+baru)\b"),
    )
)  # fmt: skip
FIELDS = {
    "context": ("context",),
    "price": ("price", "price_input", "price_output"),
    "licence": ("licence", "open_weights"),
    "parameters": ("parameters",),
}
FIELD_WORDS = {
    "context": {"en": "context window", "id": "jendela konteks"},
    "price": {"en": "price", "id": "harga"},
    "licence": {"en": "licence / open weights", "id": "lisensi / bobot terbuka"},
    "parameters": {"en": "size", "id": "ukuran"},
}
MAX_FACTS = 3


class HasModels(Protocol):
    def family(self, name: str) -> FamilyCard | None: ...

    def lookup(self, name: str) -> ModelCard | None: ...


@dataclass(frozen=True)
class ModelQuestion:
    mention: ModelMention
    asks: str  # newest | when | maker | context | price | licence | parameters


def read_question(question: str) -> ModelQuestion | None:
    """The model a question is about and what it asks of it, or None."""
    mentions = find_models(question)
    if len(mentions) != 1:  # none, or a comparison of several: the passages answer it
        return None
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return ModelQuestion(mentions[0], kind)
    return None


def answer_from_directory(
    plan: QueryPlan, models: HasModels | None, as_of: datetime | None, trace: Trace
) -> Answer | None:
    """The answer from the directory, or None (the question goes on to the passages). A
    question with a time window or a source to look in asks about news, not about the model."""
    if models is None or plan.window.bounded or plan.source_explicit:
        return None
    question, lang = plan.question, plan.language
    asked = read_question(question)
    if asked is None:
        return None
    m = asked.mention
    family_only = not (m.version or m.variant or m.size)
    if asked.asks == "newest" and not family_only:
        return None  # "the latest on GPT-5": news, for the passages
    if family_only and asked.asks not in ("newest", "maker"):
        return None  # "when did Claude come out": which one? the passages may say
    card = _card(models, m.text, family_only, as_of)
    if card is None:
        trace.add("models", model=m.text, asks=asked.asks, found=False)
        return None
    found = _compose(question, lang, asked, card, as_of)
    trace.add("models", model=m.text, asks=asked.asks, found=found is not None, card=card.name,
              url=card.url)  # fmt: skip
    if found is not None:
        trace.decision = "answered (model directory)"
    return found


def _card(
    models: HasModels, name: str, family_only: bool, as_of: datetime | None
) -> ModelCard | None:
    """The card asked about as the corpus stood at `as_of` (a family: its newest release)."""
    if not family_only:
        card = models.lookup(name)
        return card if card is not None and _seen_by(card, as_of) else None
    fam = models.family(name)
    if fam is None:
        return None
    known = tuple(v for v in fam.versions if _seen_by(v, as_of))
    return replace(fam, versions=known).newest if known else None  # the directory's own rule


def _seen_by(card: ModelCard, as_of: datetime | None) -> bool:
    return as_of is None or card.first_seen <= as_of


def _compose(
    question: str, lang: str, asked: ModelQuestion, card: ModelCard, as_of: datetime | None
) -> Answer | None:
    if asked.asks in FIELDS:
        facts = [
            f for f in card.facts
            if f.field in FIELDS[asked.asks] and (as_of is None or f.published is None
                                                  or f.published <= as_of)
        ][:MAX_FACTS]  # fmt: skip
        if not facts:
            return None  # the directory holds no such fact: the passages may
        return _facts_answer(question, lang, asked.asks, card, facts, as_of)
    source = _source(1, card.title, card.url, card.released or card.first_seen)
    day = format_day(card.released or card.first_seen, lang)
    key = {"newest": "model.newest", "when": "model.when", "maker": "model.maker"}[asked.asks]
    if asked.asks == "maker" and not card.maker:
        return None
    text = say(key, lang, family=card.family_name, name=card.name, maker=card.maker, date=day)
    return Answer(question, f"{date_prefix(source.published, lang)}{text} [1]", (source,),
                  as_of, True)  # fmt: skip


def _facts_answer(
    question: str,
    lang: str,
    asks: str,
    card: ModelCard,
    facts: Sequence[ModelFact],
    as_of: datetime | None,
) -> Answer:
    sources: list[Source] = []
    parts: list[str] = []
    for fact in facts:
        n = next((s.n for s in sources if s.url == fact.url), len(sources) + 1)
        if n > len(sources):
            sources.append(_source(n, "", fact.url, fact.published))
        label = fact.field.replace("_", " ")
        parts.append(f"{date_prefix(fact.published, lang)}{card.name}: {label} {fact.value} [{n}]")
    disagree = say("model.disagree", lang) if card.disagreements() else ""
    head = say("model.facts", lang, name=card.name, what=FIELD_WORDS[asks][lang])
    text = "\n".join([head, *parts] + ([disagree] if disagree else []))
    return Answer(question, text, tuple(sources), as_of, True)


def _source(n: int, title: str, url: str, published: datetime | None) -> Source:
    return Source(n=n, article_id=article_id(url=url), title=title or url, url=url, feed="",
                  published=published)  # fmt: skip
