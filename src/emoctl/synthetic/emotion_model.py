"""The synthetic world's ground truth of how emotions act on a face.

:class:`EmotionModel` holds, for each emotion of :data:`emoctl.emotions.EMOTIONS`:

(a) a **static offset** over the named expression components of the synthetic head
    (``SEMANTIC_EXPRESSIONS``: one FACS action unit each) that builds the emotion's EMFACS
    prototype at real-face magnitudes (:data:`STATIC_OFFSETS`, plus the silent jaw opening of
    :data:`JAW_STATIC`), and a small fixed loading on the unnamed tail components, as a real
    expression basis would have;
(b) an **articulation coupling**: a non-linear function of the speech articulation of each
    frame (jaw opening ``a``, rounding ``r``, spreading ``s``, closure ``c``; see
    :mod:`emoctl.synthetic.speech`):

    ============  =========================================================================
    emotion       coupling (``k`` = intensity)
    ============  =========================================================================
    happy         lips part (``0.10 k (1 - c)``), corners pulled more as the jaw opens
                  (``+0.55 k a^1.5``), rounding reduced, cheeks rise with opening
    sad           jaw amplitude damped, more for wide openings (``a (1 - 0.3 k (0.5 + 0.5 a))``),
                  rounding reduced, corners pulled down and chin raised more when closed
    surprised     a silent jaw drop (AU26, ``0.47 k (1 - c)``: released for m/b/p) and wider
                  openings (``x (1 + 0.2 k)``), lids open wider and the lower lip drops
    angry         lips pressed and tightened while closed, released as the jaw opens, large
                  openings damped (``a (1 - 0.3 k a)``), upper lip raised (bared teeth) on
                  open unrounded vowels
    disgusted     upper lip raised with opening (``+0.5 k a``), jaw slightly damped
    fearful       a silent jaw drop (``0.47 k (1 - c)``), lips stretched more as the jaw
                  opens (``+0.5 k a^2``), and a slight ~9 Hz tremor of the lips and jaw
    ============  =========================================================================

    so the per-frame difference between two emotions of the same articulation is not a constant:
    a model has to read the sequence;
(c) **appearance cues**: which identity-specific cue fields (:mod:`emoctl.synthetic.cues`) an
    emotion deepens or tints, and how much (forehead lines: surprised, fearful; glabella furrows:
    angry, disgusted, sad; nasolabial folds: happy, disgusted; crow's feet: happy; flush: angry;
    pallor: fearful; redness around the eyes: sad; cheek glow: happy). Their strength depends on
    the identity (age, elasticity, skin tone) and is **constant within a clip**: LAM-style
    backbones build one avatar per reference image, so appearance is per avatar, not per frame.

The two ground-truth functions are :meth:`EmotionModel.apply` (articulation -> FLAME sequence)
and :meth:`EmotionModel.appearance` (identity traits, emotion -> albedo change);
:meth:`EmotionModel.apply_curve` and :meth:`EmotionModel.appearance_curve` give them for an emotion
that changes over the clip (per-frame weights ``[T, K]``, :mod:`emoctl.synthetic.emotion_curves`).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from emoctl.data.types import as_emotion_curve
from emoctl.emotions import EMOTIONS
from emoctl.errors import ShapeError, UnknownEmotionError
from emoctl.flame import NUM_EXPRESSION, FlameModelData
from emoctl.synthetic.albedo import identity_albedo_numpy
from emoctl.synthetic.cues import CUES, GROOVE_CUES, cue_fields
from emoctl.synthetic.emotion_curves import blend_frames, emotion_intensity
from emoctl.synthetic.face_frame import FaceFrame
from emoctl.synthetic.head_model import SEMANTIC_EXPRESSIONS
from emoctl.synthetic.speech import Articulation
from emoctl.synthetic.traits import IdentityTraits

#: Jaw pitch (radians) at ``jaw_open = 1``.
JAW_MAX = 0.30
#: The widest jaw opening an emotion may reach, in ``jaw_open`` units (0.48 rad; openings above
#: 1.2 saturate smoothly towards it).
JAW_OPEN_LIMIT = 1.6
_IDX = {name: i for i, name in enumerate(SEMANTIC_EXPRESSIONS)}
_TAIL = NUM_EXPRESSION - len(SEMANTIC_EXPRESSIONS)

#: (a) Static offsets over the named components, per emotion (intensity 1): the EMFACS prototypes
#: (``# AU..`` the action units; magnitudes of the components in :mod:`~emoctl.synthetic.head_model.expressions`).
STATIC_OFFSETS: dict[str, dict[str, float]] = {
    "neutral": {},
    # AU6 + AU12 (Duchenne), AU25 (lips part: :data:`JAW_STATIC`, lower lip down a little)
    "happy": {"lip_corner_pull": 1.2, "cheek_raise": 1.0, "lid_tighten": 0.25, "lower_lip_depress": 0.3},
    # AU1 + AU4 (the oblique brow), AU15, AU17, heavy upper lids
    "sad": {"brow_inner_raise": 1.0, "brow_lower": 0.55, "lip_corner_depress": 1.0, "chin_raise": 0.8, "eye_close": 0.2},
    # AU1 + AU2 + AU5, AU26 (:data:`JAW_STATIC`)
    "surprised": {"brow_inner_raise": 1.0, "brow_outer_raise": 1.0, "upper_lid_raise": 1.0},
    # AU4 + AU5 + AU7 + AU23 + AU24 (AU10 with bared teeth when the mouth opens: the coupling)
    "angry": {"brow_lower": 1.3, "upper_lid_raise": 0.6, "lid_tighten": 0.8, "lip_tighten": 1.0, "lip_press": 0.8},
    # AU9 + AU10 + AU15 + AU16 (AU4 a little: AU9 pulls the inner brows down with it)
    "disgusted": {"nose_wrinkle": 1.0, "upper_lip_raise": 1.0, "lip_corner_depress": 0.5, "lower_lip_depress": 0.6,
                  "brow_lower": 0.35, "cheek_raise": 0.35},
    # AU1 + AU2 + AU4 + AU5 + AU7 + AU20, AU25/26 (:data:`JAW_STATIC`)
    "fearful": {"brow_inner_raise": 1.0, "brow_outer_raise": 0.6, "brow_lower": 0.45, "upper_lid_raise": 1.1,
                "lid_tighten": 0.4, "lip_stretch": 1.3, "lower_lip_depress": 0.3},
}  # fmt: skip

#: (a) The prototypes' jaw opening (AU25/AU26) when silent, in units of ``jaw_open`` (``JAW_MAX``
#: radians each) at intensity 1; released during bilabial closures (the coupling, (b)).
JAW_STATIC: dict[str, float] = {"happy": 0.10, "surprised": 0.47, "fearful": 0.47}

#: (c) Cue weights per emotion (intensity 1); see :mod:`emoctl.synthetic.cues`.
CUE_WEIGHTS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"crows_feet": 1.0, "nasolabial": 1.0, "cheek_glow": 0.8},
    "sad": {"glabella": 0.55, "forehead_lines": 0.3, "eye_redness": 1.0, "pallor": 0.25},
    "surprised": {"forehead_lines": 1.0},
    "angry": {"glabella": 1.0, "flush": 1.0, "nasolabial": 0.3, "bunny_lines": 0.25},
    "disgusted": {"glabella": 0.6, "nasolabial": 0.8, "bunny_lines": 1.0, "flush": 0.25},
    "fearful": {"forehead_lines": 0.7, "glabella": 0.3, "pallor": 1.0},
}

#: Albedo gains of the cues (fraction of the albedo a groove of depth 1 darkens, tint strengths).
GROOVE_GAIN = 0.5
_TINTS = {  # cue -> (gain, per-channel multiplicative tint)
    "flush": (0.25, (1.0, -0.35, -0.4)),
    "eye_redness": (0.22, (0.9, -0.45, -0.35)),
    "cheek_glow": (0.16, (1.0, -0.2, -0.3)),
}


@dataclass(frozen=True)
class SpeakerStyle:
    """How one speaker (an anchor subject) articulates: gains and a small loading of the four
    articulation curves on the unnamed expression components ``tail [4, 84]``."""

    jaw_gain: float = 1.0
    lip_gain: float = 1.0
    tail: tuple[tuple[float, ...], ...] = field(default_factory=tuple)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "SpeakerStyle":
        tail = rng.normal(0.0, 0.06, (4, _TAIL)) * (16.0 / (16.0 + np.arange(_TAIL))) ** 0.6
        return cls(
            jaw_gain=round(float(rng.uniform(0.85, 1.15)), 4),
            lip_gain=round(float(rng.uniform(0.85, 1.15)), 4),
            tail=tuple(tuple(round(float(v), 5) for v in row) for row in tail),
        )

    def to_json(self) -> dict[str, Any]:
        return {"jaw_gain": self.jaw_gain, "lip_gain": self.lip_gain, "tail": [list(r) for r in self.tail]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SpeakerStyle":
        return cls(float(data["jaw_gain"]), float(data["lip_gain"]), tuple(tuple(float(v) for v in r) for r in data["tail"]))


def _emotion_tail(emotion: str) -> np.ndarray:
    """A fixed small loading ``[84]`` of an emotion on the unnamed components (same in every run)."""
    if emotion == "neutral":
        return np.zeros(_TAIL)
    rng = np.random.default_rng([zlib.crc32(emotion.encode("utf-8")), 0xE7])
    return rng.normal(0.0, 0.12, _TAIL) * (16.0 / (16.0 + np.arange(_TAIL))) ** 0.8


def _soft_limit(jaw: np.ndarray, knee: float = 1.2) -> np.ndarray:
    """The jaw opening, unchanged up to ``knee`` and saturating smoothly towards
    :data:`JAW_OPEN_LIMIT` above it (strictly increasing, so the articulation's peaks stay peaks)."""
    span = JAW_OPEN_LIMIT - knee
    return np.where(jaw < knee, jaw, knee + span * np.tanh((jaw - knee) / span))


@functools.lru_cache(maxsize=None)
def _static_vector(emotion: str) -> np.ndarray:
    """(a) The emotion's static offset ``[100]`` at intensity 1 (float64, read-only, built once): the
    named components of :data:`STATIC_OFFSETS` and the fixed tail loading."""
    vec = np.zeros(NUM_EXPRESSION)
    for name, value in STATIC_OFFSETS[emotion].items():
        vec[_IDX[name]] = value
    vec[len(SEMANTIC_EXPRESSIONS):] = _emotion_tail(emotion)
    vec.flags.writeable = False
    return vec


class EmotionModel:
    """Ground truth of the synthetic world: ``apply`` (geometry) and ``appearance`` (albedo).

    ``head``: the synthetic head the appearance cues are drawn on (needed by :meth:`appearance`
    and :meth:`albedo` only; :meth:`apply` works on FLAME parameters and needs no head).
    """

    emotions: tuple[str, ...] = EMOTIONS

    def __init__(self, head: FlameModelData | None = None):
        self.head = head
        self._frame: FaceFrame | None = None

    # ------------------------------------------------------------------ geometry
    def check_emotion(self, emotion: str) -> str:
        if not isinstance(emotion, str) or emotion.lower() not in self.emotions:
            raise UnknownEmotionError(f"unknown emotion {emotion!r}; the synthetic world has {list(self.emotions)}")
        return emotion.lower()

    def apply(self, articulation: Articulation, emotion: str, intensity: float = 1.0, *,
              style: SpeakerStyle | None = None) -> dict[str, Tensor]:
        """The FLAME sequence of ``articulation`` spoken in ``emotion`` at ``intensity`` (0: neutral).

        Returns LAM-named float32 tensors ``expr [T, 100]``, ``jaw_pose [T, 3]``, ``rotation [T, 3]``,
        ``neck_pose [T, 3]``, ``eyes_pose [T, 6]``, ``translation [T, 3]`` (no ``betas``). Blinks, gaze
        and head motion come from the articulation unchanged, so every emotion of one articulation
        shares them.
        """
        emotion = self.check_emotion(emotion)
        if not isinstance(articulation, Articulation):
            raise ShapeError(f"apply expects an emoctl.synthetic.Articulation, got {type(articulation).__name__}")
        k = float(intensity)
        if not np.isfinite(k) or k < 0:
            raise ShapeError(f"intensity must be a finite number >= 0, got {intensity!r}")
        style = style or SpeakerStyle()
        a = articulation.jaw_open.double().numpy().clip(0.0, 1.0)
        r = articulation.rounding.double().numpy().clip(0.0, 1.0)
        s = articulation.spreading.double().numpy().clip(0.0, 1.0)
        c = articulation.closure.double().numpy().clip(0.0, 1.0)
        blink = articulation.blink.double().numpy().clip(0.0, 1.0)
        t = articulation.timestamps.double().numpy()
        T = a.shape[0]
        named = {name: np.zeros(T) for name in SEMANTIC_EXPRESSIONS}
        jaw, rnd = self._couple(emotion, k, a, r, s, c, t, named)
        lip = style.lip_gain
        # (b) speech itself, on the emotion-modulated jaw opening and rounding
        named["lip_pucker"] += 0.9 * lip * rnd
        named["lip_funnel"] += 0.55 * lip * rnd * jaw
        named["lip_stretch"] += 0.5 * lip * s
        named["lip_corner_pull"] += 0.09 * lip * s
        named["lip_press"] += 0.4 * lip * c
        named["lower_lip_depress"] += 0.2 * lip * jaw
        named["upper_lip_raise"] += 0.06 * lip * jaw
        # (a) the static offset on the named components (before the blinks, which override the lids)
        static = _static_vector(emotion)
        for name in STATIC_OFFSETS[emotion]:
            named[name] += k * static[_IDX[name]]
        # blinks close the eyes whatever the emotion does to the lids
        closing = named["eye_close"].clip(0.0, 1.0)
        named["eye_close"] = 1.0 - (1.0 - blink) * (1.0 - closing)
        named["upper_lid_raise"] *= 1.0 - blink
        named["lid_tighten"] *= 1.0 - 0.5 * blink
        expr = np.zeros((T, NUM_EXPRESSION))
        for name, values in named.items():
            expr[:, _IDX[name]] = values
        curves = np.stack([jaw, rnd, s, c], axis=1)
        if style.tail:
            expr[:, len(SEMANTIC_EXPRESSIONS):] += curves @ np.asarray(style.tail)
        expr[:, len(SEMANTIC_EXPRESSIONS):] += k * static[None, len(SEMANTIC_EXPRESSIONS):]  # (a) its tail loading
        jaw_pose = np.zeros((T, 3))
        jaw_pose[:, 0] = JAW_MAX * style.jaw_gain * jaw
        gaze = articulation.gaze.double().numpy()
        eyes = np.zeros((T, 6))
        eyes[:, 0] = eyes[:, 3] = gaze[:, 1]  # pitch
        eyes[:, 1] = eyes[:, 4] = gaze[:, 0]  # yaw

        def f32(x: np.ndarray) -> Tensor:
            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

        return {
            "expr": f32(expr),
            "jaw_pose": f32(jaw_pose),
            "rotation": articulation.head_rotation.float().clone(),
            "neck_pose": articulation.neck_pose.float().clone(),
            "eyes_pose": f32(eyes),
            "translation": torch.zeros(T, 3),
        }

    @staticmethod
    def _couple(emotion: str, k: float, a: np.ndarray, r: np.ndarray, s: np.ndarray, c: np.ndarray,
                t: np.ndarray, named: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(b) Emotion-specific, non-linear coupling to the articulation; returns the jaw opening and
        rounding the emotion produces and adds its articulation-dependent terms to ``named``."""
        jaw, rnd = a.copy(), r.copy()
        # the prototype's silent opening (AU25/26), narrowing on wide vowels and released for m/b/p
        base = k * JAW_STATIC.get(emotion, 0.0) * (1.0 - c)
        if emotion == "happy":
            jaw = base + a * (1.0 + 0.1 * k)
            rnd = r * (1.0 - 0.35 * k)
            named["lip_corner_pull"] += 0.55 * k * a**1.5
            named["lip_stretch"] += 0.4 * k * a
            named["cheek_raise"] += 0.3 * k * a
        elif emotion == "sad":
            jaw = a * (1.0 - 0.3 * k * (0.5 + 0.5 * a))
            rnd = r * (1.0 - 0.4 * k)
            named["lip_corner_depress"] += 0.4 * k * (1.0 - a) ** 2
            named["chin_raise"] += 0.5 * k * ((1.0 - a) ** 2 - 1.0)  # the chin can only push while the mouth is closed
        elif emotion == "surprised":
            jaw = base + a * (1.0 + 0.2 * k)
            named["upper_lid_raise"] += 0.4 * k * a
            named["lower_lip_depress"] += 0.3 * k * a
            named["lip_funnel"] += 0.15 * k * a
        elif emotion == "angry":
            jaw = a * (1.0 - 0.3 * k * a)
            rnd = r * (1.0 - 0.2 * k)
            named["lip_press"] += 0.8 * k * ((1.0 - a) ** 2 - 1.0)  # pressed while closed, released as it opens
            named["lip_tighten"] += 0.6 * k * ((1.0 - a) ** 2 - 1.0)
            named["upper_lip_raise"] += 1.1 * k * a * (1.0 - r)  # AU10: teeth bared on open unrounded vowels
            named["lower_lip_depress"] += 0.5 * k * a * (1.0 - r)
        elif emotion == "disgusted":
            jaw = a * (1.0 - 0.12 * k)
            named["upper_lip_raise"] += 0.5 * k * a
            named["nose_wrinkle"] += 0.2 * k * a
        elif emotion == "fearful":
            tremor = np.sin(2 * np.pi * 9.0 * t + 0.7) + 0.5 * np.sin(2 * np.pi * 13.0 * t + 2.1)
            jaw = base + a + 0.015 * k * tremor
            named["lip_stretch"] += 0.5 * k * a**2 + 0.06 * k * tremor
        return _soft_limit(np.clip(jaw, 0.0, None)), np.clip(rnd, 0.0, 1.0)

    # ------------------------------------------------------------------ appearance
    @property
    def frame(self) -> FaceFrame:
        if self.head is None:
            raise ShapeError("EmotionModel.appearance needs the head: EmotionModel(head=synthetic_head(...))")
        if self._frame is None:
            self._frame = FaceFrame.of(self.head)
        return self._frame

    def albedo(self, identity_traits: IdentityTraits | dict[str, Any]) -> Tensor:
        """The identity's neutral albedo ``[V, 3]`` (float32)."""
        traits = IdentityTraits.from_json(identity_traits)
        return torch.from_numpy(identity_albedo_numpy(self.frame, traits).astype(np.float32))

    def appearance(self, identity_traits: IdentityTraits | dict[str, Any], emotion: str, intensity: float = 1.0, *,
                   base_albedo: Tensor | None = None, fields: dict[str, np.ndarray] | None = None) -> Tensor:
        """(c) The albedo change ``[V, 3]`` (float32) the emotion causes on this identity.

        ``albedo(traits) + appearance(traits, emotion)`` stays in [0, 1]. Grooves darken the
        identity's own albedo multiplicatively (so contrast depends on skin tone), tints shift it
        (weaker on darker skin). ``base_albedo`` / ``fields`` may pass precomputed
        :meth:`albedo` / :func:`~emoctl.synthetic.cues.cue_fields` results (they are not checked).
        """
        emotion = self.check_emotion(emotion)
        k = float(intensity)
        if not np.isfinite(k) or k < 0:
            raise ShapeError(f"intensity must be a finite number >= 0, got {intensity!r}")
        traits = IdentityTraits.from_json(identity_traits)
        base = (base_albedo.double().numpy() if base_albedo is not None
                else identity_albedo_numpy(self.frame, traits))
        weights = CUE_WEIGHTS[emotion]
        if not weights or k == 0.0:
            return torch.zeros(base.shape, dtype=torch.float32)
        fields = fields if fields is not None else cue_fields(self.frame, traits)
        contrast = 1.0 - 0.45 * traits.skin_tone
        skin = self.frame.regions["skin"][:, None]
        out = base.copy()
        for cue, weight in weights.items():
            f = fields[cue][:, None] * (weight * k)
            if cue in GROOVE_CUES:  # tanh: crossing lines saturate instead of going black
                out = out * (1.0 - GROOVE_GAIN * np.tanh(f))
            elif cue == "pallor":
                grey = out.mean(axis=1, keepdims=True) * np.array([1.0, 1.0, 1.03]) + 0.05
                out = out + 0.4 * contrast * f * (grey - out)
            else:
                gain, tint = _TINTS[cue]
                out = out * (1.0 + gain * contrast * f * np.asarray(tint)[None])
        out = base + (np.clip(out, 0.0, 1.0) - base) * skin
        return torch.from_numpy((out - base).astype(np.float32))

    # ------------------------------------------------------------------ emotion curves
    def apply_curve(self, articulation: Articulation, weights: Tensor, intensity: float | Mapping[str, float] = 1.0, *,
                    style: SpeakerStyle | None = None) -> dict[str, Tensor]:
        """:meth:`apply` with an emotion that changes per frame: ``weights [T, K]`` over :attr:`emotions`
        (neutral first; rows non-negative and summing to one), ``intensity`` one number or
        ``{emotion: intensity}``.

        The ground truth: each frame's ``expr`` and ``jaw_pose`` are the weighted sum, with that frame's
        weights, of the frames :meth:`apply` gives in each emotion at its intensity (static offset and
        articulation coupling); head, neck and gaze pass through. A frame whose row is one-hot is
        exactly that emotion's frame, so a constant curve gives the constant clip.
        """
        if not isinstance(articulation, Articulation):
            raise ShapeError(f"apply_curve expects an emoctl.synthetic.Articulation, got {type(articulation).__name__}")
        w = as_emotion_curve(weights, articulation.num_frames, len(self.emotions), "apply_curve: weights")
        seqs = {k: self.apply(articulation, e, emotion_intensity(intensity, e), style=style)
                for k, e in enumerate(self.emotions) if bool(w[:, k].any())}
        out = dict(next(iter(seqs.values())))
        for key in ("expr", "jaw_pose"):
            out[key] = blend_frames(w, {k: seq[key] for k, seq in seqs.items()}, per_frame=True)
        return out

    def appearance_curve(self, identity_traits: IdentityTraits | dict[str, Any], weights: Tensor,
                         intensity: float | Mapping[str, float] = 1.0, *, base_albedo: Tensor | None = None,
                         fields: dict[str, np.ndarray] | None = None) -> Tensor:
        """Per-frame albedo change ``[T, V, 3]`` (float32) for ``weights [T, K]`` (as :meth:`apply_curve`):
        each frame's weighted sum of :meth:`appearance` in each emotion at its intensity, so wrinkles
        and tints come and go with the curve. A one-hot row gives exactly that emotion's change."""
        w = as_emotion_curve(weights, None, len(self.emotions), "appearance_curve: weights")
        traits = IdentityTraits.from_json(identity_traits)
        fields = fields if fields is not None else cue_fields(self.frame, traits)
        changes = {k: self.appearance(traits, e, emotion_intensity(intensity, e), base_albedo=base_albedo, fields=fields)
                   for k, e in enumerate(self.emotions) if bool(w[:, k].any())}
        return blend_frames(w, changes, per_frame=False)

    def describe(self) -> dict[str, Any]:
        """JSON-able summary of the model (recorded in reenactor configs)."""
        return {"version": 2, "jaw_max": JAW_MAX, "jaw_static": JAW_STATIC, "jaw_open_limit": JAW_OPEN_LIMIT,
                "static": STATIC_OFFSETS, "cues": CUE_WEIGHTS, "groove_gain": GROOVE_GAIN,
                "cue_names": list(CUES)}
