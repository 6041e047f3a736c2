"""What ``tsuzuri dev`` keeps between runs, so that a restart is quick and changes nothing.

A reload from the content folder cannot reproduce a run: a live post whose latest edit
was refused has only the refused text in the folder, the URL claims' order is the
order the files were first uploaded in, and reloading 2,500 posts takes minutes. So
the emulated AWS's whole state (buckets, table with its stream, queues) is written
when the stack stops and read back when it starts, with the stream pump's position;
the folder is then compared with the source bucket and only what changed meanwhile is
uploaded.

The state is one pickle of moto's backends, written by the AWS child process after its
server stopped (no request half applied) and only ever read from the user's cache
folder, never from the content folder (a cloned site must not bring a pickle that
runs). A state written by another moto or Python version is not read: the stack starts
empty, as on the first run.
"""

from __future__ import annotations

import copyreg
import hashlib
import json
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

# The services whose state the product uses. One pickle for all of them: the stream's
# iterators (dynamodbstreams) point at the table's stream shard (dynamodb), and only a
# single dump keeps such shared objects shared.
SERVICES = ("s3", "dynamodb", "dynamodbstreams", "sqs", "cloudfront")
FORMAT = 1
AWS_STATE = "aws.pickle"
STREAM_POSITIONS = "stream.json"
MIRRORED_KEYS = "mirrored.json"


def default_state_dir(content: Path) -> Path:
    """Per content folder, in the user's cache (``$XDG_CACHE_HOME``, else ~/.cache)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = content.resolve()
    digest = hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:16]
    return cache / "tsuzuri" / "dev" / f"{folder.name}-{digest}"


def _versions() -> dict[str, Any]:
    import moto

    return {"format": FORMAT, "moto": moto.__version__, "python": list(sys.version_info[:2])}


def _locks_as_new() -> None:
    """moto's queues hold locks, which do not pickle: a restored object gets a new one
    (nothing holds a lock while the server is stopped)."""
    copyreg.pickle(type(threading.Lock()), lambda _lock: (threading.Lock, ()))
    copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))


def save_aws_state(path: Path) -> None:
    """Write moto's backends to ``path`` atomically: a stop cut short leaves the
    previous state, never half of one."""
    from moto.backends import get_backend

    _locks_as_new()
    state = {**_versions(), "backends": {name: dict(get_backend(name)) for name in SERVICES}}  # type: ignore[call-overload]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)


def restore_aws_state(path: Path) -> str | None:
    """Put the backends saved at ``path`` back into this process's moto; returns why
    nothing was restored (None when it was)."""
    from moto.backends import get_backend

    if not path.is_file():
        return "no state kept yet"
    try:
        with path.open("rb") as handle:
            state = pickle.load(handle)  # noqa: S301 - our own file, in the user's cache
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        return f"the kept state could not be read ({type(exc).__name__})"
    saved = {k: state.get(k) for k in ("format", "moto", "python")}
    if saved != _versions():
        return f"the kept state is from another version ({saved}); starting empty"
    for name, accounts in state["backends"].items():
        backend = get_backend(name)
        backend.clear()
        backend.update(accounts)
    return None


def keep_json(path: Path, value: Any) -> None:
    """Write a small piece of the stack's state (the stream's positions, the mirrored
    keys) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value), encoding="utf-8")
    os.replace(partial, path)


def kept_json(path: Path) -> Any:
    """What :func:`keep_json` wrote, or None when nothing readable was kept."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
