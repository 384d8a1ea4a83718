"""cdk-nag's AWS Solutions rules on the CDK stack, and each finding we accept with its reason.

The reasons are listed in docs/decisions.md too; a test checks both name the same rules.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import cdk_nag

from devkit.cloud.aws import DeployError

SUPPRESSIONS: dict[str, str] = {
    "AwsSolutions-VPC7": (
        "no VPC flow logs, as in Copilot's default environment: the tasks only connect out (to"
        " Synadia Cloud over TLS and to AWS APIs) and nothing listens; add them per account policy"
    ),
    "AwsSolutions-ECS2": (
        "the plain variables are the manifest's non-secret settings (NATS_URL, LOG_LEVEL, ...);"
        " the one secret, NATS_CREDENTIALS, comes from the SSM SecureString"
    ),
    "AwsSolutions-IAM5": (
        "Resource::* only where AWS allows nothing narrower: ecr:GetAuthorizationToken for the"
        " execution role and the ssmmessages channels and session logging of ECS Exec (`exec: true` in the"
        " manifest)"
    ),
}
"""Rule id -> why this stack accepts it."""


class NagError(DeployError):
    """An AwsSolutions rule failed that no suppression covers."""


def check(stack: cdk.Stack) -> None:
    cdk.Aspects.of(stack).add(cdk_nag.AwsSolutionsChecks(verbose=True))


def suppress(stack: cdk.Stack) -> None:
    cdk_nag.NagSuppressions.add_stack_suppressions(
        stack,
        [
            cdk_nag.NagPackSuppression(
                id=rule,
                reason=reason,
                applies_to=["Resource::*"] if rule == "AwsSolutions-IAM5" else None,
            )
            for rule, reason in SUPPRESSIONS.items()
        ],
        apply_to_nested_stacks=True,
    )


def errors(messages: list[Any]) -> list[str]:
    """The error-level annotations of a synthesized stack (cdk-nag reports as errors)."""
    error = cdk.cx_api.SynthesisMessageLevel.ERROR
    return [str(m.entry.data).split("\n", 1)[0] for m in messages if m.level == error]
