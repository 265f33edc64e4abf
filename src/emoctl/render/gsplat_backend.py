"""The gsplat (CUDA) backend of :func:`emoctl.render.rasterize`.

``gsplat`` is imported inside the function, and only for CUDA tensors: on a machine with a CUDA
toolkit, calling gsplat on CPU tensors could start a JIT compilation of its kernels.
The PyTorch rasterizer follows gsplat 1.5's conventions (:mod:`emoctl.render.conventions`);
gsplat releases before 1.5 bound Gaussians with an isotropic 3-sigma radius instead of the
opacity-aware box, so pixels near the edge of a Gaussian's tile range may differ slightly, and
gsplat's main branch (after 1.5) clamps alpha at 0.99 instead of 0.999.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from emoctl.render.conventions import EPS2D, TILE_SIZE
from emoctl.render.errors import MissingDependencyError
from emoctl.render.validation import RasterizeInputs

#: gsplat versions whose conventions the PyTorch backend reproduces exactly.
MATCHED_GSPLAT = (1, 5)

_warned_version = False


def _check_version(version: str) -> None:
    global _warned_version
    try:
        major_minor = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return
    if major_minor != MATCHED_GSPLAT and not _warned_version:
        _warned_version = True
        warnings.warn(
            f"gsplat {version} is installed; emoctl's PyTorch rasterizer reproduces gsplat "
            f"{MATCHED_GSPLAT[0]}.{MATCHED_GSPLAT[1]}.x, so the two backends may differ slightly "
            "(bounding boxes, alpha clamp)",
            stacklevel=3,
        )


def rasterize_gsplat(inputs: RasterizeInputs) -> tuple[Tensor, Tensor]:
    """Render validated CUDA inputs with ``gsplat.rasterization`` (classic mode, pinhole).

    gsplat's kernels work in float32: float64 inputs are cast to float32 for the call and the
    outputs cast back (gradients flow through the casts).

    The caller (:func:`emoctl.render.rasterize`, the one place that checks the device and
    whether gsplat is installed) only calls this for CUDA tensors with gsplat installed.

    Returns:
        ``(images [B, C, H, W, D], alphas [B, C, H, W, 1])``.
    """
    try:
        import gsplat
    except ImportError as exc:  # installed (the caller checked) but broken
        raise MissingDependencyError(f"gsplat is installed but cannot be imported ({exc})") from exc
    _check_version(getattr(gsplat, "__version__", ""))

    dtype = inputs.means.dtype
    f32 = (lambda t: t.float()) if dtype != torch.float32 else (lambda t: t)
    bg = None if inputs.backgrounds is None else f32(inputs.backgrounds)
    images, alphas, _meta = gsplat.rasterization(
        means=f32(inputs.means),
        quats=f32(inputs.quats),
        scales=f32(inputs.scales),
        opacities=f32(inputs.opacities),
        colors=f32(inputs.colors),
        viewmats=f32(inputs.viewmats),
        Ks=f32(inputs.Ks),
        width=inputs.width,
        height=inputs.height,
        near_plane=inputs.near_plane,
        far_plane=inputs.far_plane,
        radius_clip=0.0,
        eps2d=EPS2D,
        sh_degree=None,
        tile_size=TILE_SIZE,
        backgrounds=bg,
        render_mode="RGB",
        rasterize_mode="classic",
        camera_model="pinhole",
    )
    return images.to(dtype), alphas.to(dtype)
