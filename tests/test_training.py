"""Training mechanics on tiny models: prefix cache, resume, checkpoints, discriminative LRs, gradual
unfreezing, schedules, batching, early stopping, class weights and multi-label training."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import CACHEABLE_FAMILIES, N_LAYERS
from headstart import HeadstartClassifier
from headstart.config import TrainConfig
from headstart.errors import HeadstartError
from headstart.strategies import make_strategy
from headstart.tasks.classification.objective import Classification
from headstart.training import (
    BucketBatchSampler,
    EarlyStopper,
    Examples,
    build_cache,
    cache_depth,
    collate,
    fit,
    group_lrs,
    loop,
    lr_multiplier,
    predict_logits,
    tokenize,
)
from headstart.training import checkpoint as checkpoint_module
from headstart.training.checkpoint import load_checkpoint, save_atomic
from headstart.training.groups import param_groups

MAX_LENGTH = 16


def _examples(tokenizer, texts, labels, classes) -> Examples:
    y = np.array([classes.index(label) for label in labels], dtype=np.int64)
    return Examples(tokenize(tokenizer, texts, MAX_LENGTH), y)


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _group_params(model, name: str) -> list[torch.Tensor]:
    (group,) = [g for g in model.layer_groups() if g.name == name]
    return [p.detach().clone() for p in group.parameters()]


@pytest.fixture()
def setup(tiny_bert, toy_data, toy_dev, initial_model):
    """`setup(strategy, **cfg)` -> (model, fit keyword arguments) for a direct call of `fit` on tiny BERT."""
    classes = ["neg", "pos"]

    def make(strategy: str = "top-n", **options):
        model, tokenizer = initial_model(tiny_bert, len(classes))
        names = [g.name for g in model.layer_groups()]
        cfg = TrainConfig(**{"epochs": 3, "lr": 3e-3, "batch_size": 8, "max_length": MAX_LENGTH,
                             "patience": 0, **options})
        kwargs = {"train": _examples(tokenizer, *toy_data, classes),
                  "dev": _examples(tokenizer, *toy_dev, classes),
                  "trainable": make_strategy(strategy).trainable_groups(names), "cfg": cfg,
                  "pad_id": tokenizer.pad_token_id, "objective": Classification(metric="accuracy"),
                  "progress": False}
        return model, kwargs

    return make


# --- a) the frozen-prefix cache -----------------------------------------------------------------------------


@pytest.mark.parametrize("family", CACHEABLE_FAMILIES)
def test_cached_forward_equals_full_forward(family, tiny_folders, toy_data, initial_model) -> None:
    model, tokenizer = initial_model(tiny_folders[family], 3)
    ids = tokenize(tokenizer, toy_data[0][:12], MAX_LENGTH)
    pad = tokenizer.pad_token_id
    full = predict_logits(model, Examples(ids, None), pad_id=pad)
    structure = [(name, id(p)) for name, p in model.named_parameters()]
    for depth in range(model.n_blocks + 1):  # n_blocks: the pooled output is cached, only the head runs
        cached = Examples(build_cache(model, ids, depth, pad_id=pad), None)
        got = predict_logits(model, cached, pad_id=pad, depth=depth)
        np.testing.assert_allclose(got, full, atol=1e-5, rtol=0, err_msg=f"depth {depth}")
    # the forward from a cache puts every substituted module and block back
    assert [(name, id(p)) for name, p in model.named_parameters()] == structure
    assert model.n_blocks == N_LAYERS


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama"])
def test_prefix_forward_on_a_padded_batch(family, tiny_folders, toy_data, initial_model) -> None:
    """`forward(prefix_hidden=..., prefix_depth=k)` on one padded batch equals the full forward."""
    model, tokenizer = initial_model(tiny_folders[family], 2)
    ids = tokenize(tokenizer, toy_data[0][:6], MAX_LENGTH)
    batch = collate([(x, None) for x in ids], tokenizer.pad_token_id, multilabel=False)
    assert batch["attention_mask"].min() == 0, "the batch should need padding"
    with torch.no_grad():
        full = model(**batch)
        hidden = model.backbone(**batch, output_hidden_states=True).hidden_states  # (b, seq, hidden) each
        for depth in range(model.n_blocks):
            got = model(prefix_hidden=hidden[depth], attention_mask=batch["attention_mask"], prefix_depth=depth)
            torch.testing.assert_close(got, full, atol=1e-5, rtol=0)


def test_prefix_forward_restores_the_model_when_it_raises(tiny_bert, initial_model) -> None:
    model, _ = initial_model(tiny_bert, 2)
    blocks, embeddings = list(model.backbone.encoder.layer), model.backbone.embeddings
    wrong = torch.zeros(2, 5, 7)  # hidden size 7: the first remaining block fails
    with pytest.raises(RuntimeError):
        model(prefix_hidden=wrong, attention_mask=torch.ones(2, 5, dtype=torch.long), prefix_depth=1)
    assert list(model.backbone.encoder.layer) == blocks
    assert model.backbone.embeddings is embeddings


def test_t5_has_no_prefix_cache(tiny_folders, initial_model) -> None:
    model, _ = initial_model(tiny_folders["t5"], 2)
    with pytest.raises(ValueError, match="no prefix cache"):
        model(prefix_hidden=torch.zeros(1, 3, 32), attention_mask=torch.ones(1, 3, dtype=torch.long),
              prefix_depth=1)


@pytest.mark.parametrize("family, strategy, options, expected", [
    ("bert", "head", {}, N_LAYERS),  # pooled output cached
    ("bert", "features", {}, N_LAYERS),
    ("bert", "top-n", {"top_n": 1}, N_LAYERS - 1),
    ("bert", "top-n", {}, N_LAYERS - 2),
    ("bert", "top-n", {"top_n": N_LAYERS}, None),  # block_0 trains: nothing frozen to cache
    ("bert", "full", {}, None),
    ("bert", "full", {"train_embeddings": True}, None),
    ("t5", "head", {}, N_LAYERS),  # pooled features need no prefix substitution
    ("t5", "top-n", {"top_n": 1}, None),  # not cacheable
])
def test_cache_depth(family, strategy, options, expected, tiny_folders, initial_model) -> None:
    model, _ = initial_model(tiny_folders[family], 2)
    names = [g.name for g in model.layer_groups()]
    assert cache_depth(model, make_strategy(strategy, **options).trainable_groups(names)) == expected


def test_fit_with_and_without_prefix_cache_agree(tiny_bert, toy_data, toy_dev) -> None:
    import pandas as pd

    dev = pd.DataFrame({"text": toy_dev[0], "label": toy_dev[1]})
    runs = {}
    for cached in (True, False):
        clf = HeadstartClassifier(backbone=str(tiny_bert), strategy="top-n", top_n=1, epochs=2, batch_size=8,
                                  max_length=MAX_LENGTH, patience=0, prefix_cache=cached)
        runs[cached] = clf.fit(*toy_data, dev=dev)
    assert runs[True].fit_result_.cache_depth == N_LAYERS - 1
    assert runs[False].fit_result_.cache_depth is None
    with_cache, without = _params(runs[True].model_), _params(runs[False].model_)
    for name, value in with_cache.items():
        torch.testing.assert_close(value, without[name], atol=1e-5, rtol=0, msg=name)


# --- b) c) resume and checkpoints ---------------------------------------------------------------------------


def test_resume_after_interrupt_matches_an_uninterrupted_run(setup, tmp_path: Path) -> None:
    model, kwargs = setup("top-n")
    reference = fit(model, **kwargs, checkpoint=tmp_path / "a.pt")

    def interrupt(epoch: int, row: dict) -> None:
        if epoch == 0:
            raise KeyboardInterrupt

    first, kwargs = setup("top-n")
    with pytest.raises(KeyboardInterrupt):
        fit(first, **kwargs, checkpoint=tmp_path / "b.pt", on_epoch_end=interrupt)
    assert load_checkpoint(tmp_path / "b.pt")["epoch"] == 0
    resumed, kwargs = setup("top-n")  # a fresh process: pretrained weights, the checkpoint file
    result = fit(resumed, **kwargs, checkpoint=tmp_path / "b.pt", resume=True)

    assert result.history == reference.history
    assert result.best_epoch == reference.best_epoch
    want = _params(model)
    for name, value in _params(resumed).items():
        assert torch.equal(value, want[name]), name  # bit-identical, not merely close


def test_resume_from_a_checkpoint_written_before_averaging_existed(setup, tmp_path: Path) -> None:
    model, kwargs = setup("top-n")
    reference = fit(model, **kwargs)
    first, kwargs = setup("top-n")
    with pytest.raises(KeyboardInterrupt):
        fit(first, **kwargs, checkpoint=tmp_path / "b.pt", on_epoch_end=lambda epoch, row: _interrupt())
    state = load_checkpoint(tmp_path / "b.pt")
    del state["recent"], state["best_window"]
    save_atomic(state, tmp_path / "b.pt")
    resumed, kwargs = setup("top-n")
    assert fit(resumed, **kwargs, checkpoint=tmp_path / "b.pt", resume=True).history == reference.history


def _interrupt():
    raise KeyboardInterrupt


def test_checkpoint_is_complete_and_leaves_no_temporary_file(setup, tmp_path: Path) -> None:
    model, kwargs = setup("top-n", epochs=2)
    fit(model, **kwargs, checkpoint=tmp_path / "run" / "checkpoint.safetensors")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.safetensors"]
    state = load_checkpoint(tmp_path / "run" / "checkpoint.safetensors")
    assert state["epoch"] == 1 and [row["epoch"] for row in state["history"]] == [0, 1, 2]
    assert set(state) >= {"model", "optimizer", "scheduler", "stopper", "best_state", "rng"}
    # it holds what may train, nothing else: a top-n checkpoint is a fraction of the model
    trainable = {id(p) for g in model.layer_groups() if g.name in kwargs["trainable"] for p in g.parameters()}
    assert set(state["model"]) == {name for name, p in model.named_parameters() if id(p) in trainable}
    assert set(state["best_state"]) == set(state["model"])


def test_a_crash_while_saving_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_atomic({"epoch": 0}, path)

    def crash(tensors, filename, metadata=None) -> None:
        Path(filename).write_bytes(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_file", crash)
    with pytest.raises(HeadstartError, match=r"cannot write .*checkpoint.safetensors: No space left on device; .* MB free"):
        save_atomic({"epoch": 1, "w": torch.zeros(4)}, path)
    monkeypatch.undo()
    assert load_checkpoint(path) == {"epoch": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]  # no .tmp left behind
    assert load_checkpoint(tmp_path / "missing.safetensors") is None


def test_checkpoint_round_trips_tensors_and_plain_data_without_pickle(tmp_path: Path) -> None:
    w = torch.randn(3, 2)
    state = {"model": {"a.weight": w}, "best_state": {"a.weight": w}, "optimizer": {"state": {0: {"step": torch.tensor(3.0)}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0]}]},
             "rng": torch.get_rng_state(), "best": float("-inf"), "history": [{"epoch": 0, "x": None}]}
    save_atomic(state, tmp_path / "c.safetensors")
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    assert torch.equal(loaded["model"]["a.weight"], w) and loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(loaded["optimizer"]["state"]) == [0] and torch.equal(loaded["rng"], state["rng"])
    assert loaded["best"] == float("-inf") and loaded["history"] == state["history"]
    assert loaded["model"]["a.weight"] is loaded["best_state"]["a.weight"]  # one tensor met twice is stored once
    with pytest.raises(TypeError, match="tensors and plain data only"):
        save_atomic({"f": object()}, tmp_path / "d.safetensors")


def test_a_checkpoint_that_is_not_headstarts_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "checkpoint.safetensors"
    bad.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(HeadstartError, match="not a readable headstart checkpoint"):
        load_checkpoint(bad)


# --- d) discriminative learning rates -----------------------------------------------------------------------


def test_group_lrs_decay_geometrically_from_the_head() -> None:
    names = ["embeddings", "block_0", "block_1", "block_2", "block_3", "head"]
    lrs = group_lrs(names, names[1:], lr=1e-2, decay=2.0, lower_cap=1.0)
    assert list(lrs) == ["head", "block_3", "block_2", "block_1", "block_0"]
    assert lrs == pytest.approx({"head": 1e-2, "block_3": 5e-3, "block_2": 2.5e-3, "block_1": 1.25e-3,
                                 "block_0": 6.25e-4})


def test_lower_lr_cap_applies_to_the_bottom_half_only() -> None:
    names = ["embeddings", "block_0", "block_1", "block_2", "block_3", "head"]
    lrs = group_lrs(names, names, lr=1e-2, decay=1.0, lower_cap=1e-4)
    assert lrs == pytest.approx({"head": 1e-2, "block_3": 1e-2, "block_2": 1e-2, "block_1": 1e-4,
                                 "block_0": 1e-4, "embeddings": 1e-4})
    # frozen groups get no learning rate at all
    assert set(group_lrs(names, ["block_3", "head"], 1e-3, 2.6, 1e-4)) == {"block_3", "head"}


@pytest.mark.parametrize("family", ["bert", "electra", "distilbert", "gpt2", "llama", "t5"])
def test_no_weight_decay_on_biases_and_norms(family, tiny_folders, initial_model) -> None:
    model, _ = initial_model(tiny_folders[family], 2)
    groups = model.layer_groups()
    names = [g.name for g in groups]
    out = param_groups(groups, {n: 1e-3 for n in names}, weight_decay=0.01)
    no_decay = {id(p) for g in out if g["weight_decay"] == 0.0 for p in g["params"]}
    decayed = {id(p) for g in out if g["weight_decay"] > 0 for p in g["params"]}
    assert not no_decay & decayed
    for name, p in model.named_parameters():
        if id(p) in no_decay | decayed and p.dim() == 1:  # biases and norm scales
            assert id(p) in no_decay, f"{name} is weight-decayed"
    assert all(g["lr"] == 1e-3 for g in out)


# --- e) gradual unfreezing ----------------------------------------------------------------------------------


def test_gradual_unfreezing_trains_one_more_group_each_epoch(setup) -> None:
    model, kwargs = setup("full", gradual_unfreeze=True)
    assert kwargs["trainable"] == [f"block_{i}" for i in range(N_LAYERS)] + ["head"]
    names = ["head"] + [f"block_{i}" for i in reversed(range(N_LAYERS))]
    before = {name: _group_params(model, name) for name in names}
    moved: list[set[str]] = []

    def record(epoch: int, row: dict) -> None:
        moved.append({name for name in names
                      if any(not torch.equal(a, b) for a, b in zip(_group_params(model, name), before[name],
                                                                   strict=True))})

    fit(model, **kwargs, on_epoch_end=record)
    # epoch 1: the head only; epoch 2: + the top block; epoch 3: + the next block; block_0 still untouched
    assert moved == [set(names[:1]), set(names[:2]), set(names[:3])]


# --- f) learning-rate schedules -----------------------------------------------------------------------------


def test_linear_schedule_warms_up_then_decays_to_zero() -> None:
    values = [lr_multiplier(s, 100, kind="linear", warmup_ratio=0.1) for s in range(100)]
    assert values[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert max(values) == 1.0 and values[9] == 1.0 and values[10] == 1.0
    assert all(a > b for a, b in zip(values[10:], values[11:], strict=False))
    assert values[-1] == pytest.approx(1 / 90)
    assert lr_multiplier(100, 100) == 0.0
    assert lr_multiplier(0, 100, warmup_ratio=0.0) == 1.0  # no warmup: full rate from the first step


def test_slanted_triangular_schedule() -> None:
    ratio = 32.0
    values = [lr_multiplier(s, 200, kind="slanted", warmup_ratio=0.1, slanted_ratio=ratio) for s in range(200)]
    peak = values.index(max(values))
    assert peak == 19 and values[peak] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(values[:peak], values[1:peak + 1], strict=True))  # short rise
    assert all(a > b for a, b in zip(values[20:], values[21:], strict=False))  # long decay
    assert values[0] == pytest.approx((1 + (ratio - 1) / 20) / ratio)
    assert min(values) >= 1 / ratio
    assert lr_multiplier(200, 200, kind="slanted", slanted_ratio=ratio) == pytest.approx(1 / ratio)


@pytest.mark.parametrize("schedule", ["linear", "slanted"])
def test_fit_follows_the_schedule(schedule, setup) -> None:
    model, kwargs = setup("head", schedule=schedule, warmup_ratio=0.2)
    result = fit(model, **kwargs)
    steps = len(BucketBatchSampler(kwargs["train"].lengths(), 8))
    total = 3 * steps
    assert [row["epoch"] for row in result.history] == [0, 1, 2, 3]
    for row in result.history[1:]:  # the learning rate at the end of each epoch
        want = 3e-3 * lr_multiplier(row["epoch"] * steps, total, kind=schedule, warmup_ratio=0.2)
        assert row["lr"] == pytest.approx(want)


# --- g) batching --------------------------------------------------------------------------------------------


def test_bucket_sampler_is_deterministic_and_covers_every_index() -> None:
    lengths = np.random.default_rng(0).permutation(200)  # all distinct

    def batches(seed: int, epoch: int, pool: int = 50) -> list[list[int]]:
        sampler = BucketBatchSampler(lengths, 4, seed=seed, pool=pool)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert batches(0, 1) == batches(0, 1)
    assert batches(0, 1) != batches(0, 2)
    assert batches(0, 1) != batches(1, 1)
    for seed, epoch in ((0, 0), (3, 5)):
        got = batches(seed, epoch)
        assert sorted(i for b in got for i in b) == list(range(200))
        assert len(got) == len(BucketBatchSampler(lengths, 4)) == 50
    # one pool holds all 200: each batch is 4 consecutive lengths of the sorted order
    assert all(max(lengths[b]) - min(lengths[b]) == 3 for b in batches(0, 0))


def test_bucket_sampler_batches_have_similar_lengths() -> None:
    lengths = np.random.default_rng(1).integers(1, 100, size=400)
    spread = [np.ptp(lengths[b]) for b in BucketBatchSampler(lengths, 8, pool=10)]
    random_spread = [np.ptp(lengths[i:i + 8]) for i in range(0, 400, 8)]
    assert np.mean(spread) < np.mean(random_spread) / 4


def test_bucket_sampler_without_shuffle_follows_length_order() -> None:
    lengths = [5, 1, 4, 2, 3]
    assert list(BucketBatchSampler(lengths, 2, shuffle=False)) == [[1, 3], [4, 2], [0]]


def test_collate_pads_to_the_longest_in_the_batch() -> None:
    batch = collate([([5, 6, 7], 1), ([8], 0)], pad_id=0, multilabel=False)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [1, 0]


# --- h) early stopping --------------------------------------------------------------------------------------


def test_early_stopper() -> None:
    stopper = EarlyStopper(patience=2)
    flags = [stopper.update(v, e) for e, v in enumerate([0.5, 0.7, 0.6, 0.7])]
    assert flags == [True, True, False, False]  # a tie is not an improvement
    assert stopper.should_stop and stopper.best == 0.7 and stopper.best_epoch == 1
    lower = EarlyStopper(patience=1, greater_is_better=False)
    assert [lower.update(v, e) for e, v in enumerate([0.5, 0.4, 0.45])] == [True, True, False]
    assert lower.should_stop and lower.best_epoch == 1
    never = EarlyStopper(patience=0)
    for e in range(10):
        never.update(1.0, e)
    assert not never.should_stop
    restored = EarlyStopper(patience=2)
    restored.load_state_dict(stopper.state_dict())
    assert restored == stopper


def _scripted(values: list[float]):
    """An `_evaluate_epoch` stand-in whose dev metric follows `values`: values[0] for the starting point
    (epoch 0, evaluated before any step), values[k] after epoch k."""

    def evaluate(model, objective, dev, epoch, losses, pad_id, depth) -> dict:
        return {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else None,
                f"dev_{objective.metric}": values[epoch + 1]}

    return evaluate


def test_fit_stops_after_patience_and_restores_the_best_epoch(setup, monkeypatch) -> None:
    monkeypatch.setattr(loop, "_evaluate_epoch", _scripted([0.4, 0.5, 0.7, 0.6, 0.65, 0.9, 0.9]))
    model, kwargs = setup("top-n", epochs=6, patience=2)
    snapshots = {}
    result = fit(model, **kwargs, on_epoch_end=lambda epoch, row: snapshots.update({row["epoch"]: _params(model)}))
    assert [row["epoch"] for row in result.history] == [0, 1, 2, 3, 4]
    assert result.stopped_early and result.best_epoch == 2 and result.best_metric == 0.7
    for name, value in _params(model).items():
        assert torch.equal(value, snapshots[2][name]), name


@pytest.mark.parametrize("warm_start", [False, True])
def test_training_never_ends_worse_than_its_start(warm_start, setup, monkeypatch, initial_model,
                                                  tiny_bert) -> None:
    """When no epoch beats the starting point on dev, fit returns the starting weights: the random head,
    or with warm_start the linear probe on the frozen features (LP-FT's "head-only baseline first")."""
    from headstart.training import pooled_features
    from headstart.training.warm_start import warm_start_head

    monkeypatch.setattr(loop, "_evaluate_epoch", _scripted([0.9, 0.5, 0.6]))
    model, kwargs = setup("top-n", epochs=2, warm_start=warm_start)
    start = _params(model)
    result = fit(model, **kwargs)
    assert result.best_epoch == 0 and result.best_metric == 0.9 and len(result.history) == 3
    if warm_start:
        probe, _ = initial_model(tiny_bert, 2)
        features = pooled_features(probe, kwargs["train"].inputs, pad_id=kwargs["pad_id"]).numpy()
        warm_start_head(probe, features, kwargs["train"].labels, multilabel=False, balanced=False, seed=0)
        start = _params(probe)
    for name, value in _params(model).items():
        torch.testing.assert_close(value, start[name], atol=1e-5, rtol=0, msg=name)


def test_best_epoch_is_the_argmax_of_the_dev_metric(setup) -> None:
    model, kwargs = setup("head", epochs=4)
    result = fit(model, **kwargs)
    values = [row["dev_accuracy"] for row in result.history]
    assert len(values) == 5 and not result.stopped_early
    assert result.best_epoch == result.history[int(np.argmax(values))]["epoch"]
    assert result.best_metric == max(values)


# --- i) class weights ---------------------------------------------------------------------------------------


def test_balanced_class_weights() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    clf = HeadstartClassifier()
    clf.labels_, clf.multilabel_ = ["a", "b", "c"], False
    y = np.array([0] * 6 + [1] * 3 + [2])
    got = clf._class_weights(y, TrainConfig(class_weights="balanced"))
    np.testing.assert_allclose(got.numpy(), compute_class_weight("balanced", classes=np.arange(3), y=y), rtol=1e-6)
    assert clf._class_weights(y, TrainConfig(class_weights="none")) is None


def test_auto_class_weights_balance_only_strong_imbalance() -> None:
    from headstart.tasks.classification.estimator import AUTO_BALANCE_RATIO

    clf = HeadstartClassifier()
    clf.labels_, clf.multilabel_ = ["a", "b"], False
    auto = TrainConfig(class_weights="auto")
    mild = np.array([0] * 30 + [1] * 10)
    assert clf._class_weights(mild, auto) is None
    strong = np.array([0] * int(10 * AUTO_BALANCE_RATIO) + [1] * 10)
    np.testing.assert_allclose(clf._class_weights(strong, auto).numpy(),
                               clf._class_weights(strong, TrainConfig(class_weights="balanced")).numpy())


def test_multilabel_positive_weights_are_clipped() -> None:
    clf = HeadstartClassifier()
    clf.labels_, clf.multilabel_ = ["a", "b", "c"], True
    y = np.zeros((40, 3), dtype=np.float32)
    y[:20, 0] = 1  # 20 of 40: weight 1
    y[:2, 1] = 1  # 2 of 40: 38 / 2 = 19, clipped to 10
    y[:, 2] = 1  # all positive: 0, clipped up to 1
    got = clf._class_weights(y, TrainConfig(class_weights="balanced"))
    np.testing.assert_allclose(got.numpy(), [1.0, 10.0, 1.0])


def test_fit_weighs_the_loss_by_class(tiny_bert, toy_data, monkeypatch) -> None:
    seen = []

    def spy(logits, labels, weights, multilabel, smoothing=0.0):
        seen.append(weights)
        return original(logits, labels, weights, multilabel, smoothing)

    from headstart.tasks.classification import objective as objectives

    original = objectives.loss_fn
    monkeypatch.setattr(objectives, "loss_fn", spy)
    texts, labels = toy_data
    keep = [i for i, label in enumerate(labels) if label == "pos" or i % 4 == 0]  # about 3 pos : 1 neg
    y = [labels[i] for i in keep]
    HeadstartClassifier(backbone=str(tiny_bert), strategy="head", epochs=1, max_length=MAX_LENGTH,
                        class_weights="balanced", dev_fraction=0.2).fit([texts[i] for i in keep], y)
    weights = seen[0].numpy()
    assert weights[0] > 1 > weights[1]  # "neg" (index 0) is the minority
    assert all(torch.equal(w, seen[0]) for w in seen)


# --- label smoothing ---------------------------------------------------------------------------------------


def test_label_smoothing_is_cross_entropy_against_a_softened_target() -> None:
    from headstart.tasks.extractive_qa.objective import SpanExtraction
    from headstart.tasks.tagging.objective import TokenTagging
    from headstart.training.objectives import loss_fn

    torch.manual_seed(0)
    logits, labels, eps = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1]), 0.2
    target = torch.full((6, 4), eps / 4).scatter(1, labels[:, None], 1 - eps + eps / 4)
    by_hand = -(target * logits.log_softmax(-1)).sum(-1).mean()
    torch.testing.assert_close(loss_fn(logits, labels, None, False, eps), by_hand)
    assert not torch.isclose(loss_fn(logits, labels, None, False, eps), loss_fn(logits, labels, None, False))
    multi = torch.tensor([[1.0, 0, 0, 1]] * 6)
    soft = torch.tensor([[0.9, 0.1, 0.1, 0.9]] * 6)
    torch.testing.assert_close(loss_fn(logits, multi, None, True, eps),
                               torch.nn.functional.binary_cross_entropy_with_logits(logits, soft))
    # tagging ignores the -100 positions; QA smooths the start and the end distributions alike
    tags = torch.tensor([[0, 1, -100], [2, -100, -100]])
    token_logits = torch.randn(2, 3, 4)
    kept = tags.flatten() != -100
    torch.testing.assert_close(
        TokenTagging(score=None, label_smoothing=eps).loss(token_logits, tags),
        -(torch.full((3, 4), eps / 4).scatter(1, tags.flatten()[kept][:, None], 1 - eps + eps / 4)
          * token_logits.flatten(0, 1)[kept].log_softmax(-1)).sum(-1).mean())
    spans, positions = torch.randn(2, 5, 2), torch.tensor([[1, 3], [0, 0]])
    plain = SpanExtraction(score=None).loss(spans, positions)
    assert SpanExtraction(score=None, label_smoothing=eps).loss(spans, positions) != plain


