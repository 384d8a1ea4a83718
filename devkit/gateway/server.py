"""Serving the gateway: aiohttp's server with its own error replies in the gateway's shape, and
the lifecycle (serve until SIGTERM or SIGINT, then close every user's connection).

aiohttp answers a request it cannot parse (a line or header over 8190 bytes, a malformed method
or URL) before any middleware runs, in plain text that echoes the input, and logs a traceback.
The gateway answers those as it answers everything: `{"message"}` and the error header, a
message that quotes nothing the caller sent, and one log line (redacted, see logs.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from devkit.gateway.errors import error_response
from devkit.serving import serve_until_stopped

log = logging.getLogger(__name__)


def framework_message(status: int, error: BaseException | None) -> str:
    """Said in the gateway's words: aiohttp's own message quotes the request."""
    if isinstance(error, LineTooLong):
        return "a request line or header is too long"
    if isinstance(error, BadHttpMethod):
        return "an unknown or malformed method"
    if isinstance(error, BadHttpMessage):
        return f"a malformed request ({type(error).__name__})"
    if status == 504:
        return "the gateway took too long to answer"
    return "the gateway failed; the failure was logged"


class ShapedErrorsHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # one line, redacted (logs.py): the exception's type and the first line of its message
        log.warning("gateway.bad_request status=%d from=%s", status, request.remote, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("a response has started: it cannot become an error reply")
        response = error_response(status, framework_message(status, exc))
        response.force_close()
        return response


class ShapedErrorsServer(web.Server):
    def __call__(self) -> RequestHandler:
        return ShapedErrorsHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp offers no hook for its parser's error replies; the same server, one method more
        server.__class__ = ShapedErrorsServer
        return server


async def serve(app: web.Application, host: str, port: int, port_file: Path | None = None) -> None:
    """With port 0 the system chooses; the port taken is printed, and written to `port_file`."""
    # handler_cancellation: a caller that leaves ends its stream (and its subscription)
    runner = GatewayRunner(app, access_log=None, handler_cancellation=True)
    await serve_until_stopped(runner, host, port, port_file)
