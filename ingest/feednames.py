"""What a feed name typed by a user means: the one resolver behind the command line's `--feed`
and Discord's `source:` (and `/reindex feed:`), so the two never disagree."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from ingest.models import ConfigError

FEED_NAME_MESSAGES = {  # bot/messages.py has them in each language, for Discord
    "ambiguous": "{name} could mean several feeds: {options}; give the full name",
    "close": "there is no feed called {name}; did you mean {close}?",
    "unknown": "there is no feed called {name} (the feeds: {options})",
}


class FeedNameError(ConfigError):
    """A feed name a user typed that names no feed, or several. `kind` is "ambiguous",
    "close" (unknown, but one name is close) or "unknown"; `values(quote)` fills the message
    with the names quoted for where it is shown (Discord escapes markdown)."""

    def __init__(self, name: str, matches: Iterable[str], known: Iterable[str]) -> None:
        self.name, self.matches, self.known = name, tuple(matches), tuple(known)
        folded = {n.casefold(): n for n in self.known}
        close = difflib.get_close_matches(name.casefold(), folded, n=1)
        self.close = folded[close[0]] if close and len(self.matches) <= 1 else None
        self.kind = "ambiguous" if len(self.matches) > 1 else "close" if self.close else "unknown"
        super().__init__(self.describe())

    def values(self, quote: Callable[[str], str] = lambda s: f'"{s}"') -> dict[str, str]:
        listed = self.matches if self.kind == "ambiguous" else self.known
        options = ", ".join(quote(n) for n in listed[:10]) or "none yet"
        return {
            "name": quote(self.name[:100]),
            "options": options + (", …" if len(listed) > 10 else ""),
            "close": quote(self.close or ""),
        }

    def describe(self, quote: Callable[[str], str] = lambda s: f'"{s}"') -> str:
        return FEED_NAME_MESSAGES[self.kind].format(**self.values(quote))


def resolve_feed_name(name: str, names: Iterable[str]) -> str:
    """The feed `name` means among the known `names`: that exact name; else the one equal to it
    ignoring case; else the only one starting with it; else the only one containing it (both
    ignoring case). Raises FeedNameError when none or several match at the first rule that
    matches any. The command line (`--feed`) and Discord (`source:`) both resolve through here."""
    known = sorted(set(names), key=str.casefold)
    if name in known:
        return name
    wanted = " ".join(name.split()).casefold()
    rules: list[Callable[[str], bool]] = [
        lambda n: n.casefold() == wanted,
        lambda n: n.casefold().startswith(wanted),
        lambda n: wanted in n.casefold(),
    ]
    for rule in rules if wanted else []:
        matches = [n for n in known if rule(n)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise FeedNameError(name, matches, known)
    raise FeedNameError(name, (), known)
