"""Data-parallel runs: under `accelerate launch` or `torchrun`, every process trains (the loop's
Accelerator shards the batches and all-reduces the gradients) and only the main process claims and
writes the run folder.

    accelerate launch --num_processes 2 -m headstart train data.csv --out runs/ddp
    torchrun --nproc_per_node 2 -m headstart train data.csv --out runs/ddp

The main process claims the folder first (marker, lock, --overwrite) and tells the others whether it
could; a refusal stops every process with the main process's message instead of leaving them waiting in
the first collective. The other processes read the checkpoint to resume, and write nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from headstart.errors import HeadstartError
from headstart.runs.folder import CHECKPOINT, claim

__all__ = ["world_size", "claim_on_main", "Follower"]


def world_size() -> int:
    """How many processes train this run (the launchers' WORLD_SIZE; 1 without one)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


@dataclass
class Follower:
    """What a process other than the main one holds instead of the claimed folder: the checkpoint to read
    on --resume, and nothing to write."""

    path: Path
    kind: str = "run"

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    def begin(self) -> None:
        pass

    def finish(self) -> None:
        pass


@contextlib.contextmanager
def claim_on_main(out: str | Path, **kwargs) -> Iterator[object]:
    """The claimed RunFolder (headstart.runs.folder.claim with `kwargs`) on the main process (or the only
    one), a Follower elsewhere."""
    if world_size() == 1:
        with claim(out, **kwargs) as folder:
            yield folder
        return
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # joins the launcher's process group
    with contextlib.ExitStack() as stack:
        refusal = [None]
        if state.is_main_process:
            try:
                folder = stack.enter_context(claim(out, **kwargs))
            except HeadstartError as exc:
                refusal = [exc.problem]
                _share(refusal)
                raise
        _share(refusal)
        if refusal[0] is not None:
            raise HeadstartError(f"the main process could not claim {out}: {refusal[0]}",
                                 expected="the main process's message above", found="its refusal",
                                 fix="see the main process's error")
        yield folder if state.is_main_process else Follower(Path(out), kwargs.get("kind", "run"))


def _share(message: list) -> None:
    """The main process's refusal (or None) to every process."""
    import torch.distributed as dist

    dist.broadcast_object_list(message, src=0)
