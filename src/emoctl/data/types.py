"""The builder's inputs and outputs: anchors, identities, reenacted clips, and the pluggable protocols.

These names are a contract with reenactors and trackers written elsewhere (the synthetic reenactor,
a user's X-NeMo or tracking wrapper): keep them stable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from emoctl.data.cameras import CameraRig
from emoctl.data.flame_params import FLAME_IDENTITY_KEYS, FlameSequence, as_flame_sequence, slice_flame_sequence
from emoctl.errors import DataError, NonFiniteError, ShapeError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def is_safe_id(value: object) -> bool:
    """Whether ``value`` is a safe file name (letters, digits, ``.``, ``_``, ``-``; starts alphanumeric; <= 128)."""
    return isinstance(value, str) and _SAFE_ID.match(value) is not None


def check_safe_id(value: object, what: str) -> str:
    """``value`` if it is a safe file name (:func:`is_safe_id`), else :class:`DataError` naming ``what``."""
    if not is_safe_id(value):
        raise DataError(
            f"{what} {value!r} is not a safe file name: use 1-128 characters from [A-Za-z0-9._-], "
            "starting with a letter or digit"
        )
    return value


def check_json_able(value: object, what: str) -> None:
    try:
        json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be JSON-able (str/int/float/bool/None/list/dict): {exc}") from None


def as_timestamps(value: object, num_frames: int | None, what: str) -> torch.Tensor:
    """``value`` as a float64 ``[T]`` tensor of finite, strictly increasing seconds."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    elif isinstance(value, (list, tuple)):
        try:
            value = torch.tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ShapeError(f"{what}: expected a [T] list of seconds ({exc})") from None
    if not isinstance(value, torch.Tensor):
        raise ShapeError(f"{what}: expected a [T] tensor of seconds, got {type(value).__name__}")
    value = value.detach().to(device="cpu", dtype=torch.float64).contiguous()
    expected = f"[{num_frames}]" if num_frames is not None else "[T]"
    if value.dim() != 1 or (num_frames is not None and value.shape[0] != num_frames):
        raise ShapeError(f"{what}: expected shape {expected}, got {list(value.shape)}")
    if not torch.isfinite(value).all():
        raise NonFiniteError(f"{what} contains NaN or infinite values")
    if value.numel() > 1 and not bool((value[1:] > value[:-1]).all()):
        raise DataError(f"{what} must be strictly increasing")
    return value


#: How far a row of an emotion curve may sum from one (float32 rounding of the weights).
CURVE_SUM_TOLERANCE = 1e-4


def as_emotion_curve(value: object, num_frames: int | None, num_emotions: int | None, what: str) -> torch.Tensor:
    """``value`` (a tensor, array or nested list) as float32 ``[T, K]`` per-frame emotion weights.

    The weights are over the whole vocabulary, neutral included (column 0), as
    :func:`emoctl.emotions.emotion_curve` makes them: finite, non-negative, every row summing to one
    (within :data:`CURVE_SUM_TOLERANCE`). ``num_frames`` / ``num_emotions`` fix ``T`` / ``K`` when given.
    """
    if isinstance(value, (list, tuple)):
        try:
            value = torch.tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ShapeError(f"{what}: expected a [T, K] table of weights ({exc})") from None
    elif isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ShapeError(f"{what}: expected a [T, K] float tensor of weights, got {type(value).__name__}")
    value = value.detach().to(device="cpu", dtype=torch.float32).contiguous()
    expected = f"[{num_frames if num_frames is not None else 'T'}, {num_emotions if num_emotions is not None else 'K'}]"
    if (value.dim() != 2 or 0 in value.shape or (num_frames is not None and value.shape[0] != num_frames)
            or (num_emotions is not None and value.shape[1] != num_emotions)):
        raise ShapeError(f"{what}: expected emotion weights of shape {expected}, got {list(value.shape)}")
    if not torch.isfinite(value).all():
        raise NonFiniteError(f"{what}: the emotion weights contain NaN or infinite values")
    if (value < 0).any():
        raise DataError(f"{what}: emotion weights must be >= 0; frame {int((value < 0).any(1).nonzero()[0])} "
                        f"has {float(value.min()):g}")
    off = (value.double().sum(1) - 1.0).abs()
    if (off > CURVE_SUM_TOLERANCE).any():
        frame = int(off.argmax())
        raise DataError(f"{what}: the emotion weights of every frame must sum to one (neutral included); frame "
                        f"{frame} sums to {float(value[frame].double().sum()):g}")
    return value