@pytest.mark.parametrize("strategy, n_outputs, kind, given, expected", [
    ("full", 3, "single", None, 0.1),  # the default: full, single-label, three or more classes
    ("full", 3, "single", 0.0, 0.0),  # a value given always wins
    ("full", 2, "single", None, 0.0),  # binary: measured worse on SST-2
    ("full", 3, "multilabel", None, 0.0),
    ("full", 3, "per_token", None, 0.0),  # tagging and QA: not measured
    ("top-n", 3, "single", None, 0.0),
    ("top-n", 2, "per_token", 0.2, 0.2),
])
def test_label_smoothing_default(strategy, n_outputs, kind, given, expected, tiny_bert) -> None:
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy=strategy, label_smoothing=given)
    _, cfg = clf._build(n_outputs, per_token=kind == "per_token", multilabel=kind == "multilabel")
    assert cfg.label_smoothing == expected


def test_fit_smooths_the_training_loss_and_not_the_dev_loss(tiny_bert, toy_data, monkeypatch) -> None:
    from headstart.tasks.classification import objective as objectives

    seen = []

    def spy(logits, labels, weights, multilabel, smoothing=0.0):
        seen.append((torch.is_grad_enabled() and logits.requires_grad, smoothing))
        return original(logits, labels, weights, multilabel, smoothing)

    original = objectives.loss_fn
    monkeypatch.setattr(objectives, "loss_fn", spy)
    HeadstartClassifier(backbone=str(tiny_bert), strategy="head", epochs=1, max_length=MAX_LENGTH,
                        label_smoothing=0.1).fit(*toy_data)
    assert {s for training, s in seen if training} == {0.1}
    assert {s for training, s in seen if not training} == {0.0}


