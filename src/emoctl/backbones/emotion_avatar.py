"""Per-frame appearance: avatars whose emotion follows a curve, without a transformer run per frame.

With a wrapped backbone, the appearance branch acts where the avatar is built (the emotion tokens
join the backbone's attention), once per reference image. For a per-frame emotion curve
``[B, T, K]`` :func:`build_emotion_avatar` builds the avatar at the curve's *keyframe emotions*
only — neutral and each emotion the curve uses, at full weight — and blends the Gaussian
attributes per frame with the curve's coefficients:

    attributes(t) = (1 - sum_k c[t, k]) * A(neutral) + sum_k c[t, k] * A(emotion k)

(``c``: the label's coefficients over the ``K - 1`` non-neutral emotions). So wrinkles can come and
go along a sentence for the cost of ``1 + (emotions used)`` avatar builds instead of ``T``; the
error of this linearisation against :func:`build_avatar_per_frame` (the transformer at every
frame's own emotion) is measured in ``benchmarks/backbones.py``.

This needs a backbone that exposes its avatar (``build_avatar``): both reference backbones do. A
real LAM checkpoint does not: its canonical Gaussians are made inside ``infer_single_view`` by its
renderer, so for LAM the equivalent is to blend the outputs of ``forward_latent_points`` (the
per-point features ``[B, L, 1024]``) at the keyframes and decode them per frame with LAM's own
Gaussian heads — which this library does not call into. Through the ``lam`` adapter alone a curve's
appearance is its time average (one avatar per sample).
"""

from __future__ import annotations

import torch
from torch import Tensor

from emoctl.backbones.avatar import GaussianAvatar, blend_avatars
from emoctl.emotions.labels import EmotionLabel
from emoctl.errors import ArgumentTypeError


def _builder(model):
    build = getattr(model, "build_avatar", None)
    if not callable(build):
        raise ArgumentTypeError(
            f"{type(model).__name__} does not expose build_avatar(); per-frame appearance needs a backbone "
            "whose avatar is reachable (emoctl.backbones' reference models)"
        )
    return build


def keyframe_labels(label: EmotionLabel) -> tuple[list[EmotionLabel], Tensor]:
    """``(labels, weights [B, T, 1 + A])`` for a per-frame label ``[B, T, K-1]``: neutral and the
    ``A`` emotions the curve uses, each at full weight, and each frame's blend weights over them."""
    coefficients = label.coefficients
    used = (coefficients.abs().amax(dim=(0, 1)) > 0).nonzero().flatten().tolist()
    k1 = coefficients.shape[-1]
    labels = [EmotionLabel(torch.zeros(k1), "global", label.vocabulary)]
    for k in used:
        one_hot = torch.zeros(k1)
        one_hot[k] = 1.0
        labels.append(EmotionLabel(one_hot, "global", label.vocabulary))
    picked = coefficients[..., used] if used else coefficients[..., :0]
    weights = torch.cat([1.0 - picked.sum(-1, keepdim=True), picked], dim=-1)
    return labels, weights


def build_emotion_avatar(model, controller, image: Tensor, *, emotion=None, **build_kwargs) -> GaussianAvatar:
    """The avatar of ``image`` under ``emotion`` (default: the controller's active emotion).

    A constant label builds once with it; a per-frame curve ``[B, T, K]`` builds at the keyframe
    emotions and returns an avatar with per-frame attributes ``[B, T, N, C]`` (module docstring).
    ``build_kwargs`` go to ``model.build_avatar`` (``betas``, cameras for the UV backbone)."""
    build = _builder(model)
    label = controller.active_emotion if emotion is None else controller.parse(emotion)
    if label is None:  # disabled: the backbone alone
        with controller.disabled():
            return build(image, **build_kwargs)
    if label.kind != "per_frame":
        with controller.emotion(label):
            return build(image, **build_kwargs)
    labels, weights = keyframe_labels(label)
    avatars = []
    for key in labels:
        with controller.emotion(key):
            avatars.append(build(image, **build_kwargs))
    return blend_avatars(avatars, weights.to(device=image.device, dtype=avatars[0].colors.dtype), normalise=False)


def build_avatar_per_frame(model, controller, image: Tensor, emotion, **build_kwargs) -> GaussianAvatar:
    """The reference for :func:`build_emotion_avatar`: one avatar build per frame of a per-frame
    ``emotion`` curve (its own emotion each), stacked into per-frame attributes ``[B, T, N, C]``."""
    build = _builder(model)
    label = controller.parse(emotion)
    if label.kind != "per_frame":
        raise ArgumentTypeError("build_avatar_per_frame needs a per-frame emotion curve [B, T, K]")
    frames = []
    for t in range(label.coefficients.shape[1]):
        with controller.emotion(EmotionLabel(label.coefficients[:, t], "per_sample", label.vocabulary)):
            frames.append(build(image, **build_kwargs))
    stacked = {name: torch.stack([a.attributes()[name] for a in frames], dim=1) for name in frames[0].attributes()}
    return frames[0].replace(**stacked)
