"""Early stopping on the dev set's primary metric, keeping the best weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["EarlyStopper"]


@dataclass
class EarlyStopper:
    """Tracks the best value of a metric and says when `patience` epochs passed without improvement.

    patience=0 never stops early (the best epoch is still restored at the end). A `baseline` value (the
    starting point, epoch 0) can be selected as best but never counts toward patience: fine-tuning often
    dips below a warm-started head for an epoch or two before it passes it.
    """

    patience: int
    greater_is_better: bool = True
    best: float | None = None
    best_epoch: int = -1
    bad_epochs: int = 0
    best_trained: float | None = None

    def _better(self, value: float, than: float | None) -> bool:
        return than is None or (value > than if self.greater_is_better else value < than)

    def update(self, value: float, epoch: int, *, baseline: bool = False) -> bool:
        """Record `value` for `epoch`; True when it is the best so far (baseline included)."""
        better = self._better(value, self.best)
        if better:
            self.best, self.best_epoch = value, epoch
        if not baseline:
            if self._better(value, self.best_trained):
                self.best_trained, self.bad_epochs = value, 0
            else:
                self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
