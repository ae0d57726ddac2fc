"""Instruction tuning and generation on tiny GPT-2, Llama-style and T5 models built from configs."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from conftest import LM_FAMILIES, SHARED_DATA
from headstart.errors import ConfigError, DataError
from headstart.tasks.generation.estimator import HeadstartGenerator, as_instructions
from headstart.tasks.generation.format import PromptFormat, encode_decoder, pack, plain_prompt
from headstart.tasks.generation.objective import InstructionLM
from headstart.tasks.generation.reader import Instruction, read_instructions
from headstart.tasks.registry import detect_task

FAMILIES = LM_FAMILIES
STRATEGIES = ("lora", "ia3", "prompt", "prefix", "full", "top-n")
WORDS = ("great", "bad", "film", "movie", "fun", "dull", "awful", "nice")
ROWS = [{"instruction": f"say {w}", "input": "", "output": f"{w} {w} good"} for w in WORDS * 4]


def _write(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- data ------------------------------------------------------------------------------------------------
def test_reads_instruction_and_chat_rows(tmp_path):
    chat = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": "Hello!"}]}
    data = read_instructions(_write(tmp_path / "d.jsonl", [json.dumps(ROWS[0]), "", json.dumps(chat),
                                                          json.dumps({"instruction": "a", "input": "b", "output": "c"})]))
    assert len(data) == 3 and data.lines == [1, 3, 4]
    assert data.examples[0].messages == ({"role": "user", "content": "say great"},)
    assert data.examples[1].output == "Hello!" and [m["role"] for m in data.examples[1].messages] == ["system", "user"]
    assert data.examples[2].messages[0]["content"] == "a\n\nb"


@pytest.mark.parametrize(("line", "match"), [
    ('{"instruction": "a", "output": "b"', r"line 2, column \d+: this line is not valid JSON"),
    ('{"instruction": "a"}', r"line 2, column output: the row has no 'output' field"),
    ('{"instruction": "a", "output": "  "}', r"line 2, column output: field 'output' is empty"),
    ('{"instruction": "a", "input": 3, "output": "b"}', r"column input: field 'input' is not a string"),
    ('{"text": "a", "label": "b"}', r"no 'instruction' field.*\n.*\n  found:    keys: label, text"),
    ('{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}',
     r"column messages\[1\]: field 'messages\[1\]' is not the assistant's answer"),
    ('{"messages": [{"role": "robot", "content": "a"}, {"role": "assistant", "content": "b"}]}',
     r"field 'messages\[0\]' is not a chat message"),
    ('{"messages": "hi"}', r"field 'messages' is not a conversation"),
    ('["a", "b"]', r"line 2: a row is not a JSON object"),
])
def test_data_errors_name_file_line_and_field(tmp_path, line, match):
    path = _write(tmp_path / "bad.jsonl", [json.dumps(ROWS[0]), line])
    with pytest.raises(DataError, match=match) as info:
        read_instructions(path)
    assert str(path) in str(info.value)


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="e.jsonl: there are no instruction rows.*\n.*\n  found:    an empty file"):
        read_instructions(_write(tmp_path / "e.jsonl", [""]))


def test_detects_generation_task(tmp_path):
    assert detect_task(_write(tmp_path / "i.jsonl", [json.dumps(ROWS[0])])) == "generation"
    chat = {"messages": [{"role": "user", "content": "question?"}, {"role": "assistant", "content": "x"}]}
    assert detect_task(_write(tmp_path / "c.jsonl", [json.dumps(chat)])) == "generation"
    assert detect_task(_write(tmp_path / "t.jsonl", ['{"text": "a", "label": "b"}'])) == "classification"


# ---- formatting, masking, truncation, packing --------------------------------------------------------------
def test_plain_template():
    ex = Instruction(({"role": "user", "content": "x"},), "y", "Name it.", "a cat")
    assert plain_prompt(ex) == "### Instruction:\nName it.\n\n### Input:\na cat\n\n### Response:\n"


def test_chat_template_used_when_the_tokenizer_has_one(tiny_tokenizer):
    import copy

    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    fmt = PromptFormat.for_tokenizer(tok)
    assert fmt.chat_template and fmt.prompt(tok, Instruction(({"role": "user", "content": "hi"},), "x")) == "<user>hi<assistant>"
    assert not PromptFormat.for_tokenizer(tiny_tokenizer).chat_template
    assert not PromptFormat.for_tokenizer(tok, seq2seq=True).chat_template


def test_labels_mask_the_prompt_and_count_the_response():
    ids, labels = encode_decoder([5, 6, 7], [8, 9, 3], max_length=32)
    assert ids == [5, 6, 7, 8, 9, 3] and labels == [-100, -100, -100, 8, 9, 3]
    batch = InstructionLM().collate([(ids, labels), ([5, 8, 3], [-100, 8, 3])], pad_id=0)
    # position t predicts token t+1: the last prompt token and each response token but the last
    assert batch["select"][0].tolist() == [False, False, True, True, True, False]
    assert batch["labels"][0][batch["select"][0]].tolist() == [8, 9, 3]
    assert batch["labels"][1][batch["select"][1]].tolist() == [8, 3] and batch["attention_mask"][1].tolist()[-3:] == [0] * 3


def test_seq2seq_collate_shifts_the_labels_right():
    batch = InstructionLM(seq2seq=True, decoder_start_id=0).collate([([5, 6], [8, 9, 3]), ([5], [8, 3])], pad_id=0)
    assert batch["decoder_input_ids"].tolist() == [[0, 8, 9], [0, 8, 3]]  # the last input is masked
    assert batch["decoder_attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[8, 9, 3], [8, 3, -100]]


def test_truncation_keeps_the_response_and_the_end_of_the_prompt():
    ids, labels = encode_decoder(list(range(100, 120)), [1, 2, 3], max_length=10)
    assert ids == [113, 114, 115, 116, 117, 118, 119, 1, 2, 3] and labels[-3:] == [1, 2, 3]
    ids, labels = encode_decoder(list(range(100, 120)), list(range(30)), max_length=10)
    assert len(ids) == 10 and ids[-5:] == [0, 1, 2, 3, 4] and labels.count(-100) == 5  # half for each


def test_packing_concatenates_whole_examples():
    ids, labels = pack([[1, 2], [3, 4, 5], [6, 7, 8, 9], [10]], [[-100, 2], [-100, 4, 5], [-100, 7, 8, 9], [10]], 6)
    assert ids == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    assert labels == [[-100, 2, -100, 4, 5], [-100, 7, 8, 9, 10]]


def test_packing_trains(lm_folders):
    gen = HeadstartGenerator(backbone=str(lm_folders["llama"]), strategy="lora", epochs=2, lr=5e-3, max_length=128,
                             packing=True)
    gen.build()
    assert len(gen.examples(as_instructions(ROWS), packing=True)) < len(ROWS)
    gen.fit(ROWS[:24], dev=ROWS[24:])
    history = gen.fit_result_.history
    assert history[-1]["dev_loss"] < history[0]["dev_loss"]


# ---- training: every strategy on every family ----------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_training_lowers_held_out_loss(lm_folders, family, strategy):
    prompt_like = strategy in ("prompt", "prefix")
    gen = HeadstartGenerator(backbone=str(lm_folders[family]), strategy=strategy, epochs=3, batch_size=8,
                             max_length=32, lr=1e-1 if prompt_like else 5e-3, virtual_tokens=4 if prompt_like else None)
    before = gen.build().loss(ROWS[24:])["loss"]
    gen.fit_task(as_instructions(ROWS[:24]), as_instructions(ROWS[24:]), built=True)
    after = gen.loss(ROWS[24:])
    assert after["loss"] < before - 1e-3
    assert math.isclose(after["perplexity"], math.exp(after["loss"]), rel_tol=1e-6)
    assert 0 < gen.trainable_params_ < gen.total_params_
    lm_head = gen.model_.head.weight
    assert not lm_head.requires_grad  # fit leaves everything frozen; the tied head never trained here


def test_refuses_a_strategy_that_cannot_generate(lm_folders):
    with pytest.raises(ConfigError, match="strategy 'features' does not train generation models"):
        HeadstartGenerator(backbone=str(lm_folders["gpt2"]), strategy="features").build()


def test_refuses_an_encoder(tiny_folders):
    with pytest.raises(ConfigError, match="is an encoder .bert.; it cannot generate text"):
        HeadstartGenerator(backbone=str(tiny_folders["bert"])).build()


# ---- save / load, generation, streaming ------------------------------------------------------------------------
@pytest.mark.parametrize(("family", "strategy"), [("llama", "lora"), ("gpt2", "full"), ("t5", "prompt"),
                                                  ("gpt2", "prefix")])
def test_save_load_gives_identical_greedy_generations(lm_folders, tmp_path, family, strategy):
    gen = HeadstartGenerator(backbone=str(lm_folders[family]), strategy=strategy, epochs=2, max_length=32, lr=1e-2,
                             virtual_tokens=4 if strategy in ("prompt", "prefix") else None).fit(ROWS)
    prompts = ["say great", "say film", "say dull"]
    expected = gen.generate_batch(prompts, max_new_tokens=6)
    gen.save(tmp_path / "m")
    if gen.strategy_.adapter:
        assert (tmp_path / "m" / "adapter_config.json").exists() and not (tmp_path / "m" / "model.safetensors").exists()
    else:
        assert (tmp_path / "m" / "model.safetensors").exists()
    loaded = HeadstartGenerator.load(tmp_path / "m")
    assert loaded.generate_batch(prompts, max_new_tokens=6) == expected
    assert [loaded.generate(p, do_sample=False, max_new_tokens=6) for p in prompts] == expected


def test_generate_streams_and_seeds(lm_folders):
    gen = HeadstartGenerator.pretrained(str(lm_folders["llama"]))
    pieces: list[str] = []
    text = gen.generate("say great", max_new_tokens=8, seed=1, stream=pieces.append)
    assert pieces and "".join(pieces).strip() == text
    assert gen.generate("say great", max_new_tokens=8, seed=1) == text


def test_evaluate_reports_rouge_and_samples(lm_folders):
    gen = HeadstartGenerator.pretrained(str(lm_folders["gpt2"]))
    scores = gen.evaluate(ROWS[:4] + [{"instruction": "copy", "output": "great"}], max_new_tokens=4, samples=2)
    assert set(scores) >= {"loss", "perplexity", "rougeL", "samples"} and 0.0 <= scores["rougeL"] <= 1.0
    assert len(scores["samples"]) == 2 and scores["samples"][0]["reference"] == "great great good"


# ---- run folder and CLI --------------------------------------------------------------------------------------------
def test_cli_train_then_generate(lm_folders, tmp_path):
    from headstart.cli import app

    data = _write(tmp_path / "train.jsonl", [json.dumps(r) for r in ROWS])
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(data), "--backbone", str(lm_folders["llama"]), "--strategy", "lora",
                                 "--out", str(out), "--epochs", "2", "--lr", "0.005", "--max-length", "32",
                                 "--batch-size", "8"])
    assert result.exit_code == 0, result.output
    assert "before training" in result.output and "ROUGE-L" in result.output and "(adapter)" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "generation" and metrics["dev"]["loss"] < metrics["before"]["loss"]
    report = (out / "report.md").read_text()
    assert "Before training" in report and "After training" in report and "| Prompt |" in report
    assert (out / "report.html").exists() and (out / "model" / "adapter_model.safetensors").exists()
    result = runner.invoke(app, ["generate", str(out), "say great", "--no-sample", "--max-new-tokens", "5"])
    assert result.exit_code == 0, result.output
    expected = HeadstartGenerator.load(out).generate("say great", do_sample=False, max_new_tokens=5)
    assert result.output.strip().endswith(expected) and expected  # stdout (stderr shows loading bars before it)
    result = runner.invoke(app, ["generate", str(tmp_path / "nowhere"), "hi"])
    assert result.exit_code == 1 and "cannot load backbone" in result.output
    result = runner.invoke(app, ["evaluate", str(out), str(data)])
    assert result.exit_code == 0, result.output
    scores = json.loads(next(out.glob("eval-*/metrics.json")).read_text())
    scores = scores["metrics"]
    assert "perplexity" in result.output and scores["loss"] > 0 and 0 <= scores["rougeL"] <= 1


def test_a_trained_run_is_served_with_its_adapter(lm_folders, tmp_path):
    from transformers import AutoModelForCausalLM

    from headstart.serving.chat_model import load_chat_model

    gen = HeadstartGenerator(backbone=str(lm_folders["llama"]), strategy="lora", epochs=2, max_length=32,
                             lr=1e-2).fit(ROWS)
    gen.save(tmp_path / "run" / "model")
    served = load_chat_model(tmp_path / "run")
    assert served.name == "run"
    ids = torch.tensor([served.prompt_ids([{"role": "user", "content": "say great"}])])
    with torch.no_grad():
        logits = served.model(input_ids=ids).logits
        trained = HeadstartGenerator.load(tmp_path / "run").model_.generator()(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(lm_folders["llama"])(input_ids=ids).logits
    assert torch.allclose(logits, trained, atol=1e-5) and not torch.allclose(logits, base, atol=1e-3)


@pytest.mark.slow
def test_smollm2_lora_on_self_instruct_lowers_loss():

    data = read_instructions(SHARED_DATA / "self_instruct" / "train.jsonl")
    train, dev = data.subset(range(20)), data.subset(range(20, 28))
    gen = HeadstartGenerator(backbone="smollm2", strategy="lora", epochs=1, batch_size=4, max_length=128, lr=1e-3)
    before = gen.build().loss(dev)["loss"]
    gen.fit_task(train, dev, built=True)
    assert gen.format_.chat_template
    assert gen.loss(dev)["loss"] < before
