"""Child servers for tests and benchmarks: a free loopback port, and start / wait / always stop.

Tests, ``bench/run.py`` and ``bench/load.py`` all start servers (the app, a
Chroma server, an OpenAI-compatible LLM server). One helper keeps every such
start bounded in time and loopback-only, and makes sure no child outlives the
code that started it.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_loopback(url: str) -> bool:
    """Benchmarks and tests only ever talk to this machine."""
    return url.startswith(("http://127.", "http://localhost", "http://[::1]"))


@contextmanager
def serving(cmd: list[str], probe: str, timeout: float, headers: dict[str, str] | None = None,
            **popen: Any) -> Iterator[subprocess.Popen]:
    """Start a server subprocess, wait until ``probe`` answers (bounded), always stop it."""
    if not is_loopback(probe):
        raise ValueError(f"refusing to probe {probe}: only 127.0.0.1 / localhost")
    proc = subprocess.Popen(cmd, stdout=popen.pop("stdout", subprocess.DEVNULL),
                            stderr=popen.pop("stderr", subprocess.STDOUT), **popen)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(probe, headers=headers or {}), timeout=2).read()
                break
            except Exception:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited early with status {proc.returncode}") from None
                if time.time() > deadline:
                    raise RuntimeError(f"{' '.join(cmd[:3])} did not answer {probe} within {timeout:.0f} s") from None
                time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
