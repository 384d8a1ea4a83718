"""What the native stack's components write to disk: bounded files, readable by their owner
only, and never a token, a JWT or a seed, whatever a caller sends."""

from __future__ import annotations

import contextlib
import json
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from service.logs import redact
from tests.support.commands import invoke, taken_port
from tests.support.servers import Provider

pytestmark = pytest.mark.integration


def test_a_log_file_is_bounded_private_and_takes_the_process_output(tmp_path: Path) -> None:
    """Lines logged, prints and raw writes to stderr all land in the current file; old files
    beyond the backups are gone; every file is 0600."""
    log = tmp_path / "component.log"
    script = textwrap.dedent(
        f"""
        import logging, os, sys
        from pathlib import Path
        from service.logs import RedactingFormatter, RotatingOutput
        handler = RotatingOutput(Path({str(log)!r}), max_bytes=4000, backups=2)
        handler.setFormatter(RedactingFormatter("%(message)s"))
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        for n in range(500):
            logging.info("line %d of a long-running component", n)
        print("printed at the end", flush=True)
        os.write(2, b"raw stderr at the end\\n")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    files = sorted(tmp_path.glob("component.log*"))
    assert [f.name for f in files] == ["component.log", "component.log.1", "component.log.2"]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert file.stat().st_size <= 4000 + 100
    current = log.read_text()
    assert "printed at the end" in current
    assert "raw stderr at the end" in current
    assert "line 499" in current


@pytest.mark.parametrize(
    "secret",
    [
        "nhg_" + "A1b2" * 10,
        "uat_" + "x_Y-" * 10,
        "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVQUJDIn0.c2lnbmF0dXJl",
        "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4",
    ],
)
def test_secrets_are_redacted_wherever_they_stand(secret: str) -> None:
    for line in (
        f"GET /v1/nats/subjects/x?authorization={secret}&x=%D9 HTTP/1.1",
        f"Authorization: Bearer {secret}",
        json.dumps({"event": "request", "token": secret}),
        f"plain {secret} text",
    ):
        assert secret not in redact(line), line


def test_an_authorization_query_value_of_any_shape_is_redacted() -> None:
    assert redact("/x?a=1&Authorization=opaque-42&b=2") == "/x?a=1&Authorization=[redacted]&b=2"


def test_no_secret_reaches_a_log_file_of_the_stack(
    stack_env: dict[str, str], provider: Provider
) -> None:
    """A stack used the way a careless or hostile caller would, then every file it logged to
    is read for every token, JWT and seed it holds."""
    if provider.name != "native":
        pytest.skip("the native stack's own files; Compose's logs are the engine's")
    root = Path(stack_env["STACK_DIR"])
    assert invoke(stack_env, "up").returncode == 0
    tokens: dict[str, str] = json.loads((root / "security" / "gateway-tokens.json").read_text())
    gateway = f"http://127.0.0.1:{taken_port(stack_env, 'STACK_GATEWAY_PORT')}/v1/nats/subjects"
    client = tokens["client"]
    calls = [
        ("GET", f"{gateway}/customer.balance?authorization={client}&x=%D9", {}),
        ("POST", f"{gateway}/customer.balance?authorization={client}", {}),
        ("POST", f"{gateway}/customer.balance", {"Authorization": f"Bearer {client}x"}),
        ("PUT", f"{gateway}/forbidden.subject", {"Authorization": f"Bearer {client}"}),
        ("GET", f"{gateway}/%FF%FE?authorization={tokens['admin']}", {}),
    ]
    for method, url, headers in calls:
        # A GET on a subject is a stream that does not end: a short read is enough.
        with contextlib.suppress(httpx.ReadTimeout):
            httpx.request(method, url, headers=headers, content=b'{"client_id":"678"}', timeout=2)
    assert invoke(stack_env, "req", "678").returncode == 0
    assert invoke(stack_env, "cp-list", "--api-url", "local").returncode == 0

    secrets = {f"token of {user}": token for user, token in tokens.items()}
    secrets["control-plane token"] = (root / "security" / "controlplane-token").read_text().strip()
    for creds in (root / "creds").glob("*.creds"):
        for block, found in enumerate(
            re.findall(r"^(eyJ\S+|SU[A-Z2-7]{56})$", creds.read_text(), re.M)
        ):
            secrets[f"{creds.name} block {block}"] = found
    assert len(secrets) >= 8
    logs = [p for p in root.rglob("*.log*") if p.is_file()]
    assert {p.stem.split(".")[0] for p in logs} >= {"nats", "dynamodb", "gateway", "controlplane"}
    for path in logs:
        text = path.read_text(errors="replace")
        leaked = [name for name, secret in secrets.items() if secret in text]
        assert leaked == [], f"{path} holds {leaked}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
