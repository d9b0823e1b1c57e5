"""The language of a question: "en" or "id" (the bot's two languages; anything else is "en").

py3langid (langid.py's model, shipped inside the wheel, no download) restricted to English and
Indonesian, on the question without its names: product and company names ("GPT-4o", "Kimi
K2", "Gemini 2.5 Flash") say nothing about the language and tip short questions either way.
The rest is lower-cased (a capital letter alone tips single words: "And" → Indonesian).
Indonesian only when the model is clearly for it (probability ≥ ID_CONFIDENCE, more for a
single word: a name that starts the question looks like anything) or when the
query understanding's function-word signal (`QueryPlan.language`, bot.answer.understand) already
says so; a question of names only stays English. Measured in bench/language_detect.py.
"""

from __future__ import annotations

import functools
import re
from typing import Any

LANGUAGES = ("en", "id")
ID_CONFIDENCE = 0.6
ONE_WORD_CONFIDENCE = 0.8  # one word left besides the names ("Kimi K2", "siapa CEO Anthropic?")

_WORD = re.compile(r"[^\W_][\w'’.-]*")


def strip_names(text: str) -> str:
    """The question without its names: words with a digit, all-caps words, words with a capital
    inside ("ChatGPT") and capitalised words that do not start the question."""
    kept: list[str] = []
    for i, m in enumerate(_WORD.finditer(text)):
        w = m.group(0).strip(".'’-")
        if not w or re.search(r"\d", w) or (len(w) > 1 and w.isupper()):
            continue
        if re.search(r".[A-Z]", w) or (i > 0 and w[0].isupper()):
            continue
        kept.append(w)
    return " ".join(kept)


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import _load_identifier  # lazy: start-up time (its model)

    return _load_identifier(norm_probs=True, langs=list(LANGUAGES))


def detect(text: str, hint: str | None = None) -> str:
    """ "id" or "en" for a question; `hint` is QueryPlan.language (function words)."""
    if hint == "id":
        return "id"
    words = strip_names(text)
    if not re.search(r"[^\W\d_]{2}", words):
        return "en"
    lang, prob = _identifier().classify(words.lower())  # "And" reads as "Dan" otherwise
    needed = ID_CONFIDENCE if " " in words else ONE_WORD_CONFIDENCE
    return "id" if lang == "id" and prob >= needed else "en"


def question_language(text: str) -> str:
    """detect() with the function-word signal (detect_language) as its hint."""
    return detect(text, detect_language(text))


_ID_WORDS = frozenset(
    """yang dan di ke dari untuk dengan ini itu apa apakah siapa berapa kapan bagaimana mengapa
    kenapa adalah akan telah sudah pada oleh dalam atau juga tidak bisa ada tentang baru terbaru
    sebuah seorang para saat karena sebagai lebih bahwa mereka kami kita saya dia tersebut
    menjadi dapat meluncurkan diluncurkan perusahaan pemerintah""".split()
)


def detect_language(text: str) -> str:
    """ "id" when Indonesian function words dominate, else "en" (the bot's two languages)."""
    words = re.findall(r"[a-z]+", text.lower())
    if not words:
        return "en"
    hits = sum(w in _ID_WORDS for w in words)
    return "id" if hits >= 2 and hits / len(words) >= 0.2 else "en"
