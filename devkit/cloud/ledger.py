"""What `invoke cloud-up` made, so `cloud-down` removes exactly that and nothing else.

Kept beside the creds it wrote, under `.cloud/<api host>/<account>/`, and saved after every
step, so a run that fails part-way still knows what it made.
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


class Ledger(BaseModel):
    api_url: str
    account: str
    system_id: str = ""
    account_id: str = ""
    made: list[Made] = []

    def add(self, kind: Kind, name: str, id_: str = "") -> None:
        if not self.holds(kind, name):
            self.made.append(Made(kind=kind, name=name, id=id_))

    def holds(self, kind: Kind, name: str) -> bool:
        return any(m.kind == kind and m.name == name for m in self.made)

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
