"""EmotionModulators: the modules emoctl adds to a backbone, as one saveable unit.

``embedding`` (the shared emotion vector, paper eq. 3-4), ``geometry`` (FLAME expression + jaw
sequence modulation, eq. 5) and ``appearance`` (emotion tokens for the backbone, eq. 6). Usable
without any backbone, e.g. to retarget a FLAME sequence::

    mods = EmotionModulators.from_pretrained("org/emoctl-lam-20k")
    happy = mods.retarget(flame_params, "happy")

:class:`emoctl.EmotionController` is this plus the hooks that attach it to a backbone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch
from torch import nn

from emoctl import hub
from emoctl.appearance import AppearanceModulator
from emoctl.config import ModulatorConfig, parse_parts
from emoctl.emotions import EmotionEmbedding, EmotionLabel, parse_emotion
from emoctl.errors import DeviceMismatchError, ShapeError, UnsupportedOperationError
from emoctl.geometry import GeometryModulator, pack_expression_jaw, unpack_expression_jaw

__all__ = ["EmotionModulators", "ModulatorConfig"]


class EmotionModulators(nn.Module):
    """The emotion embedding, geometry modulator and (optional) appearance modulator.

    Build from a :class:`ModulatorConfig` or keyword arguments:
    ``EmotionModulators(emotions=7, token_dim=1024)``.
    """

    def __init__(self, config: ModulatorConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            kwargs.setdefault("emotions", 7)
            config = ModulatorConfig(**kwargs)
        elif kwargs:
            config = dataclasses.replace(config, **kwargs)
        self.config = config
        self.vocabulary = config.vocabulary
        self.embedding = EmotionEmbedding(len(self.vocabulary), config.emotion_dim)
        self.geometry = GeometryModulator(
            emotion_dim=config.emotion_dim,
            dim=config.geometry_dim,
            layers=config.geometry_layers,
            heads=config.geometry_heads,
            num_tokens=config.geometry_tokens,
            expression_dim=config.expression_dim,
        )
        self.appearance = (
            AppearanceModulator(
                config.emotion_dim, config.token_dim, config.appearance_tokens, config.appearance_mode, config.gate_layers
            )
            if config.token_dim is not None
            else None
        )

    # ----------------------------------------------------------------- emotion → tensors
    def parse(self, label) -> EmotionLabel:
        """``label`` (any accepted form, see :mod:`emoctl.emotions.labels`) for this vocabulary."""
        return parse_emotion(label, self.vocabulary)

    def emotion_vector(self, label, batch_size: int, frames: int | None = None) -> torch.Tensor:
        """The emotion vector ``z``: ``[B, emotion_dim]``, or ``[B, T, emotion_dim]`` with ``frames``."""
        coefficients = self.parse(label).resolve(batch_size, frames)
        return self.embedding(coefficients.to(self.embedding.table.device))

    def appearance_tokens_for(self, label, batch_size: int) -> torch.Tensor:
        """Emotion tokens ``[B, k, token_dim]`` for the backbone's appearance stream."""
        if self.appearance is None:
            raise UnsupportedOperationError("these modulators have no appearance path (token_dim=None)")
        return self.appearance(self.emotion_vector(label, batch_size))

    def modulate_sequence(self, params: torch.Tensor, label, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``params [B, T, E+3]`` (expression + jaw) modulated towards ``label``; same shape."""
        if params.dim() != 3:
            raise ShapeError(f"expected a FLAME sequence [B, T, {self.geometry.param_dim}], got {tuple(params.shape)}")
        z = self.emotion_vector(label, params.shape[0], params.shape[1])
        return self.geometry(params, z, mask)

    def retarget(self, flame_params, emotion, mask: torch.Tensor | None = None):
        """Retarget a FLAME sequence to ``emotion`` with the geometry path alone.

        ``flame_params`` is either LAM's dict (``expr [B, (T,) E]``, ``jaw_pose [B, (T,) 3]``,
        other entries passed through untouched; a new dict is returned) or a tensor
        ``[B, T, E+3]``.
        """
        if isinstance(flame_params, torch.Tensor):
            self._check_device(flame_params)
            return self.modulate_sequence(flame_params, emotion, mask)
        params, added = pack_expression_jaw(flame_params, self.config.expression_dim)
        self._check_device(params)
        return unpack_expression_jaw(self.modulate_sequence(params, emotion, mask), flame_params, added)

    def _check_device(self, like: torch.Tensor) -> None:
        device = self.embedding.table.device
        if like.device != device:
            raise DeviceMismatchError(
                f"the emotion modulators are on {device} but the input tensors are on {like.device}; "
                f"move them with .to({str(like.device)!r})"
            )

    # ----------------------------------------------------------------- parameters
    def part_modules(self, parts=None) -> dict[str, nn.Module]:
        parts = parse_parts(parts)
        mods = {"embedding": self.embedding, "geometry": self.geometry, "appearance": self.appearance}
        return {p: mods[p] for p in parts if mods[p] is not None}

    def trainable_parameters(self, parts=None) -> Iterator[nn.Parameter]:
        """The parameters to optimise (all of them by default; ``parts`` picks some of
        ``"embedding"``, ``"geometry"``, ``"appearance"``)."""
        for module in self.part_modules(parts).values():
            yield from (p for p in module.parameters() if p.requires_grad)

    # ----------------------------------------------------------------- Hub format
    def save_pretrained(self, save_directory, *, model_card: str | None = None) -> None:
        """Write ``model.safetensors``, ``config.json`` and a ``README.md`` model card.

        Only the added modules are saved. Files are staged and moved into place under a lock on
        the folder, so an interrupted or failed save leaves the previous checkpoint intact and
        concurrent saves into one folder leave one of them whole (see :mod:`emoctl.hub`).
        Failures are a :class:`~emoctl.errors.CheckpointError` naming the folder.
        """
        hub.save_checkpoint(self, save_directory, model_card=model_card)

    def load_pretrained(self, pretrained, *, parts="all", revision=None, cache_dir=None, local_files_only=None, token=None):
        """Load weights from a local folder or a Hub repo id (``revision`` = branch, tag or commit).

        Strict: the checkpoint's vocabulary and dimensions must match (the error names every
        mismatch), every tensor must be present with its shape and a floating-point dtype, and
        no unknown tensor may be present. ``parts="geometry"`` loads only the embedding and
        geometry branch — e.g. to reuse a geometry branch trained with another backbone (paper
        4.4.2). Nothing changes unless everything checks out; every problem is a
        :class:`~emoctl.errors.CheckpointError`. Works offline from the Hub cache when the
        revision is cached (``HF_HUB_OFFLINE=1``, read at call time).
        """
        hub.load_checkpoint_into(
            self, pretrained, parts=parts, revision=revision, cache_dir=cache_dir,
            local_files_only=local_files_only, token=token,
        )
        return self

    @classmethod
    def from_pretrained(cls, pretrained, *, revision=None, cache_dir=None, local_files_only=None, token=None):
        """Build modulators from a checkpoint's ``config.json`` and load its weights.

        The config and the weights' header are checked against each other before anything is
        built, so a malformed or hostile ``config.json`` is a quick
        :class:`~emoctl.errors.CheckpointError`, never a huge allocation.
        """
        return hub.build_from_checkpoint(
            cls, pretrained, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token
        )

    def push_to_hub(self, repo_id: str, *, private: bool | None = None, token=None, revision=None,
                    commit_message: str = "Upload emoctl modulators", create_pr: bool = False):
        """Save to a temporary folder and upload it to ``repo_id`` in one commit."""
        return hub.push_checkpoint(
            self, repo_id, private=private, token=token, revision=revision,
            commit_message=commit_message, create_pr=create_pr,
        )
