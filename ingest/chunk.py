"""Article → chunks sized for the embedding model's window (LangChain's recursive splitter)."""

from __future__ import annotations

from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.models import Article, Chunk

MAX_TITLE_CHARS = 200


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

    def chunk(self, article: Article) -> list[Chunk]:
        title = article.title.strip()[:MAX_TITLE_CHARS] or "(untitled)"
        head = title + "\n"
        budget = max(16, self.max_tokens - self.count_tokens(head))
        text = article.text.strip()
        pieces = [p.strip() for p in self._splitter(budget).split_text(text)] if text else []
        pieces = [p for p in pieces if p] or [""]
        return [
            Chunk(
                id=f"{article.id}:{i}",
                article_id=article.id,
                index=i,
                text=(head + piece).strip(),
            )
            for i, piece in enumerate(pieces)
        ]
