"""The calibration sets: every classification set in ../shared/data, cut the same way for every method, so
defaults and the recommender's rules are chosen on dev rows across many data sets, never on a test split.

    python benchmarks/calibration.py            # writes benchmarks/logs/calib/<set>/{train,dev,test}.csv

Each set becomes (train, dev, test):
- train: at most TRAIN_ROWS rows of the set's training file, stratified by label with random_state 0 (the
  regime headstart's users are in: a few thousand labelled rows);
- dev: at most DEV_ROWS rows of the set's own dev file where it has one, else of the training rows left out
  of `train` (stratified, random_state 0). Defaults are chosen on these scores;
- test: the set's test file, untouched, scored only to confirm the final defaults.

HEADSTART_CALIB_CUTS=DIR reads the cuts from DIR/<set>/{train,dev,test}.csv instead (the files this script
writes, carried to a machine that has not the data sets: the GPU sweep of benchmarks/defaults.py).

The files are plain CSVs in the layout a user would hand headstart (`text,label`; `text_a,text_b,label`
for pairs; `text,labels` with `;`-joined labels for multi-label), so every method reads the same rows.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("HEADSTART_DATA", HERE.parents[1] / "shared" / "data"))
OUT = HERE / "logs" / "calib"
CUTS = os.environ.get("HEADSTART_CALIB_CUTS")
TRAIN_ROWS = 3000
DEV_ROWS = 1000


@dataclass(frozen=True)
class CalibSet:
    """Where one set's files are and how to read them."""

    folder: str
    label_column: str = "label"
    label_sep: str | None = None  # multi-label: the separator inside the label cell
    pair: bool = False  # text_a, text_b
    dev: str | None = None  # the set's own dev file, if it has one
    kind: str = ""  # a word for the docs: what makes this set different

    @property
    def multilabel(self) -> bool:
        return self.label_sep is not None

    @property
    def metric(self) -> str:
        """The score defaults are chosen on: accuracy, or macro-F1 where a row has several labels."""
        return "macro_f1" if self.multilabel else "accuracy"


SETS: dict[str, CalibSet] = {
    "trec6": CalibSet("trec6", kind="questions, 6 types"),
    "goemotions": CalibSet("goemotions", label_column="labels", label_sep=";", dev="dev.csv",
                           kind="multi-label, 28 emotions"),
    "clinc150": CalibSet("clinc150_oos_plus", dev="dev.csv", kind="151 intents incl. out-of-scope"),
    "sick": CalibSet("sick", pair=True, dev="dev.csv", kind="sentence pairs, 3-way NLI"),
    "finphrase": CalibSet("financial_phrasebank/66agree/split_seed0", kind="domain (finance), 3 classes"),
    "20newsgroups": CalibSet("20newsgroups", kind="long documents, 20 topics"),
    "sst2": CalibSet("sst2", kind="sentiment, binary"),
    "banking77": CalibSet("banking77", kind="77 intents"),
    "sms_spam": CalibSet("sms_spam", kind="spam, binary, imbalanced"),
}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False)  # texts such as "null" stay text


def _stratify(df: pd.DataFrame, spec: CalibSet):
    """The label column to stratify on, or None where a class is too small for it (or for multi-label)."""
    if spec.multilabel:
        return None
    counts = df[spec.label_column].value_counts()
    return df[spec.label_column] if counts.min() >= 2 else None


def _sample(df: pd.DataFrame, n: int, spec: CalibSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(n rows, the rest), stratified where possible, random_state 0."""
    if len(df) <= n:
        return df.reset_index(drop=True), df.iloc[0:0]
    kept, rest = train_test_split(df, train_size=n, stratify=_stratify(df, spec), random_state=0)
    return kept.reset_index(drop=True), rest.reset_index(drop=True)


def calibration_split(name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train, dev, test) frames of one calibration set, as described in the module docstring."""
    if CUTS:
        return tuple(_read(Path(CUTS) / name / f"{split}.csv") for split in ("train", "dev", "test"))
    spec = SETS[name]
    folder = DATA / spec.folder
    train, rest = _sample(_read(folder / "train.csv"), TRAIN_ROWS, spec)
    if spec.dev:
        dev, _ = _sample(_read(folder / spec.dev), DEV_ROWS, spec)
    else:
        dev, _ = _sample(rest, DEV_ROWS, spec)
    if not spec.multilabel:  # a dev label the training rows never show cannot be learnt: drop those rows
        dev = dev[dev[spec.label_column].isin(set(train[spec.label_column]))].reset_index(drop=True)
    return train, dev, _read(folder / "test.csv")


def files(name: str) -> dict[str, Path]:
    """The three CSVs of one set under benchmarks/logs/calib/<name>/, written on first use."""
    folder = OUT / name
    paths = {split: folder / f"{split}.csv" for split in ("train", "dev", "test")}
    if not all(p.exists() for p in paths.values()):
        folder.mkdir(parents=True, exist_ok=True)
        for split, frame in zip(paths, calibration_split(name), strict=True):
            frame.to_csv(paths[split], index=False)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    for name in args.sets.split(","):
        paths = files(name)
        sizes = {split: len(_read(p)) for split, p in paths.items()}
        print(f"{name}: {sizes} -> {paths['train'].parent}")


if __name__ == "__main__":
    main()
