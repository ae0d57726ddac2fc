"""Run folders: the rules for writing them (`folder`), and the one writer every task's run goes through
(`writer`)."""

from headstart.runs.folder import LOCK, MARKER, RunFolder, claim, is_run_folder
from headstart.runs.writer import evaluate_run, load_run_config, train_run, write_run
from headstart.tasks.classification.task import PREDICTIONS
from headstart.tasks.task import peak_rss_mb

__all__ = ["LOCK", "MARKER", "PREDICTIONS", "RunFolder", "claim", "evaluate_run", "is_run_folder",
           "load_run_config", "peak_rss_mb", "train_run", "write_run"]
