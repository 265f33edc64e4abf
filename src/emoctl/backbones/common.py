"""Helpers shared by the reference backbones: config (de)serialisation, the default template, spacing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from emoctl.backbones.template import HeadTemplate
from emoctl.errors import ConfigError


def config_from_json(cls, data: Mapping[str, Any]):
    """A config dataclass from JSON, refusing unknown keys and wrong types with a :class:`ConfigError`."""
    fields = {k: v for k, v in data.items() if k != "arch"}
    if data.get("arch", cls.arch) != cls.arch:
        raise ConfigError(f"config.json is for arch {data.get('arch')!r}, not {cls.arch!r}")
    defaults = asdict(cls())
    unknown = sorted(set(fields) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s) {unknown}")
    for key, value in fields.items():
        want = type(defaults[key])
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if want is float else (
            isinstance(value, want) and not isinstance(value, bool))
        if not ok:
            raise ConfigError(f"{cls.__name__}.{key} must be {want.__name__}, got {value!r}")
    return cls(**{k: (float(v) if type(defaults[k]) is float else v) for k, v in fields.items()})


def default_template(head_seed: int, subdivide: int) -> HeadTemplate:
    """The synthetic world's FLAME-compatible head (the official FLAME is not reachable here)."""
    from emoctl.synthetic.head import synthetic_head

    return HeadTemplate(synthetic_head(head_seed, subdivide))


def nearest_spacing(points: Tensor, k: int = 3) -> Tensor:
    """``[N]`` mean distance of each point of ``points [N, 3]`` to its ``k`` nearest neighbours."""
    d = torch.cdist(points, points)
    d.fill_diagonal_(float("inf"))
    return d.topk(k, largest=False).values.mean(-1)


class BackboneConfig:
    """Mixin of the backbones' frozen config dataclasses: ``arch`` (a class attribute, not a field)
    and the ``config.json`` round trip (``to_json`` / strict ``from_json``)."""

    arch = ""

    def to_json(self) -> dict[str, Any]:
        return {"arch": self.arch, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]):
        return config_from_json(cls, data)


class AvatarBackbone(nn.Module):
    """What the reference backbones share: LAM's call signatures on top of ``build_avatar`` (theirs)
    and :meth:`render_avatar`. A subclass defines ``config`` (with ``render_size``), ``template`` and
    ``build_avatar(image, betas, source_c2ws, source_intrs, source_flame_params)``."""

    def zero_betas(self, image: Tensor, betas: Tensor | None) -> Tensor:
        """``betas``, or zeros ``[B, S]`` (the template's shape) when None."""
        if betas is not None:
            return betas
        dtype = self.template.v_template.dtype
        return torch.zeros(image.shape[0], self.template.flame.num_shape, dtype=dtype, device=image.device)

    def render_avatar(self, avatar, flame_params, render_c2ws, render_intrs, render_bg_colors,
                      size: int | None = None) -> dict[str, Tensor]:
        """Animate and render: ``comp_rgb [B, N, H, W, 3]``, ``comp_mask [B, N, H, W, 1]``,
        ``gs_xyz [B, N, G, 3]`` for ``N`` driven frames, frame ``n`` seen by camera ``n``."""
        size = size or self.config.render_size
        posed = avatar.animate(flame_params)
        images, alphas = posed.render(render_c2ws, render_intrs, render_bg_colors, size, size)
        return {"comp_rgb": images, "comp_mask": alphas, "gs_xyz": posed.means}

    def forward(self, image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors,
                flame_params, source_flame_params=None, render_images=None, data=None):
        """LAM's training path: build the avatar from ``image`` and render it for ``flame_params``;
        returns :meth:`render_avatar`'s dict plus ``avatar``."""
        avatar = self.build_avatar(image, flame_params.get("betas"), source_c2ws, source_intrs, source_flame_params)
        out = self.render_avatar(avatar, flame_params, render_c2ws, render_intrs, render_bg_colors)
        out["avatar"] = avatar
        return out

    @torch.no_grad()
    def infer_single_view(self, image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors,
                          flame_params, source_flame_params=None):
        """LAM's inference path (no gradients): :meth:`forward`."""
        return self.forward(image, source_c2ws, source_intrs, render_c2ws, render_intrs, render_bg_colors, flame_params,
                            source_flame_params)
