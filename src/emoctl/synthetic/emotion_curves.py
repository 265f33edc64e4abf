"""Emotion curves: an emotion that changes inside a sentence (paper 5.2, per-frame control).

An :class:`EmotionCurve` is a ``start`` state and a list of :class:`Transition` s, e.g. neutral,
then happy from 1.2 s with a 300 ms onset, then surprised from 2.4 s::

    EmotionCurve("neutral", (Transition(1.2, "happy", 0.3), Transition(2.4, "surprised", 0.3)))

Every state is an emotion label as :func:`emoctl.emotions.emotion_curve` reads it: a name or a
``{name: weight}`` mixture (weights normalised; ``{"happy": 0.6, "neutral": 0.4}`` is a weaker
happy). That function turns each state into a weight row ``[K]`` over the whole vocabulary,
neutral included (non-negative, summing to one), which is emoctl's convention for a per-frame curve
``[B, T, K]``. Between states the weights follow a smoothstep: a transition that starts at
``time_s`` with onset ``onset_s`` gives, at time ``t``,

    w(t) = previous + s(u) (next - previous),   s(u) = 3u^2 - 2u^3,   u = clip((t - time_s) / onset_s, 0, 1)

(a step at ``time_s`` when ``onset_s`` is 0), so every row is a convex combination of two
consecutive states: non-negative, summing to one. Transitions are in time order and do not
overlap (each starts once the previous one has finished).

:func:`sample_curve` draws the curves of the synthetic anchors from a seed (deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch

from emoctl.emotions import EMOTIONS, NEUTRAL, emotion_curve
from emoctl.errors import DataError, ShapeError

#: A state of a curve: an emotion name or a ``{name: weight}`` mixture.
CurveState = Union[str, Mapping[str, float]]

#: The onsets :func:`sample_curve` draws (seconds), before shortening to a fifth of the clip.
ONSET_RANGE = (0.2, 0.5)


def smoothstep(u: np.ndarray) -> np.ndarray:
    """``3u^2 - 2u^3`` of ``u`` clipped to [0, 1]: 0 and 1 at the ends with zero slope there."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _finite(value: Any, what: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DataError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise DataError(f"{what} must be a finite number" + (f" >= {minimum:g}" if minimum is not None else "")
                        + f", got {value!r}")
    return number


