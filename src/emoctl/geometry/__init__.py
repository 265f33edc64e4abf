"""Layer 2: the geometry modulator, acting on FLAME expression + jaw sequences ``[B, T, 103]``.

``pack_expression_jaw`` / ``unpack_expression_jaw`` are re-exported from :mod:`emoctl.flame_schema`.
"""

from emoctl.flame_schema import pack_expression_jaw, unpack_expression_jaw
from emoctl.geometry.modulator import GeometryModulator

__all__ = ["GeometryModulator", "pack_expression_jaw", "unpack_expression_jaw"]
