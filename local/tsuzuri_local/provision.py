"""Create the stack's resources on an emulated AWS (moto's server) from ``template.yaml``.

Production resources come from ``template.yaml`` through ``sam deploy``. The local
stack and the tests read the same template, so the table's keys and stream, the
source bucket's versioning and event filters, the queue's redrive policy and the
event source mapping's batching are what will be deployed, not a second copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tsuzuri.aws.clients import Clients
from tsuzuri.errors import ConfigError
from tsuzuri.settings import Settings

from tsuzuri_local.checkout import TEMPLATE


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (``!Ref``, ``!Sub``…) as ``{"Fn::X": value}``."""


def _cfn_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@dataclass(frozen=True, slots=True)
class StackPlan:
    """What the local stack creates, read off the template."""

    table: dict[str, Any]
    source_versioned: bool
    notifications: list[tuple[list[str], str]]  # (events, key prefix)
    max_receive_count: int
    batch_size: int
    batching_window_s: float
    max_concurrency: int
    extra: dict[str, Any] = field(default_factory=dict)


def load_template(path: Path | None = None) -> dict[str, Any]:
    template_path = path or TEMPLATE
    if not template_path.is_file():
        raise ConfigError(
            f"template.yaml not found at {template_path}: run from a tsuzuri checkout"
        )
    with template_path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # type: ignore[no-any-return]  # noqa: S506


def plan_from_template(template: dict[str, Any]) -> StackPlan:
    resources = template["Resources"]

    def first(kind: str, name: str | None = None) -> dict[str, Any]:
        for logical, resource in resources.items():
            if resource["Type"] == kind and (name is None or logical == name):
                return resource.get("Properties", {})  # type: ignore[no-any-return]
        raise ConfigError(f"template.yaml has no {kind} {name or ''}")

    table = first("AWS::DynamoDB::Table")
    source = first("AWS::S3::Bucket", "SourceBucket")
    queue = first("AWS::SQS::Queue", "RenderQueue")
    function = first("AWS::Serverless::Function", "RenderFunction")
    sqs_events = [e["Properties"] for e in function["Events"].values() if e["Type"] == "SQS"]
    if not sqs_events:
        raise ConfigError("template.yaml: RenderFunction has no SQS event")
    mapping = sqs_events[0]
    notifications = []
    for rule in source.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
        prefixes = [
            r["Value"] for r in rule.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            if r["Name"] == "prefix"
        ]  # fmt: skip
        notifications.append(([rule["Event"]], prefixes[0] if prefixes else ""))
    stream = table.get("StreamSpecification", {})
    return StackPlan(
        table={
            "AttributeDefinitions": table["AttributeDefinitions"],
            "KeySchema": table["KeySchema"],
            "BillingMode": table.get("BillingMode", "PAY_PER_REQUEST"),
            "StreamSpecification": {
                "StreamEnabled": bool(stream),
                **({"StreamViewType": stream["StreamViewType"]} if stream else {}),
            },
        },
        source_versioned=source.get("VersioningConfiguration", {}).get("Status") == "Enabled",
        notifications=notifications,
        max_receive_count=int(queue.get("RedrivePolicy", {}).get("maxReceiveCount", 5)),
        batch_size=int(mapping.get("BatchSize", 10)),
        batching_window_s=float(mapping.get("MaximumBatchingWindowInSeconds", 0)),
        max_concurrency=int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 2)),
    )


@dataclass(frozen=True, slots=True)
class LocalStack:
    settings: Settings
    plan: StackPlan
    queue_url: str | None = None
    queue_arn: str | None = None
    dead_letter_url: str | None = None
    stream_arn: str | None = None


def create_bucket(s3: Any, name: str, *, versioned: bool = False) -> None:
    region = s3.meta.region_name
    kwargs: dict[str, Any] = {"Bucket": name}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    # A restored local stack's bucket (tsuzuri_local.devstack.state) is kept as it is:
    # not created again, which moto answers by emptying it.
    if name not in {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(**kwargs)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def create_distribution(cloudfront: Any, site_bucket: str, reference: str) -> str:
    origin = f"{site_bucket}.s3.amazonaws.com"
    listed = cloudfront.list_distributions()["DistributionList"].get("Items", [])
    for existing in listed:  # a restored local stack's
        if any(o["DomainName"] == origin for o in existing["Origins"]["Items"]):
            return str(existing["Id"])
    response = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": reference,
            "Comment": "tsuzuri local",
            "Enabled": True,
            "DefaultRootObject": "index.html",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": origin,
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "site",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )
    return str(response["Distribution"]["Id"])


def provision(
    clients: Clients,
    *,
    prefix: str = "tsuzuri",
    sqs: Any = None,
    template: Path | None = None,
    stream: bool = True,
) -> LocalStack:
    """Create buckets, table, distribution and (given an SQS client) the render queue
    with the source bucket's notifications, all as ``template.yaml`` describes them.
    ``stream=False`` leaves the table's stream off (benchmarks that preload thousands of
    posts: moto keeps every record in memory); ``UpdateTable`` can turn it on later.

    On a restored local stack what exists is kept (as a stack update keeps resources
    whose definition did not change): buckets, table and distribution are found again,
    and creating a queue with the same attributes returns the existing one."""
    plan = plan_from_template(load_template(template))
    source, site, table = f"{prefix}-source", f"{prefix}-site", f"{prefix}-table"
    create_bucket(clients.s3, source, versioned=plan.source_versioned)
    create_bucket(clients.s3, site)
    table_spec = (
        plan.table if stream else {**plan.table, "StreamSpecification": {"StreamEnabled": False}}
    )
    try:
        table_description = clients.dynamodb.create_table(TableName=table, **table_spec)
    except clients.dynamodb.exceptions.ResourceInUseException:
        # A restored local stack keeps its table, items and stream as they were.
        table_description = {"TableDescription": clients.dynamodb.describe_table(
            TableName=table)["Table"]}  # fmt: skip
    distribution = create_distribution(clients.cloudfront, site, prefix)
    settings = Settings(
        source_bucket=source, site_bucket=site, table_name=table, distribution_id=distribution
    )
    stream_arn = table_description["TableDescription"].get("LatestStreamArn")
    if sqs is None:
        return LocalStack(settings=settings, plan=plan, stream_arn=stream_arn)

    dead_letter_url = sqs.create_queue(QueueName=f"{prefix}-render-dlq")["QueueUrl"]
    dead_letter_arn = _queue_arn(sqs, dead_letter_url)
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": plan.max_receive_count}
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-render",
        # Lambda's recommended 6x timeout is for real cold starts; locally a failed
        # message comes back after a few seconds so retries stay watchable.
        Attributes={"VisibilityTimeout": "3", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)
    clients.s3.put_bucket_notification_configuration(
        Bucket=source,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": events,
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": key_prefix}]}},
                }
                for events, key_prefix in plan.notifications
            ]
        },
    )
    return LocalStack(
        settings=settings, plan=plan, queue_url=queue_url, queue_arn=queue_arn,
        dead_letter_url=dead_letter_url, stream_arn=stream_arn,
    )  # fmt: skip


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
