"""Local NATS security that behaves like Synadia Cloud: operator mode, JWT users, least privilege.

`invoke up` generates an operator, a system account, the application account and its users
(devkit.auth.permissions) once, under `.stack/`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

from devkit import platform_names
from devkit.auth.jwt import (
    Claims,
    Identity,
    account_claims,
    encode,
    format_creds,
    identity_from_seed,
    new_identity,
    operator_claims,
    user_claims,
)
from devkit.auth.permissions import (
    JETSTREAM_R1_LIMITS,
    JETSTREAM_R3_LIMITS,
    LOCAL_ONLY_USERS,
    USERS,
)
from devkit.auth.private_files import write_private

ROUTE_USER = "route"
"""The user the cluster's nodes authenticate their routes as (one for all nodes, as a cluster
shares one `cluster { authorization }`)."""

ROUTE_PASSWORD_KEY = "route_password"  # noqa: S105 - a key name, not a secret
"""Where keys.json (0600) keeps the routes' password beside the seeds."""

ISSUED_AT_KEY = "issued_at"
ISSUED_DIGEST_KEY = "issued_claims_sha256"
"""keys.json also keeps when the JWTs were issued and a digest of what they claim: the same
claims are signed again at the same time, so they come out the same tokens."""


@dataclass(frozen=True)
class RouteCredentials:
    """What a node must present to open a route to another: without it anything on 127.0.0.1
    could join the cluster as a node and see every account's messages, $SYS's included."""

    user: str
    password: str

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"RouteCredentials(user={self.user!r})"

    def authorization_block(self) -> str:
        """The `authorization {}` of a `cluster {}` block (indented inside it)."""
        return (
            f'  authorization {{\n    user: "{self.user}"\n    password: "{self.password}"\n  }}\n'
        )

    def url(self, route: str) -> str:
        """`nats-route://host:port` with these credentials in it (the password is hex: nothing
        in it needs escaping in a URL or in nats-server's configuration)."""
        scheme, separator, address = route.partition("://")
        if not separator:
            raise ValueError(f"not a route URL: {route!r}")
        return f"{scheme}://{self.user}:{self.password}@{address}"


@dataclass(frozen=True)
class SecurityMaterial:
    operator_jwt: str
    system_account: str
    account_jwts: dict[str, str]
    """Public key -> JWT, preloaded into the server's memory resolver."""
    creds: dict[str, Path]
    """Each user's .creds file, by user name."""
    route: RouteCredentials
    """What the cluster's nodes authenticate their routes with."""

    @property
    def service_creds(self) -> Path:
        return self.creds[platform_names.SERVICE_USER]

    @property
    def client_creds(self) -> Path:
        return self.creds[platform_names.CLIENT_USER]

    def server_config(self, resolver_dir: PurePath | str) -> str:
        """The nats-server configuration block for operator mode.

        The full resolver, as Synadia Cloud's servers run: the preloaded accounts are written
        to `resolver_dir` at start, and accounts made later (the control-plane twin) are pushed
        through the system account and kept there.
        """
        preload = "\n".join(f"  {key}: {token}" for key, token in self.account_jwts.items())
        return (
            f"operator: {self.operator_jwt}\n"
            f"system_account: {self.system_account}\n"
            "resolver: {\n"
            "  type: full\n"
            f'  dir: "{resolver_dir}"\n'
            "  allow_delete: true\n"
            '  interval: "2m"\n'
            "}\n"
            f"resolver_preload: {{\n{preload}\n}}\n"
        )


def local_account_key(root: Path) -> str | None:
    """The public key of the local stack's application account, if the stack was ever started."""
    keys_path = root / "security" / "keys.json"
    try:
        seed = json.loads(keys_path.read_text())["application"]
    except (OSError, ValueError, KeyError):
        return None
    return identity_from_seed(seed).public_key


GATEWAY_TOKEN_PREFIX = "nhg_"  # noqa: S105 - a prefix, not a secret
"""Synadia Cloud's HTTP gateway tokens look like `nhg_...`; the local ones do too."""


def gateway_tokens_path(root: Path) -> Path:
    return root / "security" / "gateway-tokens.json"


def twin_gateway_tokens_path(root: Path) -> Path:
    """Tokens the control-plane twin issued for its users: token -> {user, creds}."""
    return root / "controlplane" / "gateway-tokens.json"


def ensure_gateway_tokens(root: Path) -> dict[str, str]:
    """One HTTP-gateway token per user of the local account (user -> token), made once, 0600.

    Each token stands for its user: the gateway talks to NATS with that user's creds, so the
    user's permissions apply unchanged, as in the cloud.
    """
    path = gateway_tokens_path(root)
    try:
        tokens: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        tokens = {}
    users = (*USERS, *LOCAL_ONLY_USERS)
    missing = [user for user in users if user not in tokens]
    if missing:
        tokens.update({user: GATEWAY_TOKEN_PREFIX + secrets.token_urlsafe(32) for user in missing})
        write_private(path, json.dumps(tokens, indent=2))
    return tokens


