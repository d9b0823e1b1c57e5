"""A Discord-compatible server (REST + gateway) on loopback, for running the real bot in tests."""

from .interactions import Interaction
from .protocol import DiscordError, validate_commands, validate_message
from .server import FakeDiscord
from .world import World

__all__ = [
    "DiscordError",
    "FakeDiscord",
    "Interaction",
    "World",
    "validate_commands",
    "validate_message",
]
