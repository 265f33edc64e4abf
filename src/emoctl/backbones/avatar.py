"""``GaussianAvatar``: a built avatar (the expensive part, once per reference image), animated and
rendered per frame by cheap calls.

The attributes are canonical and reachable (a PEFT-style adapter or a user's code may read and
edit them); each may carry a frame axis (``[B, T, N, C]``) when the appearance changes over a
sequence (per-frame emotion, :func:`blend_avatars`):

- ``offsets [B, (T,) N, 3]``: local offsets from the binding's anchor, in the binding's frame (m);
- ``colors [B, (T,) N, 3]`` in [0, 1]; ``opacities [B, (T,) N]`` in (0, 1);
- ``scales [B, (T,) N, 3]`` standard deviations (m); ``quats [B, (T,) N, 4]`` local rotations
  ``(w, x, y, z)``;
- ``betas [B, S]``: the identity's shape (FLAME), which the binding needs to pose the mesh.

``avatar.animate(flame_params)`` → :class:`PosedGaussians` (``[B, T, N, ...]``);
``posed.render(c2ws, intrs, bg, width, height)`` → images ``[B, T, H, W, 3]`` and alphas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emoctl.backbones.template import HeadTemplate
from emoctl.errors import ShapeError
from emoctl.render import rasterize
from emoctl.render.projection import quat_to_rotmat

#: Attribute names and their channel count (``None``: no channel axis).
ATTRIBUTES: dict[str, int | None] = {"offsets": 3, "colors": 3, "opacities": None, "scales": 3, "quats": 4}


def matrix_to_quat(m: Tensor) -> Tensor:
    """``[..., 3, 3]`` rotation matrices → ``[..., 4]`` unit quaternions ``(w, x, y, z)``, ``w >= 0``
    (the branch with the largest diagonal term, so it is stable everywhere)."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = torch.stack([
        torch.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
        torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
    ], dim=-2)  # [..., 4, 4]: row k is 4 * q_k * q
    diag = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = diag.argmax(-1, keepdim=True)
    q = torch.gather(candidates, -2, best[..., None].expand(*best.shape, 4)).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


@dataclass
class PosedGaussians:
    """Gaussians of ``B`` avatars in ``T`` frames: ``means [B, T, N, 3]``, ``quats [B, T, N, 4]``,
    ``scales [B, T|1, N, 3]``, ``opacities [B, T|1, N]``, ``colors [B, T|1, N, 3]``."""

    means: Tensor
    quats: Tensor
    scales: Tensor
    opacities: Tensor
    colors: Tensor

    def render(self, c2ws: Tensor, intrs: Tensor, backgrounds: Tensor | None, width: int, height: int,
               backend: str = "auto") -> tuple[Tensor, Tensor]:
        """Frame ``t`` seen by camera ``t``, LAM's layout: ``c2ws [B, T, 4, 4]`` (OpenCV axes),
        ``intrs [B, T, 3|4, 3|4]`` pixel intrinsics, ``backgrounds [B, T, 3]`` (None: black).
        Returns ``(images [B, T, H, W, 3], alphas [B, T, H, W, 1])``."""
        b, t = self.means.shape[:2]
        if c2ws.shape != (b, t, 4, 4):
            raise ShapeError(f"render_c2ws must be [{b}, {t}, 4, 4] (one camera per frame), got {tuple(c2ws.shape)}")
        if intrs.dim() != 4 or intrs.shape[:2] != (b, t) or intrs.shape[-2] < 3 or intrs.shape[-1] < 3:
            raise ShapeError(f"render_intrs must be [{b}, {t}, 3|4, 3|4], got {tuple(intrs.shape)}")
        viewmats = torch.linalg.inv(c2ws.to(self.means.dtype))[:, :, None]
        ks = intrs[..., :3, :3].to(self.means.dtype)[:, :, None]
        bg = None if backgrounds is None else backgrounds.to(self.means.dtype)[:, :, None]
        images, alphas = rasterize(self.means, self.quats, self.scales, self.opacities, self.colors, viewmats, ks,
                                   width=int(width), height=int(height), backgrounds=bg, backend=backend)
        return images[:, :, 0], alphas[:, :, 0]


