"""Backbones: a registry of named pretrained models and one anatomy table per model family."""

from __future__ import annotations

from headstart.backbones.anatomy import ANATOMY, Anatomy, anatomy_for, blocks_of, get_module
from headstart.backbones.registry import (
    DEFAULT_BACKBONE,
    REGISTRY,
    Backbone,
    list_backbones,
    load_backbone,
    resolve,
)

__all__ = [
    "ANATOMY",
    "Anatomy",
    "anatomy_for",
    "blocks_of",
    "get_module",
    "DEFAULT_BACKBONE",
    "REGISTRY",
    "Backbone",
    "list_backbones",
    "load_backbone",
    "resolve",
]