def _state(value: Any, what: str) -> CurveState:
    """A state as a plain JSON-able name or ``{name: float}`` (checked when the weights are built)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value and all(isinstance(k, str) for k in value):
        return {k: _finite(v, f"{what}: weight of {k!r}", 0.0) for k, v in value.items()}
    raise DataError(f"{what} must be an emotion name or a non-empty {{name: weight}} mapping, got {value!r}")


@dataclass(frozen=True)
class Transition:
    """From ``time_s`` (seconds, on the clip's timestamps) the emotion moves to ``emotion`` over
    ``onset_s`` seconds (smoothstep; 0 is a step)."""

    time_s: float
    emotion: CurveState
    onset_s: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_s", _finite(self.time_s, "Transition.time_s"))
        object.__setattr__(self, "onset_s", _finite(self.onset_s, "Transition.onset_s", 0.0))
        object.__setattr__(self, "emotion", _state(self.emotion, "Transition.emotion"))

    def to_json(self) -> dict[str, Any]:
        return {"time_s": self.time_s, "emotion": self.emotion, "onset_s": self.onset_s}


@dataclass(frozen=True)
class EmotionCurve:
    """An emotion over time: ``start``, then each of ``transitions`` in turn (see the module docstring)."""

    start: CurveState
    transitions: tuple[Transition, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _state(self.start, "EmotionCurve.start"))
        steps = tuple(self.transitions)
        if not all(isinstance(s, Transition) for s in steps):
            raise DataError("EmotionCurve.transitions must be Transition objects")
        for before, after in zip(steps, steps[1:]):
            if after.time_s < before.time_s + before.onset_s:
                raise DataError(
                    f"EmotionCurve: the transition at {after.time_s:g} s starts before the one at "
                    f"{before.time_s:g} s has finished ({before.time_s + before.onset_s:g} s); transitions "
                    "must be in time order and must not overlap"
                )
        object.__setattr__(self, "transitions", steps)

    @property
    def states(self) -> tuple[CurveState, ...]:
        """The start state and every transition's target, in order."""
        return (self.start, *(s.emotion for s in self.transitions))

    def weights(self, timestamps: torch.Tensor | np.ndarray, vocabulary=EMOTIONS) -> torch.Tensor:
        """float32 ``[T, K]`` weights over ``vocabulary`` (neutral first) at ``timestamps [T]`` seconds."""
        t = torch.as_tensor(timestamps).detach().to("cpu", torch.float64).numpy()
        if t.ndim != 1 or t.shape[0] < 1 or not np.isfinite(t).all():
            raise ShapeError(f"EmotionCurve.weights: timestamps must be a finite [T] vector, got shape {list(t.shape)}")
        # each state as a weight row through emotion_curve (one keyframe, one frame): emoctl's label convention
        rows = [emotion_curve({0: state}, 1, vocabulary)[0, 0].double().numpy() for state in self.states]
        out = np.tile(rows[0], (t.shape[0], 1))
        for step, before, after in zip(self.transitions, rows, rows[1:]):
            since = np.round(t - step.time_s, 9)  # 36 / 30 s is 1.2 s: no 1e-14 of a change before it starts
            s = smoothstep(since / step.onset_s) if step.onset_s > 0 else (since >= 0).astype(np.float64)
            out += s[:, None] * (after - before)[None]
        return torch.from_numpy(np.clip(out, 0.0, None).astype(np.float32))

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "transitions": [s.to_json() for s in self.transitions]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "EmotionCurve":
        if not isinstance(data, Mapping) or "start" not in data or not isinstance(data.get("transitions", []), list):
            raise DataError(f"an emotion curve in JSON is {{start, transitions: [...]}}, got {data!r}")
        steps = []
        for item in data.get("transitions", []):
            if not isinstance(item, Mapping) or not {"time_s", "emotion"} <= set(item):
                raise DataError(f"a transition in JSON is {{time_s, emotion, onset_s}}, got {item!r}")
            steps.append(Transition(item["time_s"], item["emotion"], item.get("onset_s", 0.3)))
        return cls(data["start"], tuple(steps))


def sample_curve(seed: int, index: int, start_s: float, duration_s: float,
                 emotions: tuple[str, ...] = EMOTIONS) -> EmotionCurve:
    """Curve ``index`` of the anchor with ``seed``, over ``[start_s, start_s + duration_s]`` (deterministic).

    Two changes: from ``start`` (neutral two times in three, else another emotion) to a non-neutral
    emotion ``X`` starting at 20-35 % of the clip, then to an emotion ``Y != X`` (back to the start,
    neutral or a third emotion) starting at 58-70 %; onsets of 200-500 ms, at most a fifth of the
    clip each, so both changes finish inside it. Times are rounded to 0.1 ms.
    """
    start_s = _finite(start_s, "start_s")
    duration_s = _finite(duration_s, "duration_s", 0.0)
    if len(emotions) < 3 or emotions[0] != NEUTRAL:
        raise DataError(f"sample_curve needs a vocabulary with neutral first and at least 2 emotions, got {emotions!r}")
    rng = np.random.default_rng([int(seed), 0xC7, int(index)])
    others = list(emotions[1:])
    start = NEUTRAL if rng.random() < 2.0 / 3.0 else str(rng.choice(others))
    first = str(rng.choice([e for e in others if e != start]))
    second = str(rng.choice([e for e in emotions if e != first]))

    def when(lo: float, hi: float) -> float:
        return round(start_s + duration_s * float(rng.uniform(lo, hi)), 4)

    def onset() -> float:
        return round(min(float(rng.uniform(*ONSET_RANGE)), 0.2 * duration_s), 4)

    t1, d1 = when(0.2, 0.35), onset()
    t2, d2 = when(0.58, 0.7), onset()
    return EmotionCurve(start, (Transition(t1, first, d1), Transition(t2, second, d2)))


def emotion_intensity(intensity: float | Mapping[str, float], emotion: str) -> float:
    """The intensity of ``emotion`` in ``intensity``: one number for all emotions, or a table
    ``{emotion: intensity}`` (an anchor subject's; neutral may be left out)."""
    if isinstance(intensity, Mapping):
        if emotion not in intensity:
            if emotion == NEUTRAL:
                return 0.0
            raise DataError(f"the intensity table {dict(intensity)!r} has no entry for {emotion!r}")
        return _finite(intensity[emotion], f"intensity of {emotion!r}", 0.0)
    return _finite(intensity, "intensity", 0.0)


def blend_frames(weights: torch.Tensor, values: Mapping[int, torch.Tensor], *, per_frame: bool) -> torch.Tensor:
    """``sum_k weights[:, k] * values[k]`` per frame, float32 ``[T, ...]``: ``weights [T, K]``; each value
    ``[T, ...]`` (``per_frame``) or ``[...]`` (the same in every frame). Only the columns in ``values``
    count (leave out those that are zero throughout); a frame whose weight is 1 on one of them and 0
    on the others gets that value exactly."""
    out: torch.Tensor | None = None
    for column, value in values.items():
        value = value.to(torch.float32) if per_frame else value.to(torch.float32).unsqueeze(0)
        term = weights[:, column].reshape(-1, *([1] * (value.dim() - 1))) * value
        out = term if out is None else out + term
    if out is None:
        raise DataError("blend_frames: no values to blend")
    return out
