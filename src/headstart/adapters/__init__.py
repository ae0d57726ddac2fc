"""Parameter-efficient adapters made in headstart: bottleneck adapters (Houlsby, Pfeiffer) and Compacter."""

from __future__ import annotations

from headstart.adapters.bottleneck import (
    KINDS,
    AdapterSlot,
    BottleneckAdapter,
    BottleneckConfig,
    PHMLinear,
    active_adapter,
    adapter_names,
    adapter_parameters,
    adapter_state_dict,
    add_bottleneck_adapters,
    belongs_to_adapter,
    delete_adapter,
    is_adapter_parameter,
    load_adapter_state_dict,
    set_active_adapter,
)

__all__ = [
    "KINDS",
    "AdapterSlot",
    "BottleneckAdapter",
    "BottleneckConfig",
    "PHMLinear",
    "active_adapter",
    "adapter_names",
    "adapter_parameters",
    "adapter_state_dict",
    "add_bottleneck_adapters",
    "belongs_to_adapter",
    "delete_adapter",
    "is_adapter_parameter",
    "load_adapter_state_dict",
    "set_active_adapter",
]
