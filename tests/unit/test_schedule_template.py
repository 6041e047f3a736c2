"""template.yaml wires the scheduled posts' tick to the render function, with least
privilege, and sends the event the handler and ``tsuzuri dev`` expect."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from tsuzuri.publishing.schedule import is_tick
from tsuzuri_local.devstack.stack import scheduled_event
from tsuzuri_local.provision import load_template

from tests.support.events import load_event

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    loaded = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "template.yaml"))))
    found: dict[str, Any] = loaded["Resources"]
    return found


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statement = document["Statement"]
    return statement if isinstance(statement, list) else [statement]


def test_the_schedule_invokes_the_render_function_every_minute(resources: dict[str, Any]) -> None:
    schedule = resources["ScheduledPostsSchedule"]
    assert schedule["Type"] == "AWS::Scheduler::Schedule"
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}  # on the minute, not "within N"
    assert props["State"] == "ENABLED"
    assert props["GroupName"] == {"Ref": "ScheduledPostsGroup"}
    assert resources["ScheduledPostsGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["RenderFunction", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ScheduledPostsRole", "Arn"]}
    # A lost tick is not retried for long: the next one comes a minute later.
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 120


def test_the_schedule_sends_the_event_the_handler_dispatches_on(resources: dict[str, Any]) -> None:
    text = resources["ScheduledPostsSchedule"]["Properties"]["Target"]["Input"]
    sent = json.loads(text)  # placeholders are inside strings: valid JSON as written
    assert is_tick(sent)
    sample = load_event("scheduler_scheduled_posts")
    assert is_tick(sample)
    assert set(sent) == set(sample)
    # tsuzuri dev sends the same event, its placeholders filled in as the Scheduler does.
    local = scheduled_event(load_template(), datetime(2026, 11, 1, 0, 3, tzinfo=UTC))
    assert set(local) == set(sample)
    assert local["time"] == "2026-11-01T00:03:00Z"
    assert "<aws.scheduler" not in json.dumps(local)


def test_the_schedule_role_may_only_invoke_the_render_function(resources: dict[str, Any]) -> None:
    role = resources["ScheduledPostsRole"]
    assert role["Type"] == "AWS::IAM::Role"
    props = role["Properties"]
    assert not props.get("ManagedPolicyArns")
    (trust,) = _statements(props["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    # Confused-deputy guard: only this stack's schedule group, in this account.
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert trust["Condition"]["ArnEquals"] == {
        "aws:SourceArn": {"Fn::GetAtt": ["ScheduledPostsGroup", "Arn"]}
    }
    granted = [s for policy in props["Policies"] for s in _statements(policy["PolicyDocument"])]
    assert granted == [
        {
            "Sid": "InvokeRenderFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["RenderFunction", "Arn"]},
        }
    ]
    # Nothing else attaches to it, and nothing else may invoke the function.
    for name, res in resources.items():
        if res["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            assert {"Ref": "ScheduledPostsRole"} not in res["Properties"].get("Roles", []), name
        assert res["Type"] != "AWS::Lambda::Permission", f"{name}: a resource policy"


def test_the_tick_needs_no_new_permission_of_the_render_function(
    resources: dict[str, Any],
) -> None:
    """It queries and deletes SCHEDULED items and sends to the render queue: both were
    granted already (the table; config rebuilds go through the same queue)."""
    statements = [
        s
        for policy in resources["RenderFunctionRole"]["Properties"]["Policies"]
        for s in _statements(policy["PolicyDocument"])
        if isinstance(s, dict) and "Action" in s
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert "sqs:SendMessage" in by_sid["ConsumeRenderQueue"]["Action"]
    assert by_sid["ConsumeRenderQueue"]["Resource"] == {"Fn::GetAtt": ["RenderQueue", "Arn"]}
    for action in ("dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:BatchGetItem"):
        assert action in by_sid["PostsTable"]["Action"]
