"""Training the reference backbones (layer 16): :func:`train_backbone` with a
:class:`BackboneTrainingConfig`; ``emoctl train backbone`` on the command line. Submodules are
imported on first use (the command line's parser imports only :mod:`emoctl.train.cli`)."""

from __future__ import annotations

import importlib

_LAZY = {"train_backbone": "emoctl.train.backbone", "BackboneTrainingConfig": "emoctl.train.config"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emoctl.train' has no attribute {name!r}")


__all__ = sorted(_LAZY)
