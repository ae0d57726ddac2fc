"""Learning-rate schedules as pure functions of the step: a multiplier in [0, 1] of each group's LR."""

from __future__ import annotations

import math

__all__ = ["lr_multiplier"]


def lr_multiplier(step: int, total: int, *, kind: str = "linear", warmup_ratio: float = 0.1,
                  slanted_ratio: float = 32.0) -> float:
    """Multiplier of the base learning rate at `step` (0-based) of `total` steps.

    "linear": rise linearly over the first warmup_ratio of the steps, then decay linearly to 0.
    "slanted": ULMFiT's slanted triangular: short linear rise (cut = warmup_ratio of the steps), long
    linear decay to 1/slanted_ratio of the peak (Howard & Ruder 2018, eq. 3).

    Example:
        >>> lr_multiplier(0, 100, warmup_ratio=0.1), lr_multiplier(10, 100, warmup_ratio=0.1)
        (0.1, 1.0)
    """
    total = max(total, 1)
    cut = max(1, math.floor(total * warmup_ratio))
    if kind == "linear":
        if step < cut:
            return (step + 1) / cut
        return max(0.0, (total - step) / max(1, total - cut))
    p = (step + 1) / cut if step < cut else 1 - (step - cut) / max(1, total - cut)
    return max(0.0, (1 + p * (slanted_ratio - 1)) / slanted_ratio)
