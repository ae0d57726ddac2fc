"""One candidate of `headstart compare` in a child process: the parent's side (`run_child`) and the child's
(`python -m headstart._compare_worker SPEC`, where SPEC is the JSON of `headstart.runs.train_run`'s
keyword arguments).

A process of its own gives the candidate its own peak memory (read by the parent with `os.wait4`) and lets
the parent stop it at its time limit without leaving half-freed tensors behind.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Child", "run_child", "main"]

_POLL_SECONDS = 0.1


@dataclass
class Child:
    """What the parent measured of one finished or stopped child."""

    exit_code: int
    seconds: float
    peak_memory_mb: float
    stopped: bool


def run_child(spec: dict, log: Path, limit: float) -> Child:
    """Run the worker in a session of its own (stopping it stops anything it started) for at most `limit`
    seconds. Its own peak RSS comes from wait4's resource usage: RUSAGE_CHILDREN would give the maximum
    over every child so far, hiding a smaller later peak."""
    command = [sys.executable, "-m", "headstart._compare_worker", json.dumps(spec)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    with log.open("w") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            waited = _wait(proc.pid, start + limit)
        except BaseException:  # Ctrl-C in the parent: never leave the child training on its own
            _kill(proc.pid)
            raise
        stopped = waited is None
        status, usage = _kill(proc.pid) if waited is None else waited
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen not to wait again
    peak = usage.ru_maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS: bytes, Linux: KiB
    return Child(proc.returncode, seconds, round(peak, 1), stopped)


def _wait(pid: int, deadline: float) -> tuple[int, resource.struct_rusage] | None:
    """(wait status, resource usage) once the child exits, or None at the deadline."""
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        time.sleep(min(_POLL_SECONDS, left))


def _kill(pid: int) -> tuple[int, resource.struct_rusage]:
    """Kill the child's whole process group and reap it; returns (wait status, resource usage)."""
    os.killpg(pid, signal.SIGKILL)  # the unreaped child (a zombie at worst) keeps its group alive: no race
    _, status, usage = os.wait4(pid, 0)
    return status, usage


def main(argv: list[str]) -> int:
    """Train one run; on failure the traceback goes to the log and the last line is the error on one line,
    which the leaderboard shows."""
    from headstart.runs import train_run

    spec = json.loads(argv[0])
    try:
        train_run(spec.pop("train"), spec.pop("out"), **spec)
    except Exception as exc:
        traceback.print_exc()
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