# --- j) multi-label -----------------------------------------------------------------------------------------


def test_multilabel_end_to_end(tiny_bert, toy_data, tmp_path: Path) -> None:
    texts, labels = toy_data
    tags = [(label, "long") if len(text.split()) > 5 else (label,)
            for text, label in zip(texts, labels, strict=True)]
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy="head", epochs=3, batch_size=8,
                              max_length=MAX_LENGTH, patience=0).fit(texts, tags)
    assert clf.multilabel_ and list(clf.classes_) == ["long", "neg", "pos"]
    assert clf.fit_result_.metric == clf.metric_
    proba = clf.predict_proba(texts[:10])
    assert proba.shape == (10, 3) and ((proba >= 0) & (proba <= 1)).all()
    predicted = clf.predict(texts[:10])
    assert len(predicted) == 10
    assert all(isinstance(p, tuple) and set(p) <= set(clf.classes_) for p in predicted)
    assert 0.0 <= clf.score(texts, tags) <= 1.0
    loaded = HeadstartClassifier.load(clf.save(tmp_path / "model"))
    assert loaded.multilabel_
    np.testing.assert_allclose(loaded.predict_proba(texts[:10]), proba, atol=1e-6)


# --- j) checkpoint averaging (TrainConfig.average_epochs) ---------------------------------------------------


