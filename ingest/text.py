"""Untrusted HTML (or plain text) → readable plain text, feed boilerplate stripping, the main
text of an article page, and the two text-shortening helpers every module uses.

Parsing is lxml's (libxml2's HTML parser: entities, broken markup, comments and processing
instructions, no network access); trafilatura extracts the main text of full pages. What stays
here is the layout of a feed entry's text, which neither library renders: paragraphs as blank
lines, list items as "- " / "1. " lines (nested ones indented), table cells joined by " | ",
<pre> lines kept as written. (trafilatura is a main-content extractor: on a feed entry it drops
headings and short paragraphs and returns nothing for a one-paragraph summary.)
"""

from __future__ import annotations

import functools
import html
import logging
import re

from lxml import etree
from lxml import html as lxml_html

log = logging.getLogger(__name__)

_SKIP_TAGS = ("script", "style", "noscript", "iframe", "svg", "template", "head", "object",
              "canvas")  # fmt: skip
_PARA_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "figure",
     "section", "article", "header", "footer", "aside", "nav", "main", "address",
     "details", "summary", "hr", "dl", "fieldset", "form"}
)  # fmt: skip
_LINE_TAGS = frozenset(
    {"div", "br", "tr", "dt", "dd", "figcaption", "caption", "option", "legend", "center"}
)
_LIST_TAGS = frozenset({"ul", "ol", "menu", "dir"})
_CELL_TAGS = frozenset({"td", "th"})
_TAG_RE = re.compile(r"<[a-zA-Z!/?]")
_WS_RE = re.compile(r"[^\S\n]+")  # whitespace except newlines
_ANY_WS_RE = re.compile(r"\s+")
_BLANKS_RE = re.compile(r"\n{3,}")
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_PRE_MARK = "\ue000"  # marks a line of <pre> text, whose spacing is kept
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ---------------------------------------------------------------- words

# Words too common to search for: English function words and the words of any question about
# news ("latest", "news", "week"). The keyword search drops them from its query; question
# understanding drops these and more (bot.answer.text.STOPWORDS: question filler, "ai",
# "release", Indonesian function words - measured: dropping those from the keyword query too
# lost a point of retrieval hit@5 on eval/dev.jsonl).
SEARCH_STOPWORDS = frozenset(
    (
        "a an and are as at be been but by can could did do does for from had has have how i if"
        " in into is it its me my no not of on or our so than that the their them then there these"
        " they this to up was we were what when where which who whom why will with would you your"
        " about any some tell latest new news recent recently today week month year"
    ).split()
)


# ---------------------------------------------------------------- shortening


