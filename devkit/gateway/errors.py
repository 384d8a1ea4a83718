"""The gateway's error replies: a status, `{"message": ...}` and the X-Nats-Api-Gateway-Error header.

The cloud documents 400 with `{"message"}` only; the other codes are chosen here and written in
the README: 401 token, 403 permission, 404 not found, 405 method, 409 conflict, 413 too large,
503 no responders, 504 timeout.
"""

from __future__ import annotations

from aiohttp import web

ERROR_HEADER = "X-Nats-Api-Gateway-Error"


class GatewayError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> web.Response:
        return error_response(self.status, self.message)


def error_response(status: int, message: str) -> web.Response:
    # Header values are one line of Latin-1: say it plainly, whatever the caller sent.
    header = message.encode("ascii", "replace").decode().replace("\n", " ")[:500]
    return web.json_response({"message": message}, status=status, headers={ERROR_HEADER: header})