def _epoch_ends(model) -> tuple[dict, callable]:
    """A dict filled with each epoch's end weights (1-based epoch -> parameters) and the hook that fills it."""
    ends: dict[int, dict] = {}
    return ends, lambda epoch, row: ends.update({epoch + 1: _params(model)})


@pytest.mark.parametrize(("values", "best", "averaged"), [
    ([0.1, 0.2, 0.3, 0.5, 0.4], 3, [2, 3]),  # the best epoch and the one before it, not the later epoch 4
    ([0.1, 0.5, 0.3, 0.2, 0.2], 1, []),  # nothing before the first epoch to average with
    ([0.9, 0.5, 0.6, 0.7, 0.8], 0, []),  # the starting point (the warm-start probe) is never averaged
])
def test_average_epochs_keeps_the_mean_of_the_best_epoch_and_the_one_before(values, best, averaged, setup,
                                                                           monkeypatch) -> None:
    monkeypatch.setattr(loop, "_evaluate_epoch", _scripted(values))
    model, kwargs = setup("top-n", epochs=4, average_epochs=2, warm_start=False)
    start = _params(model)
    ends, hook = _epoch_ends(model)
    result = fit(model, **kwargs, on_epoch_end=hook)
    assert result.best_epoch == best and result.averaged_epochs == averaged
    assert (result.averaged_metric is not None) == bool(averaged)
    want = {k: sum(ends[e][k] for e in averaged) / len(averaged) for k in start} if averaged else ends.get(best)
    if want is None:  # the starting point, before any step (trained groups then moved away from it)
        changed = [k for k in start if not torch.equal(start[k], ends[4][k])]
        assert changed and all(torch.equal(_params(model)[k], start[k]) for k in changed)
        return
    assert any(not torch.equal(ends[averaged[0]][k], ends[averaged[-1]][k]) for k in start) if averaged else True
    for name, value in _params(model).items():
        torch.testing.assert_close(value, want[name], atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize(("averaged_score", "kept"), [(0.55, [1, 2]), (0.45, [])])
def test_an_average_worse_than_the_starting_point_is_not_kept(averaged_score, kept, setup, monkeypatch) -> None:
    """The mean is kept unless its dev metric falls below the starting point's (the warm-start probe):
    training never ends worse than where it started."""
    monkeypatch.setattr(loop, "_evaluate_epoch", _scripted([0.5, 0.6, 0.7]))
    model, kwargs = setup("top-n", epochs=2, average_epochs=2)
    monkeypatch.setattr(kwargs["objective"], "evaluate", lambda *a, **k: {"dev_accuracy": averaged_score})
    ends, hook = _epoch_ends(model)
    result = fit(model, **kwargs, on_epoch_end=hook)
    assert result.best_epoch == 2 and result.averaged_epochs == kept
    assert result.averaged_metric == (averaged_score if kept else None)
    want = {k: (ends[1][k] + ends[2][k]) / 2 for k in ends[2]} if kept else ends[2]
    for name, value in _params(model).items():
        torch.testing.assert_close(value, want[name], atol=1e-6, rtol=0, msg=name)


def test_average_epochs_resumes_to_the_same_result(setup, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loop, "_evaluate_epoch", _scripted([0.1, 0.2, 0.3, 0.4]))
    model, kwargs = setup("top-n", epochs=3, average_epochs=2)
    reference = fit(model, **kwargs, checkpoint=tmp_path / "a.pt")
    assert reference.averaged_epochs == [2, 3]

    def interrupt(epoch: int, row: dict) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    first, kwargs = setup("top-n", epochs=3, average_epochs=2)
    with pytest.raises(KeyboardInterrupt):
        fit(first, **kwargs, checkpoint=tmp_path / "b.pt", on_epoch_end=interrupt)
    resumed, kwargs = setup("top-n", epochs=3, average_epochs=2)
    result = fit(resumed, **kwargs, checkpoint=tmp_path / "b.pt", resume=True)
    assert result.history == reference.history and result.averaged_epochs == reference.averaged_epochs
    want = _params(model)
    for name, value in _params(resumed).items():
        torch.testing.assert_close(value, want[name], atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize(("strategy", "expected"), [("full", 2.5e-4), ("top-n", 2.5e-4), ("lora", 2e-3),
                                                    ("bitfit", 1e-3), ("head", None)])
def test_fine_tuning_rate_scales_down_with_the_backbone_width(strategy, expected) -> None:
    """The fine-tuning rates were chosen at MiniLM's width 384: 768 wide halves them; adapters keep theirs."""
    s = make_strategy(strategy)
    wide, narrow, tiny = s.defaults_for(768), s.defaults_for(384), s.defaults_for(32)
    assert wide.get("lr") == (expected if expected is not None else s.defaults.get("lr"))
    assert narrow == tiny == s.defaults  # never scaled up: a tiny test model keeps the chosen rate
    assert {k: v for k, v in wide.items() if k != "lr"} == {k: v for k, v in s.defaults.items() if k != "lr"}


def test_a_wider_backbone_trains_full_at_the_scaled_rate_unless_one_is_given(tmp_path, tiny_tokenizer) -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=len(tiny_tokenizer), hidden_size=768, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tiny_tokenizer.pad_token_id)
    BertModel(config).save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    for lr, expected in ((None, 2.5e-4), (1e-3, 1e-3)):
        clf = HeadstartClassifier(backbone=str(tmp_path), strategy="full", lr=lr, progress=False)
        clf._build(2)
        assert clf.train_config_.lr == pytest.approx(expected)


def test_features_C_is_the_cross_validated_best_of_the_grid() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from headstart.strategies.features import C_GRID, FeaturesOptions, choose_C

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 20))
    y = (X[:, 0] + 0.8 * rng.normal(size=90) > 0).astype(int) + (X[:, 1] > 1).astype(int)  # 3 noisy classes
    C = choose_C(X, y, FeaturesOptions(), multilabel=False, class_weight=None, seed=0)
    search = GridSearchCV(LogisticRegression(max_iter=3000, random_state=0), {"C": list(C_GRID)},
                          cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="accuracy").fit(X, y)
    assert search.best_params_["C"] == C
    few = np.array([0] * 10 + [1] * 2)  # a class with fewer rows than folds: the default C
    assert choose_C(X[:12], few, FeaturesOptions(), multilabel=False, class_weight=None, seed=0) == 1.0


