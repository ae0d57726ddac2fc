"""What transformers' `generate` lacks for a chat server, as small pieces: OpenAI stop strings cut *out* of
the answer (transformers keeps them), how much of a streamed tail to hold back while it may still become a
stop string, a stopping criterion that also ends on the consumer's cancel, and a streamer that hands each
new token to another thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

__all__ = ["cut_at_stop", "held_back", "StopCriteria", "QueueStreamer"]


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to the earliest stop string, and whether one occurred."""
    cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters of `text` might be the start of a stop string (not safe to stream yet)."""
    return max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)


class StopCriteria:
    """Ends generation at a stop string or when the consumer cancels (a `StoppingCriteria`, duck-typed)."""

    def __init__(self, decode, prompt_len: int, stops: Sequence[str], cancel: threading.Event | None) -> None:
        self.decode, self.prompt_len, self.stops, self.cancel = decode, prompt_len, stops, cancel
        self.hit = False

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        if self.stops:
            self.hit = cut_at_stop(self.decode(input_ids[0, self.prompt_len:]), self.stops)[1]
        done = self.hit or (self.cancel is not None and self.cancel.is_set())
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class QueueStreamer:
    """Hands each new token id from `generate` to the consumer thread (a transformers streamer)."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate first puts the prompt itself
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.queue.put(token)

    def end(self) -> None:
        self.queue.put(None)
