"""Runs as configs: `headstart train --config run.yaml` reads every option from a file, and `headstart train
--from RUN` trains again what RUN trained, from its config.json.

    # run.yaml: the data (paths relative to this file), the task, and any option of `headstart train`
    data: train.csv
    dev: dev.csv
    strategy: lora
    rank: 16

A run records where its data came from portably (`sources` in config.json: each file's path relative to
the run folder and its sha256), so a replay finds the files after the run folder and the data moved
together, and refuses a file whose content changed. Flags given beside `--config` / `--from` win over
them. YAML is read with `yaml.safe_load`'s safe loader: a config file cannot construct objects or run
code.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path

from headstart.errors import ConfigError
from headstart.options import Option, convert

__all__ = ["DATA_KEYS", "read_config_file", "data_sources", "replay", "sha256"]

DATA_KEYS = ("data", "dev", "test")  # the data entries of a config file ("data" is the training file)
PLACES = ("task", "backbone", "strategy")  # entries beside the options that are not estimator options


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_sources(data: dict, run_folder: Path) -> dict:
    """{"train": {"path": relative to the run folder, "sha256": ...}, ...} for the data files that exist."""
    out = {}
    for split, value in data.items():
        if split not in ("train", "dev", "test") or value is None or not Path(str(value)).is_file():
            continue
        path = Path(str(value)).resolve()
        out[split] = {"path": os.path.relpath(path, Path(run_folder).resolve()), "sha256": sha256(path)}
    return out


def read_config_file(path: str | Path, options: dict[str, Option]) -> dict:
    """The entries of a YAML / JSON config file, typed and checked: data paths resolved against the file's
    folder; an unknown key or a value of the wrong type is an error naming the file, line and column."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file {path}.", expected="a YAML or JSON file of options",
                          found="no such file", fix="check the path given to --config")
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: it is not UTF-8 text.", expected="a YAML or JSON text file",
                          found=f"byte {exc.start}: {exc.reason}", fix="save the file as UTF-8 text",
                          file=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"cannot read {path}.", expected="YAML (or JSON) of NAME: VALUE entries",
                          found=str(getattr(exc, "problem", exc)), fix="fix the file at the line shown",
                          file=path, line=mark.line + 1 if mark else None,
                          column=mark.column + 1 if mark else None) from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path} is not a mapping of options.", expected="NAME: VALUE entries, one per line",
                          found=root.tag.rsplit(":", 1)[-1], fix="write e.g. `strategy: lora`", file=path,
                          line=root.start_mark.line + 1)
    known = set(options) | set(DATA_KEYS) | set(PLACES)
    out = {}
    for key_node, value_node in root.value:
        where = {"file": path, "line": key_node.start_mark.line + 1, "column": key_node.start_mark.column + 1}
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(yaml.safe_load(yaml.serialize(key_node)))
        if key in out:
            raise ConfigError(f"{path}: {key!r} is set twice.", expected="each option once", found=f"{key!r} again",
                              fix="keep one of the two entries", **where)
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            raise ConfigError(f"{path}: there is no option {key!r}.", expected="an option of `headstart train` "
                              "(`headstart train --help` lists them), or data / dev / test / task",
                              found=repr(key), fix=f"did you mean {close[0]!r}?" if close else "remove the entry",
                              **where)
        try:
            value = yaml.safe_load(yaml.serialize(value_node))
        except yaml.YAMLError as exc:  # e.g. a !!python/... tag: the safe loader constructs no objects
            raise ConfigError(f"{path}: cannot read the value of {key!r}.", expected="a plain value: a number, "
                              "text, true / false, or a list of them", found=str(getattr(exc, "problem", exc)),
                              fix="write the value without a tag", file=path, line=value_node.start_mark.line + 1,
                              column=value_node.start_mark.column + 1) from None
        if key in DATA_KEYS:
            out[key] = None if value is None else (path.parent / str(value)).resolve()
        elif key in PLACES or value is None:
            out[key] = value
        else:
            out[key] = _typed(key, value, options[key], where)
    return out


def _typed(name: str, value, option: Option, where: dict):
    """A YAML value as the option's type: YAML types numbers and booleans itself; strings and lists go
    through the same conversion as the flags."""
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value).lower() \
        if isinstance(value, bool) else str(value)
    try:
        return convert(text, option.type)
    except ValueError as exc:
        raise ConfigError(f"{where['file']}: {name} takes {exc}.", expected=str(exc), found=repr(value),
                          fix=f"write `{name}: <{exc}>`", **where) from None


def replay(run: str | Path, given: set[str] = frozenset()) -> dict:
    """What `headstart train --from RUN` trains: the run's task, data files and estimator options. Data
    entries named in `given` (the caller passes its own files) are not looked for."""
    from headstart.runs.writer import load_run_config

    run = Path(run)
    config = load_run_config(run)
    sources = config.get("sources") or {}
    entries = {"task": config.get("task")}
    for split, key in (("train", "data"), ("dev", "dev"), ("test", "test")):
        recorded = (config.get("data") or {}).get(split)
        if key in given:
            continue
        if split in sources:
            entries[key] = _source(run, split, sources[split])
        elif recorded is not None:  # runs written before `sources`: the path as it was given
            entries[key] = Path(recorded)
    if entries.get("data") is None and "data" not in given:
        raise ConfigError(f"{run} does not say which file it trained on.", expected="config.json with data.train",
                          found="none", fix="pass the training file: headstart train DATA --from RUN")
    params = dict(config.get("estimator") or {})
    params.pop("progress", None)
    entries.update({k: v for k, v in params.items() if v is not None})
    return entries


def _source(run: Path, split: str, source: dict) -> Path:
    path = (run / source["path"]).resolve()
    if not path.is_file():
        raise ConfigError(f"the {split} file of {run} is not where the run left it.",
                          expected=f"{source['path']} (relative to the run folder)", found="no such file",
                          fix=f"move the data back, or pass it: headstart train FILE --from {run}")
    if sha256(path) != source["sha256"]:
        raise ConfigError(f"the {split} file {path} changed since {run} trained on it.",
                          expected=f"sha256 {source['sha256'][:12]}...", found=f"sha256 {sha256(path)[:12]}...",
                          fix=f"train on the changed file on purpose: headstart train {path} --from {run}")
    return path
