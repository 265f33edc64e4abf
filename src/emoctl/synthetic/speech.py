"""Speech-like articulation: random viseme "sentences" with timing, co-articulated into smooth curves.

:func:`generate_speech` draws a sentence of words (syllables of consonant and vowel visemes, with
durations of about 60-220 ms), pauses between phrases and silence at both ends, turns each
viseme into articulation targets, smooths them with a co-articulation kernel (visemes blend into
their neighbours, as real mouths anticipate and carry over), and samples the result at ``fps``:

- ``jaw_open``  ``[T]`` in [0, 1]: how far the jaw is open;
- ``rounding``  ``[T]`` in [0, 1]: lip rounding/protrusion ("oo", "o", "w");
- ``spreading`` ``[T]`` in [0, 1]: lip spreading ("ee", "i");
- ``closure``   ``[T]`` in [0, 1]: lip contact (bilabials "m b p" near 1, labiodentals "f v" partial);

plus natural extras that are not speech: ``blink [T]`` (eyelid closure, 0..1, blinks at random
times), ``head_rotation [T, 3]`` and ``neck_pose [T, 3]`` (small smooth head motion, axis-angle,
radians) and ``gaze [T, 2]`` (eye yaw/pitch in radians, slow fixations with quick saccades).

Everything is a deterministic function of the seed (numpy ``default_rng``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from emoctl.errors import DataError

#: Viseme -> articulation target ``(jaw_open, rounding, spreading, closure)``.
VISEMES: dict[str, tuple[float, float, float, float]] = {
    "rest": (0.02, 0.0, 0.0, 0.0),
    "closed": (0.0, 0.05, 0.0, 1.0),  # m, b, p
    "labiodental": (0.12, 0.0, 0.15, 0.55),  # f, v
    "dental": (0.28, 0.0, 0.3, 0.0),  # th
    "alveolar": (0.22, 0.0, 0.2, 0.0),  # t, d, n, s, z, l
    "velar": (0.35, 0.0, 0.05, 0.0),  # k, g, ng
    "postalveolar": (0.25, 0.55, 0.0, 0.0),  # sh, ch, j
    "open": (0.95, 0.0, 0.1, 0.0),  # a
    "mid": (0.55, 0.0, 0.45, 0.0),  # e
    "spread": (0.22, 0.0, 1.0, 0.0),  # i, ee
    "round": (0.38, 1.0, 0.0, 0.0),  # o, u, w
    "open_round": (0.7, 0.6, 0.0, 0.0),  # aw
}
CONSONANTS: tuple[str, ...] = ("closed", "labiodental", "dental", "alveolar", "velar", "postalveolar", "round")
VOWELS: tuple[str, ...] = ("open", "mid", "spread", "round", "open_round")
#: Relative frequencies of the consonant and vowel visemes above (alveolars are the commonest).
_CONSONANT_P = np.array([0.17, 0.1, 0.05, 0.36, 0.14, 0.08, 0.1])
_VOWEL_P = np.array([0.3, 0.25, 0.2, 0.15, 0.1])

CURVES: tuple[str, ...] = ("jaw_open", "rounding", "spreading", "closure")

_FINE_RATE = 1000.0  # Hz, the rate the targets are built and smoothed at


@dataclass
class Articulation:
    """Speech articulation and extras of ``T`` frames at ``fps`` (see the module docstring).

    ``segments``: ``[viseme, start_s, end_s]`` of the sentence (pauses are ``"rest"``);
    ``blinks``: ``[start_s, duration_s]``; ``words``: the sentence as hyphenated viseme words.
    """

    fps: float
    timestamps: torch.Tensor  # [T] float64 seconds
    jaw_open: torch.Tensor  # [T]
    rounding: torch.Tensor  # [T]
    spreading: torch.Tensor  # [T]
    closure: torch.Tensor  # [T]
    blink: torch.Tensor  # [T]
    head_rotation: torch.Tensor  # [T, 3]
    neck_pose: torch.Tensor  # [T, 3]
    gaze: torch.Tensor  # [T, 2]
    segments: list[list[Any]] = field(default_factory=list)
    blinks: list[list[float]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    seed: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.timestamps.shape[0])

    def curves(self) -> torch.Tensor:
        """``[T, 4]``: jaw_open, rounding, spreading, closure."""
        return torch.stack([self.jaw_open, self.rounding, self.spreading, self.closure], dim=-1)

    def meta(self) -> dict[str, Any]:
        """JSON-able description (sentence, viseme timing, blinks) for an anchor's ``meta``."""
        return {
            "speech_seed": self.seed,
            "sentence": " ".join(self.words),
            "segments": [[v, round(s, 4), round(e, 4)] for v, s, e in self.segments],
            "blinks": [[round(s, 4), round(d, 4)] for s, d in self.blinks],
        }


