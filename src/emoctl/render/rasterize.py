"""The public rasterization entry point: validation, backend choice, the PyTorch pipeline."""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

from emoctl.render.compositing import (
    DEFAULT_CHUNK_BUDGET,
    DEFAULT_SAVE_BYTES,
    DEFAULT_SEGMENT,
    composite,
)
from emoctl.render.errors import BackendUnavailableError, MissingDependencyError
from emoctl.render.projection import project_gaussians
from emoctl.render.tiles import bin_gaussians
from emoctl.render.validation import RasterizeInputs, validate_inputs

#: Side in pixels of the blocks the PyTorch rasterizer composites (divides the 16-pixel tile).
DEFAULT_BLOCK_SIZE = 8


def gsplat_available() -> bool:
    """True when the ``gsplat`` package is installed (it is not imported here)."""
    return importlib.util.find_spec("gsplat") is not None


def rasterize(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    backgrounds: Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Render 3D Gaussians into pinhole cameras (differentiable).

    The conventions are those of ``gsplat.rasterization`` in classic mode (see
    :mod:`emoctl.render.conventions`), so both backends give the same images.

    Args:
        means: ``[..., N, 3]`` world positions.
        quats: ``[..., N, 4]`` rotations as ``(w, x, y, z)``. Quaternions are **normalised**
            (any non-zero norm is accepted, as in gsplat); an all-zero quaternion raises
            :class:`~emoctl.errors.NonFiniteError`.
        scales: ``[..., N, 3]`` standard deviations along the Gaussian's axes (the covariance
            uses their squares; zero is allowed and gives a flat Gaussian).
        opacities: ``[..., N]``, normally in ``[0, 1]``.
        colors: ``[..., N, D]`` any number of channels ``D >= 1``.
        viewmats: ``[..., C, 4, 4]`` world-to-camera matrices, OpenCV axes (x right, y down,
            z forward).
        Ks: ``[..., C, 3, 3]`` pinhole intrinsics in pixels (pixel ``(i, j)`` is sampled at
            ``(j + 0.5, i + 0.5)``).
        width, height: image size in pixels.
        backgrounds: optional ``[..., C, D]`` (or anything broadcastable to it, e.g. ``[D]``)
            colour blended behind the Gaussians: ``image = sum + (1 - alpha) * background``.
        near_plane, far_plane: Gaussians whose camera-space depth is outside this range are
            culled.
        backend: ``"auto"`` (gsplat for CUDA tensors when it is installed, else PyTorch),
            ``"torch"`` (the PyTorch rasterizer, any device) or ``"gsplat"`` (CUDA tensors only).

    Leading batch dimensions ``...`` of all tensors broadcast together (batched avatars), and
    ``C`` cameras are rendered per batch element.

    Returns:
        ``(images [..., C, H, W, D], alphas [..., C, H, W, 1])``.

    Raises:
        ShapeError: bad shapes, non-floating or mixed dtypes, mixed devices.
        NonFiniteError: NaN or infinite values, or a zero quaternion.
        RenderArgumentError: bad width, height, clipping planes or backend name.
        BackendUnavailableError: ``backend="gsplat"`` with tensors that are not on CUDA.
        MissingDependencyError: ``backend="gsplat"`` without the gsplat package.
    """
    inputs = validate_inputs(means, quats, scales, opacities, colors, viewmats, Ks, width,
                             height, backgrounds, near_plane, far_plane, backend)
    device = inputs.means.device
    if backend == "gsplat":
        # The device first: on CPU, gsplat is neither looked up nor imported.
        if device.type != "cuda":
            raise BackendUnavailableError(
                f"backend='gsplat' needs CUDA tensors, got tensors on {device}; use "
                "backend='torch' (or 'auto') to render on this device"
            )
        if not gsplat_available():
            raise MissingDependencyError(
                "backend='gsplat' needs the gsplat package: pip install \"emoctl[gsplat]\""
            )
    use_gsplat = backend == "gsplat" or (
        backend == "auto" and device.type == "cuda" and gsplat_available()
    )
    if use_gsplat:
        from emoctl.render.gsplat_backend import rasterize_gsplat

        images, alphas = rasterize_gsplat(inputs)
    else:
        images, alphas = rasterize_torch(inputs)
    c, h, w = inputs.num_cameras, inputs.height, inputs.width
    return (
        images.reshape(inputs.batch + (c, h, w, inputs.channels)),
        alphas.reshape(inputs.batch + (c, h, w, 1)),
    )


def rasterize_torch(
    inputs: RasterizeInputs,
    block_size: int = DEFAULT_BLOCK_SIZE,
    chunk_budget: int = DEFAULT_CHUNK_BUDGET,
    segment: int = DEFAULT_SEGMENT,
    save_bytes: int = DEFAULT_SAVE_BYTES,
) -> tuple[Tensor, Tensor]:
    """The PyTorch rasterizer on validated inputs.

    ``block_size``, ``chunk_budget``, ``segment`` and ``save_bytes`` trade speed for memory
    (see :func:`emoctl.render.compositing.composite`); they never change the result.

    Returns:
        ``(images [B, C, H, W, D], alphas [B, C, H, W, 1])``.
    """
    b, c, n, d = inputs.means.shape[0], inputs.num_cameras, inputs.num_gaussians, inputs.channels
    width, height = inputs.width, inputs.height
    proj = project_gaussians(inputs.means, inputs.quats, inputs.scales, inputs.opacities,
                             inputs.viewmats, inputs.Ks, width, height,
                             inputs.near_plane, inputs.far_plane)
    flat_valid = proj.valid.reshape(-1)  # over [B, C, N]
    index = flat_valid.nonzero().squeeze(-1)
    batch_of = torch.div(index, c * n, rounding_mode="floor")
    gauss_of = index % n
    image_of = torch.div(index, n, rounding_mode="floor")  # b * C + c

    means2d = proj.means2d.reshape(-1, 2).index_select(0, index)
    conics = proj.conics.reshape(-1, 3).index_select(0, index)
    opacities = inputs.opacities[batch_of, gauss_of]
    colors = inputs.colors[batch_of, gauss_of]

    plan = bin_gaussians(
        means2d.detach(),
        proj.radii.reshape(-1, 2).index_select(0, index),
        proj.extents.reshape(-1, 2).index_select(0, index),
        proj.depths.reshape(-1).index_select(0, index),
        image_of,
        b * c,
        width,
        height,
        block_size,
    )
    out = composite(means2d, conics, opacities, colors, plan, chunk_budget, segment, save_bytes)
    out = out[:, :height, :width].reshape(b, c, height, width, d + 1)
    images, alphas = out[..., :d], out[..., d:]
    if inputs.backgrounds is not None:
        bg = inputs.backgrounds[:, :, None, None, :]  # [B, C, 1, 1, D]
        images = images + (1.0 - alphas) * bg
    return images, alphas
