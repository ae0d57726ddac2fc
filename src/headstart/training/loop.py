"""The training loop, top to bottom, on Hugging Face Accelerate (so `accelerate launch` runs the same
code on several GPUs or machines).

    1) seed, freeze what the strategy keeps frozen, cache the frozen prefix
    2) "head-only baseline first": start the head from a linear probe
    3) optimizer with discriminative learning rates, warmup + decay schedule
    4) resume from the last checkpoint if asked
    5) epochs: (gradual unfreezing) -> steps -> dev evaluation -> early stopping -> checkpoint
    6) restore the best epoch's weights, or with cfg.average_epochs = k > 1 the mean of the weights at the
       ends of the best epoch and the k - 1 epochs before it (checkpoint averaging: SWA over epoch ends)

Refit (`dev=None`, `stop_after=E`): the same schedule with nothing held out, stopped after the E epochs the
first fit chose, keeping the mean of the last `average_last` epochs' weights (what the first fit kept).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.utils import set_seed
from torch.utils.data import DataLoader

from headstart.config import DEFAULT_LOWER_LR_CAP, DEFAULT_LR_DECAY, TrainConfig
from headstart.errors import ConfigError
from headstart.modeling import TransformerClassifier
from headstart.training.batching import BucketBatchSampler, Examples
from headstart.training.cache import build_cache, cache_depth, pooled_features
from headstart.training.checkpoint import load_checkpoint, save_atomic
from headstart.training.early_stop import EarlyStopper
from headstart.training.groups import freeze_except, group_lrs, param_groups, set_train_mode
from headstart.training.objectives import Objective, loss_fn, predict_logits, probabilities
from headstart.training.progress import Progress
from headstart.training.schedule import lr_multiplier
from headstart.training.shards import across_processes, gather, my_rows, processes
from headstart.training.warm_start import warm_start_head

__all__ = ["FitResult", "fit", "predict_logits", "loss_fn", "probabilities"]


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float | None = None
    metric: str = ""
    train_seconds: float = 0.0
    cache_depth: int | None = None
    stopped_early: bool = False
    averaged_epochs: list[int] = field(default_factory=list)  # the epochs whose weights were averaged, if any
    averaged_metric: float | None = None  # the dev metric of that average
    paused: bool = False  # stopped at `stop_after` with epochs of its schedule to go (a rung of compare)
    processes: int = 1  # data-parallel: how many processes trained, each on its share of the batches
    steps_per_epoch: int = 0  # the batches one process saw per epoch
    # data-parallel: the rows this process computed of the frozen-prefix cache and of each dev scoring (its
    # share; every process then holds them all)
    cache_rows: int = 0
    dev_rows: int = 0


def fit(
    model: TransformerClassifier,
    train: Examples,
    dev: Examples | None,
    *,
    trainable: list[str],
    keep: Callable[[str], bool] | None = None,
    cfg: TrainConfig,
    pad_id: int,
    objective: Objective,
    balanced_probe: bool = False,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    stop_after: int | None = None,
    average_last: int = 1,
) -> FitResult:
    """Train `model` in place; leave it with the weights of its best dev epoch.

    Args:
        train, dev: token-id examples with labels (what `objective` reads: class indices, multi-hot rows,
            one label per token, start/end positions, word ids for masking). dev None: refit (below).
        trainable: layer-group names that train, bottom first (from the strategy).
        keep: which parameters of the trainable backbone groups train, by name (adapters, biases);
            None: all of them.
        objective: the loss and the dev evaluation (headstart.training.objectives); its metric selects
            the best epoch and stops early.
        balanced_probe: the warm-start probe weighs classes by inverse frequency.
        checkpoint: file written atomically after each epoch; with resume=True training continues
            from it and ends with the same weights as an uninterrupted run.
        on_epoch_end: called with (epoch, history row); raising in it interrupts training.
        stop_after, average_last: refit only (dev None): run the schedule of cfg.epochs for this many
            epochs (0: the warm-start probe alone), and keep the mean of the last `average_last` epochs.
    """
    # 1) seed, freeze, cache ----------------------------------------------------------------------------
    set_seed(cfg.seed)
    accelerator = _accelerator(cfg)
    model.to(accelerator.device)  # before caching, so the frozen prefix runs on the accelerator too
    groups = model.layer_groups()
    freeze_except(model, groups, trainable, keep)
    keys = {name for name, p in model.named_parameters() if p.requires_grad}  # what checkpoints hold
    depth = cache_depth(model, trainable) if cfg.prefix_cache else None
    with across_processes():  # data-parallel: each process computes its share of the cache, then has it all
        cache_rows = len(my_rows(train.lengths())) if depth is not None else 0
        train, dev, pooled = _cached(model, train, dev, depth, pad_id)

    # 2) "head-only baseline first" (LP-FT, Kumar et al. 2022: a fitted head distorts the pretrained
    # features less than a random one); a resumed run has its head in the checkpoint
    state = load_checkpoint(checkpoint) if resume and checkpoint else None
    if cfg.warm_start and "head" in trainable and state is None and objective.has_probe:
        with across_processes():
            _warm_start(model, train, pooled, objective, pad_id=pad_id, balanced=balanced_probe, seed=cfg.seed)

    # 3) optimizer: discriminative LRs; schedule --------------------------------------------------------
    sampler = BucketBatchSampler(train.lengths(), cfg.batch_size, seed=cfg.seed)
    optimizer, scheduler = _optimizer(groups, trainable, cfg, cfg.epochs * math.ceil(len(sampler) / cfg.grad_accum))
    loader = DataLoader(train, batch_sampler=sampler, collate_fn=lambda b: objective.collate(b, pad_id))
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    core = accelerator.unwrap_model(model)  # the module itself (model may be a DDP wrapper)
    run = _Run(objective, cfg, keys, depth, pad_id, dev, average_last if dev is None else cfg.average_epochs or 1)

    # 4) resume, or evaluate the starting point (with a warm-started head, the linear-probe baseline) ------
    if state is not None:
        run.restore(state, core, optimizer, scheduler)
    else:
        run.start(core)

    # 5) epochs ----------------------------------------------------------------------------------------
    last = cfg.epochs if stop_after is None else min(stop_after, cfg.epochs)
    run.result.processes, run.result.steps_per_epoch = accelerator.num_processes, len(loader)
    run.result.cache_rows = cache_rows
    bar = Progress(enabled=progress and accelerator.is_main_process, total=last * len(loader),
                   completed=run.first_epoch * len(loader), label="training" if dev is not None else "refit")
    rng = torch.Generator()  # the objective's randomness per batch (masking), seeded by (seed, epoch, step)
    for epoch in range(run.first_epoch, last):
        if run.stopper.should_stop:
            run.result.stopped_early = True
            break
        _begin_epoch(core, groups, trainable, keep, cfg, epoch, loader, sampler)
        t0 = time.perf_counter()
        losses = _train_epoch(model, loader, objective, optimizer, scheduler, accelerator, rng, cfg, epoch, depth, bar)
        run.result.train_seconds += time.perf_counter() - t0
        row = run.end_epoch(core, epoch, losses, scheduler.get_last_lr()[-1])
        bar.set_metric(objective.metric, row.get(f"dev_{objective.metric}"))
        if checkpoint:
            rngs = _rng_states()  # data-parallel: a collective, so every process takes part
            if accelerator.is_main_process:
                save_atomic(run.state(epoch, optimizer, scheduler, rngs), checkpoint)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    else:
        run.result.stopped_early = run.stopper.should_stop
    run.result.paused = dev is not None and last < cfg.epochs and not run.result.stopped_early
    bar.close()

    # 6) the weights kept ------------------------------------------------------------------------------
    run.finish(core)
    freeze_except(core, groups, [])
    core.eval()
    return run.result


def _warm_start(model, train: Examples, pooled, objective, *, pad_id: int, balanced: bool, seed: int) -> None:
    """The head from a logistic-regression probe on the frozen features (reused from the cache's pass)."""
    if pooled is None:
        pooled = pooled_features(model, train.inputs, pad_id=pad_id, segments=train.segments)
    X, y = objective.probe(pooled, train.labels)
    warm_start_head(model, X, y, multilabel=objective.multilabel, balanced=balanced, seed=seed)


def _begin_epoch(core, groups, trainable: list[str], keep, cfg: TrainConfig, epoch: int, loader, sampler) -> None:
    """What trains this epoch, and its batch order."""
    # gradual unfreezing: epoch 0 trains the top group only, each epoch adds the next one down
    active = trainable[-(epoch + 1):] if cfg.gradual_unfreeze else trainable
    freeze_except(core, groups, active, keep)
    set_train_mode(core, groups, active)
    # the batch order is a function of (seed, epoch) alone; accelerate's loader passes its own epoch
    # counter to the sampler when iterated, so set it there (a resumed run starts that count at 0)
    loader.set_epoch(epoch) if hasattr(loader, "set_epoch") else sampler.set_epoch(epoch)


def _accelerator(cfg: TrainConfig) -> Accelerator:
    """This fit's Accelerator. Its precision and accumulation are per fit, but Accelerate keeps them in a
    process-wide state that refuses a change: that state is reset (the process group, PartialState, stays)."""
    from accelerate.state import AcceleratorState

    if cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError("mixed_precision fp16 needs a GPU.", expected="a CUDA device, or bf16 / no on a CPU",
                          found="no GPU", fix="--mixed-precision bf16, or leave it out")
    AcceleratorState._reset_state()
    # data-parallel (accelerate launch / torchrun): gradual unfreezing turns on parameters DDP did not see
    # at wrapping time, so it must look for unused ones (a no-op on one process)
    return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=cfg.mixed_precision,
                       gradient_accumulation_steps=cfg.grad_accum,
                       kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=cfg.gradual_unfreeze)])


