"""Packing FLAME expression and jaw pose into the geometry modulator's per-frame vector."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from emoctl.errors import ShapeError


def pack_expression_jaw(flame_params: Mapping[str, torch.Tensor], expression_dim: int = 100) -> tuple[torch.Tensor, bool]:
    """``flame_params["expr"]`` and ``["jaw_pose"]`` as one ``[B, T, expression_dim + 3]`` tensor.

    Both may carry a frame axis (``[B, T, E]``, ``[B, T, 3]``) or not (``[B, E]``, ``[B, 3]``);
    the second return value says whether the frame axis was added here. Shapes are checked
    here; finiteness is checked once, by :class:`GeometryModulator`, which every path goes through.
    """
    for key in ("expr", "jaw_pose"):
        if key not in flame_params:
            raise ShapeError(f"flame_params has no {key!r} entry (keys: {sorted(flame_params)})")
    expr, jaw = flame_params["expr"], flame_params["jaw_pose"]
    if not (isinstance(expr, torch.Tensor) and isinstance(jaw, torch.Tensor)):
        raise ShapeError("flame_params['expr'] and ['jaw_pose'] must be tensors")
    added = expr.dim() == 2
    if added:
        expr, jaw = expr.unsqueeze(1), jaw.unsqueeze(1)
    if expr.dim() != 3 or expr.shape[-1] != expression_dim:
        raise ShapeError(
            f"flame_params['expr'] must be [B, {expression_dim}] or [B, T, {expression_dim}], got "
            f"{tuple(flame_params['expr'].shape)}"
        )
    if jaw.shape != (*expr.shape[:2], 3):
        raise ShapeError(
            f"flame_params['jaw_pose'] must be [B, T, 3] matching expr {tuple(expr.shape)}, got "
            f"{tuple(flame_params['jaw_pose'].shape)}"
        )
    return torch.cat([expr, jaw.to(expr.dtype)], dim=-1), added


def unpack_expression_jaw(
    params: torch.Tensor, flame_params: Mapping[str, torch.Tensor], frame_axis_added: bool
) -> dict[str, torch.Tensor]:
    """A shallow copy of ``flame_params`` with ``expr``/``jaw_pose`` taken from ``params [B, T, E+3]``.

    The caller's dict is never modified; the other entries are shared, not copied.
    """
    expr, jaw = params[..., :-3], params[..., -3:]
    if frame_axis_added:
        expr, jaw = expr.squeeze(1), jaw.squeeze(1)
    out = dict(flame_params)
    # contiguous, so the backbone's kernels see the same memory layout as with its own inputs
    out["expr"] = expr.to(flame_params["expr"].dtype).contiguous()
    out["jaw_pose"] = jaw.to(flame_params["jaw_pose"].dtype).contiguous()
    return out
