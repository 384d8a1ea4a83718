"""moto's server, without its record of every object it ever made: the native DynamoDB emulator.

moto 5 appends every instance of every model class to a class-level list (`BaseModel.__new__`,
`moto/core/common_models.py`) that only `POST /moto-api/reset` empties. A read with a
`ProjectionExpression`, which the service sends on every GetItem and BatchGetItem, returns a
new projected `Item`, so each item read stayed in memory for good: about 580 bytes per item,
0.75 MB a second under the soak's load, without end. Nothing in moto turns the record off; here
`Item`'s list is one that keeps nothing. Only moto's `/moto-api/data.json` dashboard loses its
list of items.

Run as `python -m devkit.stack.moto_emulator -H HOST -p PORT [--port-file PATH]`. moto's own
`moto_server` prints the port it was given, not the one it took, so with `-p 0` the port the
system chose is written to PATH once the server listens: how its launcher reads it back.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import signal
from pathlib import Path

from moto.dynamodb.models.dynamo_type import Item
from moto.server import ThreadedMotoServer

from devkit.port_file import write_port
from service.logs import RedactingFormatter, output_handler

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

log = logging.getLogger("devkit.stack.moto_emulator")


def forget_items() -> None:
    Item.instances_tracked = collections.deque(maxlen=0)  # type: ignore[attr-defined]


def serve(host: str, port: int, port_file: Path | None) -> None:
    """Until SIGTERM or SIGINT; moto's own server (its requests, its handler), in a thread."""
    # Blocked before the server's thread starts, so only sigwait below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    _, taken = server.get_host_and_port()
    # moto builds some URLs (CloudFormation's custom resources) from MOTO_PORT, as moto_server.
    os.environ.setdefault("MOTO_PORT", str(taken))
    log.info("moto listening on http://%s:%d", host, taken)
    if port_file is not None:
        write_port(port_file, taken)
    signal.sigwait(STOP_SIGNALS)
    server.stop()


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devkit.stack.moto_emulator")
    parser.add_argument("-H", "--host", default="127.0.0.1", help="the address to bind")
    parser.add_argument("-p", "--port", type=int, default=5000, help="0: the system chooses")
    parser.add_argument("--port-file", type=Path, help="where to write the port taken")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_arguments()
    forget_items()
    # Its request lines, bounded and 0600 under LOG_FILE like every component's.
    logging.basicConfig(
        level=logging.INFO, handlers=[output_handler(RedactingFormatter("%(message)s"))]
    )
    serve(arguments.host, arguments.port, arguments.port_file)
