"""Argument checks shared by layers (the render helpers, the media writers)."""

from __future__ import annotations

import operator

from emoctl.errors import RenderArgumentError


def int_at_least(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``: Python ints, numpy integers and 0-d integer tensors
    are accepted, bools and everything else raise :class:`~emoctl.errors.RenderArgumentError`."""
    kind = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
    if isinstance(value, bool):
        raise RenderArgumentError(f"{name} must be {kind}, got {value!r}")
    try:
        number = operator.index(value)  # int, numpy ints, 0-d integer tensors
    except TypeError:
        raise RenderArgumentError(
            f"{name} must be {kind}, got {type(value).__name__} {value!r}"
        ) from None
    if number < minimum:
        raise RenderArgumentError(f"{name} must be {kind}, got {number}")
    return number
