"""emoctl: explicit emotion control for feed-forward single-image 3D Gaussian head avatars.

    ctl = emoctl.wrap(model, emotions=7)
    with ctl.emotion("happy"):
        out = model.infer_single_view(...)

Sub-packages with heavier dependencies (``emoctl.render``, ``emoctl.flame``, ``emoctl.data``)
are imported on first use, not here.
"""

from emoctl._version import __version__
from emoctl.appearance import AppearanceModulator
from emoctl.controller import EmotionController, controller_of, unwrap, wrap
from emoctl.emotions import EMOTIONS, Emotion, EmotionEmbedding, Vocabulary, emotion_curve, interpolate
from emoctl.errors import (
    AlreadyWrappedError,
    CheckpointError,
    EmoctlError,
    EmotionLabelError,
    NoMatchingAdapterError,
    NonFiniteError,
    NotWrappedError,
    ShapeError,
    UnknownEmotionError,
)
from emoctl.geometry import GeometryModulator
from emoctl.config import ModulatorConfig
from emoctl.modulators import EmotionModulators

__all__ = [
    "EMOTIONS",
    "AlreadyWrappedError",
    "AppearanceModulator",
    "CheckpointError",
    "EmoctlError",
    "Emotion",
    "EmotionController",
    "EmotionEmbedding",
    "EmotionLabelError",
    "EmotionModulators",
    "GeometryModulator",
    "ModulatorConfig",
    "NoMatchingAdapterError",
    "NonFiniteError",
    "NotWrappedError",
    "ShapeError",
    "UnknownEmotionError",
    "Vocabulary",
    "__version__",
    "controller_of",
    "emotion_curve",
    "interpolate",
    "unwrap",
    "wrap",
]
