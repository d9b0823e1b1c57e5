"""Who holds a claim in the bot's file, so that several bot processes on one host (one per
shard) never settle each other's sends: a digest claim left `sending` is settled (looked up in
the channel, maybe sent again) only when the process that claimed it is gone, and a watch
notification being sent is marked `unknown` only when its process is gone.

An owner is `host:pid:nonce`, one per store (a process); the nonce tells a restarted bot in the
same process (tests) from the one before it."""

from __future__ import annotations

import os
import secrets
import socket


def claim_owner() -> str:
    """A new owner id for this process's store."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_alive(owner: str) -> bool:
    """Whether the process that made a claim may still be sending it. Claims from before owners
    were recorded (empty) count as gone; another host's claims as alive (never settled from
    here: a missed message is better than a duplicate)."""
    parts = owner.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    if host != socket.gethostname():
        return True
    if pid == os.getpid():  # this process: only the current store's claims are alive
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True
