"""Layer 3: the appearance modulator, emotion tokens of the backbone's token width ``[B, k, D]``."""

from emoctl.appearance.modulator import APPEARANCE_MODES, AppearanceModulator

__all__ = ["APPEARANCE_MODES", "AppearanceModulator"]
