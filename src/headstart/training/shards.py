"""Work split across data-parallel processes: each process computes its share of the rows, and every process
gets all of them back, in order.

Under `torchrun` / `accelerate launch` every process holds the same weights after each all-reduce, so dev
scoring and the frozen-prefix cache give the same numbers wherever they run: computed whole on every process,
they repeat the work N times. Inside `across_processes()`, `my_rows(lengths)` is this process's share (every
N-th row in length order, so the shares cost about the same) and `gather(part)` merges the shares of every
process ({row: value} dicts; any picklable values, tensors included, through torch.distributed's
`all_gather_object`). Outside it, or on one process, they are the identity: a caller that did not ask for a
collective (batch predict under a launcher gives each process chunks of its own) never meets one.

Written here: Accelerate's `gather_for_metrics` gathers tensors of one shape from its prepared loaders;
these are ragged per-row outputs (one (seq, hidden) tensor per text, per-token logits) computed outside one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

import numpy as np

__all__ = ["across_processes", "sharded", "my_rows", "gather", "total", "processes"]

_SHARDED: ContextVar[bool] = ContextVar("headstart_sharded", default=False)


def processes() -> tuple[int, int]:
    """(world size, this process's rank) of the initialised process group; (1, 0) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


@contextlib.contextmanager
def across_processes() -> Iterator[None]:
    """Within this block, `my_rows` / `gather` / `total` split the work across the data-parallel processes.
    Every process must enter it and make the same calls in the same order (they are collectives)."""
    token = _SHARDED.set(processes()[0] > 1)
    try:
        yield
    finally:
        _SHARDED.reset(token)


def sharded() -> bool:
    """Whether the work is being split across processes here (inside `across_processes()`, with several)."""
    return _SHARDED.get()


def my_rows(lengths: Sequence[int]) -> np.ndarray:
    """The row indices this process computes: all of them outside `across_processes()`, else every N-th row
    of the length order (N the number of processes), so each share holds texts of every length."""
    n = len(lengths)
    if not sharded():
        return np.arange(n)
    world, rank = processes()
    return np.argsort(np.asarray(lengths), kind="stable")[rank::world]


def gather(part: dict) -> dict:
    """{row: value} of every process merged (the process's own `part` outside `across_processes()`)."""
    if not sharded():
        return part
    import torch.distributed as dist

    parts: list = [None] * processes()[0]
    dist.all_gather_object(parts, part)
    return {k: v for p in parts for k, v in p.items()}


def total(*numbers: float) -> tuple[float, ...]:
    """Each number summed over the processes (itself outside `across_processes()`)."""
    if not sharded():
        return numbers
    import torch.distributed as dist

    parts: list = [None] * processes()[0]
    dist.all_gather_object(parts, list(numbers))
    return tuple(float(sum(p[i] for p in parts)) for i in range(len(numbers)))
