"""Article → chunks sized for the embedding model's window.

The split is LangChain's recursive character splitter (paragraphs, then lines, sentences,
clauses, words, characters; pieces merged up to the budget with an overlap), done on character
spans of the article measured with ONE tokenization of the whole article: counting a span's
tokens is a bisection in the token offsets instead of a tokenizer call per candidate piece (the
splitter asks for ~20 counts per chunk). The same tokenization gives each chunk's token ids, so
the encoder does not tokenize the text a second time (see `Chunker.chunk_with_ids`).
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tokenizers import pre_tokenizers

from ingest.models import Article, Chunk

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAX_TITLE_CHARS = 200
MIN_PIECE_TOKENS = 24  # a shorter piece (a lone heading, an overlap tail) joins a neighbour
NEAR_EMPTY_TOKENS = 8  # never a chunk this small: joins its neighbour even a little over budget
SEPARATORS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", "")

Span = tuple[int, int]  # [start, end) in the article text


class _Tokens:
    """One text's tokenization; token counts and ids of any character span of it."""

    def __init__(self, tokenizer: Tokenizer, text: str) -> None:
        enc = tokenizer.encode(text, add_special_tokens=False)
        self.ids: list[int] = enc.ids
        self.starts = [s for s, _ in enc.offsets]
        self.ends = [e for _, e in enc.offsets]

    def count(self, a: int, b: int) -> int:
        """Tokens overlapping [a, b): exact on word boundaries, never an undercount."""
        return max(0, bisect_left(self.starts, b) - bisect_right(self.ends, a))

    def slice(self, a: int, b: int) -> list[int] | None:
        """The ids of text[a:b], or None when a or b cuts through a token."""
        lo, hi = bisect_left(self.starts, a), bisect_right(self.ends, b)
        if (lo > 0 and self.ends[lo - 1] > a) or (hi < len(self.ids) and self.starts[hi] < b):
            return None
        return self.ids[lo:hi]


class _Splitter:
    """RecursiveCharacterTextSplitter(keep_separator="end", strip_whitespace=True) on spans."""

    def __init__(self, text: str, tokens: _Tokens, budget: int, overlap: int) -> None:
        self.text, self.tokens, self.budget, self.overlap = text, tokens, budget, overlap

    def split(self, a: int, b: int, separators: Sequence[str] = SEPARATORS) -> list[Span]:
        k = next(i for i, s in enumerate(separators) if not s or self.text.find(s, a, b) >= 0)
        sep, rest = separators[k], separators[k + 1 :]
        out: list[Span] = []
        good: list[Span] = []
        for span in self._pieces(a, b, sep):
            if self.tokens.count(*span) < self.budget:
                good.append(span)
                continue
            out += self._merge(good)
            good = []
            out += self.split(*span, rest) if rest else [span]
        return out + self._merge(good)

    def _pieces(self, a: int, b: int, sep: str) -> list[Span]:
        if not sep:
            return [(i, i + 1) for i in range(a, b)]
        out, cur = [], a
        while (j := self.text.find(sep, cur, b)) >= 0:
            out.append((cur, j + len(sep)))
            cur = j + len(sep)
        return out + [(cur, b)] if cur < b else out

    def _merge(self, splits: list[Span]) -> list[Span]:
        """Greedy merge up to the budget; the next chunk starts with the last splits of the
        previous one that fit in the overlap."""
        docs: list[Span] = []
        current: list[Span] = []
        sizes: list[int] = []
        total = 0
        for span in splits:
            n = self.tokens.count(*span)
            if total + n > self.budget and current:
                docs.append((current[0][0], current[-1][1]))
                while total > self.overlap or (total + n > self.budget and total > 0):
                    total -= sizes.pop(0)
                    current.pop(0)
            current.append(span)
            sizes.append(n)
            total += n
        if current:
            docs.append((current[0][0], current[-1][1]))
        return [s for s in map(self._strip, docs) if s[0] < s[1]]

    def _strip(self, span: Span) -> Span:
        a, b = span
        while a < b and self.text[a].isspace():
            a += 1
        while b > a and self.text[b - 1].isspace():
            b -= 1
        return a, b