def _cached(model, train: Examples, dev: Examples | None, depth: int | None, pad_id: int):
    """(train, dev, pooled): the examples as the frozen prefix's outputs when there is one to cache, and the
    frozen model's final features of train from the same pass (the warm start's input), else None."""
    if depth is None:
        return train, dev, None
    cached, pooled = build_cache(model, train.inputs, depth, pad_id=pad_id, with_pooled=True, segments=train.segments)
    train = Examples(cached, train.labels)  # the cache holds the segments' effect: no longer needed
    if dev is not None:
        dev = Examples(build_cache(model, dev.inputs, depth, pad_id=pad_id, segments=dev.segments), dev.labels)
    return train, dev, pooled


def _rng_states() -> list[torch.Tensor]:
    """Every process's torch generator state, by rank (one entry on one process). Dropout draws from it, and
    processes whose batches differ in shape draw different amounts: a resumed run restores each its own."""
    with across_processes():
        states = gather({processes()[1]: torch.get_rng_state()})
    return [states[rank] for rank in sorted(states)]


def _optimizer(groups, trainable: list[str], cfg: TrainConfig, total_steps: int):
    """AdamW over the layer groups with discriminative rates, and the warmup + decay schedule."""
    names = [g.name for g in groups]
    lower_cap = DEFAULT_LOWER_LR_CAP if cfg.lower_lr_cap is None else cfg.lower_lr_cap
    lrs = group_lrs(names, trainable, cfg.lr, cfg.lr_decay or DEFAULT_LR_DECAY, lower_cap)
    optimizer = torch.optim.AdamW(param_groups(groups, lrs, cfg.weight_decay))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(s, total_steps, kind=cfg.schedule, warmup_ratio=cfg.warmup_ratio)
    )
    return optimizer, scheduler


