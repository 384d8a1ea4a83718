"""moto's server, without its record of every object it ever made: the native DynamoDB emulator.

moto 5 appends every instance of every model class to a class-level list (`BaseModel.__new__`,
`moto/core/common_models.py`) that only `POST /moto-api/reset` empties. A read with a
`ProjectionExpression`, which the service sends on every GetItem and BatchGetItem, returns a
new projected `Item`, so each item read stayed in memory for good: about 580 bytes per item,
0.75 MB a second under the soak's load, without end. Nothing in moto turns the record off; here
`Item`'s list is one that keeps nothing. Only moto's `/moto-api/data.json` dashboard loses its
list of items. Run as `python -m devkit.stack.moto_emulator`, with `moto_server`'s arguments.
"""

from __future__ import annotations

import collections
import logging

from moto.dynamodb.models.dynamo_type import Item
from moto.server import main

from service.logs import RedactingFormatter, output_handler


def forget_items() -> None:
    Item.instances_tracked = collections.deque(maxlen=0)  # type: ignore[attr-defined]


if __name__ == "__main__":
    forget_items()
    # Its request lines, bounded and 0600 under LOG_FILE like every component's.
    logging.basicConfig(
        level=logging.INFO, handlers=[output_handler(RedactingFormatter("%(message)s"))]
    )
    main()
