"""`SyntheticReenactor`: the synthetic world's stand-in for X-NeMo (paper 3.3.3), with ground truth.

For ``(identity, anchor, emotion)`` it

1. transfers the anchor's FLAME sequence in that emotion (expression, jaw, head and neck
   motion, gaze; the anchor subject's own ``betas`` dropped) onto the identity's shape
   (``identity.betas``);
2. builds the identity's albedo from its traits (``identity.traits``, as made by
   :class:`~emoctl.synthetic.identities.IdentitySampler`) and adds the emotion's appearance cues
   for that identity, at the anchor subject's intensity for the emotion
   (``anchor.meta["intensity"][emotion]``, 1 when absent), constant over the clip;
3. renders every frame in every camera of the anchor's rig, rescaled to ``image_size``;

``emotion`` may also name one of the anchor's emotion curves (``anchor.curves``, e.g. ``curve-0``):
then the FLAME sequence is the curve's, and the cues follow the curve frame by frame
(:meth:`~emoctl.synthetic.emotion_model.EmotionModel.appearance_curve`, each emotion at the anchor
subject's intensity);

and returns a :class:`~emoctl.data.ReenactedClip` whose ``flame`` is the exact ground truth
(identity ``betas`` included). A baked-in emotion of the reference image is *not* carried over:
the frames show the target emotion only.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from emoctl.data import AnchorClip, Identity, ReenactedClip
from emoctl.errors import DataError, ShapeError
from emoctl.flame_schema import FRAME_KEYS
from emoctl.synthetic.avatar import GaussianHead, RenderSettings, scale_rig
from emoctl.synthetic.cameras import as_image_size
from emoctl.synthetic.cues import cue_fields
from emoctl.synthetic.emotion_model import EmotionModel
from emoctl.synthetic.head import check_head_args
from emoctl.synthetic.head_parts import SharedHeadParts
from emoctl.synthetic.traits import IdentityTraits

#: Version of what the reenactor draws; bump it when pixels change for the same inputs.
RENDER_VERSION = 3  # 2: 8-bit quantisation by emoctl.media.to_uint8 (exact .5 ties round to even);
# 3: world v2 (EMFACS prototypes at real-face magnitudes, AU17/AU23 bases, darker brows; teeth,
# tongue, mouth cavity, eyes and lips at real-face proportions)


class SyntheticReenactor(SharedHeadParts):
    """Renders ground-truth clips of synthetic identities (implements :class:`emoctl.data.Reenactor`).

    ``head_seed`` / ``subdivide``: the synthetic head (one Gaussian per vertex: about 4,900 at 0,
    19,500 at 1); ``image_size``: ``(H, W)`` of the frames (an int means square; must match the
    dataset config); ``render``: :class:`~emoctl.synthetic.avatar.RenderSettings`;
    ``chunk_frames``: frames rasterized per call (memory); ``cache_identities``: how many
    identities' albedo and cue fields to keep between clips; ``avatar`` / ``emotion_model``: a
    :class:`~emoctl.synthetic.avatar.GaussianHead` (with settings ``render``) and an
    :class:`~emoctl.synthetic.emotion_model.EmotionModel` on that head to share with other users of
    it (:class:`~emoctl.synthetic.world.SyntheticWorld` passes its own; built on first use when not
    given).
    """

    name = "emoctl-synthetic"

    def __init__(self, head_seed: int = 0, subdivide: int = 1, image_size: int | tuple[int, int] = 256, *,
                 render: RenderSettings | None = None, chunk_frames: int = 8, cache_identities: int = 4,
                 avatar: GaussianHead | None = None, emotion_model: EmotionModel | None = None):
        self.head_seed, self.subdivide = check_head_args(head_seed, subdivide)
        self.image_size = as_image_size(image_size)
        self.render_settings = render or RenderSettings()
        if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise ShapeError(f"chunk_frames must be a positive int, got {chunk_frames!r}")
        self.chunk_frames = chunk_frames
        self.cache_identities = max(int(cache_identities), 1)
        self._share_parts(avatar, emotion_model, role="reenactor")
        self._cache: OrderedDict[IdentityTraits, tuple[torch.Tensor, dict[str, np.ndarray]]] = OrderedDict()

    # ------------------------------------------------------------------ protocol
    def config(self) -> dict[str, Any]:
        """Everything that affects the pixels and the ground truth (JSON-able)."""
        return {
            "version": RENDER_VERSION,
            "head_seed": self.head_seed,
            "subdivide": self.subdivide,
            "image_size": list(self.image_size),
            "render": self.render_settings.to_json(),
            "chunk_frames": self.chunk_frames,  # batch size changes float rounding (a level in rare pixels)
            "emotion_model": self.emotion_model.describe(),
            "appearance_intensity": "anchor.meta.intensity",
        }

    def reenact(self, identity: Identity, anchor: AnchorClip, emotion: str) -> ReenactedClip:
        """All ``anchor.num_frames`` frames of ``identity`` performing ``anchor`` in ``emotion``."""
        if not isinstance(identity, Identity):
            raise DataError(f"SyntheticReenactor.reenact: identity must be an emoctl.data.Identity, got {type(identity).__name__}")
        if not isinstance(anchor, AnchorClip):
            raise DataError(f"SyntheticReenactor.reenact: anchor must be an emoctl.data.AnchorClip, got {type(anchor).__name__}")
        who = f"identity {identity.identity_id!r}, anchor {anchor.anchor_id!r}"
        if emotion not in anchor.emotions and emotion not in anchor.curves:
            raise DataError(f"{who}: the anchor has no emotion or curve {emotion!r} (it has {sorted(anchor.emotions)} "
                            f"and curves {sorted(anchor.curves)})")
        if identity.betas is None:
            raise DataError(f"{who}: the identity has no betas; the synthetic reenactor needs the identity's shape")
        traits = IdentityTraits.from_json(identity.traits)
        curve = anchor.curves.get(emotion) if emotion not in anchor.emotions else None
        sequence = anchor.emotions[emotion] if curve is None else curve.flame
        flame = {k: sequence[k].clone() for k in FRAME_KEYS}
        flame["betas"] = identity.betas.clone()
        if curve is None:
            albedo = self.clip_albedo(traits, emotion, self._anchor_intensity(anchor, emotion))
        else:
            intensities = {e: self._anchor_intensity(anchor, e) for e in self.emotion_model.emotions}
            albedo = self.curve_albedo(traits, curve.weights, intensities)
        rig = scale_rig(anchor.cameras, *self.image_size)
        frames = self.avatar.render(flame, identity.betas, albedo, rig, chunk_frames=self.chunk_frames)
        return ReenactedClip(frames=frames, cameras=rig, timestamps=anchor.timestamps.clone(), flame=flame)

    # ------------------------------------------------------------------ parts
    @staticmethod
    def _anchor_intensity(anchor: AnchorClip, emotion: str) -> float:
        table = anchor.meta.get("intensity") if isinstance(anchor.meta, dict) else None
        value = table.get(emotion, 1.0) if isinstance(table, dict) else 1.0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise DataError(f"anchor {anchor.anchor_id!r}: meta['intensity'][{emotion!r}] must be a number >= 0, got {value!r}")
        return float(value)

    def _identity_parts(self, traits: IdentityTraits) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
        """The identity's albedo ``[V, 3]`` and cue fields (cached per identity)."""
        model = self.emotion_model
        cached = self._cache.get(traits)
        if cached is None:
            cached = (model.albedo(traits), cue_fields(model.frame, traits))
            self._cache[traits] = cached
            while len(self._cache) > self.cache_identities:
                self._cache.popitem(last=False)
        self._cache.move_to_end(traits)
        return cached

    def clip_albedo(self, traits: IdentityTraits, emotion: str, intensity: float) -> torch.Tensor:
        """``[V, 3]``: the identity's albedo plus the emotion's cues (albedo and cue fields cached per identity)."""
        base, fields = self._identity_parts(traits)
        change = self.emotion_model.appearance(traits, emotion, intensity, base_albedo=base, fields=fields)
        return (base + change).clamp(0.0, 1.0)

    def curve_albedo(self, traits: IdentityTraits, weights: torch.Tensor, intensities: dict[str, float]) -> torch.Tensor:
        """``[T, V, 3]``: the identity's albedo plus, in each frame, the cues of that frame's emotion weights
        ``weights [T, K]`` (:meth:`EmotionModel.appearance_curve`)."""
        base, fields = self._identity_parts(traits)
        change = self.emotion_model.appearance_curve(traits, weights, intensities, base_albedo=base, fields=fields)
        return (base + change).clamp(0.0, 1.0)
