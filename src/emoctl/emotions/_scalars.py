"""Plain Python numbers from the scalar types users pass as emotion ids, weights and factors.

Python ints and floats, numpy scalars (``np.int64(1)``, ``np.float32(0.5)``), 0-d numpy arrays
and 0-d tensors are all accepted wherever a number is; bools, complex numbers and anything else
are refused with :class:`~emoctl.errors.EmotionLabelError` naming the type.
"""

from __future__ import annotations

import math
import numbers

from emoctl.errors import EmotionLabelError


def plain_scalar(value):
    """``value.item()`` for a numpy scalar, 0-d array or 0-d tensor; anything else unchanged.

    The result keeps its kind (a bool stays a bool, a complex stays complex), so callers refuse
    those exactly as they refuse the Python types.
    """
    if isinstance(value, (bool, int, float, str)):
        return value
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return value.item()
    return value


def integer_or_none(value) -> int | None:
    """``value`` as an int when it is an integer scalar (bools excluded), else ``None``."""
    plain = plain_scalar(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Integral):
        return None
    return int(plain)


def real_number(value, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a finite float in ``[low, high]``; otherwise :class:`EmotionLabelError`
    saying ``what`` must be such a number and what was given."""
    plain = plain_scalar(value)
    number = math.nan
    if isinstance(plain, numbers.Real) and not isinstance(plain, bool):
        try:
            number = float(plain)
        except OverflowError:  # an int or Fraction beyond the float range
            number = math.inf
    if not (math.isfinite(number) and low <= number <= high):
        wanted = "a finite real number" if (low, high) == (-math.inf, math.inf) else f"a number in [{low:g}, {high:g}]"
        raise EmotionLabelError(f"{what} must be {wanted}, got {describe(value)}")
    return number


def describe(value) -> str:
    """``value`` for an error message, with its type (and dtype, for arrays and tensors)."""
    dtype = getattr(value, "dtype", None)
    kind = type(value).__name__
    if dtype is not None and str(dtype) != kind:
        kind += f" of dtype {dtype}"
    text = repr(value)
    return f"{kind} {text if len(text) <= 80 else text[:77] + '...'}"
