"""Article → chunks sized for the embedding model's window (LangChain's recursive splitter)."""

from __future__ import annotations

from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.models import Article, Chunk

MAX_TITLE_CHARS = 200
MIN_PIECE_TOKENS = 24  # a shorter piece (a lone heading, an overlap tail) joins a neighbour
NEAR_EMPTY_TOKENS = 8  # never a chunk this small: joins its neighbour even a little over budget


class Chunker:
    """Splits article text on paragraph/sentence boundaries into pieces of at most `max_tokens`
    tokens (title line included), overlapping by `overlap_tokens`."""

    def __init__(
        self, count_tokens: Callable[[str], int], max_tokens: int = 200, overlap_tokens: int = 32
    ) -> None:
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap_tokens = min(overlap_tokens, max_tokens // 2)

    def _splitter(self, budget: int) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            chunk_size=budget,
            chunk_overlap=min(self.overlap_tokens, budget // 2),
            length_function=self.count_tokens,
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    def _merge_small(self, pieces: list[str], budget: int) -> list[str]:
        """No near-empty chunks: a piece under MIN_PIECE_TOKENS joins the next piece (a heading
        belongs to what follows) or else the previous one, when the result fits the budget;
        a small piece already contained in its neighbour is dropped. A piece under
        NEAR_EMPTY_TOKENS that fits nowhere joins the previous one anyway (never seen on the
        real feeds; the model window is larger than the chunk budget)."""
        out: list[str] = []
        carry = ""
        for i, piece in enumerate(pieces):
            piece = f"{carry}\n{piece}" if carry else piece
            carry = ""
            n = self.count_tokens(piece) if len(pieces) > 1 else MIN_PIECE_TOKENS
            if n < MIN_PIECE_TOKENS:
                nxt = pieces[i + 1] if i + 1 < len(pieces) else None
                tiny_first = not out and n < NEAR_EMPTY_TOKENS
                if nxt is not None and (
                    tiny_first or self.count_tokens(f"{piece}\n{nxt}") <= budget
                ):
                    carry = piece
                    continue
                if out and piece in out[-1]:
                    continue
                if out and (
                    n < NEAR_EMPTY_TOKENS or self.count_tokens(f"{out[-1]}\n{piece}") <= budget
                ):
                    out[-1] = f"{out[-1]}\n{piece}"
                    continue
            out.append(piece)
        return out

    def chunk(self, article: Article) -> list[Chunk]:
        title = " ".join(article.title.split())[:MAX_TITLE_CHARS] or "(untitled)"
        head = title + "\n"
        budget = max(16, self.max_tokens - self.count_tokens(head))
        text = article.text.strip()
        if " ".join(text.split()) == title:  # a body that only repeats the title
            text = ""
        pieces = [p.strip() for p in self._splitter(budget).split_text(text)] if text else []
        pieces = self._merge_small([p for p in pieces if p], budget) or [""]
        return [
            Chunk(
                id=f"{article.id}:{i}",
                article_id=article.id,
                index=i,
                text=(head + piece).strip(),
            )
            for i, piece in enumerate(pieces)
        ]
