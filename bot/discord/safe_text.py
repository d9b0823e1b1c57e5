"""Feed text shown in Discord as text: the one place every Discord surface (answers, /latest,
digests, watches, alerts, /sources) escapes what a stranger's feed wrote.

A title such as `Quibble-7 [weights here](https://evil.example/login)` must not become a
clickable masked link, and `||spoiler||`, `# heading`, `-# subtext`, `> quote`, `**bold**`,
`<https://…>`, `<t:0:R>` timestamps, `</ask:123>` command mentions, `<:emoji:1>` and bare URLs
must show as the characters they are. Discord's markdown consumes a backslash before any
character that is not a letter, digit or space, so the text reads the same with none of its
effects:

- every markdown character (backslash, `*`, `_`, `~`, `|`, backtick, `[`, `]`, `<`, `>`)
  gets one, so no link, spoiler, code, quote, mention, timestamp, command or emoji survives;
- `#`, `-` and `+` at the start of a line get one: no heading, subtext or list;
- `://` gets one before it: a URL in any case (`HTTPS://EVIL.EXAMPLE`) is not linked;
- `@everyone`, `@here` and `<@…>` are defused with a zero-width space (messages are also sent
  with mentions disabled).

Links in the bot's messages are only those it writes itself (the citations, from a checked
URL: bot.discord.layout.safe_url).
"""

from __future__ import annotations

import re

ZWSP = "\u200b"

_EVERYONE_RE = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ESCAPE_RE = re.compile(r"([\\*_~|`\[\]<>])")
_LINE_START_RE = re.compile(r"^([ \t]*)([#+-])", re.MULTILINE)
_SCHEME_RE = re.compile(r"://")
_CITATION_RE = re.compile(r"(\[\d+(?:\s*[,;–-]\s*\d+)*\])")  # the answer's own [3], [1, 2]


def neutralize_mentions(text: str) -> str:
    """Defuse @everyone/@here and user/role mentions (<@id>, <@!id>, <@&id>) in untrusted text."""
    text = _EVERYONE_RE.sub(lambda m: "@" + ZWSP + m.group(1), text)
    return text.replace("<@", "<@" + ZWSP)


def escape_text(text: str) -> str:
    """Untrusted text (any number of lines) that Discord shows exactly as written."""
    text = _ESCAPE_RE.sub(r"\\\1", text)
    text = _LINE_START_RE.sub(r"\1\\\2", text)
    return neutralize_mentions(_SCHEME_RE.sub(r"\\://", text))


def escape_markdown(text: str) -> str:
    """One line of untrusted text (whitespace collapsed) safe inside markdown, e.g. a link
    label, a title or a field name."""
    return escape_text(" ".join(text.split()))


__all__ = ["ZWSP", "escape_answer", "escape_markdown", "escape_text", "neutralize_mentions"]


def escape_answer(text: str) -> str:
    """An answer's text, built from feed sentences and titles (or written by an LLM that read
    them): escaped as text, except its citation markers ([1], [2, 3]) kept as they are."""
    parts = _CITATION_RE.split(text)
    return "".join(p if i % 2 else escape_text(p) for i, p in enumerate(parts))