def _sentence(rng: np.random.Generator, duration: float) -> tuple[list[tuple[str, float]], list[str]]:
    """Viseme segments ``(viseme, seconds)`` filling about ``duration`` seconds, and the words."""
    segments: list[tuple[str, float]] = [("rest", rng.uniform(0.15, 0.35))]
    words: list[str] = []
    total = segments[0][1]
    tail = rng.uniform(0.2, 0.4)
    words_in_phrase = 0
    phrase_length = int(rng.integers(3, 8))
    while total < duration - tail - 0.3:
        syllables = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
        word: list[str] = []
        for _ in range(syllables):
            if rng.random() < 0.85:
                c = CONSONANTS[rng.choice(len(CONSONANTS), p=_CONSONANT_P)]
                word.append(c)
                segments.append((c, rng.uniform(0.06, 0.12)))
            v = VOWELS[rng.choice(len(VOWELS), p=_VOWEL_P)]
            word.append(v)
            segments.append((v, rng.uniform(0.1, 0.22)))
            if rng.random() < 0.3:
                c = CONSONANTS[rng.choice(len(CONSONANTS), p=_CONSONANT_P)]
                word.append(c)
                segments.append((c, rng.uniform(0.06, 0.12)))
        words.append("-".join(word))
        words_in_phrase += 1
        if words_in_phrase >= phrase_length:  # a pause between phrases
            segments.append(("rest", rng.uniform(0.15, 0.4)))
            words_in_phrase, phrase_length = 0, int(rng.integers(3, 8))
        elif rng.random() < 0.25:  # a short gap between words
            segments.append(("rest", rng.uniform(0.04, 0.1)))
        total = sum(d for _, d in segments)
    segments.append(("rest", max(duration - total, 0.05) + 0.5))
    return segments, words


