"""The CLI starts fast: `--help` and data sniffing load no torch, transformers, sklearn or matplotlib, and
the option tables a task's help shows are the ones its estimator takes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from headstart.tasks.registry import TASKS, estimator_class

HEAVY = ("torch", "transformers", "accelerate", "peft", "sklearn", "scipy", "matplotlib", "pandas", "datasets")

_PROBE = """
import json, sys
sys.argv = ["headstart", *json.loads(sys.argv[1])]
from headstart.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["predict", "--help"], ["serve", "--help"],
                                  ["compare", "--help"], ["distill", "--help"]])
def test_help_loads_no_heavy_package(argv) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], capture_output=True, text=True,
                          timeout=120)
    assert "Usage" in done.stdout, done.stdout + done.stderr
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), f"`headstart {' '.join(argv)}` imported {sorted(loaded & set(HEAVY))}"


@pytest.mark.parametrize("name", list(TASKS))
def test_task_option_table_is_its_estimators(name) -> None:
    """The light table the help reads (tasks/*/options.py) is the one the estimator validates against."""
    task = TASKS[name]
    assert task.option_table() == estimator_class(name)().option_table()


@pytest.mark.parametrize("name", list(TASKS))
def test_every_option_a_task_does_not_take_is_refused(name) -> None:
    """`train_run`'s check refuses each option that only other tasks take, naming it."""
    from headstart.errors import HeadstartError
    from headstart.runs import writer

    task = TASKS[name]
    takes = set(task.estimator_class()._get_param_names())
    foreign = {k: o for other in TASKS.values() for k, o in other.option_table().items() if k not in takes}
    assert foreign  # every task lacks some other task's options
    for option in foreign:
        with pytest.raises(HeadstartError, match=f"does not take --{option.replace('_', '-')}|does not learn"):
            writer._check_task_options(task, {option: "x"})
