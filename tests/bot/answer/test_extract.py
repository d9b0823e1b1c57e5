"""bot.answer.extract.fits_type: the sentence holds the kind of thing asked for."""

from __future__ import annotations

import pytest

from bot.answer.extract import fits_type


@pytest.mark.parametrize(
    ("sentence", "fits"),
    [
        ("Pelatihan memakai 512 GPU H100, dengan biaya sekitar Rp 86 miliar.", True),
        ("Vals raised a $40M Series A at a $400M valuation.", True),
        ("The fine can reach 2 billion rupiah.", True),
        ("Menurut Lentera AI, Cendana 2 dilatih dengan 1,2 triliun token.", False),  # a number
        ("DevDay brings together 1,500+ developers on October 6.", False),
    ],
)
def test_money_is_an_amount_of_a_currency(sentence: str, fits: bool) -> None:
    assert fits_type("money", sentence, set()) is fits
    assert fits_type("number", sentence, set())  # every one of them holds a number
