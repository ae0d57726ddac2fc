"""`headstart compare` killed with SIGKILL: its worker dies with it, and the same command resumes the
comparison (finished candidates reused, paused ones continued from their checkpoints), on the tiny BERT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("compare")


@pytest.fixture(scope="module")
def data_csv(reviews_csv) -> Path:
    return reviews_csv


def _command(data_csv: Path, tiny_bert: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "headstart", "compare", str(data_csv), "--strategies", "features,head",
            "--budget", "10m", "--out", str(out), "--backbone", str(tiny_bert), "--epochs", "4", "--max-length",
            "16", "--text-column", "review", "--label-column", "y", "--no-ensemble"]


def _workers_of(out: Path) -> list[int]:
    """PIDs of live processes whose command line names this comparison's folder (its workers)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().split()[2]
        except OSError:
            continue
        if "headstart.choice.compare.worker" in cmdline and str(out) in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_compare_leaves_no_worker_and_resumes(data_csv: Path, tiny_bert: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    parent = subprocess.Popen(_command(data_csv, tiny_bert, out), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    state = out / "state.json"
    # wait for one job to be recorded and the next worker to be training, then kill the parent outright
    while time.monotonic() < deadline:
        if state.exists() and _workers_of(out):
            break
        assert parent.poll() is None, parent.stdout.read()
        time.sleep(0.2)
    else:
        parent.kill()
        pytest.fail("no job was recorded in time")
    first = {a["name"]: a for a in json.loads(state.read_text())["arms"]}
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    gone = time.monotonic() + 20
    while _workers_of(out) and time.monotonic() < gone:
        time.sleep(0.2)
    assert _workers_of(out) == [], "a worker trained on after its comparison was killed"

    again = subprocess.run(_command(data_csv, tiny_bert, out), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    log = again.stdout + again.stderr
    for name, arm in first.items():
        if arm["state"] == "finished":  # reused: not trained again
            assert f"{name}: training to" not in log, log
        elif arm["state"] == "paused":  # continued past what it had done, never from the start
            assert f"{name}: training to epoch {arm['done']} " not in log
    board = json.loads((out / "leaderboard.json").read_text())
    by = {r["strategy"]: r for r in board["rows"]}
    assert by["features"]["status"] == "finished" and by["head"]["status"] == "finished"
    assert by["head"]["epochs_done"] >= first["head"]["done"]  # (early stopping may end it before epoch 4)
    epochs = [row["epoch"] for row in json.loads((out / "candidates" / "head" / "history.json").read_text())]
    assert epochs == sorted(set(epochs)), epochs  # one schedule, resumed, not restarted (no epoch twice)


def test_overwrite_is_refused_while_a_worker_holds_a_candidate(data_csv: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    from headstart.choice.compare.bakeoff import _no_worker_running
    from headstart.errors import HeadstartError
    from headstart.runs.folder import LOCK

    folder = tmp_path / "candidates" / "full"
    folder.mkdir(parents=True)
    held = FileLock(str(folder / LOCK))
    with held, pytest.raises(HeadstartError, match="a worker still writes"):
        _no_worker_running(tmp_path)
    _no_worker_running(tmp_path)  # released: no error
