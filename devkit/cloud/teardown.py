"""`invoke cloud-down`: remove what the ledger says cloud-up made, and only that, newest first.

An entry still pending (cloud-up was interrupted before the answer came) is looked up by name:
removed when it exists, forgotten when it was never made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devkit.auth import contexts
from devkit.cloud.ledger import CloudFiles, Ledger, Made
from devkit.controlplane.client import ControlPlane

Emit = Callable[[str], None]


def cloud_down(
    api: ControlPlane, ledger: Ledger, files: CloudFiles, contexts_dir: Path, emit: Emit
) -> int:
    """Remove what the ledger says cloud-up made, newest first; keep the account when it holds
    anything cloud-up did not make."""
    removed = 0
    for made in list(reversed(ledger.made)):
        if made.pending and made.kind not in ("file", "context"):
            made.id = _id_by_name(api, ledger, made)
            if not made.id:
                ledger.made.remove(made)  # asked for, never made
                files.save(ledger)
                continue
        if made.kind == "context":
            path = contexts_dir / "context" / f"{made.name}.json"
            if path.exists() and contexts.is_ours(path):
                path.unlink()
        elif made.kind == "file":
            Path(made.name).unlink(missing_ok=True)
        elif made.kind == "account":
            if not _only_ours(api, made.id, ledger.account, emit):
                continue
            api.delete_account(made.id)
        elif made.kind == "user":
            api.delete_user(made.id)
        elif made.kind == "kv-bucket":
            api.delete_kv_bucket(made.id)
        elif made.kind == "stream":
            api.delete_stream(made.id)
        ledger.made.remove(made)
        files.save(ledger)
        removed += 1
        emit(f"- removed {made.kind} {made.name}")
    if not ledger.made:
        files.forget()
    return removed


def _id_by_name(api: ControlPlane, ledger: Ledger, made: Made) -> str:
    """The id of what an interrupted cloud-up asked for, if it was made; "" if not."""
    if made.kind == "account":
        found = {a.name: a.id for a in api.accounts(ledger.system_id)} if ledger.system_id else {}
    elif not ledger.account_id:
        found = {}
    elif made.kind == "user":
        found = {u.name: u.id for u in api.users(ledger.account_id)}
    elif made.kind == "kv-bucket":
        found = {b.config.bucket: b.id for b in api.kv_buckets(ledger.account_id)}
    else:
        found = {s.config.name: s.id for s in api.streams(ledger.account_id)}
    return found.get(made.name, "")


def _only_ours(api: ControlPlane, account_id: str, account: str, emit: Emit) -> bool:
    others = [f"user {u.name}" for u in api.users(account_id)]
    others += [f"bucket {b.config.bucket}" for b in api.kv_buckets(account_id)]
    others += [f"stream {s.config.name}" for s in api.streams(account_id)]
    if others:
        emit(f"! kept account {account}: it holds {', '.join(others)}, not made by cloud-up")
    return not others
