"""Quality on real data with the real packaged model (all-MiniLM-L6-v2): minutes, so marked slow.

    python -m pytest -m slow tests/test_quality_slow.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from headstart import HeadstartClassifier

SMS_SPAM = Path(__file__).resolve().parents[2] / "shared" / "data" / "sms_spam"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SMS_SPAM / "train.csv").exists(), reason=f"{SMS_SPAM} is not available"),
]


@pytest.fixture(autouse=True, scope="module")
def all_threads():
    """conftest limits torch to one thread for the tiny models; the real model wants every core that the
    other xdist workers do not use (more threads than cores slows torch down many times over)."""
    before = torch.get_num_threads()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // workers))
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("strategy, threshold", [("features", 0.98), ("top-n", 0.985)])
def test_sms_spam_accuracy(strategy, threshold) -> None:
    clf = HeadstartClassifier(backbone="minilm", strategy=strategy, max_length=64)
    clf.fit(SMS_SPAM / "train.csv")
    accuracy = clf.score(SMS_SPAM / "test.csv")
    assert accuracy >= threshold, f"{strategy}: test accuracy {accuracy:.4f} < {threshold}"
