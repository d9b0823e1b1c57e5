"""bot.answer.places: a country by any of its names, English or Indonesian, and its demonym."""

from __future__ import annotations

import pytest

from bot.answer.places import names_place, place_spellings


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("chinese", "Perusahaan rintisan asal Tiongkok itu merilis model baru."),
        ("china", "Chinese labs released three open models."),
        ("indonesian", "Platforms in Indonesia must label AI content."),
        ("american", "Perusahaan Amerika Serikat itu ..."),
        ("dutch", "ASML, based in the Netherlands, ..."),
        ("wale", "Judges in Wales may use the tool."),  # the question's token is normalised
    ],
)
def test_a_place_is_named_in_any_of_its_spellings(name: str, text: str) -> None:
    assert names_place(name, text)


def test_other_places_and_other_names_do_not_match() -> None:
    assert not names_place("chinese", "Japanese labs released three open models.")
    assert not names_place("indonesian", "Indonesiana is a festival.")  # a whole word only
    assert place_spellings("openai") == () and place_spellings("gemini") == ()
    # a demonym several places share is the most populous one's
    assert "china" in place_spellings("chinese") and "hong kong" not in place_spellings("chinese")


def test_big_cities_are_places_by_their_one_word_name() -> None:
    assert names_place("jakarta", "OpenAI membuka kantor di Jakarta.")
    assert not names_place("jakarta", "OpenAI opens an office in Munich.")
    assert place_spellings("munich") == ("munich",) and place_spellings("seattle") == ("seattle",)
    # small towns are not (Sora, Italy: 24,000 people), nor the normalised form of a name
    # ("queens" → "queen"), and a country keeps its name over a city's
    assert place_spellings("sora") == () and place_spellings("queen") == ()
    assert "mexican" in place_spellings("mexico")
