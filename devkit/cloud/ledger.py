"""What `invoke cloud-up` made, so `cloud-down` removes exactly that and nothing else.

Kept beside the creds it wrote, under `.cloud/<api host>/<account>/`, and saved before and
after every step: the intent to make a thing is recorded before the call, so a run interrupted
while an answer was on its way (the thing made, its id never seen) still knows the thing is its
own; the next run adopts it by name, and `cloud-down` finds it by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from devkit.auth.private_files import write_private
from devkit.project import ROOT

Kind = Literal["account", "user", "kv-bucket", "stream", "file", "context"]


class Made(BaseModel):
    kind: Kind
    name: str
    id: str = ""
    """The API's id; for a file, its path."""
    pending: bool = False
    """Asked for, and no answer seen yet: it may or may not exist."""


class Ledger(BaseModel):
    api_url: str
    account: str
    system_id: str = ""
    account_id: str = ""
    made: list[Made] = []

    def intend(self, kind: Kind, name: str) -> None:
        """Before the call that makes it; `add` (or `adopt`) completes it."""
        if not self.holds(kind, name):
            self.made.append(Made(kind=kind, name=name, pending=True))

    def add(self, kind: Kind, name: str, id_: str = "") -> None:
        found = self._entry(kind, name)
        if found is None:
            self.made.append(Made(kind=kind, name=name, id=id_))
        else:
            found.id, found.pending = id_, False

    def adopt(self, kind: Kind, name: str, id_: str) -> bool:
        """Found existing: ours when an interrupted run intended it (then completed here)."""
        found = self._entry(kind, name)
        if found is None or not found.pending:
            return False
        found.id, found.pending = id_, False
        return True

    def _entry(self, kind: Kind, name: str) -> Made | None:
        return next((m for m in self.made if m.kind == kind and m.name == name), None)

    def holds(self, kind: Kind, name: str) -> bool:
        return self._entry(kind, name) is not None

    def of(self, kind: Kind) -> list[Made]:
        return [m for m in self.made if m.kind == kind]


CLOUD_DIR_VARIABLE = "CLOUD_DIR"


def cloud_dir(environment: Mapping[str, str]) -> Path:
    """`CLOUD_DIR`, or `.cloud/` in the repository (git-ignored)."""
    return Path(environment.get(CLOUD_DIR_VARIABLE) or ROOT / ".cloud").expanduser()


class CloudFiles:
    """Where one account's cloud-side files live."""

    def __init__(self, api_url: str, account: str, base: Path) -> None:
        host = re.sub(r"[^A-Za-z0-9.-]", "_", urlsplit(api_url).netloc or api_url)
        self.directory = base / host / account

    @property
    def ledger(self) -> Path:
        return self.directory / "ledger.json"

    def creds(self, user: str) -> Path:
        return self.directory / "creds" / f"{user}.creds"

    def gateway_token(self, user: str) -> Path:
        return self.directory / f"{user}.gateway-token"

    def load(self, api_url: str, account: str) -> Ledger:
        try:
            return Ledger.model_validate_json(self.ledger.read_text())
        except FileNotFoundError:
            return Ledger(api_url=api_url, account=account)

    def save(self, ledger: Ledger) -> None:
        write_private(self.ledger, json.dumps(ledger.model_dump(), indent=2))

    def forget(self) -> None:
        """Drop the ledger and the folders it leaves empty; a file someone else put there stays."""
        self.ledger.unlink(missing_ok=True)
        for folder in (self.directory / "creds", self.directory, self.directory.parent):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
