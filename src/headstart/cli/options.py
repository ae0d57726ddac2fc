"""The CLI flags of `headstart train` (and `compare`), generated from the one declaration of each option
(headstart.options), so a new option of a strategy or a task is a flag without a change here."""

from __future__ import annotations

import inspect
import typing
from typing import Annotated

import typer

from headstart.errors import ConfigError
from headstart.options import Option, convert, parse_assignment

__all__ = ["all_estimator_options", "option_parameters", "chosen_options"]


def all_estimator_options() -> dict[str, Option]:
    """Every option any task's estimator takes (the union of their option tables)."""
    from headstart.tasks.registry import TASKS

    out: dict[str, Option] = {}
    for task in TASKS.values():
        for name, opt in task.option_table().items():
            out.setdefault(name, opt)
    return out


def _cli_type(hint) -> type:
    """The type typer parses: lists are given comma-separated (converted afterwards), and every flag is
    optional (left out: the task's or the strategy's default)."""
    kinds = [k for k in typing.get_args(hint) if k is not type(None)] or [hint]
    kind = kinds[0]
    if typing.get_origin(kind) is list or kind not in (int, float, bool, str):
        return str
    return kind


def option_parameters(options: dict[str, Option], skip: set[str]) -> list[inspect.Parameter]:
    """One keyword parameter per option, `Annotated[type | None, typer.Option(help=...)] = None`."""
    params = []
    for name, opt in options.items():
        if name in skip:
            continue
        flag = opt.flag
        kind = _cli_type(opt.type)
        decls = (f"{flag}/--no-{flag[2:]}",) if kind is bool else (flag,)
        default = "" if opt.default is None else f" [default: {opt.default}]"
        info = typer.Option(*decls, help=opt.help + default, show_default=False, rich_help_panel=_panel(opt))
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[kind | None, info]))
    return params


def _panel(opt: Option) -> str:
    if opt.owners == ("training",):
        return "Training"
    if any(o in ("classification", "pairs", "ner", "qa", "generation", "estimator") for o in opt.owners):
        return "Task and data"
    return "Strategy options"


def chosen_options(options: dict[str, Option], given: dict, settings: list[str] | None) -> dict:
    """The options the user set (flags and `--set NAME=VALUE`), typed; a name set both ways is an error."""
    chosen = {}
    for name, value in given.items():
        if value is None or name not in options:
            continue
        is_list = typing.get_origin(([k for k in typing.get_args(options[name].type) if k is not type(None)]
                                     or [options[name].type])[0]) is list
        chosen[name] = convert(value, options[name].type) if is_list and isinstance(value, str) else value
    for item in settings or []:
        name, value = parse_assignment(item, options)
        if name in chosen and chosen[name] != value:
            raise ConfigError(f"--set {item!r} contradicts --{name.replace('_', '-')}.",
                              expected="each option once", found=f"{chosen[name]!r} and {value!r}",
                              fix="keep one of the two")
        chosen[name] = value
    return chosen