def one_line(text: object, limit: int = 200) -> str:
    """`text` on one line (whitespace collapsed), cut to `limit` characters with "…": for
    error messages and log lines, where the end of a word does not matter."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters on one line, cut at a word boundary with "…": for titles,
    summaries and quoted sentences a reader sees."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:-–— ")
    return cut + "…"


# ---------------------------------------------------------------- HTML → text


class _Layout:
    """Writes text with the line structure of the elements around it."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.pending = 0  # newlines owed before the next text
        self.prefix = ""  # list marker owed before the next text
        self.pre = 0
        self.lists: list[list[str | int]] = []  # [tag, counter]
        self.row_has_text = False  # a cell of this table row produced text
        self.cell_sep = False  # " | " owed before the next text (a new cell started)

    def _break(self, n: int) -> None:
        if self.out:
            self.pending = max(self.pending, n)

    def start(self, tag: str) -> None:
        if tag in _LIST_TAGS:
            self._break(1 if self.lists else 2)
            self.lists.append([tag, 0])
        elif tag == "li":
            self._break(1)
            marker = "- "
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] = int(self.lists[-1][1]) + 1
                marker = f"{self.lists[-1][1]}. "
            self.prefix = "  " * (max(len(self.lists), 1) - 1) + marker
        elif tag in _PARA_TAGS:
            self._break(1 if self.lists else 2)
            self.pre += tag == "pre"
        elif tag in _LINE_TAGS:
            self._break(1)
            if tag == "tr":
                self.row_has_text = self.cell_sep = False
        elif tag in _CELL_TAGS:
            self.cell_sep = self.row_has_text

    def end(self, tag: str) -> None:
        if tag in _LIST_TAGS:
            if self.lists:
                self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "li" or tag in _LINE_TAGS:
            self._break(1)
        elif tag in _PARA_TAGS:
            if tag == "pre" and self.pre:
                self.pre -= 1
            self._break(1 if self.lists else 2)

    def _text(self, text: str, pre: bool = False) -> None:
        starts_line = bool(self.pending or self.prefix or not self.out)
        if (starts_line or self.cell_sep) and not pre:
            text = text.lstrip(" ")
            if not text:
                return
        if self.cell_sep and not starts_line:
            text = " | " + text
        self.cell_sep = False
        self.row_has_text = True
        if self.pending:
            self.out.append("\n" * self.pending)
        if starts_line:
            self.out.append(self.prefix + (_PRE_MARK if pre else ""))
        self.pending = 0
        self.prefix = ""
        self.out.append(text)

    def data(self, data: str | None) -> None:
        if not data:
            return
        data = data.replace(_PRE_MARK, "")
        if self.pre:
            for i, line in enumerate(data.replace("\r\n", "\n").split("\n")):
                if i:
                    self._break(1)
                if line.strip():
                    self._text(line.replace("\t", "    ").rstrip("\r"), pre=True)
            return
        self._text(_ANY_WS_RE.sub(" ", data))


def _tidy(text: str) -> str:
    """Collapse whitespace inside lines (keeping indentation and <pre> lines as they are),
    keep at most one blank line."""
    text = _INVISIBLE_RE.sub("", _CONTROL_RE.sub("", text))
    lines = []
    for ln in text.split("\n"):
        body = ln.lstrip(" ")
        if body.startswith(_PRE_MARK):
            lines.append(ln.replace(_PRE_MARK, "", 1).rstrip())
        else:
            lines.append(" " * (len(ln) - len(body)) + _WS_RE.sub(" ", body).rstrip())
    return _BLANKS_RE.sub("\n\n", "\n".join(lines)).strip("\n").rstrip()


