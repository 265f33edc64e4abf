"""Reference feed-forward Gaussian head backbones, trained on the synthetic world (layer 14).

- ``lam``: :class:`~emoctl.backbones.lam_style.LAMStyleBackbone` (LAM's layout: point queries
  cross-attending image tokens through joint attention);
- ``uv``: :class:`~emoctl.backbones.uv_style.UVStyleBackbone` (the Dual-UV layout: image features
  lifted into FLAME's UV space, a self-attention decoder, UV maps of Gaussians bound to triangles).

Both build a :class:`~emoctl.backbones.avatar.GaussianAvatar` from one reference image
(``build_avatar``) and animate + render it per frame, and both take LAM's ``forward`` /
``infer_single_view`` arguments. ``emoctl.backbones.load("lam-ref")`` loads the shipped weights.
Needs ``diffusers`` (``pip install 'emoctl[backbones]'``); submodules are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

#: arch name -> (module, config class, model class)
ARCHS: dict[str, tuple[str, str, str]] = {
    "lam": ("emoctl.backbones.lam_style", "LAMStyleConfig", "LAMStyleBackbone"),
    "uv": ("emoctl.backbones.uv_style", "UVStyleConfig", "UVStyleBackbone"),
}

_LAZY = {
    "GaussianAvatar": "emoctl.backbones.avatar",
    "PosedGaussians": "emoctl.backbones.avatar",
    "blend_avatars": "emoctl.backbones.avatar",
    "HeadTemplate": "emoctl.backbones.template",
    "LAMStyleBackbone": "emoctl.backbones.lam_style",
    "LAMStyleConfig": "emoctl.backbones.lam_style",
    "UVStyleBackbone": "emoctl.backbones.uv_style",
    "UVStyleConfig": "emoctl.backbones.uv_style",
    "load": "emoctl.backbones.hub",
    "save": "emoctl.backbones.hub",
    "SHIPPED": "emoctl.backbones.hub",
}


def arch_classes(arch: str) -> tuple[type, type]:
    """``(config class, model class)`` of an arch name (``"lam"`` or ``"uv"``)."""
    from emoctl.errors import ConfigError

    if arch not in ARCHS:
        raise ConfigError(f"unknown backbone arch {arch!r}; choose one of {sorted(ARCHS)}")
    module, config_name, model_name = ARCHS[arch]
    mod = importlib.import_module(module)
    return getattr(mod, config_name), getattr(mod, model_name)


def build(config: Any):
    """A fresh backbone from a config object or its JSON dict (with ``"arch"``)."""
    from emoctl.errors import ConfigError

    if isinstance(config, dict):
        if "arch" not in config:
            raise ConfigError("a backbone config needs an 'arch' field ('lam' or 'uv')")
        config_cls, model_cls = arch_classes(config["arch"])
        config = config_cls.from_json(config)
    else:
        _, model_cls = arch_classes(getattr(config, "arch", None))
    return model_cls(config)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emoctl.backbones' has no attribute {name!r}")


__all__ = ["ARCHS", "arch_classes", "build", *sorted(_LAZY)]
