"""The last check on feed text before it is stored: what a stranger's feed may not put in the
corpus, whatever path the text took (an entry, a full article page).

- No control characters: terminal escape sequences (CSI such as `ESC[2J`, OSC 8 hyperlinks)
  are removed whole, then every other C0/C1 control and DEL; newline and tab stay in the text.
- No bidi controls (U+202A–U+202E, U+2066–U+2069), which make text read in another order than
  it is stored; titles and authors lose zero-width characters and direction marks too (the
  text keeps zero-width joiners, which some scripts and emoji need).
- Bounded sizes: a title of at most MAX_TITLE_CHARS, a text of at most `max_chars` (cut at a
  paragraph or word boundary), each cut named in a warning, so one entry cannot cost gigabytes
  of memory and minutes of embedding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from ingest.models import Article
from ingest.text import shorten

MAX_TITLE_CHARS = 300
MAX_AUTHOR_CHARS = 200

# CSI (ESC [ or the C1 CSI), OSC (ESC ] or C1 OSC, to BEL or ST), and other ESC sequences
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[P^_X][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_TITLE_INVISIBLE = re.compile("[\u200b-\u200f\u061c\u2060-\u2064\ufeff\u00ad]")


def clean_text(text: str) -> str:
    """Text with no terminal escapes, control characters (but newline and tab) or bidi
    controls; a CR line break becomes a newline."""
    if text.isprintable():  # the common case: nothing to remove (newline is not printable)
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BIDI.sub("", _CONTROLS.sub("", _ESCAPES.sub("", text)))


def clean_line(text: str) -> str:
    """A title or a name: clean_text on one line, without zero-width characters."""
    return " ".join(_TITLE_INVISIBLE.sub("", clean_text(text)).split())


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending at a paragraph, line or word boundary when one is in
    the last tenth."""
    head = text[:limit]
    for sep in ("\n\n", "\n", " "):
        at = head.rfind(sep)
        if at >= limit * 0.9:
            return head[:at].rstrip()
    return head


def sanitize_articles(
    articles: Iterable[Article], max_chars: int, warnings: list[str]
) -> list[Article]:
    """Articles fit to store: cleaned (see the module doc) and bounded; a warning in
    `warnings` names each article whose title or text was cut."""
    out = []
    for a in articles:
        title, text = clean_line(a.title), clean_text(a.text)
        author = clean_line(a.author)[:MAX_AUTHOR_CHARS]
        if len(title) > MAX_TITLE_CHARS:
            warnings.append(
                f"title of {a.url or a.id} has {len(title):,} characters; "
                f"kept the first {MAX_TITLE_CHARS}"
            )
            title = shorten(title, MAX_TITLE_CHARS)
        if len(text) > max_chars:
            warnings.append(
                f"article {shorten(title, 80)!r} ({a.url or a.id}) has {len(text):,} characters "
                f"of text; kept the first {max_chars:,} (NEWSBOT_MAX_ARTICLE_CHARS)"
            )
            text = _cut(text, max_chars)
        if (title, text, author) != (a.title, a.text, a.author):
            a = replace(a, title=title, text=text, author=author)
        out.append(a)
    return out
