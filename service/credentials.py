"""NATS user credentials: decode what Fargate passes (base64 of a .creds file) and check it early.

A bad secret must fail with one line naming the problem, before any connect retry loop
hides it behind "connection refused" or an opaque nkeys error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from service.operator_errors import OperatorError

_JWT_BLOCK = re.compile(
    r"-----BEGIN NATS USER JWT-----\s*\n\s*(?P<jwt>[^\s]+)\s*\n\s*-*END NATS USER JWT-*"
)
_PRIVATE_INBOX = re.compile(r"_INBOX_[A-Za-z0-9_-]+\.>")
_SEED_BLOCK = re.compile(
    r"-----BEGIN USER NKEY SEED-----\s*\n\s*(?P<seed>[^\s]+)\s*\n\s*-*END USER NKEY SEED-*"
)


class CredentialsError(OperatorError):
    """The credentials cannot be used; the message says why without revealing them."""

    exit_code = 2


@dataclass(frozen=True)
class UserCredentials:
    text: str
    """The normalised .creds file text (LF line endings)."""
    user_public_key: str
    expires_at: int | None
    account: str = ""
    """The account that signed the user (`issuer_account`, or the issuer itself)."""
    inbox_prefix: str | None = None
    """The private inbox prefix the user's permissions allow (`_INBOX_x` for a subscribe
    permission `_INBOX_x.>`), when there is exactly one; None: the shared `_INBOX`."""

    def __repr__(self) -> str:  # never print the seed
        return f"UserCredentials(user={self.user_public_key!r}, expires_at={self.expires_at})"


def decode_base64_credentials(value: str) -> UserCredentials:
    """Decode `NATS_CREDENTIALS`: padded or unpadded base64, surrounding space or CRLF allowed."""
    compact = "".join(value.split())
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialsError("NATS_CREDENTIALS is not valid base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialsError("NATS_CREDENTIALS does not decode to text") from None
    return parse_credentials(text, source="NATS_CREDENTIALS")


def read_credentials_file(path: Path, *, label: str = "NATS_CREDS_FILE") -> UserCredentials:
    source = f"{label} {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CredentialsError(f"{source}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"{source} is not a text file") from None
    return parse_credentials(text, source=source)


def parse_credentials(text: str, *, source: str, now: float | None = None) -> UserCredentials:
    """Check the .creds structure and the JWT's expiry; CRLF files are normalised (nkeys rejects them)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    jwt_match = _JWT_BLOCK.search(text)
    seed_match = _SEED_BLOCK.search(text)
    if jwt_match is None or seed_match is None:
        raise CredentialsError(
            f"{source} is not a NATS user credentials file (no user JWT and nkey seed blocks)"
        )
    if not seed_match["seed"].startswith("SU"):
        raise CredentialsError(f"{source}: the nkey seed is not a user seed")
    claims = _jwt_claims(jwt_match["jwt"], source)
    nats_claims = claims.get("nats")
    if not isinstance(nats_claims, dict) or nats_claims.get("type") != "user":
        raise CredentialsError(f"{source}: the JWT is not a user JWT")
    expires = claims.get("exp")
    if isinstance(expires, int) and expires <= (time.time() if now is None else now):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        raise CredentialsError(f"{source}: the user JWT expired at {when}")
    subject = claims.get("sub")
    account = nats_claims.get("issuer_account") or claims.get("iss")
    return UserCredentials(
        text=text,
        user_public_key=subject if isinstance(subject, str) else "",
        expires_at=expires if isinstance(expires, int) else None,
        account=account if isinstance(account, str) else "",
        inbox_prefix=private_inbox_prefix(nats_claims),
    )


def private_inbox_prefix(nats_claims: dict[str, object]) -> str | None:
    """The one `_INBOX_<x>.>` subscription the user may make, as a prefix for nats-py.

    A client that kept the shared `_INBOX` prefix would be refused its own replies."""
    subscribe = nats_claims.get("sub")
    allowed = subscribe.get("allow") if isinstance(subscribe, dict) else None
    if not isinstance(allowed, list):
        return None
    prefixes = {
        subject.removesuffix(".>")
        for subject in allowed
        if isinstance(subject, str) and _PRIVATE_INBOX.fullmatch(subject)
    }
    return prefixes.pop() if len(prefixes) == 1 else None


def _jwt_claims(token: str, source: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3:
        raise CredentialsError(f"{source}: the user JWT is malformed")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        raise CredentialsError(f"{source}: the user JWT is malformed") from None
    if not isinstance(claims, dict):
        raise CredentialsError(f"{source}: the user JWT is malformed")
    return claims


def inbox_prefix_of(creds: Path | None) -> str | None:
    """The private inbox prefix of the user in a .creds file; None without one.

    Unreadable creds give None too: the connect that follows names their problem."""
    if creds is None:
        return None
    try:
        return read_credentials_file(creds, label="creds file").inbox_prefix
    except CredentialsError:
        return None