def plain_to_text(text: str) -> str:
    """Plain (or Markdown-ish) text: keep its line structure, normalize the rest."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _tidy(text.replace(_PRE_MARK, "")).strip()


class _Truncated(Exception):
    """libxml2 stopped early (e.g. elements nested over 256 deep): its tree lacks the rest."""


def _parse_html(markup: str) -> etree._Element | None:
    # libxml2's default limits stay on (256 levels of nesting, 10 MB per text node): untrusted
    # markup past them is read by the fallback instead. Bytes, so an "<?xml encoding=...?>"
    # inside the text cannot contradict the str; lone surrogates cannot be encoded and go.
    parser = lxml_html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    root = etree.fromstring(markup.encode("utf-8", "ignore"), parser)
    if any(e.level == etree.ErrorLevels.FATAL for e in parser.error_log):
        raise _Truncated
    return root


def html_to_text(markup: str) -> str:
    """HTML (or plain text) → readable plain text. Never raises.

    Drops script/style/noscript/iframe/svg content and all tags, decodes entities, turns
    block elements into paragraphs and list items into "- " / "1. " lines.
    """
    if not markup:
        return ""
    if not isinstance(markup, str):
        markup = str(markup)
    if not _TAG_RE.search(markup):
        return plain_to_text(html.unescape(markup))
    try:
        root = _parse_html(markup)
        if root is None:
            return ""
        etree.strip_elements(root, *_SKIP_TAGS, with_tail=False)
        layout = _Layout()
        for event, el in etree.iterwalk(root, events=("start", "end")):
            if not isinstance(el.tag, str):  # an entity reference or similar node
                continue
            if event == "start":
                layout.start(el.tag)
                layout.data(el.text)
            else:
                layout.end(el.tag)
                if el is not root:
                    layout.data(el.tail)
        return _tidy("".join(layout.out))
    except Exception:  # past libxml2's limits, or refused outright: the text without tags
        stripped = re.sub(r"<[^>]*>", " ", markup)
        return _tidy(_ANY_WS_RE.sub(" ", html.unescape(stripped))).strip()


_SHARE_WORDS = (
    r"share|share this|share on|tweet|post|facebook|twitter|x|linkedin|reddit|email|e-mail|"
    r"print|copy link|whatsapp|pocket|mastodon|bluesky|threads|telegram|hacker news|pinterest"
)
_BOILERPLATE_LINE_RE = re.compile(
    r"(?:"
    # WordPress's RSS footer: "The post <title> appeared first on <site>."
    r"the post .{1,400} appeared first on .{1,200}"
    r"|comments|\[link\] \[comments\]|read more|continue reading.{0,200}"
    r"|read the (?:full|rest of the|original) (?:post|article|story).{0,200}"
    r"|your browser does not support (?:html5 |the )?video(?: tag)?"
    r"|skip to (?:main )?content|back to top|(?:previous|next|older|newer) (?:post|article|entry)"
    r"|(?:subscribe|sign up)(?: now)?(?: to (?:our|the|my) newsletter)?"
    # share/nav rows: only network names and separators ("Share: Twitter | LinkedIn | Email")
    rf"|(?:(?:{_SHARE_WORDS})\s*[:|•·,/\-]?\s*)+"
    r")[\s.:!…»→]*",
    re.IGNORECASE,
)
_READ_MORE_TAIL_RE = re.compile(r"(?:\.\.\.|…)?\s*(?:read more|continue reading)[\s.…»→]*$", re.I)


def strip_boilerplate(text: str) -> str:
    """Drop feed boilerplate lines (WordPress's "The post X appeared first on Y.", share and
    navigation rows, "Read more", "Comments") and a trailing "... Read more" on a line."""
    out: list[str] = []
    for line in text.split("\n"):
        body = line.strip()
        if body and _BOILERPLATE_LINE_RE.fullmatch(body):
            continue
        if body:
            line = _READ_MORE_TAIL_RE.sub("", line.rstrip()).rstrip() or ""
            if not line.strip():
                continue
        out.append(line)
    return _BLANKS_RE.sub("\n\n", "\n".join(out)).strip()


# ---------------------------------------------------------------- full text


_PROBE_PAGE = (
    "<html><body><article><h1>Probe</h1>"
    + "".join(f"<p>Probe paragraph {i} holds enough words to count as text.</p>" for i in range(8))
    + "</article></body></html>"
)


@functools.cache
def extraction_problem() -> str | None:
    """Why full-text extraction cannot work in this installation (one line), or None.

    Imports trafilatura and extracts a small page, so a missing optional dependency (jusText
    needs lxml.html.clean, shipped as lxml_html_clean) is found before any page is fetched."""
    try:
        import trafilatura  # lazy: start-up time, optional (full-text feeds only)

        text = trafilatura.extract(_PROBE_PAGE, favor_precision=True, output_format="txt")
    except Exception as e:
        return f"{type(e).__name__}: {one_line(e, 160)}"
    if not text or "Probe paragraph" not in text:
        return "trafilatura returned no text for a test page"
    return None


def extract_full_text(html_bytes: bytes | str, url: str) -> str | None:
    """Main text of an article page via trafilatura (precision first, no comments).

    None when nothing useful was found or on any failure.
    """
    if not html_bytes:
        return None
    try:
        import trafilatura  # lazy: start-up time, optional (full-text feeds only)

        text = trafilatura.extract(
            html_bytes,
            url=url or None,
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            deduplicate=True,
            output_format="txt",
        )
    except Exception as e:
        log.warning("full text of %s: extraction failed: %s", url, one_line(e))
        return None
    if not text:
        return None
    text = plain_to_text(text)
    return text or None
