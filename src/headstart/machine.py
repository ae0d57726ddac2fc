"""The machine headstart runs on, and how much compute that means for choosing a strategy.

`detect_machine()` reads the CPU, RAM and the first GPU; `compute_level()` turns that into one of four
levels that the recommender's table is written against:

=============  ============================================================================
level          when
=============  ============================================================================
``very-low``   no GPU, at most 2 CPU cores AND less than 8 GB of RAM (a small laptop, a free notebook)
``low``        no GPU, anything bigger than very-low (a workstation or server CPU)
``medium``     a GPU with less than 24 GB of memory (or of unknown size, e.g. Apple MPS)
``high``       a GPU with 24 GB of memory or more
=============  ============================================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from headstart.errors import ConfigError

__all__ = [
    "COMPUTE_LEVELS",
    "HIGH_GPU_MEMORY_GB",
    "VERY_LOW_MAX_CORES",
    "VERY_LOW_MAX_MEMORY_GB",
    "Machine",
    "compute_level",
    "detect_machine",
]

COMPUTE_LEVELS: tuple[str, ...] = ("very-low", "low", "medium", "high")
HIGH_GPU_MEMORY_GB = 24.0  # a GPU with at least this much memory is "high"
VERY_LOW_MAX_CORES = 2  # a CPU-only machine with at most this many cores...
VERY_LOW_MAX_MEMORY_GB = 8.0  # ...and less than this much RAM is "very-low"

_GIB = 1024**3


@dataclass
class Machine:
    """What the recommender needs to know about the hardware.

    Args:
        cpu_count: logical CPU cores.
        memory_gb: total RAM in GiB.
        gpu: whether an accelerator (CUDA or Apple MPS) is usable.
        gpu_name: its name, if any.
        gpu_memory_gb: its memory in GiB, if known (MPS shares RAM, so unknown there).

    Example:
        >>> Machine(cpu_count=8, memory_gb=32.0, gpu=False, gpu_name=None, gpu_memory_gb=None).describe()
        '8 CPU cores, 32.0 GB RAM, no GPU'
    """

    cpu_count: int
    memory_gb: float
    gpu: bool = False
    gpu_name: str | None = None
    gpu_memory_gb: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.cpu_count, int) or self.cpu_count < 1:
            raise ConfigError(
                "Machine.cpu_count must be a positive whole number.",
                expected="an int >= 1",
                found=repr(self.cpu_count),
                fix="pass the number of logical cores, e.g. os.cpu_count(), or use detect_machine()",
            )
        if self.memory_gb < 0 or (self.gpu_memory_gb is not None and self.gpu_memory_gb < 0):
            raise ConfigError(
                "Machine memory sizes cannot be negative.",
                expected="memory_gb >= 0 and gpu_memory_gb >= 0 (or None)",
                found=f"memory_gb={self.memory_gb!r}, gpu_memory_gb={self.gpu_memory_gb!r}",
                fix="give sizes in GiB, or use detect_machine()",
            )

    def describe(self) -> str:
        """One line for reports and the recommender's reasons, e.g. '8 CPU cores, 32.0 GB RAM, no GPU'."""
        cpu = f"{self.cpu_count} CPU core{'s' if self.cpu_count != 1 else ''}, {self.memory_gb:.1f} GB RAM"
        if not self.gpu:
            return f"{cpu}, no GPU"
        size = f" ({self.gpu_memory_gb:.1f} GB)" if self.gpu_memory_gb is not None else ""
        return f"{cpu}, GPU {self.gpu_name or 'unknown'}{size}"


def detect_machine() -> Machine:
    """Read the CPU count, total RAM and the first GPU of this machine.

    Torch is imported here, not at module import, so `headstart --help` stays fast. A machine with several
    GPUs is described by GPU 0: strategies here train on one device.

    Returns:
        the Machine.

    Example:
        >>> compute_level(detect_machine()) in COMPUTE_LEVELS
        True
    """
    import psutil

    cpu_count = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    memory_gb = round(psutil.virtual_memory().total / _GIB, 1)
    gpu, gpu_name, gpu_memory_gb = _detect_gpu()
    return Machine(cpu_count, memory_gb, gpu, gpu_name, gpu_memory_gb)


def _detect_gpu() -> tuple[bool, str | None, float | None]:
    try:
        import torch
    except ImportError:  # headstart needs torch to train, but detection alone should not crash
        return False, None, None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return True, props.name, round(props.total_memory / _GIB, 1)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return True, "Apple MPS", None  # unified memory: no separate GPU size to report
    return False, None, None


def compute_level(machine: Machine) -> str:
    """Map a machine to "very-low", "low", "medium" or "high" (thresholds in the module docstring).

    Args:
        machine: the hardware, e.g. from detect_machine().

    Returns:
        one of COMPUTE_LEVELS.

    Example:
        >>> compute_level(Machine(2, 4.0))
        'very-low'
        >>> compute_level(Machine(8, 64.0, True, "NVIDIA A100", 80.0))
        'high'
    """
    if machine.gpu:
        if machine.gpu_memory_gb is not None and machine.gpu_memory_gb >= HIGH_GPU_MEMORY_GB:
            return "high"
        return "medium"
    if machine.cpu_count <= VERY_LOW_MAX_CORES and machine.memory_gb < VERY_LOW_MAX_MEMORY_GB:
        return "very-low"
    return "low"
