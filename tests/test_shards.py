"""Dev scoring and the frozen-prefix cache split across data-parallel processes (training/shards.py): two real
gloo processes, each computes its share of the rows, both get every row back in order, and outside
`across_processes()` nothing waits on the other process."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from headstart.training.batching import Examples
from headstart.training.objectives import predict_logits
from headstart.training.shards import across_processes, gather, my_rows, total

pytestmark = pytest.mark.xdist_group("compare")  # processes of their own: one worker at a time


class _Counting(torch.nn.Module):
    """A stand-in classifier whose logits are (sum of ids, length): it counts the rows it was asked for."""

    per_token, n_outputs = False, 2

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.rows = 0

    def forward(self, input_ids, attention_mask, prefix_depth=0, **_):
        self.rows += len(input_ids)
        ids = input_ids * attention_mask
        return torch.stack([ids.sum(1).float(), attention_mask.sum(1).float()], dim=1)


def _examples() -> Examples:
    return Examples([list(range(1, 2 + i % 7)) for i in range(23)], None)  # 23 rows: shares of 12 and 11


def _worker(rank: int, store: str, out) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        model = _Counting()
        with across_processes():
            logits = predict_logits(model, _examples(), pad_id=0, batch_size=4)
            share = len(my_rows(_examples().lengths()))
            merged = gather({rank: f"from {rank}"})
            summed = total(rank + 1.0, 10.0)
        alone = _Counting()
        if rank == 0:  # outside the block: no collective, so the other process need not take part
            predict_logits(alone, _examples(), pad_id=0, batch_size=4)
        out.put((rank, logits.tolist(), model.rows, share, merged, summed, alone.rows))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_two_processes_each_score_their_share_and_both_get_every_row(tmp_path) -> None:
    expected = predict_logits(_Counting(), _examples(), pad_id=0, batch_size=4).tolist()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(rank, str(tmp_path / "store"), out)) for rank in range(2)]
    for p in procs:
        p.start()
    results = sorted(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for rank, logits, rows, share, merged, summed, alone in results:
        assert logits == expected  # every row, in the order of the examples, on both processes
        assert rows == share and {rows for _, _, rows, *_ in results} == {12, 11}  # each computed its share only
        assert merged == {0: "from 0", 1: "from 1"} and summed == (3.0, 20.0)
        assert alone == (23 if rank == 0 else 0)


def test_outside_a_process_group_the_helpers_are_the_identity() -> None:
    with across_processes():
        assert my_rows([3, 1, 2]).tolist() == [0, 1, 2]
        assert gather({1: "a"}) == {1: "a"} and total(2.0, 3.0) == (2.0, 3.0)
