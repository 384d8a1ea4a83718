"""The balance service on ECS Fargate with the AWS CDK: what the Copilot path deploys, built from
the same ServiceSpec. `synthesize` gives the template offline (no CLI, no AWS); the CDK CLI runs
`main` (`python -m devkit.cloud.cdk_app`) for `cdk deploy` and `cdk destroy`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from devkit.cloud import cdk_nag_rules
from devkit.cloud.copilot_schema import Template
from devkit.cloud.service_spec import SERVICE, TABLE_VARIABLE, ServiceSpec, load_service_spec
from devkit.project import ROOT

CONTAINER = SERVICE
EXISTING_TABLE_CONTEXT = "existing_table"
"""CDK context naming a retained table to serve from instead of creating one (the migration)."""
ENVIRONMENT_CONTEXT = "environment"


class BalanceStack(cdk.Stack):
    """One stack: no NAT gateway (public subnets, public IPs), the table, the service."""

    def __init__(
        self,
        scope: Construct,
        spec: ServiceSpec,
        *,
        image: ecs.ContainerImage,
        existing_table: str = "",
        env: cdk.Environment | None = None,
    ) -> None:
        super().__init__(scope, spec.stack_name, env=env)
        table = self._table(spec, existing_table)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)
            ],
            restrict_default_security_group=False,
        )
        cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=spec.cpu,
            memory_limit_mib=spec.memory,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=(
                    ecs.CpuArchitecture.ARM64
                    if spec.platform.endswith("arm64")
                    else ecs.CpuArchitecture.X86_64
                ),
            ),
        )
        task.add_to_task_role_policy(
            iam.PolicyStatement(
                sid="ReadAndSeedBalances",
                actions=list(spec.table.actions),
                resources=[table.table_arn],
            )
        )
        log_group = logs.LogGroup(self, "Logs", removal_policy=cdk.RemovalPolicy.DESTROY)
        # The L2 takes an enum of fixed periods; the manifest gives days, which the L1 takes.
        cast(
            logs.CfnLogGroup, log_group.node.default_child
        ).retention_in_days = spec.log_retention_days
        secret = ssm.StringParameter.from_secure_string_parameter_attributes(
            self, "NatsCredentials", parameter_name=spec.secret_parameter
        )
        check = spec.health_check
        task.add_container(
            CONTAINER,
            image=image,
            environment={**spec.variables, TABLE_VARIABLE: table.table_name},
            secrets={"NATS_CREDENTIALS": ecs.Secret.from_ssm_parameter(secret)},
            health_check=ecs.HealthCheck(
                command=list(check.command),
                interval=cdk.Duration.seconds(check.interval_s),
                retries=check.retries,
                timeout=cdk.Duration.seconds(check.timeout_s),
                start_period=cdk.Duration.seconds(check.start_period_s),
            ),
            stop_timeout=cdk.Duration.seconds(spec.stop_timeout_s),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=SERVICE, log_group=log_group),
        )
        service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            desired_count=spec.count,
            min_healthy_percent=100,  # as Copilot: a deploy never runs below the count
            max_healthy_percent=200,
            assign_public_ip=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            enable_execute_command=True,
        )
        cdk.CfnOutput(self, "DdbTable", value=table.table_name)
        # Read by `invoke deploy --with cdk` to restart the tasks when the creds changed.
        cdk.CfnOutput(self, "ClusterName", value=cluster.cluster_name)
        cdk.CfnOutput(self, "ServiceName", value=service.service_name)
        cdk_nag_rules.suppress(self)

    def _table(self, spec: ServiceSpec, existing_table: str) -> dynamodb.ITable:
        if existing_table:
            return dynamodb.Table.from_table_name(self, "BalancesTable", existing_table)
        key_types = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
        return dynamodb.Table(
            self,
            "BalancesTable",
            partition_key=dynamodb.Attribute(
                name=spec.table.key_attribute, type=key_types[spec.table.key_type]
            ),
            billing_mode=(
                dynamodb.BillingMode.PAY_PER_REQUEST
                if spec.table.on_demand
                else dynamodb.BillingMode.PROVISIONED
            ),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=spec.table.point_in_time_recovery
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=(
                cdk.RemovalPolicy.RETAIN if spec.table.retained else cdk.RemovalPolicy.DESTROY
            ),
        )


def build_image(spec: ServiceSpec) -> ecs.ContainerImage:
    """The image Copilot builds: the repository's Dockerfile (its .dockerignore keeps it small),
    for the manifest's platform, so an image built on Apple Silicon still starts on x86 Fargate."""
    platform = (
        ecr_assets.Platform.LINUX_ARM64
        if spec.platform.endswith("arm64")
        else ecr_assets.Platform.LINUX_AMD64
    )
    return ecs.ContainerImage.from_asset(str(ROOT), platform=platform)


def synthesize(
    spec: ServiceSpec,
    *,
    image: ecs.ContainerImage | None = None,
    existing_table: str = "",
    outdir: Path | None = None,
    nag: bool = True,
) -> Template:
    """The CloudFormation template, offline; cdk-nag's AwsSolutions findings fail the synth."""
    app = cdk.App(outdir=str(outdir) if outdir else None)
    stack = BalanceStack(
        app,
        spec,
        image=image or ecs.ContainerImage.from_registry("customer-balance:synth"),
        existing_table=existing_table,
    )
    if nag:
        cdk_nag_rules.check(stack)
    assembly = app.synth()
    artifact = assembly.get_stack_by_name(stack.stack_name)
    findings = cdk_nag_rules.errors(artifact.messages)
    if findings:
        raise cdk_nag_rules.NagError("; ".join(findings))
    template: Template = artifact.template
    return template


def main() -> None:
    """The CDK CLI's entry (`cdk.json` names it): context picks the environment and table."""
    app = cdk.App()
    environment = str(app.node.try_get_context(ENVIRONMENT_CONTEXT) or "dev")
    existing = str(app.node.try_get_context(EXISTING_TABLE_CONTEXT) or "")
    spec = load_service_spec(environment)
    stack = BalanceStack(
        app,
        spec,
        image=build_image(spec),
        existing_table=existing,
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    cdk_nag_rules.check(stack)
    app.synth()


if __name__ == "__main__":
    main()
