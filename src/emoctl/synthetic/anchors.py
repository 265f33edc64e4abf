"""Synthetic anchor sequences: one speaker, one sentence, every emotion, identical timing (paper 3.3.1).

:func:`make_anchor` draws a sentence (:func:`~emoctl.synthetic.speech.generate_speech`: viseme
timing, blinks, head motion, gaze), an anchor subject (shape ``betas``, a
:class:`~emoctl.synthetic.emotion_model.SpeakerStyle`, and an emotion-intensity style: how
strongly this subject acts each emotion, from ``intensity_range``), and renders the sentence in
every emotion of the vocabulary through :meth:`EmotionModel.apply`. The articulation, blinks,
head motion and gaze are the same arrays for every emotion, so all emotions are
frame-synchronised: same frame count, same timestamps, same phoneme timing; only the emotion's
offset and coupling differ. ``meta`` records the sentence, the viseme segments, the blinks, the
speaker's gains and the per-emotion intensities (the reenactor scales appearance cues by them).

With ``curves=n``, the anchor also carries ``n`` performances of the same sentence whose emotion
changes over the clip (``AnchorClip.curves``: ``curve-0`` ...; curves drawn by
:func:`~emoctl.synthetic.emotion_curves.sample_curve` from the anchor's seed, performed through
:meth:`EmotionModel.apply_curve` with the same articulation and intensities; their definitions in
``meta["curves"]``).
"""

from __future__ import annotations

import numpy as np
import torch

from emoctl.data import AnchorClip, AnchorCurve, CameraRig
from emoctl.data.layout import curve_clip_names
from emoctl.emotions import EMOTIONS
from emoctl.errors import DataError
from emoctl.synthetic.cameras import default_rig
from emoctl.synthetic.emotion_curves import EmotionCurve, sample_curve
from emoctl.synthetic.emotion_model import EmotionModel, SpeakerStyle
from emoctl.synthetic.identities import sample_betas
from emoctl.synthetic.speech import Articulation, generate_speech


def anchor_intensities(seed: int, intensity_range: tuple[float, float] = (0.75, 1.25)) -> dict[str, float]:
    """The anchor subject's intensity for each emotion (neutral: 0)."""
    lo, hi = intensity_range
    if not 0.0 <= lo <= hi:
        raise DataError(f"intensity_range must be (low, high) with 0 <= low <= high, got {intensity_range!r}")
    rng = np.random.default_rng([int(seed), 0xA7])
    return {e: (0.0 if e == "neutral" else round(float(rng.uniform(lo, hi)), 4)) for e in EMOTIONS}


def anchor_subject(seed: int, intensity_range: tuple[float, float] = (0.75, 1.25)) -> tuple[SpeakerStyle, dict[str, float]]:
    """The anchor subject's speaker style and per-emotion intensities: what :func:`anchor_sequences`
    renders and :func:`make_anchor` records in ``meta``."""
    style = SpeakerStyle.sample(np.random.default_rng([int(seed), 0x57]))
    return style, anchor_intensities(seed, intensity_range)


def anchor_articulation(seed: int, duration_s: float | None = None, num_frames: int | None = None, fps: float = 30.0,
                        head_motion: float = 1.0) -> Articulation:
    """The anchor's sentence and extras (shared by all its emotions)."""
    return generate_speech(int(seed), duration_s, num_frames=num_frames, fps=fps, head_motion=head_motion)


