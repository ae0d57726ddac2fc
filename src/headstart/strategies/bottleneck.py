"""`adapter` (bottleneck adapters, Houlsby or Pfeiffer placement) and `compacter` (Compacter++).

Made in headstart (headstart.adapters.bottleneck): the AdapterHub `adapters` library pins
transformers 4.x, and headstart is on transformers 5. The backbone stays frozen bit for bit; the
adapters and the head train, and a trained model saves them in the adapter layout of headstart.adapters.store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from headstart.adapters.names import is_adapter_parameter
from headstart.config import check_choice, check_range, option
from headstart.strategies.base import ADAPTER_DEFAULTS, Strategy

if TYPE_CHECKING:
    from headstart.adapters.bottleneck import BottleneckConfig

__all__ = ["Adapter", "AdapterOptions", "Compacter", "CompacterOptions"]


_REDUCTION = ("adapter / compacter: hidden size / bottleneck size (16: a 384-wide model gets 24-wide "
              "adapters; compacter: both divisible by phm_dim)")


@dataclass
class AdapterOptions:
    """Houlsby et al. 2019 put adapters after attention and after the feed-forward of every block;
    Pfeiffer et al. 2021 after the feed-forward only (half the adapters)."""

    reduction_factor: int = option(16, _REDUCTION)
    placement: str = option("houlsby", "adapter: houlsby or pfeiffer")

    def __post_init__(self) -> None:
        check_range("reduction_factor", self.reduction_factor, 1, 4096, integer=True)
        check_choice("placement", self.placement, ("houlsby", "pfeiffer"))


@dataclass
class CompacterOptions:
    """Karimi Mahabadi et al. 2021: each adapter weight is a sum of phm_dim Kronecker products; the
    n x n "rules" are shared by all layers."""

    reduction_factor: int = option(16, _REDUCTION)
    phm_dim: int = option(4, "compacter: n, the Kronecker products each adapter weight is a sum of")

    def __post_init__(self) -> None:
        check_range("reduction_factor", self.reduction_factor, 1, 4096, integer=True)
        check_range("phm_dim", self.phm_dim, 1, 64, integer=True)


class _Bottleneck(Strategy):
    adapter = "bottleneck"
    # 3e-3 beat 1e-3 on held-out training rows of SST-2 and Banking77 (benchmarks/sweep.py)
    defaults = {**ADAPTER_DEFAULTS, "lr": 3e-3}

    def bottleneck_config(self) -> BottleneckConfig:
        raise NotImplementedError

    def prepare(self, model) -> None:
        from headstart.adapters.bottleneck import add_bottleneck_adapters  # torch: only when a model is built

        add_bottleneck_adapters(model.backbone, model.anatomy, self.bottleneck_config())

    def keep(self, name: str) -> bool:
        return is_adapter_parameter(name)

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        return [g for g in group_names if g.startswith("block_")] + ["head"]


class Adapter(_Bottleneck):
    name = "adapter"
    summary = "bottleneck adapters (Houlsby or Pfeiffer placement) in every block + head (backbone frozen)"
    options_cls = AdapterOptions

    def bottleneck_config(self) -> BottleneckConfig:
        from headstart.adapters.bottleneck import BottleneckConfig

        return BottleneckConfig(kind=self.options.placement, reduction_factor=self.options.reduction_factor)


class Compacter(_Bottleneck):
    name = "compacter"
    summary = "Compacter: hypercomplex (Kronecker) bottleneck adapters, shared rules + head (fewest weights)"
    options_cls = CompacterOptions

    def bottleneck_config(self) -> BottleneckConfig:
        from headstart.adapters.bottleneck import BottleneckConfig

        return BottleneckConfig(kind="compacter", reduction_factor=self.options.reduction_factor,
                                phm_dim=self.options.phm_dim)
