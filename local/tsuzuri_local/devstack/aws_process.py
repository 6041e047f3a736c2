"""moto's server in a child process of its own, still started and stopped by
``tsuzuri dev`` (no Docker, no second command).

In one interpreter with the pumps and both handlers, every emulated AWS call waited
for the GIL behind the handlers' rendering, and every render behind moto's request
handling. In its own process moto answers while the handlers work. The child applies
the local stack's moto fixes (``moto_patches.speed_up_moto``) to itself, prints the
port it listens on, and exits when its stdin closes, so it never outlives the stack
that started it, even one killed with SIGKILL.

Given ``--state FILE``, the child reads moto's state from it before it answers and
writes it there after its server stopped (:mod:`tsuzuri_local.devstack.state`).

Run as ``python -m tsuzuri_local.devstack.aws_process --port N [--state FILE]``.
"""

from __future__ import annotations

import argparse
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tsuzuri.errors import ConfigError

READY = "listening on port "
START_TIMEOUT_S = 60
# moto's server binds within a second; a server thread that has not by then never will.
BIND_TIMEOUT_S = 15
# Writing a large site's state (a 2,500-post site: tens of MB) takes seconds.
SAVE_TIMEOUT_S = 120


class AwsProcess:
    """The emulated AWS endpoint: moto's server in a child process."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", state: Path | None = None):
        self.host = host
        self._requested = port
        self._state = state
        self._port: int | None = None
        self._child: subprocess.Popen[str] | None = None
        # Why the kept state was not restored, or None when it was (or none is kept).
        self.not_restored: str | None = "no state is kept"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the AWS process is not started")
        return self._port

    def start(self) -> AwsProcess:
        command = [sys.executable, "-m", __name__, "--host", self.host]
        command += ["--port", str(self._requested)]
        if self._state is not None:
            command += ["--state", str(self._state)]
        self._child = subprocess.Popen(  # noqa: S603 - our own module, no shell
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = _first_line(self._child, START_TIMEOUT_S)
        if not line.startswith(READY):
            self.stop()
            raise ConfigError(
                f"the emulated AWS did not start on port {self._requested} "
                f"({line.strip().removeprefix('error: ') or 'no answer'}): choose another "
                "port with --aws-port"
            )
        port, _, why_not = line[len(READY) :].strip().partition(" ")
        self._port = int(port)
        self.not_restored = why_not or None
        return self

    @property
    def restored(self) -> bool:
        return self.not_restored is None

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()  # the child's signal to leave
        try:
            child.wait(timeout=SAVE_TIMEOUT_S if self._state is not None else 5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def __enter__(self) -> AwsProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _first_line(child: subprocess.Popen[str], timeout_s: float) -> str:
    assert child.stdout is not None
    lines: list[str] = []
    stdout = child.stdout
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0] if lines else ""


def port_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host:port``, or None (0: any free port)."""
    if port == 0:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As werkzeug binds: connections of a stack just stopped (TIME_WAIT) are no
        # reason to refuse, a live listener is.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return f"port {port} is in use ({exc.strerror})"
    # Where SO_REUSEADDR lets a bind beside a wildcard listener succeed (macOS, whose
    # AirPlay receiver holds *:5000), only a connection shows the port is taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return f"port {port} is in use (another program answers on it)"
    return None


def start_in_this_process(
    port: int = 0, *, host: str = "127.0.0.1", log_level: int = logging.ERROR
) -> tuple[Any, str]:
    """moto's server with the local stack's fixes, in the calling interpreter, and its
    endpoint: the child's own server, and the one of the tests and benchmarks that read
    moto's state directly or measure it beside the handlers."""
    from moto.server import ThreadedMotoServer

    from tsuzuri_local.devstack.moto_patches import speed_up_moto

    logging.getLogger("werkzeug").setLevel(log_level)  # a line per request drowns the rest
    speed_up_moto()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    # ThreadedMotoServer.start waits forever when its server thread dies on a bind error
    # (werkzeug prints "Port N is in use" and exits that thread): wait in a thread of
    # our own, so that a port taken between the check and the bind is an error too.
    starting = threading.Thread(target=server.start, name="moto-start", daemon=True)
    starting.start()
    starting.join(BIND_TIMEOUT_S)
    if starting.is_alive():
        raise ConfigError(f"the emulated AWS could not listen on {host}:{port}")
    return server, f"http://{host}:{server.get_host_and_port()[1]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, help="read moto's state here, write it on exit")
    args = parser.parse_args(argv)
    problem = port_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}", flush=True)
        return 1
    try:
        server, endpoint = start_in_this_process(args.port, host=args.host)
    except ConfigError as exc:
        print(f"error: {exc}", flush=True)
        return 1
    not_restored = "no state is kept"
    if args.state is not None:
        from tsuzuri_local.devstack.state import restore_aws_state

        not_restored = restore_aws_state(args.state) or ""
    # "listening on port N", then why the kept state was not restored (nothing if it was).
    print(f"{READY}{endpoint.rsplit(':', 1)[1]} {not_restored}".rstrip(), flush=True)
    sys.stdin.read()  # until the parent closes our stdin, or dies
    server.stop()
    if args.state is not None:
        from tsuzuri_local.devstack.state import save_aws_state

        save_aws_state(args.state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
