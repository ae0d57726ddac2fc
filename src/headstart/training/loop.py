"""The training loop, top to bottom, on Hugging Face Accelerate (so `accelerate launch` runs the same
code on several GPUs or machines).

    1) seed, freeze what the strategy keeps frozen, cache the frozen prefix
    2) optimizer with discriminative learning rates, warmup + decay schedule
    3) resume from the last checkpoint if asked
    4) epochs: (gradual unfreezing) -> steps -> dev evaluation -> early stopping -> checkpoint
    5) restore the best epoch's weights, or with cfg.average_epochs = k > 1 the mean of the weights at the
       ends of the best epoch and the k - 1 epochs before it (checkpoint averaging: SWA over epoch ends)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader

from headstart.config import DEFAULT_LOWER_LR_CAP, DEFAULT_LR_DECAY, TrainConfig
from headstart.modeling import TransformerClassifier
from headstart.training.batching import BucketBatchSampler, Examples
from headstart.training.cache import build_cache, cache_depth, pooled_features
from headstart.training.checkpoint import load_checkpoint, save_atomic
from headstart.training.early_stop import EarlyStopper
from headstart.training.groups import freeze_except, group_lrs, param_groups, set_train_mode
from headstart.training.objectives import Objective, loss_fn, predict_logits, probabilities
from headstart.training.progress import Progress
from headstart.training.schedule import lr_multiplier
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


def fit(
    model: TransformerClassifier,
    train: Examples,
    dev: Examples,
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
) -> FitResult:
    """Train `model` in place; leave it with the weights of its best dev epoch.

    Args:
        train, dev: token-id examples with labels (what `objective` reads: class indices, multi-hot rows,
            one label per token, start/end positions, word ids for masking).
        trainable: layer-group names that train, bottom first (from the strategy).
        keep: which parameters of the trainable backbone groups train, by name (adapters, biases);
            None: all of them.
        objective: the loss and the dev evaluation (headstart.training.objectives); its metric selects
            the best epoch and stops early.
        balanced_probe: the warm-start probe weighs classes by inverse frequency.
        checkpoint: file written atomically after each epoch; with resume=True training continues
            from it and ends with the same weights as an uninterrupted run.
        on_epoch_end: called with (epoch, history row); raising in it interrupts training.
    """
    # 1) seed, freeze, cache -------------------------------------------------------------------
    set_seed(cfg.seed)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model.to(accelerator.device)  # before caching, so the frozen prefix runs on the accelerator too
    groups = model.layer_groups()
    names = [g.name for g in groups]
    freeze_except(model, groups, trainable, keep)
    keys = {name for name, p in model.named_parameters() if p.requires_grad}  # what checkpoints hold
    depth = cache_depth(model, trainable) if cfg.prefix_cache else None
    pooled = None
    if depth is not None:
        cached, pooled = build_cache(model, train.inputs, depth, pad_id=pad_id, with_pooled=True,
                                     segments=train.segments)
        train = Examples(cached, train.labels)  # the cache holds the segments' effect: no longer needed
        dev = Examples(build_cache(model, dev.inputs, depth, pad_id=pad_id, segments=dev.segments), dev.labels)

    # 1b) "head-only baseline first": start the head from a linear probe on the frozen features
    # (LP-FT, Kumar et al. 2022: a fitted head distorts the pretrained features less than a random one)
    state = load_checkpoint(checkpoint) if resume and checkpoint else None
    if cfg.warm_start and "head" in trainable and state is None and objective.has_probe:
        if pooled is None:
            pooled = pooled_features(model, train.inputs, pad_id=pad_id, segments=train.segments)
        X, y = objective.probe(pooled, train.labels)
        warm_start_head(model, X, y, multilabel=objective.multilabel, balanced=balanced_probe, seed=cfg.seed)

    # 2) optimizer: discriminative LRs; schedule ------------------------------------------------
    lower_cap = DEFAULT_LOWER_LR_CAP if cfg.lower_lr_cap is None else cfg.lower_lr_cap
    lrs = group_lrs(names, trainable, cfg.lr, cfg.lr_decay or DEFAULT_LR_DECAY, lower_cap)
    optimizer = torch.optim.AdamW(param_groups(groups, lrs, cfg.weight_decay))
    sampler = BucketBatchSampler(train.lengths(), cfg.batch_size, seed=cfg.seed)
    total_steps = cfg.epochs * len(sampler)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(s, total_steps, kind=cfg.schedule, warmup_ratio=cfg.warmup_ratio)
    )
    loader = DataLoader(train, batch_sampler=sampler, collate_fn=lambda b: objective.collate(b, pad_id))
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    core = accelerator.unwrap_model(model)  # the module itself (model may be a DDP wrapper)
    metric = objective.metric
    stopper = EarlyStopper(cfg.patience, greater_is_better=objective.greater_is_better)
    rng = torch.Generator()  # the objective's randomness per batch (masking), seeded by (seed, epoch, step)
    result = FitResult(metric=metric, cache_depth=depth)
    best_state = _state(core, keys)
    start_epoch = 0
    recent: deque = deque(maxlen=cfg.average_epochs or 1)  # (epoch, weights) at the ends of the last epochs
    best_window: list = []  # `recent` as it was when the best epoch ended

    # 3) resume ---------------------------------------------------------------------------------
    if state is not None:
        core.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        stopper.load_state_dict(state["stopper"])
        result.history, best_state = state["history"], state["best_state"]
        result.train_seconds = state["train_seconds"]
        torch.set_rng_state(state["rng"])
        start_epoch = state["epoch"] + 1
        recent.extend(state.get("recent", []))  # absent from checkpoints written before averaging existed
        best_window = state.get("best_window", [])

    # 4) epochs (epoch 0 is the starting point: with a warm-started head, the linear-probe baseline) ----
    if start_epoch == 0:
        row = _evaluate_epoch(core, objective, dev, -1, [], pad_id, depth)
        result.history.append(row)
        stopper.update(row[f"dev_{metric}"], -1, baseline=True)
        best_state = _state(core, keys)
    bar = Progress(enabled=progress, total=cfg.epochs * len(sampler), completed=start_epoch * len(sampler))
    for epoch in range(start_epoch, cfg.epochs):
        if stopper.should_stop:
            result.stopped_early = True
            break
        t0 = time.perf_counter()
        # gradual unfreezing: epoch 0 trains the top group only, each epoch adds the next one down
        active = trainable[-(epoch + 1):] if cfg.gradual_unfreeze else trainable
        freeze_except(core, groups, active, keep)
        set_train_mode(core, groups, active)
        # the batch order is a function of (seed, epoch) alone; accelerate's loader passes its own epoch
        # counter to the sampler when iterated, so set it there (a resumed run starts that count at 0)
        loader.set_epoch(epoch) if hasattr(loader, "set_epoch") else sampler.set_epoch(epoch)
        losses = []
        for step, batch in enumerate(loader):
            rng.manual_seed(cfg.seed * 1_000_003 + epoch * 10_007 + step)
            batch = objective.prepare(batch, rng)
            labels = batch.pop("labels")
            logits = model(**batch, prefix_depth=depth or 0)  # (b, n_labels), per-token: (b, seq, n_labels)
            loss = objective.loss(logits, labels)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.advance(loss=float(np.mean(losses[-20:])))
        result.train_seconds += time.perf_counter() - t0

        row = _evaluate_epoch(core, objective, dev, epoch, losses, pad_id, depth)
        row["lr"] = scheduler.get_last_lr()[-1]
        result.history.append(row)
        weights = _state(core, keys)
        recent.append((epoch, weights))
        if stopper.update(row[f"dev_{metric}"], epoch):
            best_state, best_window = weights, list(recent)
        bar.set_metric(metric, row[f"dev_{metric}"])
        if checkpoint and accelerator.is_main_process:
            save_atomic({"model": weights, "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "stopper": stopper.state_dict(),
                         "history": result.history, "best_state": best_state, "epoch": epoch,
                         "train_seconds": result.train_seconds, "rng": torch.get_rng_state(),
                         "recent": list(recent), "best_window": best_window}, checkpoint)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    else:
        result.stopped_early = stopper.should_stop
    bar.close()

    # 5) best weights back, or their mean with the epochs before (when asked, and not worse on dev than the
    # starting point: training never ends below the warm-start probe) -----------------------------------------
    if len(best_window) > 1:  # the window ends at the best epoch (a trained one: epoch 0 never enters it)
        core.load_state_dict({k: torch.stack([w[k] for _, w in best_window]).mean(0) for k in best_state},
                             strict=False)
        value = objective.evaluate(core, dev, pad_id=pad_id, depth=depth or 0)[f"dev_{metric}"]
        start = result.history[0][f"dev_{metric}"]
        if value >= start if objective.greater_is_better else value <= start:
            result.averaged_epochs, result.averaged_metric = [epoch + 1 for epoch, _ in best_window], value
    if not result.averaged_epochs:
        core.load_state_dict(best_state, strict=False)
    freeze_except(core, groups, [])
    core.eval()
    result.best_epoch, result.best_metric = stopper.best_epoch + 1, stopper.best
    return result


def _state(model, keys: set[str]) -> dict:
    """A CPU copy of the named parameters (the ones the strategy may train)."""
    return {k: v.detach().cpu().clone() for k, v in model.named_parameters() if k in keys}


def _evaluate_epoch(model, objective: Objective, dev, epoch, losses, pad_id, depth) -> dict:
    row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else None}
    return row | objective.evaluate(model, dev, pad_id=pad_id, depth=depth or 0)
