"""Argument checks for :func:`emoctl.render.rasterize` (cheap: shapes, dtypes, one finiteness
pass per tensor and a single device sync for all of them)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from emoctl._checks import int_at_least
from emoctl.errors import NonFiniteError, ShapeError
from emoctl.render.errors import RenderArgumentError

BACKENDS = ("auto", "torch", "gsplat")


@dataclass
class RasterizeInputs:
    """Validated inputs, broadcast to a common batch shape ``batch`` and flattened to ``B``."""

    batch: tuple[int, ...]
    means: Tensor  # [B, N, 3]
    quats: Tensor  # [B, N, 4]
    scales: Tensor  # [B, N, 3]
    opacities: Tensor  # [B, N]
    colors: Tensor  # [B, N, D]
    viewmats: Tensor  # [B, C, 4, 4]
    Ks: Tensor  # [B, C, 3, 3]
    backgrounds: Tensor | None  # [B, C, D]
    width: int
    height: int
    near_plane: float
    far_plane: float

    @property
    def num_gaussians(self) -> int:
        return self.means.shape[-2]

    @property
    def num_cameras(self) -> int:
        return self.viewmats.shape[-3]

    @property
    def channels(self) -> int:
        return self.colors.shape[-1]


def _check_tensor(t: object, name: str, min_dim: int, tail: tuple[int | None, ...],
                  layout: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor of shape {layout}, got {type(t).__name__}")
    if t.dim() < min_dim:
        raise ShapeError(f"{name} must have shape {layout}, got {tuple(t.shape)}")
    for offset, expected in enumerate(tail):
        actual = t.shape[t.dim() - len(tail) + offset]
        if expected is not None and actual != expected:
            raise ShapeError(f"{name} must have shape {layout}, got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ShapeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    return t


def _check_finite(named: dict[str, Tensor], quats: Tensor) -> None:
    """All tensors finite and no zero quaternion, with one device sync; the offending tensor is
    looked for only when the check fails."""
    tiny = torch.finfo(quats.dtype).tiny
    sq_norm = (quats.detach() * quats.detach()).sum(-1)
    flags = [torch.isfinite(t).all() for t in named.values()]
    flags.append((sq_norm > tiny).all())
    if bool(torch.stack(flags).all()):
        return
    for name, t in named.items():
        if not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise NonFiniteError(
                f"{name} contains {bad} NaN or infinite value(s); all must be finite"
            )
    bad = int((sq_norm <= tiny).sum())
    raise NonFiniteError(
        f"quats has {bad} zero (or vanishingly small) quaternion(s), which cannot be "
        "normalised to a rotation; quaternions of any other norm are normalised"
    )


def validate_inputs(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor,
                    colors: Tensor, viewmats: Tensor, Ks: Tensor, width: object, height: object,
                    backgrounds: Tensor | None, near_plane: float, far_plane: float,
                    backend: str) -> RasterizeInputs:
    """Check every argument of :func:`emoctl.render.rasterize` and broadcast batch dims."""
    if backend not in BACKENDS:
        raise RenderArgumentError(f"backend must be one of {BACKENDS}, got {backend!r}")
    width = int_at_least(width, "width")
    height = int_at_least(height, "height")
    try:
        near, far = float(near_plane), float(far_plane)
    except (TypeError, ValueError):
        raise RenderArgumentError(
            f"near_plane and far_plane must be numbers, got {near_plane!r}, {far_plane!r}"
        ) from None
    if not (near > 0 and far > near):
        raise RenderArgumentError(
            f"need 0 < near_plane < far_plane, got near_plane={near}, far_plane={far}"
        )

    means = _check_tensor(means, "means", 2, (None, 3), "[..., N, 3]")
    quats = _check_tensor(quats, "quats", 2, (None, 4), "[..., N, 4]")
    scales = _check_tensor(scales, "scales", 2, (None, 3), "[..., N, 3]")
    opacities = _check_tensor(opacities, "opacities", 1, (), "[..., N]")
    colors = _check_tensor(colors, "colors", 2, (None, None), "[..., N, D]")
    viewmats = _check_tensor(viewmats, "viewmats", 3, (None, 4, 4), "[..., C, 4, 4]")
    Ks = _check_tensor(Ks, "Ks", 3, (None, 3, 3), "[..., C, 3, 3]")
    named = {"means": means, "quats": quats, "scales": scales, "opacities": opacities,
             "colors": colors, "viewmats": viewmats, "Ks": Ks}  # fmt: skip
    if backgrounds is not None:
        named["backgrounds"] = _check_tensor(backgrounds, "backgrounds", 1, (None,), "[..., C, D]")

    n = means.shape[-2]
    for name, t, axis in (("quats", quats, -2), ("scales", scales, -2),
                          ("opacities", opacities, -1), ("colors", colors, -2)):
        if t.shape[axis] != n:
            raise ShapeError(
                f"{name} has {t.shape[axis]} Gaussians but means has {n} "
                f"(shapes {tuple(t.shape)} and {tuple(means.shape)})"
            )
    c = viewmats.shape[-3]
    if Ks.shape[-3] != c:
        raise ShapeError(
            f"Ks has {Ks.shape[-3]} cameras but viewmats has {c} "
            f"(shapes {tuple(Ks.shape)} and {tuple(viewmats.shape)})"
        )
    d = colors.shape[-1]
    if d < 1:
        raise ShapeError(f"colors must have at least one channel, got shape {tuple(colors.shape)}")
    if backgrounds is not None and backgrounds.shape[-1] != d:
        raise ShapeError(
            f"backgrounds must have {d} channels like colors, got shape {tuple(backgrounds.shape)}"
        )

    dtypes = {t.dtype for t in named.values()}
    if len(dtypes) > 1:
        listing = ", ".join(f"{k}={v.dtype}" for k, v in named.items())
        raise ShapeError(f"all tensors must share one floating dtype, got {listing}")
    devices = {t.device for t in named.values()}
    if len(devices) > 1:
        listing = ", ".join(f"{k}={v.device}" for k, v in named.items())
        raise ShapeError(f"all tensors must be on one device, got {listing}")

    batch_shapes = {"means": means.shape[:-2], "quats": quats.shape[:-2],
                    "scales": scales.shape[:-2], "opacities": opacities.shape[:-1],
                    "colors": colors.shape[:-2], "viewmats": viewmats.shape[:-3],
                    "Ks": Ks.shape[:-3]}  # fmt: skip
    if backgrounds is not None:
        batch_shapes["backgrounds"] = backgrounds.shape[:-2] if backgrounds.dim() >= 2 else ()
        if backgrounds.dim() >= 2 and backgrounds.shape[-2] not in (1, c):
            raise ShapeError(
                f"backgrounds must have shape [..., C, D] with C={c} (or 1), "
                f"got {tuple(backgrounds.shape)}"
            )
    try:
        batch = tuple(torch.broadcast_shapes(*batch_shapes.values()))
    except RuntimeError:
        listing = ", ".join(f"{k}={tuple(v)}" for k, v in batch_shapes.items())
        raise ShapeError(f"leading batch dimensions do not broadcast: {listing}") from None

    _check_finite(named, quats)

    b = 1
    for size in batch:
        b *= size
    flat = (b,)
    bg = None
    if backgrounds is not None:
        bg = backgrounds.broadcast_to(batch + (c, d)).reshape(flat + (c, d))
    return RasterizeInputs(
        batch=batch,
        means=means.broadcast_to(batch + (n, 3)).reshape(flat + (n, 3)),
        quats=quats.broadcast_to(batch + (n, 4)).reshape(flat + (n, 4)),
        scales=scales.broadcast_to(batch + (n, 3)).reshape(flat + (n, 3)),
        opacities=opacities.broadcast_to(batch + (n,)).reshape(flat + (n,)),
        colors=colors.broadcast_to(batch + (n, d)).reshape(flat + (n, d)),
        viewmats=viewmats.broadcast_to(batch + (c, 4, 4)).reshape(flat + (c, 4, 4)),
        Ks=Ks.broadcast_to(batch + (c, 3, 3)).reshape(flat + (c, 3, 3)),
        backgrounds=bg,
        width=width,
        height=height,
        near_plane=near,
        far_plane=far,
    )
