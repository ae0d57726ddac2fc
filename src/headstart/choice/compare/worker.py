"""One job of a comparison in a child process: the parent's side (`run_child`) and the child's
(`python -m headstart.choice.compare.worker SPEC`, where SPEC is the JSON of `headstart.runs.train_run`'s
keyword arguments, `pause_after` included).

A process of its own gives the candidate its own peak memory (read by the parent with `os.wait4`) and lets
the parent stop it at its time limit without leaving half-freed tensors behind. The child dies with its
parent: on Linux the kernel sends it SIGKILL when the parent goes (PR_SET_PDEATHSIG), elsewhere a watchdog
thread notices that the parent is gone; so killing `headstart compare`, even with SIGKILL, never leaves a
worker training on. A paused job (a rung) writes `pause.json` beside its checkpoint.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Child", "run_child", "main", "PAUSE"]

PAUSE = "pause.json"
_POLL_SECONDS = 0.1
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """What the parent measured of one finished or stopped child."""

    exit_code: int
    seconds: float
    peak_memory_mb: float
    stopped: bool


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # the watchdog thread of main() covers it
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_child(spec: dict, log: Path, limit: float, on_line=None) -> Child:
    """Run the worker in a session of its own (stopping it stops anything it started) for at most `limit`
    seconds. Its own peak RSS comes from wait4's resource usage: RUSAGE_CHILDREN would give the maximum
    over every child so far, hiding a smaller later peak. `on_line` gets the worker's progress lines
    ("training: 120/480 steps ...") as they reach its log."""
    command = [sys.executable, "-m", "headstart.choice.compare.worker", json.dumps(spec)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HEADSTART_PARENT_PID": str(os.getpid())}
    with log.open("a") as fh:
        start = time.perf_counter()
        offset = fh.tell()
        proc = subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=_die_with_parent)
        tail = _Tail(log, offset, on_line)
        try:
            waited = _wait(proc.pid, start + limit, tail)
        except BaseException:  # Ctrl-C in the parent: never leave the child training on its own
            _kill(proc.pid)
            raise
        stopped = waited is None
        status, usage = _kill(proc.pid) if waited is None else waited
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen not to wait again
    peak = usage.ru_maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS: bytes, Linux: KiB
    return Child(proc.returncode, seconds, round(peak, 1), stopped)


class _Tail:
    """New progress lines of a log, read as the worker writes them."""

    def __init__(self, path: Path, offset: int, on_line) -> None:
        self.path, self.offset, self.on_line, self.partial = path, offset, on_line, ""

    def poll(self) -> None:
        if self.on_line is None:
            return
        with self.path.open(errors="replace") as fh:
            fh.seek(self.offset)
            text = fh.read()
            self.offset = fh.tell()
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            if line.startswith(("training:", "refit:")):
                self.on_line(line.strip())


def _wait(pid: int, deadline: float, tail: _Tail | None = None) -> tuple[int, resource.struct_rusage] | None:
    """(wait status, resource usage) once the child exits, or None at the deadline."""
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if tail is not None:
            tail.poll()
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


def _watch_parent() -> None:
    """Exit at once when the parent that started this worker is gone (where PR_SET_PDEATHSIG is not)."""
    parent = int(os.environ.get("HEADSTART_PARENT_PID", "0") or 0)

    def watch() -> None:
        while True:
            if parent and os.getppid() != parent:
                os._exit(137)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> int:
    """Train one job; on failure the traceback goes to the log and the last line is the error on one line,
    which the leaderboard shows."""
    _watch_parent()
    from headstart.runs import train_run

    spec = json.loads(argv[0])
    out = Path(spec["out"])
    try:
        result = train_run(spec.pop("train"), spec.pop("out"), **spec)
    except Exception as exc:
        traceback.print_exc()
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 1
    (out / PAUSE).unlink(missing_ok=True)
    if result.get("paused"):
        (out / PAUSE).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
