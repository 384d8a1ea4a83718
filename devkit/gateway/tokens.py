"""Which NATS user a gateway token stands for, and that user's creds.

Two books: the local stack's users (`invoke token`), and the users the control-plane twin made
and issued tokens for. The twin's book is read again when it changes, so a token it has just
issued works at once, as a token from Synadia Cloud's API works against its gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from devkit.auth.security import creds_path, gateway_tokens_path, twin_gateway_tokens_path


@dataclass(frozen=True)
class TokenHolder:
    user: str
    """A name for logs and errors: the local user's name, or the twin's user id."""
    creds: Path


class TokenBook:
    def __init__(self, stack_dir: Path) -> None:
        local: dict[str, str] = json.loads(gateway_tokens_path(stack_dir).read_text())
        self._local = {
            token: TokenHolder(user, creds_path(stack_dir, user)) for user, token in local.items()
        }
        self._twin_path = twin_gateway_tokens_path(stack_dir)
        self._twin: dict[str, TokenHolder] = {}
        self._twin_version: float | None = None

    def holder(self, token: str) -> TokenHolder | None:
        found = self._local.get(token)
        if found is not None:
            return found
        self._reread_twin()
        return self._twin.get(token)

    def _reread_twin(self) -> None:
        try:
            version = self._twin_path.stat().st_mtime_ns
        except FileNotFoundError:
            self._twin, self._twin_version = {}, None
            return
        if version == self._twin_version:
            return
        try:
            book = json.loads(self._twin_path.read_text())
        except (OSError, ValueError):
            return  # being replaced right now: the next call reads the new one
        self._twin = {
            token: TokenHolder(f"twin user {entry['user']}", Path(entry["creds"]))
            for token, entry in book.items()
        }
        self._twin_version = version
