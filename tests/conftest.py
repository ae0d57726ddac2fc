"""Shared fixtures: tiny models built from configs (no download) and toy labelled data.

Every family is a 3-layer, 32-wide, 2-head model made with `AutoModel.from_config`, saved with
`save_pretrained` next to a tiny WordPiece tokenizer, so `HeadstartClassifier(backbone=str(folder))` loads
it through the real local-folder path of `load_backbone`. Building all of them takes about a second.
"""

from __future__ import annotations

import os
import random
import string
from pathlib import Path

# nothing here downloads: a test that reaches for the hub fails fast instead of waiting on the network
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # the project's data sets (../shared)

# the tiny models are far too small to gain from threads, and another job may share the machine
torch.set_num_threads(1)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
N_LAYERS = 3  # three blocks: top-n's default (2) then differs from full, and caches at depth 1
HIDDEN = 32
MAX_POSITIONS = 64

# families the anatomy table knows and the tests can build tiny; `t5` is the non-cacheable one
FAMILIES = ("bert", "roberta", "xlm-roberta", "electra", "mpnet", "distilbert", "gpt2", "llama", "mistral",
            "qwen2", "t5")
CACHEABLE_FAMILIES = tuple(f for f in FAMILIES if f != "t5")

_POSITIVE = ("good", "great", "love", "excellent", "wonderful", "happy", "fantastic", "superb")
_NEGATIVE = ("bad", "awful", "hate", "terrible", "horrible", "sad", "boring", "poor")
_NEUTRAL = ("okay", "average", "fine", "ordinary", "plain", "mediocre", "standard", "so-so")
_NOUNS = ("movie", "film", "show", "book", "meal", "song", "plot", "cast", "ending", "story")
_FILLER = ("the", "this", "a", "really", "was", "very", "quite", "it", "and", "so")
_SPAM = ("win a free prize now", "claim your cash reward", "urgent call this number", "you won a free trip",
         "txt stop to claim", "free entry in a weekly draw")
_HAM = ("see you at lunch", "call me when you get home", "are we still on for tonight", "thanks for the notes",
        "running late be there soon", "what time is the meeting")


def _sentence(rng: random.Random, words: tuple[str, ...]) -> str:
    """E.g. "the movie was great love": half the words carry the label, so even a random tiny model's
    mean-pooled features separate the classes."""
    parts = [rng.choice(_FILLER), rng.choice(_NOUNS), rng.choice(_FILLER), rng.choice(words), rng.choice(words)]
    if rng.random() < 0.5:
        parts.insert(0, rng.choice(words))
    return " ".join(parts)


def make_sentiment(n: int = 80, classes: int = 2, seed: int = 0) -> tuple[list[str], list[str]]:
    """`n` short texts whose label is given by their sentiment word; balanced, shuffled."""
    rng = random.Random(seed)
    kinds = [("pos", _POSITIVE), ("neg", _NEGATIVE), ("neutral", _NEUTRAL)][:classes]
    rows = [(_sentence(rng, words), label) for i in range(n) for label, words in [kinds[i % classes]]]
    rng.shuffle(rows)
    return [t for t, _ in rows], [label for _, label in rows]


def _corpus() -> list[str]:
    texts, _ = make_sentiment(300, classes=3, seed=1)
    rng = random.Random(2)
    texts += [rng.choice(_SPAM) + " " + rng.choice(_FILLER) for _ in range(60)]
    texts += [rng.choice(_HAM) + " " + rng.choice(_FILLER) for _ in range(60)]
    return texts


