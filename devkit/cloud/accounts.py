"""`invoke cp-list`, `cp-create` and `cp-delete`: the original's three control-plane commands,
with its failure modes fixed (a duplicate name is refused before any write; a missing one is a
clear error; several accounts of one name stop everything)."""

from __future__ import annotations

from devkit.controlplane.client import ControlPlane, ControlPlaneError
from devkit.controlplane.models import Account, AccountCreateRequest, AccountJwtSettings, System


def account_named(control_plane: ControlPlane, system: System, name: str) -> Account | None:
    found = [a for a in control_plane.accounts(system.id) if a.name == name]
    if len(found) > 1:
        ids = ", ".join(a.id for a in found)
        raise ControlPlaneError(f"several accounts are named {name} ({ids}): fix that first")
    return found[0] if found else None


def render_accounts(system: System, accounts: list[Account]) -> str:
    if not accounts:
        return f"system {system.name} ({system.id}): no accounts"
    name_width = max(len("name"), *(len(a.name) for a in accounts))
    id_width = max(len(a.id) for a in accounts)
    rows = [
        f"system {system.name} ({system.id}):",
        f"  {'name':<{name_width}}  {'id':<{id_width}}  system account",
    ]
    for account in sorted(accounts, key=lambda a: a.name):
        flag = "yes" if account.is_system_account else "no"
        rows.append(f"  {account.name:<{name_width}}  {account.id:<{id_width}}  {flag}")
    return "\n".join(rows)


def create_account(control_plane: ControlPlane, system: System, name: str) -> Account:
    existing = account_named(control_plane, system, name)
    if existing is not None:
        raise ControlPlaneError(f"an account named {name} already exists ({existing.id})")
    request = AccountCreateRequest(
        name=name, jwt_settings=AccountJwtSettings(description="created by invoke cp-create")
    )
    return control_plane.create_account(system.id, request)


def delete_account(control_plane: ControlPlane, system: System, name: str) -> Account:
    existing = account_named(control_plane, system, name)
    if existing is None:
        raise ControlPlaneError(f"no account named {name} in system {system.name}")
    control_plane.delete_account(existing.id)
    return existing
