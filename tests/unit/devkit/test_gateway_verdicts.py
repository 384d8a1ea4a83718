"""The gateway's reading of a user's JWT (its inbox prefix, what it may publish) and of the
server's denials: exact subjects, one denial for one call, no verdict is no permission."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import Error as NatsError

from devkit.gateway.permissions import UserPermissions, matches
from devkit.gateway.verdicts import NotConfirmedError, PermissionDenied, Verdicts

CLIENT = UserPermissions(
    publish_allow=("customer.balance", "$SRV.>"), subscribe_allow=("_INBOX.>",)
)


def denial(kind: str, subject: str) -> NatsError:
    """As nats-py hands it to the error callback: lower-cased."""
    return NatsError(
        f"nats: permissions violation for {kind} to {subject!r}".lower().replace("'", '"')
    )


@pytest.mark.parametrize(
    ("allowed", "prefix"),
    [
        (["_INBOX_client.>", "$SRV.>"], "_INBOX_client"),
        (["_INBOX.>"], None),  # nats-py's default
        (["_INBOX_a.>", "_INBOX_b.>"], None),  # not exactly one
        (["_INBOX_client.*"], None),
        ([], None),
    ],
)
def test_the_inbox_prefix_is_the_one_private_inbox_the_jwt_allows(
    allowed: list[str], prefix: str | None
) -> None:
    claims = {"nats": {"sub": {"allow": allowed}, "pub": {}}}
    assert UserPermissions.from_claims(claims).inbox_prefix() == prefix


def test_subjects_match_as_nats_matches_them() -> None:
    assert matches("customer.balance", "customer.balance")
    assert not matches("customer.balance", "CUSTOMER.BALANCE")
    assert matches("$SRV.>", "$SRV.PING.customer")
    assert not matches("$SRV.>", "$SRV")
    assert matches("a.*.c", "a.b.c")
    assert not matches("a.*.c", "a.b.c.d")
    assert matches("_INBOX.>", "_INBOX.*")
    assert not matches("_INBOX.x", "_INBOX.*")
    assert CLIENT.may_publish("customer.balance")
    assert not CLIENT.may_publish("CUSTOMER.BALANCE")
    assert not CLIENT.may_subscribe(">")
    assert CLIENT.may_subscribe("_INBOX.abc.>")


async def test_a_lower_cased_denial_fails_only_the_call_it_was_meant_for() -> None:
    verdicts = Verdicts(CLIENT)
    valid_done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    denied_done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    valid = asyncio.ensure_future(
        verdicts.checked(valid_done, kind="publish", subject="customer.balance")
    )
    denied = asyncio.ensure_future(
        verdicts.checked(denied_done, kind="publish", subject="CUSTOMER.BALANCE")
    )
    await asyncio.sleep(0)
    await verdicts.on_error(denial("publish", "CUSTOMER.BALANCE"))
    valid_done.set_result("answered")
    assert await valid == "answered"
    with pytest.raises(PermissionDenied) as refused:
        await denied
    assert refused.value.subject == "CUSTOMER.BALANCE"
    denied_done.set_result("late")


async def test_one_denial_fails_one_call_of_the_same_subject() -> None:
    verdicts = Verdicts(CLIENT)
    works = [asyncio.get_running_loop().create_future() for _ in range(2)]
    calls = [
        asyncio.ensure_future(verdicts.checked(w, kind="publish", subject="CUSTOMER.BALANCE"))
        for w in works
    ]
    await asyncio.sleep(0)
    await verdicts.on_error(denial("publish", "CUSTOMER.BALANCE"))
    with pytest.raises(PermissionDenied):
        await calls[0]
    assert not calls[1].done()  # denied with the first, it would have failed with it
    await verdicts.on_error(denial("publish", "CUSTOMER.BALANCE"))  # its own -ERR
    with pytest.raises(PermissionDenied):
        await calls[1]
    for work in works:
        work.set_result(None)


async def test_a_denial_the_jwt_cannot_place_fails_every_call_it_could_mean() -> None:
    verdicts = Verdicts(UserPermissions())  # no known limits: the JWT says nothing
    works = [asyncio.get_running_loop().create_future() for _ in range(2)]
    calls = [
        asyncio.ensure_future(verdicts.checked(w, kind="publish", subject=s))
        for w, s in zip(works, ("orders.x", "ORDERS.X"), strict=True)
    ]
    await asyncio.sleep(0)
    await verdicts.on_error(denial("publish", "ORDERS.X"))
    for call in calls:
        with pytest.raises(PermissionDenied):
            await call
    for work in works:
        work.set_result(None)


async def test_no_verdict_within_the_deadline_is_not_a_permission() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(NotConfirmedError):
        await Verdicts(CLIENT).checked(never, kind="publish", subject="x", deadline_s=0.05)
    assert not never.cancelled()  # finishes in the background: a cancelled flush harms nats-py
    never.set_result(None)