def _train_epoch(model, loader, objective, optimizer, scheduler, accelerator, rng, cfg, epoch, depth, bar) -> list:
    """One pass over the training batches; the losses of its steps."""
    losses = []
    for step, batch in enumerate(loader):
        rng.manual_seed(cfg.seed * 1_000_003 + epoch * 10_007 + step)
        batch = objective.prepare(batch, rng)
        labels = batch.pop("labels")
        with accelerator.accumulate(model):  # with grad_accum 1 (the default), every batch steps
            logits = model(**batch, prefix_depth=depth or 0)  # (b, n_labels), per-token: (b, seq, n_labels)
            loss = objective.loss(logits, labels)
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()  # the prepared optimizer and scheduler skip the steps between syncs
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.advance(loss=float(np.mean(losses[-20:])))
    return losses


def _evaluate_epoch(model, objective: Objective, dev: Examples | None, epoch: int, losses: list, pad_id: int,
                    depth) -> dict:
    """The history row of one epoch: its mean training loss and the dev scores (none in a refit)."""
    row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else None}
    return row if dev is None else row | _score(model, objective, dev, pad_id, depth)


def _score(model, objective: Objective, dev: Examples, pad_id: int, depth) -> dict:
    """The objective's dev scores; data-parallel, each process scores its share of the rows and every
    process gets the same scores (so every one takes the same early-stopping decision)."""
    with across_processes():
        return objective.evaluate(model, dev, pad_id=pad_id, depth=depth or 0)


