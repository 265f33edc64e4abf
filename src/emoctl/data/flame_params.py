"""FLAME parameter sequences as plain ``dict[str, torch.Tensor]`` in LAM's naming, and their validator.

A *FLAME sequence* of ``T`` frames holds the per-frame entries of :mod:`emoctl.flame_schema`
(``expr [T, E]``, ``jaw_pose [T, 3]``, ..., without a batch axis) and optionally ``betas [S]``;
the schema there is the one definition of the keys and sizes. The dataset's default schema is
FLAME's (E = 100, S = 300); pass ``schema=FlameSchema(expression_dim=...)`` for another size.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from emoctl.flame_schema import FLAME_SCHEMA, IDENTITY_KEYS, FlameSchema

#: Per-frame entries of a FLAME sequence and their trailing sizes (the default schema's).
FLAME_FRAME_KEYS: dict[str, int] = FLAME_SCHEMA.frame_sizes()
#: Per-identity entries (no frame axis) and their sizes (the default schema's).
FLAME_IDENTITY_KEYS: dict[str, int] = FLAME_SCHEMA.identity_sizes()

FlameSequence = dict[str, torch.Tensor]


def validate_flame_sequence(
    seq: Mapping[str, torch.Tensor],
    *,
    num_frames: int | None = None,
    name: str = "FLAME sequence",
    require_finite: bool = True,
    schema: FlameSchema = FLAME_SCHEMA,
) -> int:
    """Check a FLAME sequence and return its frame count ``T`` (:meth:`FlameSchema.validate_sequence`).

    Every per-frame key must be a floating tensor ``[T, D]`` with one common ``T`` (equal to
    ``num_frames`` when given); ``betas`` is optional and ``[S]``; other keys are refused (a typo
    such as ``exp`` for ``expr`` would otherwise pass unnoticed). ``name`` is put in every message
    so the caller can say which clip the sequence came from.
    """
    return schema.validate_sequence(seq, num_frames=num_frames, name=name, require_finite=require_finite)


def as_flame_sequence(
    seq: Mapping[str, object], *, name: str = "FLAME sequence", schema: FlameSchema = FLAME_SCHEMA
) -> FlameSequence:
    """A validated copy of ``seq`` with every entry a contiguous ``float32`` CPU tensor (numpy accepted)."""
    out: FlameSequence = {}
    for key, value in seq.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value))
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            value = value.detach().to(device="cpu", dtype=torch.float32).contiguous()
        out[key] = value  # type: ignore[assignment]
    schema.validate_sequence(out, name=name)
    return out


def slice_flame_sequence(seq: Mapping[str, torch.Tensor], index: slice | torch.Tensor) -> FlameSequence:
    """The frames ``index`` of every per-frame entry; per-identity entries (``betas``) are kept as they are."""
    return {k: (v if k in IDENTITY_KEYS else v[index]) for k, v in seq.items()}
