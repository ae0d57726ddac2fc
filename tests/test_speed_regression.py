"""A timed ratio that guards headstart's biggest training-speed win, the frozen-prefix cache of `top-n` (the
frozen bottom runs once, each epoch runs only the top blocks): with it an epoch must stay well under the cost
of the same epoch without it. A ratio of two timings in one process, alternating sides, never an absolute time
(benchmarks/speed.py has the figures against the Trainer)."""

from __future__ import annotations

import statistics

import pytest
import torch

from conftest import build_tokenizer, make_sentiment
from headstart import HeadstartClassifier

MIN_RATIO = 1.4  # ~2.2 seen while writing it, not a benchmark figure (top 1 of 8 blocks: theory ~3; per-step
# overhead is the same on both sides)


@pytest.fixture(scope="module")
def deep_tiny(tmp_path_factory):
    import transformers as tf

    tok = build_tokenizer()
    torch.manual_seed(0)
    config = tf.BertConfig(vocab_size=len(tok), hidden_size=128, num_hidden_layers=8, num_attention_heads=2,
                           intermediate_size=256, max_position_embeddings=64, pad_token_id=tok.pad_token_id)
    folder = tmp_path_factory.mktemp("deep-tiny")
    tf.AutoModel.from_config(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_the_prefix_cache_keeps_top_n_epochs_cheap(deep_tiny):
    texts, labels = make_sentiment(256)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seconds = {True: [], False: []}
        for cache in (True, False, False, True, True, False):
            clf = HeadstartClassifier(backbone=str(deep_tiny), strategy="top-n", top_n=1, epochs=2, batch_size=16,
                                      max_length=32, seed=0, progress=False, refit=False, warm_start=False,
                                      prefix_cache=cache).fit(texts, labels)
            seconds[cache].append(clf.fit_result_.train_seconds)
    finally:
        torch.set_num_threads(threads)
    ratio = statistics.median(seconds[False]) / statistics.median(seconds[True])
    assert ratio >= MIN_RATIO, f"epochs with the prefix cache only {ratio:.2f}x faster than without: {seconds}"
