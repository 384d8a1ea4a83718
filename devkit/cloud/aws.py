"""The AWS side of a deploy: one region for everything, the caller's account, what Copilot has
recorded about the app (in SSM, where Copilot keeps it), and the service's NATS secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from devkit.cloud import copilot_schema
from service.operator_errors import OperatorError

if TYPE_CHECKING:  # stubs are a development dependency
    from types_boto3_ssm import SSMClient
    from types_boto3_ssm.type_defs import TagTypeDef

Say = Callable[[str], None]

COPILOT_STORE = "/copilot/applications"
"""Where Copilot records its applications, environments (with their region) and services."""


class DeployError(OperatorError):
    """A preflight check or a step failed; the message says what to fix."""


def deploy_region(environ: Mapping[str, str], profile_region: str | None) -> str:
    """The one region: boto3 reads AWS_DEFAULT_REGION, Copilot AWS_REGION; both must agree."""
    explicit = {
        name: environ[name] for name in ("AWS_REGION", "AWS_DEFAULT_REGION") if environ.get(name)
    }
    if len(set(explicit.values())) > 1:
        raise DeployError(
            f"AWS_REGION is {explicit['AWS_REGION']} but AWS_DEFAULT_REGION is"
            f" {explicit['AWS_DEFAULT_REGION']}: Copilot would use one and the secret would go"
            " to the other; set one region"
        )
    region = next(iter(explicit.values()), None) or profile_region
    if not region:
        raise DeployError("no AWS region: set AWS_REGION (or a region in your AWS profile)")
    return region


def caller_identity(session: boto3.session.Session) -> tuple[str, str]:
    """(account, ARN) of whoever the credentials belong to."""
    sts = session.client("sts")
    try:
        identity = sts.get_caller_identity()
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as error:
        raise DeployError(
            f"cannot reach AWS at {sts.meta.endpoint_url} ({error}): check the network (and"
            " AWS_ENDPOINT_URL, if set)"
        ) from None
    except (BotoCoreError, ClientError) as error:
        raise DeployError(
            f"AWS credentials do not resolve ({error}); run `aws sso login` or set AWS_PROFILE"
        ) from None
    return str(identity["Account"]), str(identity["Arn"])


@dataclass(frozen=True)
class Target:
    application: str
    environment: str

    @property
    def parameter(self) -> str:
        """The SSM path the manifest's `secrets.NATS_CREDENTIALS` resolves to."""
        return copilot_schema.PARAMETER_PATH.replace(
            "${COPILOT_APPLICATION_NAME}", self.application
        ).replace("${COPILOT_ENVIRONMENT_NAME}", self.environment)

    @property
    def tags(self) -> list[TagTypeDef]:
        """Without these the task execution role may not read the parameter."""
        return [
            {"Key": "copilot-application", "Value": self.application},
            {"Key": "copilot-environment", "Value": self.environment},
        ]

    def tag_text(self) -> str:
        return ", ".join(f"{t['Key']}={t['Value']}" for t in self.tags)


@dataclass(frozen=True)
class CopilotRecords:
    """What Copilot already created for this target."""

    application: bool
    environment_region: str | None
    """The environment's region, or None when the environment does not exist."""
    service: bool


def copilot_records(ssm: SSMClient, target: Target, service: str) -> CopilotRecords:
    app = f"{COPILOT_STORE}/{target.application}"
    environment = _parameter(ssm, f"{app}/environments/{target.environment}")
    region = None
    if environment is not None:
        try:
            region = str(json.loads(environment)["region"])
        except (ValueError, KeyError, TypeError):
            raise DeployError(f"Copilot's record of {target.environment} is unreadable") from None
    return CopilotRecords(
        application=_parameter(ssm, app) is not None,
        environment_region=region,
        service=_parameter(ssm, f"{app}/components/{service}") is not None,
    )


def _parameter(ssm: SSMClient, name: str, *, decrypt: bool = False) -> str | None:
    try:
        return ssm.get_parameter(Name=name, WithDecryption=decrypt)["Parameter"].get("Value")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise DeployError(f"cannot read the SSM parameter {name}: {error}") from None


def store_credentials(ssm: SSMClient, target: Target, value: str, *, say: Say) -> str:
    """Write the SecureString once, update it when it changed, and always ensure its tags.

    Returns create, update or unchanged: a new value only reaches running tasks on a restart.
    """
    current = _parameter(ssm, target.parameter, decrypt=True)
    if current is None:
        say(f"ssm:PutParameter {target.parameter} (SecureString, tags {target.tag_text()})")
        ssm.put_parameter(Name=target.parameter, Value=value, Type="SecureString", Tags=target.tags)
        action = "create"
    elif current != value:
        say(f"ssm:PutParameter {target.parameter} (SecureString, overwrite: the creds changed)")
        ssm.put_parameter(Name=target.parameter, Value=value, Type="SecureString", Overwrite=True)
        action = "update"
    else:
        say(f"ssm:PutParameter not needed: {target.parameter} already holds these creds")
        action = "unchanged"
    say(f"ssm:AddTagsToResource {target.parameter} ({target.tag_text()})")
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=target.parameter, Tags=target.tags
    )
    return action
