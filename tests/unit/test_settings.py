"""Settings: every variable the functions read, validated once, every problem named."""

from __future__ import annotations

import pytest
from tsuzuri.errors import ConfigError
from tsuzuri.settings import Settings

BASE = {"SOURCE_BUCKET": "src", "SITE_BUCKET": "site", "TABLE_NAME": "posts"}


def test_the_deployment_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "DISTRIBUTION_ID": "E123",
            "RENDER_QUEUE_URL": "https://sqs.example/q",
            "TSUZURI_AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "AWS_REGION": "ap-northeast-1",
            "TSUZURI_INDEX_WORKERS": "4",
            "TSUZURI_SITE_TITLE": "ブログ",
            "TSUZURI_RELATED_COUNT": "7",
            "UNRELATED": "x",
        }
    )
    assert settings == Settings(
        source_bucket="src",
        site_bucket="site",
        table_name="posts",
        distribution_id="E123",
        render_queue_url="https://sqs.example/q",
        aws_endpoint_url="http://127.0.0.1:5000",
        region="ap-northeast-1",
        index_workers=4,
        site_overrides={"TSUZURI_SITE_TITLE": "ブログ"},
        related_overrides={"count": 7},
    )


def test_optional_variables_default_and_empty_means_unset() -> None:
    settings = Settings.from_env({**BASE, "DISTRIBUTION_ID": "", "RENDER_QUEUE_URL": ""})
    assert settings.distribution_id is None
    assert settings.render_queue_url is None
    assert settings.aws_endpoint_url is None
    assert settings.index_workers == 8
    assert settings.site_overrides == {}
    assert settings.related_overrides == {}


def test_every_problem_is_named_in_one_error() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(
            {
                "SITE_BUCKET": "site",
                "TSUZURI_INDEX_WORKERS": "eight",
                "TSUZURI_RELATED_WINDOW": "0",
            }
        )
    message = str(raised.value)
    assert "SOURCE_BUCKET is not set" in message
    assert "TABLE_NAME is not set" in message
    assert "SITE_BUCKET" not in message
    assert "TSUZURI_INDEX_WORKERS must be a whole number (got 'eight')" in message
    assert "TSUZURI_RELATED_WINDOW must be at least 1 (got 0)" in message


def test_worker_count_is_bounded() -> None:
    with pytest.raises(ConfigError, match="at most 64"):
        Settings.from_env({**BASE, "TSUZURI_INDEX_WORKERS": "1000"})


def test_settings_are_immutable() -> None:
    settings = Settings.from_env(BASE)
    with pytest.raises(AttributeError):
        settings.table_name = "other"  # type: ignore[misc]