def build_tokenizer():
    """A WordPiece tokenizer for the toy corpus, with BERT's special tokens and [CLS] .. [SEP].

    The vocabulary is built here rather than by `WordPieceTrainer`, whose merges break ties in a different
    order in every process: a fixed vocabulary keeps token ids, and so every test number, reproducible.
    It holds the corpus's words, their 3-letter prefixes and suffixes and every ASCII letter, digit and
    punctuation mark (as a start and as a `##` continuation), so unseen words still split into pieces.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    normalizer, splitter = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = {w for text in _corpus() for w, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text))}
    chars = set(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = chars | {w[:3] for w in words if len(w) > 4}
    continuations = {"##" + c for c in chars} | {"##" + w[-3:] for w in words if len(w) > 4}
    vocab = {token: i for i, token in enumerate(SPECIALS + sorted(words | pieces) + sorted(continuations))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, splitter, decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def tiny_config(family: str, vocab_size: int, pad_id: int, n_layers: int = N_LAYERS):
    """A 32-wide, 2-head config of `family` with `n_layers` blocks (llama-likes: 1 key/value head, GQA)."""
    import transformers as tf

    ids = {"pad_token_id": pad_id, "bos_token_id": 2, "eos_token_id": 3}
    bert_like = {"vocab_size": vocab_size, "hidden_size": HIDDEN, "num_hidden_layers": n_layers,
                 "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": MAX_POSITIONS,
                 **ids}
    llama_like = {"vocab_size": vocab_size, "hidden_size": HIDDEN, "num_hidden_layers": n_layers,
                  "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 64,
                  "max_position_embeddings": MAX_POSITIONS, **ids}
    if family == "bert":
        return tf.BertConfig(**bert_like)
    if family == "roberta":  # positions start after the padding index: leave room
        return tf.RobertaConfig(**bert_like | {"max_position_embeddings": MAX_POSITIONS + 2})
    if family == "xlm-roberta":
        return tf.XLMRobertaConfig(**bert_like | {"max_position_embeddings": MAX_POSITIONS + 2})
    if family == "electra":  # embedding_size != hidden_size: exercises `embeddings_project`
        return tf.ElectraConfig(**bert_like, embedding_size=16)
    if family == "mpnet":
        return tf.MPNetConfig(**bert_like | {"max_position_embeddings": MAX_POSITIONS + 2})
    if family == "distilbert":
        return tf.DistilBertConfig(vocab_size=vocab_size, dim=HIDDEN, n_layers=n_layers, n_heads=2, hidden_dim=64,
                                   max_position_embeddings=MAX_POSITIONS, pad_token_id=pad_id)
    if family == "gpt2":
        return tf.GPT2Config(vocab_size=vocab_size, n_embd=HIDDEN, n_layer=n_layers, n_head=2,
                             n_positions=MAX_POSITIONS, **ids)
    if family == "llama":
        return tf.LlamaConfig(**llama_like)
    if family == "mistral":
        return tf.MistralConfig(**llama_like)
    if family == "qwen2":
        return tf.Qwen2Config(**llama_like)
    if family == "t5":
        return tf.T5Config(vocab_size=vocab_size, d_model=HIDDEN, d_kv=16, d_ff=64, num_layers=n_layers,
                           num_heads=2, pad_token_id=pad_id, eos_token_id=3, decoder_start_token_id=pad_id)
    raise ValueError(f"no tiny config for {family!r}")


def build_tiny_model(family: str, tokenizer, n_layers: int = N_LAYERS, seed: int = 0):
    """A freshly initialised bare backbone (T5: the encoder only), in eval mode."""
    from transformers import AutoModel, T5EncoderModel

    torch.manual_seed(seed)
    config = tiny_config(family, len(tokenizer), tokenizer.pad_token_id, n_layers)
    model = T5EncoderModel(config) if family == "t5" else AutoModel.from_config(config)
    return model.eval()


def save_tiny(folder: Path, family: str, tokenizer, n_layers: int = N_LAYERS) -> Path:
    build_tiny_model(family, tokenizer, n_layers).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory, tiny_tokenizer) -> dict[str, Path]:
    """family -> a local folder holding a tiny 3-layer model and the tiny tokenizer."""
    root = tmp_path_factory.mktemp("tiny-models")
    return {family: save_tiny(root / family, family, tiny_tokenizer) for family in FAMILIES}


LM_FAMILIES = ("gpt2", "llama", "t5")  # the families that generate: causal LMs and T5 with its decoder


@pytest.fixture(scope="session")
def lm_folders(tmp_path_factory, tiny_tokenizer) -> dict[str, Path]:
    """family -> a folder with a tiny generative model (a causal LM, or T5 with its decoder) and tokenizer."""
    import transformers as tf

    root = tmp_path_factory.mktemp("tiny-lms")
    out = {}
    for family in LM_FAMILIES:
        torch.manual_seed(0)
        config = tiny_config(family, len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
        model = tf.T5ForConditionalGeneration(config) if family == "t5" else tf.AutoModelForCausalLM.from_config(config)
        model.save_pretrained(root / family)
        tiny_tokenizer.save_pretrained(root / family)
        out[family] = root / family
    return out


@pytest.fixture(scope="session")
def tiny_bert(tiny_folders) -> Path:
    return tiny_folders["bert"]


@pytest.fixture(scope="session")
def toy_data() -> tuple[list[str], list[str]]:
    """80 rows, 2 balanced classes ("pos" / "neg"), learnable from the sentiment word."""
    return make_sentiment(80, classes=2)


@pytest.fixture(scope="session")
def toy_dev() -> tuple[list[str], list[str]]:
    """24 held-out rows of the same task as `toy_data`."""
    return make_sentiment(24, classes=2, seed=7)


@pytest.fixture(scope="session")
def toy_data3() -> tuple[list[str], list[str]]:
    """90 rows, 3 balanced classes ("pos" / "neg" / "neutral")."""
    return make_sentiment(90, classes=3, seed=3)


@pytest.fixture(scope="session")
def initial_model():
    """`initial_model(folder, n_labels, seed)` -> (model, tokenizer): the classifier exactly as
    `HeadstartClassifier.fit` builds it before training (same backbone weights, same seeded head)."""
    from headstart.backbones import load_backbone
    from headstart.modeling import TransformerClassifier

    def build(folder: Path, n_labels: int, seed: int = 0):
        bb = load_backbone(str(folder))
        torch.manual_seed(seed)
        return TransformerClassifier(bb.model, bb.anatomy, n_labels).eval(), bb.tokenizer

    return build


@pytest.fixture(scope="session")
def reviews_csv(tmp_path_factory, toy_data) -> Path:
    """40 rows of `toy_data` as a CSV with its own column names (review, y): what compare's tests read."""
    import pandas as pd

    texts, labels = toy_data
    path = tmp_path_factory.mktemp("reviews") / "reviews.csv"
    pd.DataFrame({"review": texts[:40], "y": labels[:40]}).to_csv(path, index=False)
    return path