class Chunker:
    """Splits article text on paragraph/sentence boundaries into pieces of at most `max_tokens`
    tokens (title line included), overlapping by `overlap_tokens`. A piece under
    MIN_PIECE_TOKENS joins a neighbour when the union fits `window` tokens (the model's window
    without its special tokens; default `max_tokens`), so no chunk is a lone heading, an arXiv
    header or a last sentence that missed the previous chunk by a few tokens.

    `tokenizer` is the embedding model's (tokenizers.Tokenizer, no truncation). When it splits
    on whitespace and punctuation first (BERT's pre-tokenizer), the tokens of "title\\npiece" are
    the title's followed by the piece's, so each chunk's ids are cut from the article's."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_tokens: int = 200,
        overlap_tokens: int = 32,
        window: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.window = max(max_tokens, window or 0)
        self.overlap_tokens = min(overlap_tokens, max_tokens // 2)
        self.composes = isinstance(tokenizer.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
        self.tokenize_seconds = 0.0  # spent tokenizing articles (for the ingest's timings)

    def chunk(self, article: Article) -> list[Chunk]:
        return [c for c, _ in self.chunk_with_ids(article)]

    def chunk_with_ids(self, article: Article) -> list[tuple[Chunk, list[int] | None]]:
        """The chunks, each with its token ids (no special tokens), or None where they cannot
        be cut from the article's tokenization (the encoder then tokenizes that text)."""
        title = " ".join(article.title.split())[:MAX_TITLE_CHARS] or "(untitled)"
        head = title + "\n"
        text = article.text.strip()
        if " ".join(text.split()) == title:  # a body that only repeats the title
            text = ""
        t0 = time.perf_counter()
        title_ids = self.tokenizer.encode(head, add_special_tokens=False).ids
        tokens = _Tokens(self.tokenizer, text) if text else None
        self.tokenize_seconds += time.perf_counter() - t0
        budget = max(16, self.max_tokens - len(title_ids))
        spans: list[Span] = []
        if tokens is not None:
            splitter = _Splitter(text, tokens, budget, min(self.overlap_tokens, budget // 2))
            limit = max(budget, self.window - len(title_ids))
            spans = _merge_small(splitter.split(0, len(text)), tokens, limit)
        out: list[tuple[Chunk, list[int] | None]] = []
        for i, (a, b) in enumerate(spans or [(0, 0)]):
            ids = None
            if self.composes:
                piece = tokens.slice(a, b) if tokens is not None else []
                ids = None if piece is None else title_ids + piece
            chunk_text = (head + text[a:b]).strip()
            out.append((Chunk(f"{article.id}:{i}", article.id, i, chunk_text), ids))
        return out


def _merge_small(spans: list[Span], tokens: _Tokens, limit: int) -> list[Span]:
    """No near-empty chunks: a span under MIN_PIECE_TOKENS joins the next one (a heading belongs
    to what follows) or else the previous one, when the union fits `limit`; a small span inside
    its neighbour is dropped. A span under NEAR_EMPTY_TOKENS that fits nowhere joins the
    previous one anyway (only when the limit is the chunk budget: with the model window as the
    limit every small span fits). Spans only grow to cover the text between them, so nothing is
    repeated."""
    out: list[Span] = []
    carry: int | None = None  # start of a small span waiting to join the next one
    for i, (a, b) in enumerate(spans):
        if carry is not None:
            a, carry = carry, None
        n = tokens.count(a, b) if len(spans) > 1 else MIN_PIECE_TOKENS
        if n < MIN_PIECE_TOKENS:
            nxt = spans[i + 1] if i + 1 < len(spans) else None
            tiny_first = not out and n < NEAR_EMPTY_TOKENS
            if nxt is not None and (tiny_first or tokens.count(a, nxt[1]) <= limit):
                carry = a
                continue
            if out and out[-1][0] <= a and b <= out[-1][1]:
                continue
            if out and (n < NEAR_EMPTY_TOKENS or tokens.count(out[-1][0], b) <= limit):
                out[-1] = (out[-1][0], b)
                continue
        out.append((a, b))
    return out