CONTROLPLANE_TOKEN_PREFIX = "uat_"  # noqa: S105 - a prefix, not a secret
"""Synadia Cloud's personal access tokens look like `uat_...`; the twin's do too."""


def controlplane_token_path(root: Path) -> Path:
    return root / "security" / "controlplane-token"


def ensure_controlplane_token(root: Path) -> str:
    """The control-plane twin's personal access token, made once, 0600, with no trailing
    newline: the original program sends the file's bytes as read, and Go refuses the header."""
    path = controlplane_token_path(root)
    try:
        text = path.read_text()
    except OSError:
        text = ""
    token = text.strip() or CONTROLPLANE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    if text != token:
        write_private(path, token)
    return token


def creds_path(root: Path, user: str) -> Path:
    return root / "creds" / f"{user}.creds"


def ensure_security(
    root: Path, *, account: str = platform_names.APP_ACCOUNT_NAME, clustered: bool = False
) -> SecurityMaterial:
    """Load the material under `root`, or generate it on first use; `clustered`: the
    application account gets the R3 tier too (the stack's servers form a cluster)."""
    keys_path = root / "security" / "keys.json"
    if keys_path.exists():
        seeds = json.loads(keys_path.read_text())
        if seeds.get("account_name") != account:
            seeds = None  # a different account was asked for: start afresh
    else:
        seeds = None
    if seeds is None:
        seeds = {"account_name": account}
    missing = {role: kind for role, kind in _ROLES.items() if role not in seeds}
    # First use, or a role added since (the admin user, the routes' password): keep the rest.
    changed = bool(missing) or ROUTE_PASSWORD_KEY not in seeds
    seeds.update({role: new_identity(kind).seed for role, kind in missing.items()})
    seeds.setdefault(ROUTE_PASSWORD_KEY, secrets.token_hex(32))
    identities = {role: identity_from_seed(seeds[role]) for role in _ROLES}
    signed = _claims(identities, account, clustered=clustered)
    digest = hashlib.sha256(json.dumps(signed, sort_keys=True).encode()).hexdigest()
    if seeds.get(ISSUED_DIGEST_KEY) != digest:
        # Something to sign changed: a newer `iat`, which a resolver holding the old account
        # JWT requires of an update. Otherwise the same time, so the same tokens: a second `up`
        # or `bench --replicas` must not hand the replicas new creds (Compose would recreate
        # every container, and pick which replica to drop among them by chance).
        earlier = seeds.get(ISSUED_AT_KEY)
        now = int(time.time())
        seeds[ISSUED_AT_KEY] = max(now, earlier + 1) if isinstance(earlier, int) else now
        seeds[ISSUED_DIGEST_KEY] = digest
        changed = True
    if changed:
        write_private(keys_path, json.dumps(seeds, indent=2))
    ensure_gateway_tokens(root)
    route = RouteCredentials(ROUTE_USER, seeds[ROUTE_PASSWORD_KEY])
    return _issue(root, identities, signed, issued_at=seeds[ISSUED_AT_KEY], route=route)


_ROLES = {
    "operator": "operator",
    "system": "account",
    "application": "account",
    **{user: "user" for user in (*USERS, *LOCAL_ONLY_USERS)},
}


Signed = dict[str, tuple[Claims, str]]
"""What `_issue` signs, by name: the claims and the role of the identity that signs them."""


def _claims(ids: dict[str, Identity], account: str, *, clustered: bool) -> Signed:
    operator, system, application = ids["operator"], ids["system"], ids["application"]
    system_claims = account_claims(system, platform_names.SYSTEM_ACCOUNT_NAME)
    application_claims = account_claims(
        application,
        account,
        jetstream_r1=JETSTREAM_R1_LIMITS,
        jetstream_r3=JETSTREAM_R3_LIMITS if clustered else None,
    )
    return {
        "operator": (operator_claims(operator, platform_names.OPERATOR_NAME, system), "operator"),
        "system": (system_claims, "operator"),
        "application": (application_claims, "operator"),
        **{
            role: (user_claims(ids[role], role, permissions), "application")
            for role, permissions in {**USERS, **LOCAL_ONLY_USERS}.items()
        },
    }


def _issue(
    root: Path,
    ids: dict[str, Identity],
    signed: Signed,
    *,
    issued_at: int,
    route: RouteCredentials,
) -> SecurityMaterial:
    def token(name: str) -> str:
        claims, issuer = signed[name]
        return encode(claims, ids[issuer], now=issued_at)

    system, application = ids["system"], ids["application"]
    paths = {}
    for role in (*USERS, *LOCAL_ONLY_USERS):
        paths[role] = creds_path(root, role)
        write_private(paths[role], format_creds(token(role), ids[role]))
    return SecurityMaterial(
        operator_jwt=token("operator"),
        system_account=system.public_key,
        account_jwts={
            system.public_key: token("system"),
            application.public_key: token("application"),
        },
        creds=paths,
        route=route,
    )
