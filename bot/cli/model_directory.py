"""`newsbot models [--family NAME] [--json]`: the model directory (ingest.store.model_directory).
Reads the directory's tables only (no model, no vector store), with the corpus settings."""

from __future__ import annotations

import argparse
import difflib

from bot.cli.common import print_json
from ingest.config import Settings
from ingest.models import ConfigError
from ingest.store.model_directory import FamilyCard, ModelCard, ModelDirectory, ModelFact

FIELD_NAMES = {
    "parameters": "parameters",
    "context": "context window",
    "output_limit": "output limit",
    "open_weights": "open weights",
    "licence": "licence",
    "price_input": "price per 1M input tokens",
    "price_output": "price per 1M output tokens",
    "price": "price per 1M tokens",
    "benchmark": "benchmark",
}


def format_families(families: list[FamilyCard]) -> str:
    if not families:
        return "No models in the corpus yet (newsbot ingest reads them from the articles)."
    lines = []
    for fam in families:
        card = fam.newest
        maker = f" ({fam.maker})" if fam.maker else ""
        n = len(fam.versions)
        lines.append(
            f"{fam.name}{maker}: newest {card.name}, first reported "
            f"{card.first_seen:%Y-%m-%d}  [{n} version{'s' * (n != 1)}]\n    {card.url}"
        )
    return "\n".join(lines)


def format_card(card: ModelCard, indent: str = "    ") -> str:
    """A version: its first report, primary source, then each field's values, each with the
    first article that states it (and how many more do)."""
    lines = [
        f"{card.name}  (first reported {card.first_seen:%Y-%m-%d}, {card.articles} article"
        f"{'s' * (card.articles != 1)})",
        f"{indent}primary source: {card.title}\n{indent}    {card.url}",
    ]
    values: dict[str, dict[str, list[ModelFact]]] = {}
    for f in card.facts:
        values.setdefault(f.field, {}).setdefault(f.value, []).append(f)
    disagree = set(card.disagreements())
    for name, by_value in values.items():
        note = " (sources disagree)" if name in disagree else ""
        lines.append(f"{indent}{FIELD_NAMES.get(name, name)}{note}:")
        for value, cites in by_value.items():
            first = cites[0]
            when = f"{first.published:%Y-%m-%d}" if first.published else "undated"
            more = f"  (+{len(cites) - 1} more)" if len(cites) > 1 else ""
            lines.append(f"{indent}    {value}  {when}  {first.url}{more}")
    if card.catalogue:
        facts = ", ".join(f"{FIELD_NAMES.get(f.field, f.field)} {f.value}" for f in card.catalogue)
        lines.append(f"{indent}models.dev catalogue (not from the news): {facts}")
    return "\n".join(lines)


def format_family(fam: FamilyCard) -> str:
    maker = f" by {fam.maker}" if fam.maker else ""
    head = (
        f"{fam.name}{maker}: newest release {fam.newest.name}; {len(fam.versions)} version(s),"
        " most recently first reported first"
    )
    return "\n".join([head, *(format_card(c) for c in fam.versions)])


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    directory = ModelDirectory(settings)
    try:
        if args.family is None:
            found = directory.families()
        else:
            name = args.family.strip()
            fam = directory.family(name) if name else None
            if fam is None:
                raise ConfigError(_unknown_family(name, directory))
            found = [fam]
    finally:
        directory.close()
    if args.json:
        print_json([f.to_json() for f in found])
    elif args.family is None:
        print(format_families(found))
    else:
        print(format_family(found[0]))
    return 0


def _unknown_family(name: str, directory: ModelDirectory) -> str:
    names = {f.name.lower(): f.name for f in directory.families()}
    close = difflib.get_close_matches(name.lower(), list(names), n=1, cutoff=0.6)
    hint = f'; did you mean "{names[close[0]]}"?' if close else " (newsbot models lists them)"
    return f'--family: the corpus reports no model family called "{name}"{hint}'


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("models", help="the AI models the corpus reports, newest version first")
    s.add_argument("--family", help="one family: every version with its facts and sources")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_models, settings=Settings)
