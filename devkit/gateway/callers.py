"""Who is calling: the token a request carries, and where the app keeps what tokens stand for."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from devkit.gateway.connections import UserConnections
from devkit.gateway.errors import GatewayError
from devkit.gateway.tokens import TokenBook

CONNECTIONS: Final = web.AppKey("connections", UserConnections)
TOKENS: Final = web.AppKey("tokens", TokenBook)


def query_value(request: web.Request, name: str) -> str | None:
    """One query parameter; a query that is not UTF-8 once decoded is the caller's 400, not a 500."""
    try:
        return request.query.get(name)
    except UnicodeDecodeError:
        raise GatewayError(400, "the query string is not valid UTF-8") from None


def token_of(request: web.Request) -> str:
    """`Authorization: <token>` or `Bearer <token>`; SSE may pass `?authorization=` instead."""
    header = request.headers.get("Authorization", "").strip()
    if header.lower().startswith("bearer "):
        header = header[7:].strip()
    if not header and request.method == "GET":
        header = (query_value(request, "authorization") or "").strip()
    return header
