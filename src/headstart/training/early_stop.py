"""Early stopping on the dev set's primary metric, keeping the best weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["EarlyStopper"]


@dataclass
class EarlyStopper:
    """Tracks the best value of a metric and says when `patience` epochs passed without improvement.

    patience=0 never stops early (the best epoch is still restored at the end).
    """

    patience: int
    greater_is_better: bool = True
    best: float | None = None
    best_epoch: int = -1
    bad_epochs: int = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record `value` for `epoch`; True when it is the best so far."""
        better = self.best is None or (value > self.best if self.greater_is_better else value < self.best)
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
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
