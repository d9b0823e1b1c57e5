"""pytest fixture for the fake Discord server.

Use it from tests/conftest.py with ``from fakediscord.fixtures import fake_discord  # noqa: F401``
(or ``pytest_plugins = ["fakediscord.fixtures"]``). Server options can be given per test with
indirect parametrization::

    @pytest.mark.parametrize("fake_discord", [{"heartbeat_interval_ms": 1000}], indirect=True)
    def test_heartbeats(fake_discord): ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeDiscord


@pytest.fixture
def fake_discord(request: pytest.FixtureRequest) -> Iterator[FakeDiscord]:
    """A started FakeDiscord on 127.0.0.1; ``fake_discord.bot_env()`` points the bot at it."""
    options = getattr(request, "param", None) or {}
    with FakeDiscord(**options) as server:
        yield server
