"""A client for the subset of Synadia Cloud's control-plane API the platform uses.

Works the same against https://cloud.synadia.com and against the local twin: only the base URL
and the token differ. Retries 429 and 5xx (and only those); every other failure is one line.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from devkit import platform_names
from devkit.controlplane.models import (
    Account,
    AccountCreateRequest,
    GatewayToken,
    KvBucket,
    KvBucketConfig,
    NatsUser,
    NatsUserCreateRequest,
    Page,
    SigningKeyGroup,
    StreamConfig,
    StreamInfo,
    System,
    Team,
)
from service.operator_errors import OperatorError

API_PREFIX: Final = "/api/core/beta"
DEFAULT_API_URL: Final = platform_names.CONTROLPLANE_API_URL
ATTEMPTS: Final = 5
MAX_WAIT_S: Final = 20.0
_Model = TypeVar("_Model", bound=BaseModel)

_HINTS: Final[Mapping[int, str]] = {
    401: "the token was refused: check SYNADIA_TOKEN or the token file",
    403: "the token's user may not do this",
    404: "no such resource",
    409: "it already exists, or conflicts with what exists",
    422: "the API refused the request as it stands",
}


class ControlPlaneError(OperatorError):
    """A call failed for good: the status, the method and path, and what the API said."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def retry_after_s(response: httpx.Response) -> float | None:
    """The server's `Retry-After` (seconds or an HTTP date), if it sent one we can read."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    parsed = email.utils.parsedate_to_datetime(value) if "," in value else None
    return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


def _wait(state: RetryCallState) -> float:
    """Exponential from 0.5 s, or longer when the server asks for it; never past MAX_WAIT_S."""
    backoff = 0.5 * 2 ** (state.attempt_number - 1)
    error = state.outcome.exception() if state.outcome else None
    asked = retry_after_s(error.response) if isinstance(error, _Retryable) else None
    return float(min(MAX_WAIT_S, max(backoff, asked or 0.0)))


def describe_failure(method: str, path: str, status: int, body: str) -> str:
    """One line: the API defines no error body, so show whatever came back, shortened."""
    said = " ".join(body.split())[:300] or "(empty body)"
    hint = _HINTS.get(status, "")
    return f"{method} {path}: HTTP {status}{f' ({hint})' if hint else ''}: {said}"


class ControlPlane:
    """One API and one token. `transport` lets a test put the client on any httpx transport."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.api_url + API_PREFIX,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
        )
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response:
        content = None if body is None else body.model_dump_json(exclude_none=True)
        headers = {} if body is None else {"Content-Type": "application/json"}

        def attempt() -> httpx.Response:
            try:
                response = self._http.request(method, path, content=content, headers=headers)
            except httpx.TransportError as error:
                raise ControlPlaneError(
                    f"{method} {path}: cannot reach the control-plane API at {self.api_url}:"
                    f" {error or type(error).__name__}"
                ) from None
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(response)
            return response

        try:
            response = Retrying(
                retry=retry_if_exception(lambda error: isinstance(error, _Retryable)),
                stop=stop_after_attempt(ATTEMPTS),
                wait=_wait,
                sleep=self._sleep,
                reraise=True,
            )(attempt)
        except _Retryable as gave_up:
            response = gave_up.response
        if response.is_success:
            return response
        raise ControlPlaneError(
            describe_failure(method, API_PREFIX + path, response.status_code, response.text),
            status=response.status_code,
        )

    def _json(self, model: type[_Model], method: str, path: str, body: Any = None) -> _Model:
        response = self._call(method, path, body)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            raise ControlPlaneError(
                f"{method} {API_PREFIX + path}: the answer is not the documented"
                f" {model.__name__}: {error.errors()[0]['loc']} {error.errors()[0]['msg']}"
            ) from None

    def _items(self, model: type[_Model], path: str) -> list[_Model]:
        page: Page[_Model] = self._json(Page[model], "GET", path)  # type: ignore[valid-type]
        return page.items

    # Teams and systems

    def teams(self) -> list[Team]:
        return self._items(Team, "/teams")

    def systems(self, team_id: str) -> list[System]:
        return self._items(System, f"/teams/{team_id}/systems")

    # Accounts

    def accounts(self, system_id: str) -> list[Account]:
        return self._items(Account, f"/systems/{system_id}/accounts")

    def create_account(self, system_id: str, request: AccountCreateRequest) -> Account:
        return self._json(Account, "POST", f"/systems/{system_id}/accounts", request)

    def account(self, account_id: str) -> Account:
        return self._json(Account, "GET", f"/accounts/{account_id}")

    def delete_account(self, account_id: str) -> None:
        self._call("DELETE", f"/accounts/{account_id}")

    def signing_key_groups(self, account_id: str) -> list[SigningKeyGroup]:
        return self._items(SigningKeyGroup, f"/accounts/{account_id}/account-sk-groups")

    # NATS users

    def users(self, account_id: str) -> list[NatsUser]:
        return self._items(NatsUser, f"/accounts/{account_id}/nats-users")

    def create_user(self, account_id: str, request: NatsUserCreateRequest) -> NatsUser:
        return self._json(NatsUser, "POST", f"/accounts/{account_id}/nats-users", request)

    def delete_user(self, user_id: str) -> None:
        self._call("DELETE", f"/nats-users/{user_id}")

    def creds(self, user_id: str) -> str:
        """The user's .creds file text (a secret: write it 0600, never print it)."""
        text: str = self._call("POST", f"/nats-users/{user_id}/creds").text
        return text

    def gateway_token(self, user_id: str) -> str:
        """A new HTTP-gateway token for the user (a secret)."""
        return self._json(GatewayToken, "POST", f"/nats-users/{user_id}/http-gw-token").token

    # JetStream: buckets and streams are named by the id the API gave them, not their name

    def kv_buckets(self, account_id: str) -> list[KvBucket]:
        return self._items(KvBucket, f"/accounts/{account_id}/jetstream/kv-buckets")

    def create_kv_bucket(self, account_id: str, config: KvBucketConfig) -> KvBucket:
        path = f"/accounts/{account_id}/jetstream/kv-buckets"
        return self._json(KvBucket, "POST", path, config)

    def delete_kv_bucket(self, bucket_id: str) -> None:
        self._call("DELETE", f"/jetstream/kv-bucket/{bucket_id}")

    def streams(self, account_id: str) -> list[StreamInfo]:
        return self._items(StreamInfo, f"/accounts/{account_id}/jetstream/streams")

    def create_stream(self, account_id: str, config: StreamConfig) -> StreamInfo:
        return self._json(StreamInfo, "POST", f"/accounts/{account_id}/jetstream/streams", config)

    def delete_stream(self, stream_id: str) -> None:
        self._call("DELETE", f"/jetstream/stream/{stream_id}")
