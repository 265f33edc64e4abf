"""Layer 2: the geometry modulator, acting on FLAME expression + jaw sequences ``[B, T, 103]``."""

from emoctl.geometry.flame_sequence import pack_expression_jaw, unpack_expression_jaw
from emoctl.geometry.modulator import GeometryModulator

__all__ = ["GeometryModulator", "pack_expression_jaw", "unpack_expression_jaw"]
