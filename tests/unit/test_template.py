"""Offline checks of template.yaml: least privilege, wiring, linters and the SAM build.

The template is read with cfn-lint's loader, which understands the CloudFormation
short tags (!Sub, !Ref, !GetAtt, ...) and turns them into their long form.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from tsuzuri.rendering.theme import content_security_policy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
REGION = "ap-northeast-1"
IN_CI = os.environ.get("CI") == "true"

# The only IAM actions that may have Resource "*", each because the service has no
# resource-level permissions for it. Keep in step with the comments in template.yaml.
STAR_RESOURCE_ALLOWED = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions (tracing on only)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions (tracing on only)",
}
DISTRIBUTION_ARN = (
    "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
)
NO_VALUE = {"Ref": "AWS::NoValue"}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    # A JSON round trip turns cfn-lint's node classes into plain dicts, lists and str.
    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))
    return loaded


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = template["Resources"]
    return res


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def branches(value: Any) -> Iterator[Any]:
    """Both sides of every Fn::If, without AWS::NoValue."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        _, when_true, when_false = value["Fn::If"]
        yield from branches(when_true)
        yield from branches(when_false)
    elif value != NO_VALUE:
        yield value


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in as_list(document["Statement"]):
        found.extend(branches(item))
    return found


def referenced_ids(value: Any) -> set[str]:
    """Logical ids (and parameters) a Ref / GetAtt / Sub expression points at."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return {arg}
        if fn == "Fn::GetAtt":
            return {arg[0] if isinstance(arg, list) else arg.split(".")[0]}
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            names = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
            return {n for n in names if n not in variables and not n.startswith("AWS::")}
    return set()


def function_roles(resources: dict[str, Any]) -> dict[str, str]:
    """Serverless function -> logical id of the IAM role it runs as."""
    roles: dict[str, str] = {}
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        role = res["Properties"].get("Role")
        why = (
            f"{name} must run as a role declared in template.yaml: SAM's generated role "
            "attaches AWSLambdaBasicExecutionRole and the SQS execution role, which use "
            'Resource "*"'
        )
        assert isinstance(role, dict), why
        assert "Fn::GetAtt" in role, why
        roles[name] = role["Fn::GetAtt"][0]
    return roles


def role_statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    props = resources[role]["Properties"]
    found: list[dict[str, Any]] = []
    for policy in props.get("Policies", []):
        found.extend(statements(policy["PolicyDocument"]))
    for res in resources.values():
        if res["Type"] not in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            continue
        if {"Ref": role} in res["Properties"].get("Roles", []):
            found.extend(statements(res["Properties"]["PolicyDocument"]))
    return found


def all_function_statements(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    pairs = []
    for function, role in function_roles(resources).items():
        for statement in role_statements(resources, role):
            pairs.append((function, statement))
    # Statements given to SAM directly (Policies on the function) count as well.
    for name, res in resources.items():
        if res["Type"] == "AWS::Serverless::Function":
            for policy in as_list(res["Properties"].get("Policies", [])):
                if isinstance(policy, dict) and "Statement" in policy:
                    pairs.extend((name, s) for s in statements(policy))
    return pairs


def merged_function_env(template: dict[str, Any], function: str) -> dict[str, Any]:
    env = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    props = template["Resources"][function]["Properties"]
    env.update(props.get("Environment", {}).get("Variables", {}))
    return env


def function_setting(template: dict[str, Any], function: str, key: str) -> Any:
    props = template["Resources"][function]["Properties"]
    return props.get(key, template["Globals"]["Function"].get(key))


# ----------------------------------------------------------------- (a) least privilege


def test_functions_run_as_declared_roles_without_managed_policies(
    resources: dict[str, Any],
) -> None:
    roles = function_roles(resources)
    assert roles, "no functions found"
    for role in roles.values():
        props = resources[role]["Properties"]
        assert resources[role]["Type"] == "AWS::IAM::Role"
        assert not props.get("ManagedPolicyArns"), f"{role}: managed policies are not scoped"
        principals = [
            s["Principal"]["Service"] for s in statements(props["AssumeRolePolicyDocument"])
        ]
        assert principals == ["lambda.amazonaws.com"]


def test_no_wildcard_actions_or_resources(resources: dict[str, Any]) -> None:
    pairs = all_function_statements(resources)
    assert pairs
    for function, statement in pairs:
        where = f"{function}: {statement.get('Sid', statement)}"
        assert statement["Effect"] == "Allow", where
        assert "NotAction" not in statement, where
        assert "NotResource" not in statement, where
        actions = as_list(statement["Action"])
        for action in actions:
            assert "*" not in action, f"{where}: wildcard action {action}"
        for resource in as_list(statement["Resource"]):
            for option in branches(resource):
                if option == "*":
                    extra = [a for a in actions if a not in STAR_RESOURCE_ALLOWED]
                    assert not extra, f'{where}: Resource "*" for {extra}'
                    continue
                ids = referenced_ids(option)
                assert ids, f"{where}: {option} is not derived from a resource of this stack"
                assert ids <= set(resources), f"{where}: {option} names unknown {ids}"
                if isinstance(option, dict) and "Fn::Sub" in option:
                    text = option["Fn::Sub"]
                    text = text if isinstance(text, str) else text[0]
                    literal = re.sub(r"\$\{[^}]+\}", "", text)
                    # Only "everything under this bucket/prefix" wildcards.
                    assert "*" not in literal.rstrip("*"), f"{where}: {text}"
                    if "*" in literal:
                        assert text.endswith("/*"), f"{where}: {text}"


def test_no_metric_api_permission(resources: dict[str, Any]) -> None:
    """Powertools writes metrics as EMF log lines: cloudwatch:PutMetricData is not needed."""
    for _, statement in all_function_statements(resources):
        assert not any(a.startswith("cloudwatch:") for a in as_list(statement["Action"]))


def test_source_bucket_writes_only_reports(resources: dict[str, Any]) -> None:
    writes = {"s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"}
    seen = False
    for _, statement in all_function_statements(resources):
        if not writes & set(as_list(statement["Action"])):
            continue
        for resource in as_list(statement["Resource"]):
            if "SourceBucket" in referenced_ids(resource):
                assert resource == {"Fn::Sub": "${SourceBucket.Arn}/reports/*"}
                assert set(as_list(statement["Action"])) <= {"s3:PutObject", "s3:DeleteObject"}
                seen = True
    assert seen, "the render function must be able to write reports/"


def test_render_permissions_cover_what_the_core_calls(resources: dict[str, Any]) -> None:
    granted: dict[str, list[Any]] = {}
    for function, statement in all_function_statements(resources):
        if function != "RenderFunction":
            continue
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    expected: dict[str, list[Any]] = {
        "s3:GetObject": [{"Fn::Sub": "${SourceBucket.Arn}/*"}, {"Fn::Sub": "${SiteBucket.Arn}/*"}],
        "s3:GetObjectVersion": [{"Fn::Sub": "${SourceBucket.Arn}/*"}],
        "s3:ListBucket": [
            {"Fn::GetAtt": ["SourceBucket", "Arn"]},
            {"Fn::GetAtt": ["SiteBucket", "Arn"]},
        ],
        "s3:PutObject": [
            {"Fn::Sub": "${SourceBucket.Arn}/reports/*"},
            {"Fn::Sub": "${SiteBucket.Arn}/*"},
        ],
        "s3:DeleteObject": [
            {"Fn::Sub": "${SourceBucket.Arn}/reports/*"},
            {"Fn::Sub": "${SiteBucket.Arn}/*"},
        ],
        "sqs:ReceiveMessage": [{"Fn::GetAtt": ["RenderQueue", "Arn"]}],
        "sqs:DeleteMessage": [{"Fn::GetAtt": ["RenderQueue", "Arn"]}],
        "sqs:GetQueueAttributes": [{"Fn::GetAtt": ["RenderQueue", "Arn"]}],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["RenderLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["RenderLogGroup", "Arn"]}],
    }
    for action in [
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ConditionCheckItem",
    ]:
        expected[f"dynamodb:{action}"] = [{"Fn::GetAtt": ["Table", "Arn"]}]
    for action, wanted in expected.items():
        assert action in granted, f"RenderFunction lacks {action}"
        for resource in wanted:
            assert resource in granted[action], f"{action} not granted on {resource}"
        for resource in granted[action]:
            assert resource in wanted, f"{action} also granted on {resource}"


# ------------------------------------------------------------------- (b) invalidation


def test_invalidation_only_on_this_distribution(resources: dict[str, Any]) -> None:
    found = False
    for _, statement in all_function_statements(resources):
        actions = set(as_list(statement["Action"]))
        if actions & {"cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"}:
            found = True
            assert as_list(statement["Resource"]) == [{"Fn::Sub": DISTRIBUTION_ARN}]
    assert found
    assert resources["Distribution"]["Type"] == "AWS::CloudFront::Distribution"
    assert resources["RenderFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["RenderFunctionRole", "Arn"]
    }


# ---------------------------------------------------------------- (c) bucket hardening


def _assert_private(bucket: dict[str, Any]) -> None:
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # SSE-S3: a single-part object's ETag stays the MD5 of its bytes.
    assert [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]


def _bucket_policy(resources: dict[str, Any], bucket: str) -> list[dict[str, Any]]:
    policies = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert len(policies) == 1, f"{bucket} needs exactly one bucket policy"
    return statements(policies[0]["Properties"]["PolicyDocument"])


def _assert_tls_only(resources: dict[str, Any], bucket: str) -> None:
    denies = [
        s
        for s in _bucket_policy(resources, bucket)
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denies, f"{bucket}: no TLS-only deny"
    deny = denies[0]
    assert deny["Principal"] == "*"
    assert as_list(deny["Action"]) == ["s3:*"]
    assert {"Fn::GetAtt": [bucket, "Arn"]} in deny["Resource"]
    assert {"Fn::Sub": f"${{{bucket}.Arn}}/*"} in deny["Resource"]


def test_source_bucket_is_versioned_private_and_tls_only(resources: dict[str, Any]) -> None:
    bucket = resources["SourceBucket"]
    _assert_private(bucket)
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r and r["Status"] == "Enabled" for r in rules)
    assert any("AbortIncompleteMultipartUpload" in r and r["Status"] == "Enabled" for r in rules)
    assert bucket["DeletionPolicy"] == "Retain"
    _assert_tls_only(resources, "SourceBucket")
    assert all(s["Effect"] == "Deny" for s in _bucket_policy(resources, "SourceBucket"))


def test_site_bucket_is_reachable_only_through_the_distribution(
    resources: dict[str, Any],
) -> None:
    _assert_private(resources["SiteBucket"])
    _assert_tls_only(resources, "SiteBucket")
    allows = [s for s in _bucket_policy(resources, "SiteBucket") if s["Effect"] == "Allow"]
    assert len(allows) == 1
    allow = allows[0]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert as_list(allow["Action"]) == ["s3:GetObject"]
    assert allow["Condition"] == {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": DISTRIBUTION_ARN}}}
    origins = resources["Distribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert len(origins) == 1
    origin = origins[0]
    assert origin["DomainName"] == {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = resources["OriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert oac["SigningProtocol"] == "sigv4"
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always"


def test_source_notifications_reach_the_queue(resources: dict[str, Any]) -> None:
    bucket = resources["SourceBucket"]
    assert "RenderQueuePolicy" in as_list(bucket["DependsOn"])
    configs = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    pairs = set()
    for config in configs:
        assert config["Queue"] == {"Fn::GetAtt": ["RenderQueue", "Arn"]}
        (rule,) = config["Filter"]["S3Key"]["Rules"]
        assert rule["Name"] == "prefix"
        pairs.add((config["Event"], rule["Value"]))
    prefixes = [
        "posts/",
        "_posts/",
        "pages/",
        "assets/",
        "theme/",
        "_config.yml",
        "_config.yaml",
        "_config.json",
    ]
    events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert pairs == {(e, p) for e in events for p in prefixes}
    assert len(configs) == len(pairs)
    assert not any(p.startswith("reports") for _, p in pairs), "reports/ must not re-trigger"


def test_queue_policy_names_the_source_bucket(resources: dict[str, Any]) -> None:
    name_format, name_vars = resources["SourceBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    # Bucket names must be lowercase; stack names need not be, so no ${AWS::StackName}.
    assert "${AWS::StackName}" not in name_format
    literal = re.sub(r"\$\{[^}]+\}", "", name_format)
    assert literal == literal.lower()
    assert referenced_ids({"Fn::Sub": [name_format, name_vars]}) == set()
    policy = resources["RenderQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "RenderQueue"}]
    (statement,) = statements(policy["PolicyDocument"])
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    condition = statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    arn_format, arn_vars = condition["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    # The bucket name is written twice (a reference would be a cycle): keep them equal.
    assert arn_format == "arn:${AWS::Partition}:s3:::" + name_format
    assert arn_vars == name_vars


# ---------------------------------------------------------------- (d) queue and events


def test_event_source_mapping_reports_partial_failures(template: dict[str, Any]) -> None:
    function = template["Resources"]["RenderFunction"]["Properties"]
    sqs_events = [e for e in function["Events"].values() if e["Type"] == "SQS"]
    assert len(sqs_events) == 1
    props = sqs_events[0]["Properties"]
    assert props["Queue"] == {"Fn::GetAtt": ["RenderQueue", "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 50
    assert props["MaximumBatchingWindowInSeconds"] == 2
    assert props["ScalingConfig"] == {"MaximumConcurrency": 5}


def test_queue_has_redrive_and_enough_visibility(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    queue = resources["RenderQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["RenderDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    timeout = function_setting(template, "RenderFunction", "Timeout")
    assert queue["VisibilityTimeout"] >= 6 * timeout
    for name in ("RenderQueue", "RenderDeadLetterQueue"):
        assert resources[name]["Properties"]["SqsManagedSseEnabled"] is True


# -------------------------------------------------------------------------- (e) table


def test_table_streams_pitr_on_demand(resources: dict[str, Any]) -> None:
    table = resources["Table"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert table["DeletionProtectionEnabled"] == {"Fn::If": ["TableDeletionProtected", True, False]}


# ------------------------------------------------------------ function, layer and CDN


def test_render_function_settings(template: dict[str, Any]) -> None:
    props = template["Resources"]["RenderFunction"]["Properties"]
    assert props["CodeUri"] == "functions/render/"
    assert props["Handler"] == "app.lambda_handler"
    assert (ROOT / "functions" / "render" / "app.py").is_file()
    assert function_setting(template, "RenderFunction", "Runtime") == "python3.13"
    assert function_setting(template, "RenderFunction", "Architectures") == ["arm64"]
    assert function_setting(template, "RenderFunction", "MemorySize") == 1024
    assert function_setting(template, "RenderFunction", "Timeout") == 60
    assert function_setting(template, "RenderFunction", "Layers") == [{"Ref": "CoreLayer"}]
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": "RenderLogGroup"}}
    log_group = template["Resources"]["RenderLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_render_function_environment(template: dict[str, Any]) -> None:
    env = merged_function_env(template, "RenderFunction")
    assert env["SOURCE_BUCKET"] == {"Ref": "SourceBucket"}
    assert env["SITE_BUCKET"] == {"Ref": "SiteBucket"}
    assert env["TABLE_NAME"] == {"Ref": "Table"}
    assert env["DISTRIBUTION_ID"] == {"Ref": "Distribution"}
    assert env["TSUZURI_SITE_URL"] == {
        "Fn::If": [
            "UseCustomDomain",
            {"Fn::Sub": "https://${DomainName}"},
            {"Fn::Sub": "https://${Distribution.DomainName}"},
        ]
    }
    assert env["POWERTOOLS_SERVICE_NAME"] == "tsuzuri-render"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "tsuzuri"
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TracingEnabled", "false", "true"]}
    assert function_setting(template, "RenderFunction", "Tracing") == {
        "Fn::If": ["TracingEnabled", "Active", "PassThrough"]
    }


def test_core_layer_is_built_by_its_makefile(resources: dict[str, Any]) -> None:
    layer = resources["CoreLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    props = layer["Properties"]
    assert props["ContentUri"] == "layers/core"
    assert props["CompatibleRuntimes"] == ["python3.13"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / "layers" / "core" / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^build-CoreLayer:", makefile, re.MULTILINE)
    requirements = (ROOT / "layers" / "core" / "requirements.txt").read_text(encoding="utf-8")
    names = [
        re.split(r"[<>=!~\[ ;]", line.strip())[0].lower() for line in requirements.splitlines()
    ]
    assert "boto3" not in names
    assert "botocore" not in names
    link = ROOT / "layers" / "core" / "theme.symlink"
    if link.is_symlink():
        assert link.resolve() == (ROOT / "templates").resolve()


def test_distribution_settings(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    config = resources["Distribution"]["Properties"]["DistributionConfig"]
    assert config["HttpVersion"] == "http2and3"
    assert config["DefaultRootObject"] == "index.html"
    assert config["PriceClass"] == {"Ref": "PriceClass"}
    assert set(template["Parameters"]["PriceClass"]["AllowedValues"]) == {
        "PriceClass_100",
        "PriceClass_200",
        "PriceClass_All",
    }
    assert config["Aliases"] == {"Fn::If": ["UseCustomDomain", [{"Ref": "DomainName"}], NO_VALUE]}
    assert config["ViewerCertificate"]["Fn::If"][0] == "UseCustomDomain"
    assert config["ViewerCertificate"]["Fn::If"][2] == {"CloudFrontDefaultCertificate": True}
    behaviors = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    for behavior in behaviors:
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behavior["Compress"] is True
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeadersPolicy"}
    default = config["DefaultCacheBehavior"]
    assert default["FunctionAssociations"] == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {
                "Fn::GetAtt": ["ViewerRequestFunction", "FunctionMetadata.FunctionARN"]
            },
        }
    ]
    assets = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "assets/*"]
    assert len(assets) == 1
    html = resources[default["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert html["DefaultTTL"] <= 300
    assert html["MaxTTL"] <= 3600
    long = resources[assets[0]["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert long["DefaultTTL"] == long["MaxTTL"] == 31536000
    errors = {e["ErrorCode"]: e for e in config["CustomErrorResponses"]}
    assert set(errors) == {403, 404}
    for error in errors.values():
        assert error["ResponseCode"] == 404
        assert error["ResponsePagePath"] == "/404.html"


def test_security_headers(resources: dict[str, Any]) -> None:
    config = resources["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    headers = config["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    expected = content_security_policy()
    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] == expected, (
        f"template.yaml's ContentSecurityPolicy must allow the theme's inline style: {expected}"
    )
    assert expected.startswith(
        "default-src 'self'; img-src 'self' https: data:; style-src 'self' 'sha256-"
    )
    assert expected.endswith(
        "; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    )


def test_alarms(resources: dict[str, Any]) -> None:
    errors = resources["RenderErrorsAlarm"]["Properties"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "RenderFunction"}}]
    dlq = resources["RenderDeadLetterAlarm"]["Properties"]
    assert (dlq["Namespace"], dlq["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert dlq["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["RenderDeadLetterQueue", "QueueName"]}}
    ]
    for alarm in (errors, dlq):
        assert alarm["Threshold"] == 0
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], NO_VALUE]
        }
    assert resources["AlarmTopic"]["Condition"] == "HasAlarmEmail"


def test_outputs(template: dict[str, Any]) -> None:
    required = {
        "SourceBucketName",
        "SiteBucketName",
        "DistributionId",
        "DistributionDomainName",
        "SiteUrl",
        "TableName",
        "RenderQueueUrl",
        "RenderDeadLetterQueueUrl",
    }
    assert required <= set(template["Outputs"])


def test_optional_parameters_have_conditions(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    for name in ("DomainName", "CertificateArn", "AlarmEmail"):
        assert params[name]["Default"] == ""
    conditions = template["Conditions"]
    for name in ("HasDomainName", "HasCertificate", "UseCustomDomain", "HasAlarmEmail"):
        assert name in conditions
    assert re.fullmatch(params["CertificateArn"]["AllowedPattern"], "")
    assert re.fullmatch(
        params["CertificateArn"]["AllowedPattern"],
        "arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    assert not re.fullmatch(
        params["CertificateArn"]["AllowedPattern"],
        "arn:aws:acm:ap-northeast-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab",
    )


# ---------------------------------------------------------------------- (f)(g) linters


def _tool_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(key, None)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    return env


def _sam() -> Path:
    if SAM.exists():
        return SAM
    reason = (
        ".venv-sam/bin/sam not found: create it with "
        "`python3 -m venv .venv-sam && .venv-sam/bin/pip install aws-sam-cli`"
    )
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def test_cfn_lint_passes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; "
            "sys.argv[0] = 'cfn-lint'; sys.exit(main())",
            str(TEMPLATE),
        ],
        cwd=ROOT,
        env=_tool_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sam_validate_lint_passes(tmp_path: Path) -> None:
    sam = _sam()
    proc = subprocess.run(
        [str(sam), "validate", "--lint", "--region", REGION, "--template-file", str(TEMPLATE)],
        cwd=ROOT,
        env=_tool_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is a valid SAM Template" in proc.stdout + proc.stderr


# ---------------------------------------------------------------------- (h) sam build


def _python313() -> Path | None:
    """A working CPython 3.13 (the python_pip builder needs one for the function)."""
    candidates: list[str] = []
    on_path = shutil.which("python3.13")
    if on_path:
        candidates.append(on_path)
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run(
            [pyenv, "which", "python3.13"], capture_output=True, text=True, check=False
        )
        if found.returncode == 0 and found.stdout.strip():
            candidates.append(found.stdout.strip())
    pattern = str(Path.home() / ".pyenv" / "versions" / "3.13*" / "bin" / "python3.13")
    candidates.extend(sorted(glob.glob(pattern), reverse=True))
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13), sys.executable)"],
            capture_output=True,
            text=True,
            check=False,
        )
        ok, _, executable = probe.stdout.strip().partition(" ")
        if probe.returncode == 0 and ok == "True":
            return Path(executable)
    return None


def _wheel_tags(site: Path) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for wheel in site.glob("*.dist-info/WHEEL"):
        lines = wheel.read_text(encoding="utf-8").splitlines()
        tags[wheel.parent.name] = [
            line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")
        ]
    return tags


def test_sam_build(tmp_path: Path) -> None:
    sam = _sam()
    python = _python313()
    if python is None:
        pytest.skip(
            "no working python3.13 (PATH, `pyenv which python3.13`, ~/.pyenv/versions/3.13*): "
            "sam build needs it for the python3.13 function"
        )
    env = _tool_env(tmp_path)
    env["PATH"] = str(python.parent) + os.pathsep + env.get("PATH", "")
    build_dir = tmp_path / "build"
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(sam),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        # Not the repository: sam build leaves .aws-sam/deps in its working directory.
        # samconfig.toml is still read, from the template's directory.
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"sam build took {elapsed:.1f}s")

    site = build_dir / "CoreLayer" / "python"
    assert (site / "tsuzuri" / "__init__.py").is_file()
    needed = ("markdown_it", "mdit_py_plugins", "jinja2", "aws_lambda_powertools", "nh3", "yaml")
    for package in needed:
        assert (site / package).is_dir(), f"{package} missing from the layer"
    for package in ("boto3", "botocore", "s3transfer"):
        assert not (site / package).exists(), f"{package} must not be in the layer"

    # Only the Lambda code: the package as it is in layers/core, and no local tooling.
    core = ROOT / "layers" / "core" / "tsuzuri"
    shipped = {p.relative_to(site / "tsuzuri") for p in (site / "tsuzuri").rglob("*.py")}
    assert shipped == {p.relative_to(core) for p in core.rglob("*.py")}
    for local_only in ("tsuzuri_local", "moto", "flask", "werkzeug"):
        assert not (site / local_only).exists(), f"{local_only} must not be in the layer"
    for module in (site / "tsuzuri").rglob("*.py"):
        source = module.read_text(encoding="utf-8")
        assert "tsuzuri_local" not in source, f"{module.name} imports the local tooling"
        assert "import moto" not in source and "from moto" not in source, module.name

    theme = site / "tsuzuri" / "theme"
    templates = ROOT / "templates"
    wanted = {p.relative_to(templates) for p in templates.rglob("*") if p.is_file()}
    built = {p.relative_to(theme) for p in theme.rglob("*") if p.is_file()}
    assert any(p.suffix == ".j2" for p in wanted), "templates/ has no theme yet"
    missing = sorted(str(p) for p in wanted - built)
    assert not missing, f"theme files missing from the layer: {missing}"

    # Compiled wheels must be the Lambda ones whatever the build host is.
    for dist, tags in _wheel_tags(site).items():
        binary = [t for t in tags if not t.endswith("-none-any")]
        for tag in binary:
            assert "aarch64" in tag, (dist, tag)
            assert tag.startswith("cp313-") or "abi3" in tag, (dist, tag)

    function = build_dir / "RenderFunction"
    assert (function / "app.py").is_file()
    assert not (function / "boto3").exists()

    built_resources = cfn_yaml.load(str(build_dir / "template.yaml"))["Resources"]
    assert built_resources["RenderFunction"]["Properties"]["CodeUri"] == "RenderFunction"
    assert built_resources["CoreLayer"]["Properties"]["ContentUri"] == "CoreLayer"


# ------------------------------------------------------------- related-posts function


def _related_event(template: dict[str, Any]) -> dict[str, Any]:
    function = template["Resources"]["RelatedFunction"]["Properties"]
    (event,) = [e for e in function["Events"].values() if e["Type"] == "DynamoDB"]
    props: dict[str, Any] = event["Properties"]
    return props


def test_related_function_settings(template: dict[str, Any]) -> None:
    props = template["Resources"]["RelatedFunction"]["Properties"]
    assert props["CodeUri"] == "functions/related/"
    assert props["Handler"] == "app.lambda_handler"
    assert (ROOT / "functions" / "related" / "app.py").is_file()
    assert function_setting(template, "RelatedFunction", "Runtime") == "python3.13"
    assert function_setting(template, "RelatedFunction", "Architectures") == ["arm64"]
    assert function_setting(template, "RelatedFunction", "Layers") == [{"Ref": "CoreLayer"}]
    assert props["Role"] == {"Fn::GetAtt": ["RelatedFunctionRole", "Arn"]}
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": "RelatedLogGroup"}}
    log_group = template["Resources"]["RelatedLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    env = merged_function_env(template, "RelatedFunction")
    assert env["POWERTOOLS_SERVICE_NAME"] == "tsuzuri-related"
    assert env["TABLE_NAME"] == {"Ref": "Table"}


def test_related_stream_mapping_filters_bisects_and_parks_poison_records(
    template: dict[str, Any],
) -> None:
    props = _related_event(template)
    assert props["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 < props["MaximumRetryAttempts"] <= 10
    # Give up on a record well before the stream's 24-hour retention drops it.
    assert 0 < props["MaximumRecordAgeInSeconds"] < 86_400
    assert props["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["RelatedFailureQueue", "Arn"]}}
    }
    assert props["ParallelizationFactor"] == 1
    queue = template["Resources"]["RelatedFailureQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 1209600


def test_related_filter_lets_in_posts_the_site_config_and_its_continuation_only() -> None:
    """The patterns as Lambda evaluates them (any one matching), on the sample events: a
    POST record passes, so do the config item and the function's continuation item; its
    other items (RELATED, RX#, RBY#, RPENDING) and the render's never do."""
    from tsuzuri.related.records import CONTINUATION, SITE_CONFIG
    from tsuzuri_local.devstack.pumps import matches_filter, related_mapping
    from tsuzuri_local.provision import load_template

    from tests.support.events import load_event

    patterns = related_mapping(load_template())["filters"]
    assert patterns[0] == {"dynamodb": {"Keys": {"sk": {"S": ["POST"]}}}}

    def passes(record: dict[str, Any]) -> bool:
        return any(matches_filter(pattern, record) for pattern in patterns)

    for name in ("insert", "modify", "remove"):
        (record,) = load_event(f"dynamodb_stream_{name}", URL="/a/", SEQUENCE_NUMBER="1")["Records"]
        assert passes(record)
        for pk, sk in (SITE_CONFIG, CONTINUATION):
            record["dynamodb"]["Keys"] = {"pk": {"S": pk}, "sk": {"S": sk}}
            assert passes(record), (pk, sk)
        for pk, sk in (
            ("POST#/a/", "RELATED"),
            ("POST#/a/", "BODY"),
            ("RX#tag/aws", "2026-02-11T20:59:09Z#/a/"),
            ("RBY#/a/", "/b/"),
            ("RPENDING", "/a/"),
            ("LISTS", "all"),
            ("SITE", "THEME"),
            ("RWORK", "OTHER"),
        ):
            record["dynamodb"]["Keys"] = {"pk": {"S": pk}, "sk": {"S": sk}}
            assert not passes(record), (pk, sk)


def test_related_permissions_are_scoped(resources: dict[str, Any]) -> None:
    granted: dict[str, list[Any]] = {}
    for function, statement in all_function_statements(resources):
        if function != "RelatedFunction":
            continue
        for action in as_list(statement["Action"]):
            granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    stream = [{"Fn::Sub": "${Table.Arn}/stream/*"}]
    table = [{"Fn::GetAtt": ["Table", "Arn"]}]
    expected: dict[str, list[Any]] = {
        "logs:CreateLogStream": [{"Fn::GetAtt": ["RelatedLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["RelatedLogGroup", "Arn"]}],
        "dynamodb:DescribeStream": stream,
        "dynamodb:GetRecords": stream,
        "dynamodb:GetShardIterator": stream,
        "dynamodb:ListStreams": stream,
        "sqs:SendMessage": [{"Fn::GetAtt": ["RelatedFailureQueue", "Arn"]}],
        "s3:ListBucket": [
            {"Fn::GetAtt": ["SourceBucket", "Arn"]},
            {"Fn::GetAtt": ["SiteBucket", "Arn"]},
        ],
        "s3:GetObject": [
            {"Fn::Sub": "${SourceBucket.Arn}/_config.yml"},
            {"Fn::Sub": "${SourceBucket.Arn}/_config.yaml"},
            {"Fn::Sub": "${SourceBucket.Arn}/_config.json"},
            {"Fn::Sub": "${SiteBucket.Arn}/*"},
        ],
        "s3:PutObject": [{"Fn::Sub": "${SiteBucket.Arn}/*"}],
        "cloudfront:CreateInvalidation": [{"Fn::Sub": DISTRIBUTION_ARN}],
        "cloudfront:GetInvalidation": [{"Fn::Sub": DISTRIBUTION_ARN}],
        "xray:PutTraceSegments": ["*"],
        "xray:PutTelemetryRecords": ["*"],
    }
    for action in ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem"]:
        expected[f"dynamodb:{action}"] = table
    expected["dynamodb:BatchWriteItem"] = table
    assert set(granted) == set(expected), set(granted) ^ set(expected)
    for action, wanted in expected.items():
        assert sorted(map(str, granted[action])) == sorted(map(str, wanted)), action
    # Nothing in the source bucket but the site config, and nothing deleted anywhere.
    assert not any(a in granted for a in ("s3:DeleteObject", "dynamodb:Scan"))


def test_related_alarms_and_outputs(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    errors = resources["RelatedErrorsAlarm"]["Properties"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "RelatedFunction"}}]
    queue = resources["RelatedFailureAlarm"]["Properties"]
    assert (queue["Namespace"], queue["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert queue["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["RelatedFailureQueue", "QueueName"]}}
    ]
    age = resources["RelatedIteratorAgeAlarm"]["Properties"]
    assert (age["MetricName"], age["Statistic"]) == ("IteratorAge", "Maximum")
    for alarm in (errors, queue, age):
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == {
            "Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], NO_VALUE]
        }
    outputs = template["Outputs"]
    assert outputs["RelatedFailureQueueUrl"]["Value"] == {"Ref": "RelatedFailureQueue"}
    assert outputs["RelatedFunctionName"]["Value"] == {"Ref": "RelatedFunction"}


def test_editor_policy_writes_exactly_the_notified_sources(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """What an editor may write is what the render function hears: a prefix the editor can
    write but no notification covers would be an upload that silently does nothing, and
    reports/ writable by an editor would let a report be forged."""
    policy = resources["EditorPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert template["Outputs"]["EditorPolicyArn"]["Value"] == {"Ref": "EditorPolicy"}
    configs = resources["SourceBucket"]["Properties"]["NotificationConfiguration"]
    notified = {c["Filter"]["S3Key"]["Rules"][0]["Value"] for c in configs["QueueConfigurations"]}
    writable: set[str] = set()
    for statement in statements(policy["Properties"]["PolicyDocument"]):
        assert statement["Effect"] == "Allow"
        actions = set(as_list(statement["Action"]))
        assert not any("*" in a for a in actions), statement
        for resource in as_list(statement["Resource"]):
            assert referenced_ids(resource) & {"SourceBucket", "AWS::StackId"}, resource
            if actions & {"s3:PutObject", "s3:DeleteObject"}:
                text = resource["Fn::Sub"]
                assert text.startswith("${SourceBucket.Arn}/"), text
                writable.add(text.removeprefix("${SourceBucket.Arn}/").removesuffix("*"))
    assert writable == notified
    assert not any(w.startswith("reports") for w in writable)
