"""The synthetic world's head model: one shared, cached
:class:`~emoctl.synthetic.head_model.SyntheticFLAME` head (optionally subdivided).

Building the procedural head takes a second or two and one midpoint subdivision about as long, and
every part of the world (identities, reenactor, appearance cues) needs the same head, so it is
built once per ``(seed, subdivide)`` and process, and shared. Callers must treat the returned
:class:`~emoctl.flame.FlameModelData` as read-only.
"""

from __future__ import annotations

import functools

import torch

from emoctl.errors import ShapeError
from emoctl.flame import FlameModelData, subdivide
from emoctl.synthetic.head_model import make_synthetic_flame

#: Highest subdivision level the world supports: 0 (about 4,900 vertices), 1 (about 19,500) or 2
#: (about 78,000).
MAX_SUBDIVIDE = 2


def check_head_args(head_seed: object, subdivide_times: object) -> tuple[int, int]:
    """``(head_seed, subdivide)`` as ints after checking them (``ShapeError`` naming the bad one)."""
    if isinstance(head_seed, bool) or not isinstance(head_seed, int) or head_seed < 0:
        raise ShapeError(f"head_seed must be a non-negative int, got {head_seed!r}")
    if isinstance(subdivide_times, bool) or not isinstance(subdivide_times, int) or not 0 <= subdivide_times <= MAX_SUBDIVIDE:
        raise ShapeError(f"subdivide must be an int in [0, {MAX_SUBDIVIDE}], got {subdivide_times!r}")
    return int(head_seed), int(subdivide_times)


@functools.lru_cache(maxsize=4)
def _cached_head(head_seed: int, subdivide_times: int) -> FlameModelData:
    """Level 0 is the procedural head; level ``n`` subdivides the cached level ``n - 1`` once."""
    if subdivide_times == 0:
        return make_synthetic_flame(seed=head_seed)
    return subdivide(_cached_head(head_seed, subdivide_times - 1), 1)


def synthetic_head(head_seed: int = 0, subdivide_times: int = 1) -> FlameModelData:
    """The synthetic FLAME-compatible head for ``head_seed``, midpoint-subdivided ``subdivide_times``
    times (cached; do not modify it in place)."""
    return _cached_head(*check_head_args(head_seed, subdivide_times))


def same_head(a: FlameModelData, b: FlameModelData) -> bool:
    """Whether ``a`` and ``b`` are the same head (the same object, or equal rest mesh and faces)."""
    if a is b:
        return True
    return a.num_vertices == b.num_vertices and torch.equal(a.faces, b.faces) and torch.equal(a.v_template, b.v_template)
