"""Every option a user sets, gathered from where it is declared (once each: `config.option` fields of
TrainConfig, of each strategy's options class and of each task's options class), and what is generated
from them: the estimators' parameters (scikit-learn's `get_params` / `clone` read them), the CLI flags of
`headstart train`, `--set NAME=VALUE` (train) and `--set STRATEGY.NAME=VALUE` (compare), and the options
table of the docs.

    >>> options = training_options() | strategy_options()
    >>> options["rank"].owners, options["rank"].default
    (('lora',), None)
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import MISSING, dataclass, fields

from headstart.config import TrainConfig
from headstart.errors import ConfigError
from headstart.strategies import STRATEGIES

__all__ = ["Option", "training_options", "strategy_options", "options_of", "estimator_signature", "convert",
           "parse_assignment", "OptionBag"]


@dataclass(frozen=True)
class Option:
    """One user-facing option: its name, type (a typing annotation), default as an estimator parameter,
    help text, and who declares it ("training", a task name, or the strategies that have it)."""

    name: str
    type: object
    default: object
    help: str
    owners: tuple[str, ...]

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def options_of(cls: type, owner: str, *, none_defaults: bool = False) -> dict[str, Option]:
    """The options a dataclass declares with `config.option`. `none_defaults`: the estimator parameter
    defaults to None ("the strategy's default"), whatever the dataclass's own default is."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        default = None if none_defaults else (f.default if f.default is not MISSING else None)
        kind = hints[f.name] if not none_defaults else hints[f.name] | None
        out[f.name] = Option(f.name, kind, default, f.metadata.get("help", ""), (owner,))
    return out


def training_options() -> dict[str, Option]:
    """TrainConfig's fields (their defaults are the estimators' defaults)."""
    return options_of(TrainConfig, "training")


def strategy_options(names=None) -> dict[str, Option]:
    """The union of the strategies' own options (each defaults to None: the strategy's own default). An
    option several strategies share (top_n, target_modules, virtual_tokens) appears once, with every owner."""
    out: dict[str, Option] = {}
    for name in names or STRATEGIES:
        for key, opt in options_of(STRATEGIES[name].options_cls, name, none_defaults=True).items():
            if key in out:
                prev = out[key]
                helps = prev.help if opt.help in prev.help else f"{prev.help}; {opt.help}"
                out[key] = Option(key, prev.type, None, helps, (*prev.owners, name))
            else:
                out[key] = opt
    return out


def estimator_signature(leading: list[inspect.Parameter], options: dict[str, Option],
                        overrides: dict | None = None) -> inspect.Signature:
    """`(self, <leading>, *, <every option>)`: what an estimator's `__init__` takes. `overrides` change
    defaults for one task (QA windows of 384 tokens, a generator's batches of 8)."""
    overrides = overrides or {}
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *leading]
    params += [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=overrides.get(o.name, o.default),
                                 annotation=o.type) for o in options.values()]
    return inspect.Signature(params)


class OptionBag:
    """A base for estimators whose parameters are generated (`estimator_signature`): `__init__` stores each
    parameter as an attribute of the same name, as scikit-learn requires, and does nothing else."""

    __signature__: inspect.Signature

    def __init__(self, *args, **kwargs) -> None:
        bound = type(self).__init__.__signature__.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)


def convert(text: str, hint) -> object:
    """`text` as the type `hint` names (int, float, bool, str, list[str], each possibly `| None`; "none"
    gives None where None is allowed). Raises ValueError naming the kind expected."""
    kinds = [k for k in typing.get_args(hint) if k is not type(None)] or [hint]
    if type(None) in typing.get_args(hint) and text.strip().lower() in ("none", "null"):
        return None
    kind = kinds[0]
    if typing.get_origin(kind) is list:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise ValueError("a comma-separated list")
        return items
    if kind is bool:
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if text.lower() not in words:
            raise ValueError("true or false")
        return words[text.lower()]
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("a whole number") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("a number, e.g. 2e-3") from None
    return text


def parse_assignment(item: str, options: dict[str, Option], *, what: str = "--set") -> tuple[str, object]:
    """"NAME=VALUE" -> (name, typed value), checked against `options`; errors name the option, the value,
    and what is allowed."""
    name, sep, value = item.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise ConfigError(f"cannot read {what} {item!r}.", expected="NAME=VALUE, e.g. rank=16",
                          found=repr(item), fix=f"write {what} rank=16")
    if name not in options:
        raise ConfigError(f"{what} {item!r}: there is no option {name!r}.",
                          expected="one of " + ", ".join(sorted(options)), found=repr(name),
                          fix="`headstart train --help` lists every option")
    try:
        return name, convert(value.strip(), options[name].type)
    except ValueError as exc:
        raise ConfigError(f"{what} {item!r}: {name} takes {exc}.", expected=str(exc), found=repr(value),
                          fix=f"write {what} {name}=<{exc}>") from None