def _smooth(signal: np.ndarray, sigma_s: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 of a signal sampled at ``_FINE_RATE`` (edges held)."""
    radius = int(4 * sigma_s * _FINE_RATE)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / (sigma_s * _FINE_RATE)) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(signal, [(radius, radius)] + [(0, 0)] * (signal.ndim - 1), mode="edge")
    if signal.ndim == 1:
        return np.convolve(padded, kernel, mode="valid")
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(signal.shape[1])], axis=1)


def _blink_curve(rng: np.random.Generator, times: np.ndarray, duration: float) -> tuple[np.ndarray, list[list[float]]]:
    """Eyelid closure in [0, 1] at ``times`` with blinks every ~2-6 s (fast close, slower open)."""
    out = np.zeros_like(times)
    blinks: list[list[float]] = []
    t = rng.uniform(0.3, 2.5)
    while t < duration - 0.1:
        length = rng.uniform(0.15, 0.3)
        depth = rng.uniform(0.85, 1.0)
        close = 0.35 * length
        phase = (times - t) / length
        rising = np.clip((times - t) / close, 0.0, 1.0)
        falling = np.clip(1.0 - (times - t - close) / (length - close), 0.0, 1.0)
        shape = np.where(times - t < close, np.sin(0.5 * np.pi * rising) ** 2, np.sin(0.5 * np.pi * falling) ** 2)
        out = np.maximum(out, depth * shape * ((phase >= 0) & (phase <= 1)))
        blinks.append([float(t), float(length)])
        t += rng.uniform(1.8, 6.0)
    return out, blinks


def _smooth_noise(rng: np.random.Generator, times: np.ndarray, dims: int, amplitude: np.ndarray, periods: tuple[float, float]) -> np.ndarray:
    """``[T, dims]`` sums of a few random sinusoids (periods in seconds) scaled to ``amplitude``."""
    out = np.zeros((len(times), dims))
    for k in range(dims):
        for _ in range(3):
            period = rng.uniform(*periods)
            out[:, k] += rng.normal() * np.sin(2 * np.pi * times / period + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(3.0) * amplitude


def _gaze(rng: np.random.Generator, times: np.ndarray, duration: float) -> np.ndarray:
    """``[T, 2]`` eye yaw/pitch: fixations of 0.4-2 s joined by ~40 ms saccades."""
    fine = np.arange(0.0, duration + 0.5, 1.0 / _FINE_RATE)
    target = np.zeros((len(fine), 2))
    t = 0.0
    current = rng.normal(0.0, [0.06, 0.03])
    while t < fine[-1]:
        length = rng.uniform(0.4, 2.0)
        target[(fine >= t) & (fine < t + length)] = current
        t += length
        current = np.clip(rng.normal(0.0, [0.08, 0.04]), -0.2, 0.2)
    smooth = _smooth(target, 0.015)
    return np.stack([np.interp(times, fine, smooth[:, k]) for k in range(2)], axis=1)


def generate_speech(seed: int, duration_s: float | None = None, *, num_frames: int | None = None, fps: float = 30.0,
                    coarticulation_s: float = 0.035, head_motion: float = 1.0) -> Articulation:
    """A random spoken sentence as articulation curves at ``fps`` (give ``duration_s`` or ``num_frames``).

    ``coarticulation_s``: width (standard deviation) of the co-articulation kernel; ``head_motion``
    scales the head and neck motion (0: still head). Deterministic from ``seed``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"generate_speech: seed must be a non-negative int, got {seed!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        raise DataError(f"generate_speech: fps must be a positive number, got {fps!r}")
    if (duration_s is None) == (num_frames is None):
        raise DataError("generate_speech: give exactly one of duration_s and num_frames")
    if num_frames is not None:
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise DataError(f"generate_speech: num_frames must be a positive int, got {num_frames!r}")
    else:
        if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) or not duration_s > 0:
            raise DataError(f"generate_speech: duration_s must be a positive number, got {duration_s!r}")
        num_frames = max(1, int(np.floor(float(duration_s) * fps + 1e-9)))
    if not coarticulation_s > 0:
        raise DataError(f"generate_speech: coarticulation_s must be > 0, got {coarticulation_s!r}")
    fps = float(fps)
    times = np.arange(num_frames, dtype=np.float64) / fps
    duration = max(float(times[-1]) + 1.0 / fps, 0.5)
    rng = np.random.default_rng([int(seed), 0x5EEC])

    segments, words = _sentence(rng, duration)
    fine = np.arange(0.0, sum(d for _, d in segments), 1.0 / _FINE_RATE)
    targets = np.zeros((len(fine), 4))
    listed: list[list[Any]] = []
    start = 0.0
    for viseme, length in segments:
        sel = (fine >= start) & (fine < start + length)
        target = np.array(VISEMES[viseme])
        if viseme in VOWELS:  # stressed syllables open wider; unstressed ones reduce
            target = target * np.array([rng.uniform(0.75, 1.15), 1.0, 1.0, 1.0])
        targets[sel] = target
        listed.append([viseme, start, start + length])
        start += length
    # closures are brief but complete: sharpen them before the smoothing spreads them out
    curves = _smooth(targets, coarticulation_s)
    curves[:, 3] = np.clip(curves[:, 3] * 1.25, 0.0, 1.0)
    curves[:, 0] = curves[:, 0] * (1.0 - 0.85 * curves[:, 3])  # a closed mouth has a nearly closed jaw
    sampled = np.stack([np.interp(times, fine, curves[:, k]) for k in range(4)], axis=1).clip(0.0, 1.0)

    blink, blinks = _blink_curve(rng, times, duration)
    head = _smooth_noise(rng, times, 3, np.array([0.05, 0.07, 0.025]) * head_motion, (1.5, 6.0))
    speech_energy = np.interp(times, fine, _smooth(targets[:, 0], 0.25))
    head[:, 0] += 0.02 * head_motion * (speech_energy - speech_energy.mean())  # nods with the speech
    neck = _smooth_noise(rng, times, 3, np.array([0.02, 0.025, 0.01]) * head_motion, (2.0, 8.0))
    gaze = _gaze(rng, times, duration)

    def f32(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    return Articulation(
        fps=fps,
        timestamps=torch.from_numpy(times),
        jaw_open=f32(sampled[:, 0]),
        rounding=f32(sampled[:, 1]),
        spreading=f32(sampled[:, 2]),
        closure=f32(sampled[:, 3]),
        blink=f32(blink),
        head_rotation=f32(head),
        neck_pose=f32(neck),
        gaze=f32(gaze),
        segments=[[v, float(s), float(e)] for v, s, e in listed if s < duration],
        blinks=blinks,
        words=words,
        seed=int(seed),
    )


def still_articulation(num_frames: int = 1, fps: float = 30.0) -> Articulation:
    """A closed, silent, still face for ``num_frames`` frames (no blink, no head motion, gaze ahead)."""
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise DataError(f"still_articulation: num_frames must be a positive int, got {num_frames!r}")
    zeros = torch.zeros(num_frames)
    return Articulation(
        fps=float(fps),
        timestamps=torch.arange(num_frames, dtype=torch.float64) / float(fps),
        jaw_open=zeros.clone(),
        rounding=zeros.clone(),
        spreading=zeros.clone(),
        closure=zeros.clone(),
        blink=zeros.clone(),
        head_rotation=torch.zeros(num_frames, 3),
        neck_pose=torch.zeros(num_frames, 3),
        gaze=torch.zeros(num_frames, 2),
    )
