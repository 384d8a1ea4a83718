"""What a user's JWT says it may publish and subscribe to, read from its creds.

Not a second authority: the server decides every call. The gateway reads the JWT for two
things the server cannot tell it: the inbox prefix a user may subscribe to (so its replies
arrive), and which of several waiting calls a lower-cased `-ERR` from nats-py was meant for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devkit.auth.jwt import Claims, decode_claims
from service.credentials import private_inbox_prefix

_USER_JWT = re.compile(r"-----BEGIN NATS USER JWT-----\s*(\S+)\s*------END NATS USER JWT------")


@dataclass(frozen=True)
class UserPermissions:
    publish_allow: tuple[str, ...] = ()
    publish_deny: tuple[str, ...] = ()
    subscribe_allow: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()

    @classmethod
    def from_claims(cls, claims: Claims) -> UserPermissions:
        nats = claims.get("nats") or {}

        def listed(kind: str, verdict: str) -> tuple[str, ...]:
            return tuple((nats.get(kind) or {}).get(verdict) or ())

        return cls(
            listed("pub", "allow"),
            listed("pub", "deny"),
            listed("sub", "allow"),
            listed("sub", "deny"),
        )

    @classmethod
    def from_creds(cls, creds: Path) -> UserPermissions:
        """Unverified (the server verifies); a creds file without a JWT has no known limits."""
        found = _USER_JWT.search(creds.read_text())
        if found is None:
            return cls()
        try:
            return cls.from_claims(decode_claims(found.group(1)))
        except (ValueError, IndexError):
            return cls()

    def inbox_prefix(self) -> str | None:
        """`_INBOX_<x>` when the user may subscribe to exactly one private inbox `_INBOX_<x>.>`:
        its request replies must arrive there. None: nats-py's default `_INBOX`."""
        return private_inbox_prefix({"sub": {"allow": list(self.subscribe_allow)}})

    def may_publish(self, subject: str) -> bool:
        """As the server decides a publish: deny wins, then any allow (an empty allow list
        allows everything)."""
        return _decide(self.publish_allow, self.publish_deny, subject)

    def may_subscribe(self, subject: str) -> bool:
        """The same for a subscription; a wildcard subscription must fall inside an allow."""
        return _decide(self.subscribe_allow, self.subscribe_deny, subject)


def _decide(allow: tuple[str, ...], deny: tuple[str, ...], subject: str) -> bool:
    if any(matches(pattern, subject) for pattern in deny):
        return False
    return not allow or any(matches(pattern, subject) for pattern in allow)


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching, case-sensitive: `*` one token, `>` one or more at the end. A
    wildcard in `subject` matches only the same or a wider wildcard in `pattern`."""
    wanted, given = pattern.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(given) > index
        if index >= len(given) or (part != "*" and part != given[index]):
            return False
    return len(given) == len(wanted)