def anchor_sequences(seed: int, articulation: Articulation, emotion_model: EmotionModel | None = None,
                     intensity_range: tuple[float, float] = (0.75, 1.25), with_betas: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """``emotion -> FLAME sequence`` of the anchor subject for every emotion (no rendering)."""
    return _sequences(seed, articulation, emotion_model, *anchor_subject(seed, intensity_range), with_betas)


def _sequences(seed: int, articulation: Articulation, emotion_model: EmotionModel | None, style: SpeakerStyle,
               intensities: dict[str, float], with_betas: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """:func:`anchor_sequences` for a given speaker ``style`` and ``intensities``."""
    model = emotion_model or EmotionModel()
    betas = anchor_betas(seed) if with_betas else None
    out = {}
    for emotion in EMOTIONS:
        seq = model.apply(articulation, emotion, intensities[emotion], style=style)
        if betas is not None:
            seq["betas"] = betas.clone()
        out[emotion] = seq
    return out


def anchor_betas(seed: int) -> torch.Tensor:
    """The anchor subject's shape ``[300]``."""
    return sample_betas(int(np.random.SeedSequence([int(seed), 0xB5]).generate_state(1)[0] >> 1))


def anchor_curves(seed: int, count: int, timestamps: torch.Tensor) -> dict[str, EmotionCurve]:
    """The anchor's first ``count`` emotion curves (``curve-0`` ...), spanning its ``timestamps``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise DataError(f"the number of emotion curves must be an int >= 0, got {count!r}")
    t = torch.as_tensor(timestamps, dtype=torch.float64)
    return {name: sample_curve(int(seed), j, float(t[0]), float(t[-1] - t[0]))
            for j, name in enumerate(curve_clip_names(count))}


def make_anchor(anchor_id: str, seed: int, duration_s: float | None = None, num_frames: int | None = None,
                fps: float = 30.0, cameras: CameraRig | None = None, *, emotion_model: EmotionModel | None = None,
                intensity_range: tuple[float, float] = (0.75, 1.25), head_motion: float = 1.0,
                curves: int = 0) -> AnchorClip:
    """One anchor with every emotion of :data:`~emoctl.emotions.EMOTIONS` (give ``duration_s`` or
    ``num_frames``; default 4 s) and ``curves`` emotion curves (see the module docstring).
    ``cameras`` defaults to :func:`~emoctl.synthetic.cameras.default_rig` (3 views: frontal and +-30
    degrees of yaw, 512 x 512)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"anchor seed must be a non-negative int, got {seed!r}")
    if duration_s is None and num_frames is None:
        duration_s = 4.0
    articulation = anchor_articulation(int(seed), duration_s, num_frames, fps, head_motion)
    style, intensities = anchor_subject(int(seed), intensity_range)
    model = emotion_model or EmotionModel()
    emotions = _sequences(int(seed), articulation, model, style, intensities)
    definitions = anchor_curves(int(seed), curves, articulation.timestamps)
    performed = {}
    for name, curve in definitions.items():
        weights = curve.weights(articulation.timestamps)
        sequence = model.apply_curve(articulation, weights, intensities, style=style)
        sequence["betas"] = emotions[EMOTIONS[0]]["betas"].clone()
        performed[name] = AnchorCurve(weights, sequence)
    meta = {
        "generator": "emoctl.synthetic",
        "seed": int(seed),
        **articulation.meta(),
        "speaker": {"jaw_gain": style.jaw_gain, "lip_gain": style.lip_gain},
        "intensity": dict(intensities),
    }
    if definitions:  # absent without curves: those anchors keep their bytes
        meta["curves"] = {name: curve.to_json() for name, curve in definitions.items()}
    return AnchorClip(
        anchor_id=anchor_id,
        fps=float(fps),
        emotions=emotions,
        timestamps=articulation.timestamps.clone(),
        cameras=cameras if cameras is not None else default_rig(),
        meta=meta,
        curves=performed,
    )


def anchor_seed(world_seed: int, index: int) -> int:
    """The seed of anchor ``index`` of a world (a 31-bit hash of both)."""
    return int(np.random.SeedSequence([int(world_seed), 0xA2, int(index)]).generate_state(1)[0] >> 1)


def anchor_id(index: int) -> str:
    return f"anchor-{index:03d}"


def make_anchors(n: int, seed: int = 0, **kwargs) -> list[AnchorClip]:
    """``n`` anchors ``anchor-000`` ... with seeds derived from ``seed`` (keyword arguments go to
    :func:`make_anchor`)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataError(f"make_anchors: n must be a positive int, got {n!r}")
    return [make_anchor(anchor_id(i), anchor_seed(seed, i), **kwargs) for i in range(n)]