@dataclass
class AnchorCurve:
    """An anchor performed with an emotion that changes over the clip.

    ``weights [T, K]``: per-frame weights over the dataset's vocabulary in its order (neutral
    first; see :func:`as_emotion_curve`); ``flame``: the anchor's FLAME sequence of ``T`` frames
    performed with those weights (same timing as the anchor's emotions).
    """

    weights: torch.Tensor
    flame: FlameSequence

    def __post_init__(self) -> None:
        self.flame = as_flame_sequence(self.flame, name="curve FLAME sequence")
        frames = int(self.flame["expr"].shape[0])
        self.weights = as_emotion_curve(self.weights, frames, None, "AnchorCurve.weights")

    def _select(self, index: torch.Tensor) -> "AnchorCurve":
        return AnchorCurve(self.weights[index], slice_flame_sequence(self.flame, index))


@dataclass
class AnchorClip:
    """One anchor sequence: the same sentence spoken with identical timing in every emotion.

    ``emotions`` maps every emotion name of the vocabulary to a FLAME sequence of ``T`` frames (the
    same ``T`` for all: frame-synchronised); ``timestamps [T]`` in seconds; ``cameras`` the rig the
    anchor was captured or is to be rendered with; ``meta`` JSON-able (sentence, phoneme timing, ...);
    ``curves``: optional performances whose emotion changes over the clip (name -> :class:`AnchorCurve`
    of ``T`` frames; names are safe ids, e.g. ``curve-0``), built as clips when the dataset config asks
    for them (``DatasetConfig.curve_clips``).
    """

    anchor_id: str
    fps: float
    emotions: dict[str, FlameSequence]
    timestamps: torch.Tensor
    cameras: CameraRig
    meta: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, AnchorCurve] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_safe_id(self.anchor_id, "anchor id")
        what = f"anchor {self.anchor_id!r}"
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not self.fps > 0:
            raise DataError(f"{what}: fps must be a positive number, got {self.fps!r}")
        self.fps = float(self.fps)
        if not isinstance(self.emotions, dict) or not self.emotions:
            raise DataError(f"{what}: emotions must be a non-empty dict of emotion name -> FLAME sequence")
        if not isinstance(self.cameras, CameraRig):
            raise DataError(f"{what}: cameras must be a CameraRig, got {type(self.cameras).__name__}")
        check_json_able(self.meta, f"{what}: meta")
        seqs = {}
        lengths = {}
        for emotion, seq in self.emotions.items():
            seqs[emotion] = as_flame_sequence(seq, name=f"{what}, emotion {emotion!r}")
            lengths[emotion] = int(seqs[emotion]["expr"].shape[0])
        if len(set(lengths.values())) != 1:
            raise DataError(f"{what}: emotions have unequal frame counts {lengths}; anchors must be frame-synchronised")
        self.emotions = seqs
        self.timestamps = as_timestamps(self.timestamps, self.num_frames, f"{what}: timestamps")
        if not isinstance(self.curves, dict):
            raise DataError(f"{what}: curves must be a dict of name -> AnchorCurve, got {type(self.curves).__name__}")
        for name, curve in self.curves.items():
            check_safe_id(name, f"{what}: curve name")
            if name in self.emotions:
                raise DataError(f"{what}: curve {name!r} has the name of one of its emotions")
            if not isinstance(curve, AnchorCurve):
                raise DataError(f"{what}: curve {name!r} must be an AnchorCurve, got {type(curve).__name__}")
            if curve.weights.shape[0] != self.num_frames:
                raise DataError(f"{what}: curve {name!r} has {curve.weights.shape[0]} frames, the emotions have "
                                f"{self.num_frames}; anchors must be frame-synchronised")

    @property
    def num_frames(self) -> int:
        return int(next(iter(self.emotions.values()))["expr"].shape[0])

    def _select(self, index: torch.Tensor, timestamps: torch.Tensor, fps: float) -> "AnchorClip":
        return AnchorClip(
            anchor_id=self.anchor_id,
            fps=fps,
            emotions={e: slice_flame_sequence(s, index) for e, s in self.emotions.items()},
            timestamps=timestamps,
            cameras=self.cameras,
            meta=dict(self.meta),
            curves={name: curve._select(index) for name, curve in self.curves.items()},
        )

    def resample(self, fps: float) -> "AnchorClip":
        """The frames nearest to a regular grid at ``fps``, the same frames for every emotion.

        The grid starts at the first timestamp and ends at or before the last one; each grid time
        takes the nearest frame (the earlier one on a tie), so synchronisation is kept. The new
        clip's timestamps are the grid times. Upsampling repeats frames.
        """
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
            raise DataError(f"anchor {self.anchor_id!r}: resample fps must be a positive number, got {fps!r}")
        t = self.timestamps
        count = int(np.floor(float(t[-1] - t[0]) * fps + 1e-6)) + 1
        grid = t[0] + torch.arange(count, dtype=torch.float64) / float(fps)
        right = torch.searchsorted(t, grid).clamp(max=t.numel() - 1)
        left = (right - 1).clamp(min=0)
        take_left = (grid - t[left]) <= (t[right] - grid)
        index = torch.where(take_left, left, right)
        return self._select(index, grid, float(fps))

    def window(self, start: int, length: int) -> "AnchorClip":
        """Frames ``start .. start + length - 1`` of every emotion."""
        if not (0 <= start and length >= 1 and start + length <= self.num_frames):
            raise DataError(
                f"anchor {self.anchor_id!r}: window(start={start}, length={length}) is outside its "
                f"{self.num_frames} frames"
            )
        index = torch.arange(start, start + length)
        return self._select(index, self.timestamps[start : start + length].clone(), self.fps)