class _Run:
    """What the loop keeps between epochs: the history, early stopping, the best epoch's weights and the
    window of recent epochs' weights that checkpoint averaging means over; all of it goes into checkpoints."""

    def __init__(self, objective: Objective, cfg: TrainConfig, keys: set[str], depth, pad_id: int,
                 dev: Examples | None, window: int) -> None:
        self.objective, self.keys, self.depth, self.pad_id, self.dev = objective, keys, depth, pad_id, dev
        self.stopper = EarlyStopper(cfg.patience if dev is not None else 0,
                                    greater_is_better=objective.greater_is_better)
        self.result = FitResult(metric=objective.metric, cache_depth=depth)
        if dev is not None:
            with across_processes():
                self.result.dev_rows = len(my_rows(dev.lengths()))
        self.recent: deque = deque(maxlen=window)  # (epoch, weights) at the ends of the last epochs
        self.best_window: list = []  # `recent` as it was when the best epoch ended
        self.best_state: dict = {}
        self.first_epoch = 0

    def weights(self, core) -> dict:
        """A CPU copy of the named parameters (the ones the strategy may train)."""
        return {k: v.detach().cpu().clone() for k, v in core.named_parameters() if k in self.keys}

    def evaluate(self, core, epoch: int, losses: list) -> dict:
        return _evaluate_epoch(core, self.objective, self.dev, epoch, losses, self.pad_id, self.depth)

    def start(self, core) -> None:
        """Epoch 0, the starting point (with a warm-started head, the linear-probe baseline)."""
        row = self.evaluate(core, -1, [])
        self.result.history.append(row)
        if self.dev is not None:
            self.stopper.update(row[f"dev_{self.objective.metric}"], -1, baseline=True)
        self.best_state = self.weights(core)

    def end_epoch(self, core, epoch: int, losses: list, lr: float) -> dict:
        row = self.evaluate(core, epoch, losses) | {"lr": lr}
        self.result.history.append(row)
        weights = self.weights(core)
        self.recent.append((epoch, weights))
        value = row.get(f"dev_{self.objective.metric}")
        if self.dev is None or self.stopper.update(value, epoch):  # a refit keeps its last epochs
            self.best_state, self.best_window = weights, list(self.recent)
            if self.dev is None:
                self.stopper.best_epoch = epoch
        return row

    def finish(self, core) -> None:
        """Best weights back, or their mean with the epochs before (when asked, and, with a dev set, not
        worse on dev than the starting point: training never ends below the warm-start probe)."""
        result, metric = self.result, self.objective.metric
        if len(self.best_window) > 1:  # the window ends at the best epoch (a trained one: epoch 0 never enters it)
            core.load_state_dict({k: torch.stack([w[k] for _, w in self.best_window]).mean(0) for k in self.best_state},
                                 strict=False)
            value = None
            if self.dev is not None:
                value = _score(core, self.objective, self.dev, self.pad_id, self.depth)[f"dev_{metric}"]
                start = result.history[0][f"dev_{metric}"]
                keep = value >= start if self.objective.greater_is_better else value <= start
            if self.dev is None or keep:
                result.averaged_epochs, result.averaged_metric = [e + 1 for e, _ in self.best_window], value
        if not result.averaged_epochs:
            core.load_state_dict(self.best_state, strict=False)
        result.best_epoch, result.best_metric = self.stopper.best_epoch + 1, self.stopper.best

    def state(self, epoch: int, optimizer, scheduler, rngs: list[torch.Tensor]) -> dict:
        weights = self.recent[-1][1]
        return {"model": weights, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "stopper": self.stopper.state_dict(), "history": self.result.history, "best_state": self.best_state,
                "epoch": epoch, "train_seconds": self.result.train_seconds, "rng": rngs[0],
                "rng_per_process": rngs, "recent": list(self.recent), "best_window": self.best_window}

    def restore(self, state: dict, core, optimizer, scheduler) -> None:
        core.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        self.stopper.load_state_dict(state["stopper"])
        self.result.history, self.best_state = state["history"], state["best_state"]
        self.result.train_seconds = state["train_seconds"]
        world, rank = processes()
        per_process = state.get("rng_per_process")  # absent from checkpoints written before it existed
        torch.set_rng_state(per_process[rank] if per_process and len(per_process) == world else state["rng"])
        self.first_epoch = state["epoch"] + 1
        self.recent.extend(state.get("recent", []))  # absent from checkpoints written before averaging existed
        self.best_window = state.get("best_window", [])
