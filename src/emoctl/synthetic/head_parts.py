"""What the users of one synthetic head share: the head, its Gaussian renderer and its emotion model.

:class:`SharedHeadParts` is the base of :class:`~emoctl.synthetic.world.SyntheticWorld` and
:class:`~emoctl.synthetic.reenactor.SyntheticReenactor`: :attr:`~SharedHeadParts.head` is the
cached head of ``(head_seed, subdivide)``; :attr:`~SharedHeadParts.avatar` (a
:class:`~emoctl.synthetic.avatar.GaussianHead` with ``render_settings``) and
:attr:`~SharedHeadParts.emotion_model` are built on first use unless given (a world hands its own
to its reenactors and identity samplers). :func:`check_shared_parts` checks given parts against
the head they are meant for.
"""

from __future__ import annotations

from emoctl.errors import ShapeError
from emoctl.flame import FlameModelData
from emoctl.synthetic.avatar import GaussianHead, RenderSettings
from emoctl.synthetic.emotion_model import EmotionModel
from emoctl.synthetic.head import same_head, synthetic_head


def check_shared_parts(owner: str, role: str, head: FlameModelData, settings: RenderSettings,
                       avatar: GaussianHead | None, emotion_model: EmotionModel | None) -> None:
    """``ShapeError`` (naming ``owner``, e.g. ``"IdentitySampler"``, and its ``role``, e.g.
    ``"sampler"``) unless ``avatar`` renders ``head`` with ``settings`` and ``emotion_model`` is built
    on ``head``; a part that is ``None`` passes."""
    if avatar is not None and (not same_head(avatar.head, head) or avatar.settings != settings):
        raise ShapeError(f"{owner}: avatar must render this {role}'s head with its render settings")
    if emotion_model is not None and (emotion_model.head is None or not same_head(emotion_model.head, head)):
        raise ShapeError(f"{owner}: emotion_model must be built on this {role}'s head")


class SharedHeadParts:
    """Base class: ``head``, ``avatar`` and ``emotion_model`` of the head ``(head_seed, subdivide)``.

    Subclasses set ``head_seed``, ``subdivide`` (checked by
    :func:`~emoctl.synthetic.head.check_head_args`) and ``render_settings``, then call
    :meth:`_share_parts`.
    """

    head_seed: int
    subdivide: int
    render_settings: RenderSettings

    def _share_parts(self, avatar: GaussianHead | None = None, emotion_model: EmotionModel | None = None,
                     role: str = "object") -> None:
        """Keep the given parts (checked with :func:`check_shared_parts`, errors naming the class and
        ``role``; the head is only built here when a part is given); the others are built on first use."""
        if avatar is not None or emotion_model is not None:
            check_shared_parts(type(self).__name__, role, self.head, self.render_settings, avatar, emotion_model)
        self._avatar: GaussianHead | None = avatar
        self._model: EmotionModel | None = emotion_model

    @property
    def head(self) -> FlameModelData:
        """The shared (cached) synthetic head; read-only."""
        return synthetic_head(self.head_seed, self.subdivide)

    @property
    def avatar(self) -> GaussianHead:
        """The Gaussian renderer of :attr:`head` with ``render_settings``."""
        if self._avatar is None:
            self._avatar = GaussianHead(self.head, self.render_settings)
        return self._avatar

    @property
    def emotion_model(self) -> EmotionModel:
        """The emotion model on :attr:`head`."""
        if self._model is None:
            self._model = EmotionModel(self.head)
        return self._model
