"""Export runs transformers' and torch.onnx's machinery, which talk a lot (progress bars for loading and
writing weights, exporter warnings about operators no headstart model uses): hushed while an export runs, so
the command prints what it measured and nothing else. Errors still raise."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch._dynamo", "torch.export", "root",
                                                    "onnxscript")]
    levels = [logger.level for logger in loggers]
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
        for logger, old in zip(loggers, levels, strict=True):
            logger.setLevel(old)
