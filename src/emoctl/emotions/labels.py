"""Parsing emotion labels into coefficient tensors over the non-neutral emotions.

Every way of naming an emotion ends up as *coefficients* ``c`` over the ``K - 1`` non-neutral
emotions of a vocabulary of ``K`` names; the emotion vector is then ``c @ table`` (paper eq. 3-4),
so neutral is exactly zero. Accepted labels:

====================================  ==========================================================
``"happy"``, ``3``                    one emotion for every sample
``{"happy": 0.7, "sad": 0.3}``        a mixture; weights are normalised to sum to one (neutral
                                      counts: ``{"happy": 1, "neutral": 1}`` is half-happy)
``Emotion("happy", intensity=0.5)``   a label with an intensity in ``[0, MAX_INTENSITY]``
                                      (scales the non-neutral part; > 1 extrapolates)
``interpolate("happy", "sad", t)``    ``(1 - t) * happy + t * sad`` in embedding space
``["happy", "sad"]``, int tensor [B]  one emotion per sample
float tensor [K] / [B, K]             weights over the whole vocabulary (global / per sample)
float tensor [B, T, K]                a per-frame curve (see :func:`emotion_curve`)
====================================  ==========================================================

Wherever a number is accepted (ids, weights, intensities, ``t``, frame indices), numpy scalars,
0-d numpy arrays and 0-d tensors are accepted too. Weights are normalised overflow-safely (scaled
by their largest entry before summing), so ``{"happy": 1e308, "sad": 1e308}`` is half-and-half.
Bools, complex numbers and complex/bool tensors are refused with :class:`EmotionLabelError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Union

import torch

from emoctl.emotions._scalars import describe, integer_or_none, plain_scalar, real_number
from emoctl.emotions.vocabulary import EMOTIONS, Vocabulary
from emoctl.errors import EmotionLabelError, ShapeError, UnknownEmotionError

LabelKind = Literal["global", "per_sample", "per_frame"]
_KIND_DIMS = {"global": 1, "per_sample": 2, "per_frame": 3}

#: The largest accepted intensity (and the largest total non-neutral weight of any label).
#: The paper's intensities lie in [0, 1], and values a little above 1 exaggerate an emotion
#: (1.5 is a sensible "exaggerated"). The coefficients scale the emotion vector linearly, so
#: 10 is already ten times anything a modulator was trained on; the bound is that generous so
#: that experiments are never cut short, while a percentage typed as ``50`` or a runaway value
#: such as ``1e30`` (which overflows the attention to NaN) fails here with a clear message.
MAX_INTENSITY = 10.0


@dataclass(frozen=True)
class Emotion:
    """A vocabulary-independent emotion: a name, an id or a weighted mixture, with an intensity.

    ``Emotion("happy")``, ``Emotion({"happy": 0.5, "sad": 0.5})``, ``Emotion("angry", 0.3)``.
    ``intensity`` is in ``[0, MAX_INTENSITY]`` (see :data:`MAX_INTENSITY`); ids and intensities
    may be numpy scalars or 0-d arrays/tensors and are stored as ``int`` / ``float``. A mixture's
    weights are checked here, so a bad one fails at construction.
    """

    label: Union[str, int, Mapping]
    intensity: float = 1.0

    def __post_init__(self):
        label = self.label
        if isinstance(label, Emotion):
            raise EmotionLabelError("Emotion(...) of an Emotion: pass its .label instead")
        if isinstance(label, Mapping):
            _normalised_weights(label)  # a bad mixture fails here, not at first use
        elif not isinstance(label, str):
            emotion_id = integer_or_none(label)
            if emotion_id is None:
                raise EmotionLabelError(
                    f"Emotion label must be a name, an id or a {{name: weight}} mapping, got {describe(label)}"
                )
            object.__setattr__(self, "label", emotion_id)
        intensity = real_number(self.intensity, "intensity", 0.0)
        if intensity > MAX_INTENSITY:
            raise EmotionLabelError(
                f"intensity {intensity:g} is above the bound emoctl.emotions.MAX_INTENSITY = {MAX_INTENSITY:g}: "
                f"the modulators are trained on intensities in [0, 1] and values a little above 1 exaggerate"
            )
        object.__setattr__(self, "intensity", intensity)


def interpolate(a, b, t: float) -> Emotion:
    """The emotion ``(1 - t) * a + t * b``, mixed in embedding space (paper 5.2).

    ``a`` and ``b`` are names, ids, mappings or :class:`Emotion` objects; ``t = 0`` gives exactly
    ``a`` and ``t = 1`` exactly ``b``. FLAME parameters are never interpolated.
    """
    t = real_number(t, "interpolation factor", 0.0, 1.0)
    wa, ia = _as_weighted(a)
    wb, ib = _as_weighted(b)
    # Each side enters with its own intensity; the mixture's weights then sum to the blended
    # intensity, so normalising them and scaling by it gives exactly (1 - t) * a + t * b.
    mixed: dict = {}
    for key, w in wa.items():
        mixed[key] = mixed.get(key, 0.0) + (1.0 - t) * ia * w
    for key, w in wb.items():
        mixed[key] = mixed.get(key, 0.0) + t * ib * w
    intensity = (1.0 - t) * ia + t * ib
    if t in (0, 1):  # keep the endpoints exactly the pure emotions
        return Emotion(dict(wa if t == 0 else wb), ia if t == 0 else ib)
    return Emotion({k: v for k, v in mixed.items() if v != 0.0} or dict(wa), intensity)


def _as_weighted(label) -> tuple[dict, float]:
    """``({key: weight}, intensity)`` for a name, id, mapping or :class:`Emotion`; the weights are
    normalised to sum to one."""
    if isinstance(label, Emotion):
        inner, intensity = label.label, label.intensity
    else:
        inner, intensity = plain_scalar(label), 1.0
    if isinstance(inner, Mapping):
        return _normalised_weights(inner), float(intensity)
    if isinstance(inner, str):
        return {inner: 1.0}, float(intensity)
    emotion_id = integer_or_none(inner)
    if emotion_id is not None:
        return {emotion_id: 1.0}, float(intensity)
    raise EmotionLabelError(
        f"cannot read {describe(label)} as one emotion: use a name, an id, a {{name: weight}} mapping or an Emotion"
    )


def _normalised_weights(weights: Mapping) -> dict:
    """``weights`` checked (finite, >= 0, not all zero) and normalised to sum to one.

    They are divided by the largest weight before summing, so no sum can overflow (or underflow)
    whatever their magnitude.
    """
    if not weights:
        raise EmotionLabelError("an emotion mixture needs at least one {name: weight} entry")
    values = {}
    for name, w in weights.items():
        values[name] = real_number(w, f"weight of {name!r}")
        if values[name] < 0:
            raise EmotionLabelError(f"weight of {name!r} is negative ({values[name]}); mixture weights must be >= 0")
    top = max(values.values())
    if top <= 0:
        raise EmotionLabelError(f"mixture weights sum to zero: {dict(weights)!r}")
    scaled = {name: v / top for name, v in values.items()}  # each in [0, 1]
    total = sum(scaled.values())
    return {name: v / total for name, v in scaled.items()}


@dataclass(frozen=True)
class EmotionLabel:
    """A parsed label: coefficients over the ``K - 1`` non-neutral emotions of a vocabulary.

    ``coefficients`` is ``[K-1]`` (kind ``"global"``), ``[B, K-1]`` (``"per_sample"``) or
    ``[B, T, K-1]`` (``"per_frame"``), float32 on the CPU. Built directly, it is checked like a
    parsed label: the right shape, finite, and no row with more than :data:`MAX_INTENSITY` of
    total (absolute) non-neutral weight.
    """

    coefficients: torch.Tensor
    kind: LabelKind
    vocabulary: Vocabulary

    def __post_init__(self):
        c, dims = self.coefficients, _KIND_DIMS.get(self.kind)
        if dims is None:
            raise EmotionLabelError(f"EmotionLabel kind must be one of {list(_KIND_DIMS)}, got {self.kind!r}")
        if not isinstance(self.vocabulary, Vocabulary):
            raise EmotionLabelError(f"EmotionLabel needs a Vocabulary, got {describe(self.vocabulary)}")
        k = len(self.vocabulary)
        if not isinstance(c, torch.Tensor) or not c.is_floating_point():
            raise EmotionLabelError(f"EmotionLabel coefficients must be a float tensor, got {describe(c)}")
        if c.dim() != dims or c.shape[-1] != k - 1 or 0 in c.shape:
            layout = ["[K-1]", "[B, K-1]", "[B, T, K-1]"][dims - 1]
            raise ShapeError(
                f"{self.kind} coefficients must be {layout} with K-1 = {k - 1} and no empty axis, got {tuple(c.shape)}"
            )
        # One reduction: NaN or inf anywhere makes the largest row total NaN or inf.
        largest = c.detach().abs().sum(dim=-1).max().item()
        if not largest <= MAX_INTENSITY * (1 + 1e-6):
            raise EmotionLabelError(
                f"emotion coefficients must be finite with a total non-neutral weight of at most "
                f"{MAX_INTENSITY:g} per row (the intensity bound); the largest row total is {largest:g}"
            )

    def resolve(self, batch_size: int, frames: int | None = None) -> torch.Tensor:
        """Coefficients expanded for a batch.

        Returns ``[B, T, K-1]`` when ``frames`` is given (a per-frame path such as geometry) and
        ``[B, K-1]`` when it is ``None`` (a per-avatar path such as appearance; a per-frame curve
        is averaged over time there). Raises :class:`ShapeError` when a per-sample label's batch
        or a curve's length does not match.
        """
        c = self.coefficients
        if self.kind != "global" and c.shape[0] != batch_size:
            raise ShapeError(
                f"the emotion label has {c.shape[0]} per-sample entries but the batch has {batch_size} samples"
            )
        if self.kind == "global":
            c = c.expand(batch_size, -1)
        if frames is None:
            return c.mean(dim=1) if self.kind == "per_frame" else c
        if self.kind == "per_frame":
            if c.shape[1] != frames:
                raise ShapeError(
                    f"the emotion curve has {c.shape[1]} frames but the FLAME sequence has {frames}"
                )
            return c
        return c.unsqueeze(1).expand(-1, frames, -1)


def parse_emotion(label, vocabulary: Vocabulary) -> EmotionLabel:
    """Turn any accepted label (see the module docstring) into an :class:`EmotionLabel`."""
    k = len(vocabulary)
    if isinstance(label, EmotionLabel):
        if label.vocabulary != vocabulary:
            raise EmotionLabelError(
                f"label was parsed for vocabulary {list(label.vocabulary)}, not {list(vocabulary)}"
            )
        return label
    if isinstance(label, torch.Tensor):
        return _parse_tensor(label, vocabulary)
    label = plain_scalar(label)  # numpy scalars and 0-d arrays read like Python numbers
    if isinstance(label, (str, int, Mapping, Emotion)) and not isinstance(label, bool):
        weights = _weights_row(label, vocabulary)
        return EmotionLabel(weights[1:].contiguous(), "global", vocabulary)
    if isinstance(label, Sequence) and not isinstance(label, (bytes, bytearray)):
        if len(label) == 0:
            raise EmotionLabelError("an empty list of emotions: give one label per sample")
        rows = [_weights_row(item, vocabulary) for item in label]
        return EmotionLabel(torch.stack(rows)[:, 1:].contiguous(), "per_sample", vocabulary)
    raise EmotionLabelError(
        f"cannot read {describe(label)} as an emotion; use a name from {list(vocabulary)}, "
        f"an id in 0..{k - 1}, a {{name: weight}} mapping, emoctl.Emotion, emoctl.interpolate(...), "
        f"a list (one per sample), or a tensor"
    )


def _weights_row(label, vocabulary: Vocabulary) -> torch.Tensor:
    """Weights ``[K]`` over the full vocabulary with the intensity applied to the non-neutral part.

    The non-neutral entries are the coefficients; entry 0 (neutral) is whatever is left to one,
    negative only when the intensity extrapolates beyond the pure emotion.
    """
    weights, intensity = _as_weighted(label)
    row = torch.zeros(len(vocabulary), dtype=torch.float32)
    for key, w in weights.items():
        row[_resolve_key(key, vocabulary)] += w
    row[1:] *= intensity
    row[0] = 1.0 - row[1:].sum()
    return row


def _resolve_key(key, vocabulary: Vocabulary) -> int:
    if isinstance(key, str):
        return vocabulary.index(key)
    emotion_id = integer_or_none(key)
    if emotion_id is not None:
        return vocabulary.check_id(emotion_id)
    raise UnknownEmotionError(f"emotion keys must be names or ids, got {describe(key)}")


def _parse_tensor(t: torch.Tensor, vocabulary: Vocabulary) -> EmotionLabel:
    k = len(vocabulary)
    if t.dtype.is_complex or t.dtype == torch.bool or t.is_quantized:
        raise EmotionLabelError(
            f"an emotion tensor holds integer ids or real weights; got a tensor of dtype {t.dtype}"
        )
    t = t.detach().cpu()
    if not t.is_floating_point():
        if t.dim() > 1:
            raise ShapeError(
                f"an integer emotion tensor must hold ids, shape [] or [B]; got {tuple(t.shape)} {t.dtype}"
            )
        ids = t.reshape(-1).long()
        if ids.numel() == 0:
            raise ShapeError("an empty tensor of emotion ids")
        bad = ids[(ids < 0) | (ids >= k)]
        if bad.numel():
            raise UnknownEmotionError(
                f"emotion ids {bad.tolist()} are out of range 0..{k - 1} for vocabulary {list(vocabulary)}"
            )
        rows = torch.nn.functional.one_hot(ids, k).float()
        if t.dim() == 0:
            return EmotionLabel(rows[0, 1:].contiguous(), "global", vocabulary)
        return EmotionLabel(rows[:, 1:].contiguous(), "per_sample", vocabulary)
    if t.dim() not in (1, 2, 3) or t.shape[-1] != k:
        raise ShapeError(
            f"a float emotion tensor holds weights over the {k} emotions {list(vocabulary)}: shape [{k}], "
            f"[B, {k}] or [B, T, {k}]; got {tuple(t.shape)}"
        )
    w = t.double()  # exact for every float dtype; float64 weights beyond float32's range still normalise
    if not torch.isfinite(w).all():
        raise EmotionLabelError("emotion weights contain NaN or infinite values")
    if (w < 0).any():
        raise EmotionLabelError(f"emotion weights must be >= 0; the smallest is {w.min().item():g}")
    top = w.amax(dim=-1, keepdim=True)
    if (top <= 0).any():
        raise EmotionLabelError("some emotion weight rows sum to zero; every row needs a positive weight")
    w = w / top  # every entry in [0, 1], so the row sums below cannot overflow
    w = (w / w.sum(dim=-1, keepdim=True)).float()
    kind: LabelKind = {1: "global", 2: "per_sample", 3: "per_frame"}[t.dim()]
    return EmotionLabel(w[..., 1:].contiguous(), kind, vocabulary)


def emotion_curve(keyframes: Mapping[int, object], num_frames: int, vocabulary=None) -> torch.Tensor:
    """A per-frame weight curve ``[1, T, K]`` linearly interpolated between keyframes.

    ``emotion_curve({0: "neutral", 30: "happy", 60: {"happy": 0.5, "sad": 0.5}}, 90)``; frames
    before the first and after the last keyframe hold its value. Use the result with
    ``ctl.emotion(curve)``.
    """
    vocab = Vocabulary.from_spec(vocabulary if vocabulary is not None else EMOTIONS)
    if not keyframes:
        raise EmotionLabelError("emotion_curve needs at least one keyframe")
    count = integer_or_none(num_frames)
    if count is None or count < 1:
        raise EmotionLabelError(f"num_frames must be a positive int, got {describe(num_frames)}")
    points = {}
    for f, label in keyframes.items():
        index = integer_or_none(f)
        if index is None or not 0 <= index < count:
            raise EmotionLabelError(f"keyframe {f!r} is not a frame index in 0..{count - 1}")
        if index in points:
            raise EmotionLabelError(f"keyframe {index} is given twice")
        points[index] = label
    frames = sorted(points)
    rows = torch.stack([_weights_row(points[f], vocab) for f in frames])  # [F, K]
    if (rows[:, 0] < -1e-6).any():
        raise EmotionLabelError("a weight curve cannot hold intensities above 1; scale the keyframes to <= 1")
    rows[:, 0].clamp_(min=0)
    t = torch.arange(count, dtype=torch.float32)
    keys = torch.tensor(frames, dtype=torch.float32)
    idx = torch.searchsorted(keys, t, right=True).clamp(1, len(frames)) - 1
    nxt = (idx + 1).clamp(max=len(frames) - 1)
    span = (keys[nxt] - keys[idx]).clamp(min=1)
    alpha = ((t - keys[idx]) / span).clamp(0, 1).unsqueeze(-1)
    curve = (1 - alpha) * rows[idx] + alpha * rows[nxt]
    return curve.unsqueeze(0)