def test_a_top_n_run_saves_only_the_blocks_it_changed(tiny_bert, toy_data, tmp_path) -> None:
    import shutil

    from headstart.errors import HeadstartError
    from headstart.persist import DELTA_FILE

    texts, labels = toy_data
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy="top-n", top_n=1, epochs=3, lr=3e-3, batch_size=16, warm_start=False,
                              max_length=16, refit=False).fit(texts, labels)
    expected = clf.predict_proba(texts[:8])
    clf.save(tmp_path / "m")
    files = {f.name for f in (tmp_path / "m").iterdir()}
    assert DELTA_FILE in files and "model.safetensors" not in files
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "m" / DELTA_FILE)
    assert saved and not any("embeddings" in k or "layer.0." in k for k in saved), sorted(saved)
    loaded = HeadstartClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(texts[:8]), expected, atol=1e-6)
    loaded.save(tmp_path / "again")  # a loaded run saves the same way
    assert (tmp_path / "again" / DELTA_FILE).exists()
    np.testing.assert_allclose(HeadstartClassifier.load(tmp_path / "again").predict_proba(texts[:8]), expected,
                               atol=1e-6)
    # full fine-tuning changes (nearly) everything: the whole backbone, a plain transformers folder
    full = HeadstartClassifier(backbone=str(tiny_bert), strategy="full", epochs=3, lr=3e-3, warm_start=False, batch_size=16, max_length=16,
                               refit=False).fit(texts, labels)
    full.save(tmp_path / "full")
    assert (tmp_path / "full" / "model.safetensors").exists() and not (tmp_path / "full" / DELTA_FILE).exists()
    # the referenced backbone changed under the run: a clear error, not wrong predictions
    moved = tmp_path / "backbone"
    shutil.copytree(tiny_bert, moved)
    clf2 = HeadstartClassifier(backbone=str(moved), strategy="top-n", top_n=1, epochs=3, lr=3e-3, batch_size=16, warm_start=False,
                               max_length=16, refit=False).fit(texts, labels)
    clf2.save(tmp_path / "m2")
    other = HeadstartClassifier(backbone=str(moved), strategy="full", epochs=3, lr=3e-3, warm_start=False, batch_size=16, max_length=16,
                                refit=False).fit(texts, labels)
    other.model_.backbone.save_pretrained(moved)  # someone replaced the weights at that path
    with pytest.raises(HeadstartError, match="not the one found now"):
        HeadstartClassifier.load(tmp_path / "m2")


@pytest.mark.parametrize("strategy", ["full", "top-n", "lora"])
def test_the_forgetting_guard_measures_what_trained_and_copies_nothing_else(strategy, tiny_bert, toy_data) -> None:
    from headstart.training.drift import snapshot

    texts, labels = toy_data
    options = {"top_n": 1} if strategy != "full" else {}
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy=strategy, epochs=3, lr=3e-3, batch_size=16, max_length=16,
                              refit=False, progress=False, warm_start=False, **options).fit(texts, labels)
    moved = {name for name, d in clf.drift_.items() if d > 0}
    blocks = sorted(n for n in clf.drift_ if n.startswith("block_"))
    # full moves every block (its embeddings stay frozen by default); top-n only its top block; LoRA's weights
    # are new, its backbone stays put
    assert moved == {"full": set(blocks), "top-n": {blocks[-1]}, "lora": set()}[strategy], clf.drift_
    names = [g.name for g in clf.model_.layer_groups()]
    copied = snapshot(clf.model_, clf.strategy_.trainable_groups(names), clf.strategy_.keep)
    assert sum(len(s.trained) for s in copied.values()) == (0 if strategy == "lora" else
                                                            sum(len(copied[n].trained) for n in moved))