@dataclass
class Identity:
    """One identity source image (paper 3.3.2).

    ``reference_image`` uint8 ``[H, W, 3]`` (numpy or torch), ``betas [300]`` or None,
    ``reference_emotion`` the emotion visibly baked into the image when known, ``traits`` JSON-able
    (age, skin tone, ...), ``reference_camera`` a one-view :class:`CameraRig` when known.
    """

    identity_id: str
    reference_image: Any
    betas: torch.Tensor | None = None
    reference_emotion: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    reference_camera: CameraRig | None = None

    def __post_init__(self) -> None:
        check_safe_id(self.identity_id, "identity id")
        what = f"identity {self.identity_id!r}"
        image = self.reference_image
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ShapeError(
                f"{what}: reference_image must be uint8 [H, W, 3], got "
                + (f"{image.dtype} {list(image.shape)}" if isinstance(image, np.ndarray) else type(image).__name__)
            )
        self.reference_image = np.ascontiguousarray(image)
        if self.betas is not None:
            betas = self.betas
            if isinstance(betas, np.ndarray):
                betas = torch.from_numpy(betas)
            size = FLAME_IDENTITY_KEYS["betas"]
            if not isinstance(betas, torch.Tensor) or not betas.is_floating_point() or tuple(betas.shape) != (size,):
                raise ShapeError(f"{what}: betas must be a floating tensor [{size}], got {getattr(betas, 'shape', betas)!r}")
            if not torch.isfinite(betas).all():
                raise NonFiniteError(f"{what}: betas contain NaN or infinite values")
            self.betas = betas.detach().to(device="cpu", dtype=torch.float32).contiguous()
        if self.reference_emotion is not None and not isinstance(self.reference_emotion, str):
            raise DataError(f"{what}: reference_emotion must be a str or None, got {self.reference_emotion!r}")
        check_json_able(self.traits, f"{what}: traits")
        if self.reference_camera is not None:
            if not isinstance(self.reference_camera, CameraRig) or self.reference_camera.num_views != 1:
                raise DataError(f"{what}: reference_camera must be a one-view CameraRig or None")


@dataclass
class ReenactedClip:
    """A reenactor's output for one (identity, anchor, emotion).

    ``frames`` uint8 ``[T, V, H, W, 3]`` (numpy or torch), ``cameras`` the rig of the ``V`` views,
    ``timestamps [T]`` seconds, ``flame`` the ground-truth FLAME sequence when the reenactor knows it.
    The builder checks shapes and names the clip in its errors.
    """

    frames: Any
    cameras: CameraRig
    timestamps: torch.Tensor
    flame: FlameSequence | None = None


@runtime_checkable
class Reenactor(Protocol):
    """Identity image + anchor clip -> frames (paper 3.3.3; X-NeMo in the paper)."""

    name: str

    def config(self) -> dict[str, Any]:
        """JSON-able settings, recorded in the manifest; shards with different settings refuse to merge."""
        ...

    def reenact(self, identity: Identity, anchor: AnchorClip, emotion: str) -> ReenactedClip:
        """The frames of ``identity`` performing ``anchor`` in ``emotion`` (all ``anchor.num_frames`` frames)."""
        ...


@runtime_checkable
class Tracker(Protocol):
    """Frames -> FLAME sequence (paper S1.2.1)."""

    name: str

    def config(self) -> dict[str, Any]:
        """JSON-able settings, recorded in the manifest."""
        ...

    def track(self, clip: ReenactedClip, key: str) -> FlameSequence:
        """The FLAME sequence of ``clip`` (``key`` names the clip: ``identity/anchor/emotion``)."""
        ...