@dataclass
class GaussianAvatar:
    """Canonical Gaussians of ``B`` avatars bound to a template (see the module docstring)."""

    offsets: Tensor
    colors: Tensor
    opacities: Tensor
    scales: Tensor
    quats: Tensor
    betas: Tensor
    template: HeadTemplate
    binding: nn.Module

    def __post_init__(self) -> None:
        b = self.betas.shape[0]
        n = self.binding.num_gaussians
        for name, channels in ATTRIBUTES.items():
            value = getattr(self, name)
            tail = () if channels is None else (channels,)
            shape = tuple(value.shape)
            # [B, N, *tail] or [B, T, N, *tail]
            if shape not in ((b, n, *tail),) and not (len(shape) == 3 + len(tail) and shape[0] == b
                                                       and shape[2:] == (n, *tail)):
                expected = f"[{b}, (T,) {n}" + (f", {channels}]" if channels else "]")
                raise ShapeError(f"GaussianAvatar.{name} must be {expected}, got {tuple(value.shape)}")

    @property
    def batch_size(self) -> int:
        return int(self.betas.shape[0])

    @property
    def num_gaussians(self) -> int:
        return self.binding.num_gaussians

    def attributes(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in ATTRIBUTES}

    def replace(self, **changes) -> "GaussianAvatar":
        """A copy with some attributes replaced (checked)."""
        return replace(self, **changes)

    def detach(self) -> "GaussianAvatar":
        return self.replace(**{k: v.detach() for k, v in self.attributes().items()}, betas=self.betas.detach())

    def _framed(self, name: str, frames: int) -> Tensor:
        """``[B, T|1, N, C]`` view of an attribute."""
        value = getattr(self, name)
        per_frame = value.dim() == (4 if ATTRIBUTES[name] else 3)
        if per_frame and value.shape[1] not in (1, frames):
            raise ShapeError(f"the avatar's {name} has {value.shape[1]} frames, the driving sequence {frames}")
        return value if per_frame else value[:, None]

    def canonical(self) -> PosedGaussians:
        """The avatar at rest (identity shape, no expression, no pose): one frame."""
        anchors, frames = self.binding.rest(self.template, self.betas, self.batch_size)
        return self._place(anchors[:, None], frames[:, None])

    def animate(self, flame_params: Mapping[str, Tensor]) -> PosedGaussians:
        """Pose the Gaussians for a driven sequence (``betas`` of ``flame_params`` are replaced by the
        avatar's own): ``PosedGaussians`` with ``means [B, T, N, 3]``."""
        params = dict(flame_params)
        params["betas"] = self.betas
        anchors, frames = self.binding.pose(self.template, params)
        return self._place(anchors, frames)

    def _place(self, anchors: Tensor, frames: Tensor) -> PosedGaussians:
        t = anchors.shape[1]
        offsets = self._framed("offsets", t)
        means = anchors + torch.einsum("btnij,btnj->btni", frames, offsets.expand(-1, t, -1, -1))
        local = quat_to_rotmat(self._framed("quats", t))
        quats = matrix_to_quat(frames @ local)
        return PosedGaussians(means=means, quats=quats, scales=self._framed("scales", t),
                              opacities=self._framed("opacities", t), colors=self._framed("colors", t))


def blend_avatars(avatars: Sequence[GaussianAvatar], weights: Tensor, normalise: bool = True) -> GaussianAvatar:
    """Per-frame avatar from ``K`` keyframe avatars and ``weights [B, T, K]``: every attribute becomes
    ``sum_k w[b, t, k] * attribute_k`` ``[B, T, N, C]`` (quaternions re-normalised), so appearance can
    change along a sequence without rebuilding the avatar per frame. ``normalise``: divide each row
    by its sum first (rows that already sum to one, possibly with negative entries, need not be)."""
    if not avatars:
        raise ShapeError("blend_avatars needs at least one avatar")
    first = avatars[0]
    if weights.dim() != 3 or weights.shape[0] != first.batch_size or weights.shape[2] != len(avatars):
        raise ShapeError(f"weights must be [{first.batch_size}, T, {len(avatars)}], got {tuple(weights.shape)}")
    for a in avatars[1:]:
        if a.binding is not first.binding or a.batch_size != first.batch_size:
            raise ShapeError("blend_avatars: the avatars must come from one backbone and one batch")
    w = weights / weights.sum(-1, keepdim=True).clamp_min(1e-12) if normalise else weights
    blended = {}
    for name, channels in ATTRIBUTES.items():
        stack = torch.stack([a._framed(name, w.shape[1]).expand(-1, w.shape[1], *([-1] * (2 if channels else 1)))
                             for a in avatars], dim=-1)  # [B, T, N, (C,) K]
        ww = w[:, :, None, None, :] if channels else w[:, :, None, :]
        blended[name] = (stack * ww.to(stack.dtype)).sum(-1)
    blended["quats"] = F.normalize(blended["quats"], dim=-1)
    return first.replace(**blended)

