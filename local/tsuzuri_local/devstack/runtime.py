"""What the Lambda runtime gives a handler, reproduced for the local stack, the
integration tests and the benchmarks: the handler module imported from its file, the
context object and the environment ``template.yaml`` sets."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
import warnings
from pathlib import Path
from types import ModuleType

from tsuzuri.settings import Settings

from tsuzuri_local.checkout import RENDER_HANDLER


def load_handler(path: Path = RENDER_HANDLER) -> ModuleType:
    """Import a Lambda handler module from its file, as the runtime does."""
    spec = importlib.util.spec_from_file_location(f"tsuzuri_handler_{path.parent.name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"handler not found: {path} (run tsuzuri dev from a checkout)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while executing it
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """The attributes Powertools reads from Lambda's context object."""

    def __init__(self, name: str, timeout_s: int = 60):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:ap-northeast-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def handler_environment(
    settings: Settings,
    endpoint: str,
    *,
    log_level: str = "ERROR",
    index_workers: int = 1,
    **extra: str,
) -> dict[str, str]:
    """The environment ``template.yaml`` gives both functions, pointed at a local
    endpoint: what the local stack, the integration tests and the benchmarks run the
    handlers with. Powertools logs only errors (the console prints one line per file),
    and emits no metrics or traces."""
    return {
        "SOURCE_BUCKET": settings.source_bucket,
        "SITE_BUCKET": settings.site_bucket,
        "TABLE_NAME": settings.table_name,
        "DISTRIBUTION_ID": settings.distribution_id or "",
        "TSUZURI_AWS_ENDPOINT_URL": endpoint,
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "TSUZURI_INDEX_WORKERS": str(index_workers),
        **extra,
    }


def quiet_local_warnings() -> None:
    """Powertools warns on every invocation that adds no metric ("No application metrics
    to publish"), even with metrics disabled as :func:`handler_environment` sets them; in
    Lambda that goes to the logs, locally it would interleave with the console's lines."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
